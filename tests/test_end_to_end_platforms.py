"""Every platform through the real client library, the sandbox and the whole bot: mentions, DMs and
public hashtag posts become tickets; acknowledgements and resolutions arrive threaded; a rerun sends nothing."""

import json

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from channels.sandbox.server import SandboxServer

PLATFORMS = ["telegram", "x", "mastodon"]


@pytest.fixture
def sandbox():
    with SandboxServer(port=0) as server:
        server.start()
        yield server


@pytest.fixture
def enabled_config(config_file):
    """The shipped config with every platform switched on."""
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("enabled: false", "enabled: true"), encoding="utf-8")
    return config_file


@pytest.fixture
def citybot(enabled_config, sandbox):
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli, ["--config", str(enabled_config), *args], env={"CITYBOT_SANDBOX": sandbox.url})
        assert result.exit_code == 0, result.output
        return result
    return invoke


@pytest.mark.parametrize("platform", PLATFORMS)
def test_mentions_dms_and_hashtag_posts_round_trip(platform, sandbox, citybot):
    from channels.registry import FACTORIES
    if platform not in sandbox.fakes or platform not in FACTORIES:
        pytest.skip(f"{platform} is not wired yet")
    admin = httpx.Client(base_url=sandbox.url, timeout=10)
    posts = {
        "mention": admin.post(f"/_sandbox/{platform}/inbound", json={"user": "ana", "text": "La farola de la calle Real 12 está apagada"}).json()["id"],
        "dm": admin.post(f"/_sandbox/{platform}/inbound", json={"user": "john", "text": "Big pothole on Mill Road, please fix it", "kind": "dm"}).json()["id"],
        "public": admin.post(f"/_sandbox/{platform}/inbound", json={"user": "lola", "text": "Contenedor de basura desbordado en la plaza de la Iglesia #JunIncidencias", "kind": "public"}).json()["id"],
    }
    citybot("run", "--once")
    tickets = json.loads(citybot("tickets", "list", "--json").stdout)
    assert len(tickets) == 3 and {t["channel"] for t in tickets} == {platform}
    sent = admin.get(f"/_sandbox/{platform}/sent").json()
    assert sorted(s["in_reply_to"] for s in sent) == sorted(posts.values())
    assert all("JUN-" in s["text"] for s in sent)

    ana_ticket = next(t["ref"] for t in tickets if t["category"] == "streetlight")
    citybot("--as", "manolo", "tickets", "resolve", ana_ticket)
    citybot("run", "--once")
    sent = admin.get(f"/_sandbox/{platform}/sent").json()
    assert len(sent) == 4
    assert sent[-1]["in_reply_to"] == posts["mention"] and ana_ticket in sent[-1]["text"] and sent[-1]["to_user"] == "ana"

    citybot("run", "--once")
    assert len(admin.get(f"/_sandbox/{platform}/sent").json()) == 4
    assert len(json.loads(citybot("tickets", "list", "--status", "all", "--json").stdout)) == 3
