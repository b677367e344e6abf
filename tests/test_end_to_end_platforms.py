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


def citizen_replies(admin, platform):
    """What the bot posted on `platform` to citizens (staff DMs go to bare Telegram user ids such as "100001")."""
    return [s for s in admin.get(f"/_sandbox/{platform}/sent").json() if not (s["to_user"] or "").isdigit()]


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
    sent = citizen_replies(admin, platform)
    assert sorted(s["in_reply_to"] for s in sent) == sorted(posts.values())
    assert all("JUN-" in s["text"] for s in sent)

    ana_ticket = next(t["ref"] for t in tickets if t["category"] == "streetlight")
    citybot("--as", "manolo", "tickets", "resolve", ana_ticket)
    citybot("run", "--once")
    sent = citizen_replies(admin, platform)
    assert len(sent) == 4
    assert sent[-1]["in_reply_to"] == posts["mention"] and ana_ticket in sent[-1]["text"] and sent[-1]["to_user"] == "ana"

    citybot("run", "--once")
    assert len(citizen_replies(admin, platform)) == 4
    assert len(json.loads(citybot("tickets", "list", "--status", "all", "--json").stdout)) == 3


def test_same_problem_on_two_channels_gets_a_reply_on_each(sandbox, citybot):
    admin = httpx.Client(base_url=sandbox.url, timeout=10)
    on_telegram = admin.post("/_sandbox/telegram/inbound", json={"user": "ana", "text": "La farola de la calle Real 12 está apagada", "kind": "dm"}).json()["id"]
    on_mastodon = admin.post("/_sandbox/mastodon/inbound", json={"user": "ana", "text": "Farola apagada en la calle Real 12, sigue igual"}).json()["id"]
    citybot("run", "--once")
    first, second = sorted(json.loads(citybot("tickets", "list", "--json").stdout), key=lambda t: t["ref"])
    citybot("tickets", "close", second["ref"], "--reason", "duplicate", "--of", first["ref"])
    citybot("--as", "manolo", "tickets", "resolve", first["ref"])
    citybot("run", "--once")
    telegram = admin.get("/_sandbox/telegram/sent").json()
    mastodon = admin.get("/_sandbox/mastodon/sent").json()
    assert telegram[-1]["in_reply_to"] == on_telegram and first["ref"] in telegram[-1]["text"]
    assert mastodon[-1]["in_reply_to"] == on_mastodon and first["ref"] in mastodon[-1]["text"]
    assert json.loads(citybot("tickets", "show", first["ref"], "--json").stdout)["reports"] == 2


def test_x_post_with_mention_and_hashtag_is_one_message(sandbox, citybot):
    admin = httpx.Client(base_url=sandbox.url, timeout=10)
    admin.post("/_sandbox/x/inbound", json={"user": "lola", "text": "Contenedor quemado en la plaza de España #JunIncidencias"}).raise_for_status()
    citybot("run", "--once")
    citybot("run", "--once")
    assert len(json.loads(citybot("tickets", "list", "--json").stdout)) == 1
    assert len(admin.get("/_sandbox/x/sent").json()) == 1
