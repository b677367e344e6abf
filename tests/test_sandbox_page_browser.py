"""The sandbox web page in headless Chromium: a city official posts as a citizen and sees the bot's answer."""

import os
import shutil
import time

import httpx
import pytest

from bot.app import build_app
from bot.config import load_config
from bot.runner import Runner
from channels.registry import build_channels
from channels.sandbox.server import SandboxServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CITYBOT_REQUIRE_BROWSER"),
    reason="Debian's chromium is not installed (CI installs it and sets CITYBOT_REQUIRE_BROWSER)",
)


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield page
        browser.close()


@pytest.mark.parametrize("platform", ["telegram", "mastodon", "x"])
def test_post_as_a_citizen_and_see_the_acknowledgement(platform, browser_page, config_file, tmp_path):
    config_file.write_text(config_file.read_text(encoding="utf-8").replace("enabled: false", "enabled: true"), encoding="utf-8")
    cfg = load_config(config_file)
    with SandboxServer(port=0) as sandbox:
        sandbox.start()
        runner = Runner(build_app(cfg), build_channels(cfg, sandbox.url))
        page = browser_page
        page.goto(sandbox.url + "/")
        column = page.locator("section", has=page.locator("h2", has_text=platform))
        column.locator("input[name=user]").fill("ana")
        column.locator("textarea[name=text]").fill("La farola de la calle Real 12 está apagada desde el lunes")
        column.locator("button[type=submit]").click()
        deadline = time.monotonic() + 10
        while not httpx.get(f"{sandbox.url}/_sandbox/{platform}/inbound").json():
            assert time.monotonic() < deadline, "the page did not post"
            time.sleep(0.1)
        report = runner.run_once()
        assert report.tickets == ["JUN-1"] and report.sent == 2  # the acknowledgement and the assignee's DM
        thread = column.locator(".thread")
        # On Telegram the assignee's DM also names JUN-1; wait for the citizen's acknowledgement.
        acknowledgement = thread.locator(".text").filter(has_text="JUN-1").filter(has_not_text="para usted")
        acknowledgement.wait_for(timeout=10_000)
        assert "farola de la calle Real 12" in thread.inner_text()
        page.screenshot(path=str(tmp_path / f"sandbox-{platform}.png"), full_page=True)
        runner.close()
