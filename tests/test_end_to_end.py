"""The whole loop over loopback: sandbox ⇄ real python-telegram-bot ⇄ citybot, driven through the CLI."""

import json
import time

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from channels.sandbox.server import SandboxServer


@pytest.fixture
def sandbox():
    with SandboxServer(port=0) as server:
        server.start()
        yield server


@pytest.fixture
def admin(sandbox):
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


@pytest.fixture
def citybot(config_file, sandbox):
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli, ["--config", str(config_file), *args], env={"CITYBOT_SANDBOX": sandbox.url})
        assert result.exit_code == 0, result.output
        return result
    return invoke


def inbound(admin, **body):
    answer = admin.post("/_sandbox/telegram/inbound", json=body)
    answer.raise_for_status()
    return answer.json()["id"]


def sent(admin):
    """What the bot posted to citizens (staff DMs go to bare Telegram user ids such as "100001")."""
    return [m for m in admin.get("/_sandbox/telegram/sent").json() if not (m["to_user"] or "").isdigit()]


def tickets(citybot):
    return json.loads(citybot("tickets", "list", "--status", "all", "--json").stdout)


def test_message_to_ticket_to_resolution_reply(admin, citybot):
    ids = [
        inbound(admin, user="ana", text="La farola de la calle Real 12 está apagada", kind="dm"),
        inbound(admin, user="john", text="Huge pothole on Mill Road, please fix", lat=37.22, lon=-3.59),
        inbound(admin, user="marie", text="Des poubelles débordent rue des Écoles", photo=True),
    ]
    citybot("run", "--once")
    created = tickets(citybot)
    assert len(created) == 3
    by_cat = {t["category"]: t for t in created}
    assert set(by_cat) == {"streetlight", "roads", "waste"}
    assert by_cat["roads"]["location"]["lat"] == 37.22
    acks = sent(admin)
    assert sorted(a["in_reply_to"] for a in acks) == sorted(ids)
    assert {a["to_user"] for a in acks} == {"ana", "john", "marie"}
    assert all("JUN-" in a["text"] for a in acks)

    streetlight = by_cat["streetlight"]["ref"]
    citybot("--as", "manolo", "tickets", "resolve", streetlight, "--note", "Bombilla cambiada.")
    citybot("run", "--once")
    replies = sent(admin)
    assert len(replies) == 4
    status = replies[-1]
    assert status["in_reply_to"] == ids[0] and status["to_user"] == "ana"
    assert streetlight in status["text"] and "resuelta" in status["text"]

    citybot("run", "--once")
    assert len(sent(admin)) == 4
    assert len(tickets(citybot)) == 3


def test_photo_is_stored_with_the_ticket(admin, citybot, config_file):
    inbound(admin, user="marie", text="Graffiti sur le mur de la mairie", photo=True)
    citybot("run", "--once")
    [ticket] = tickets(citybot)
    shown = json.loads(citybot("tickets", "show", ticket["ref"], "--json").stdout)
    [path] = shown["messages"][0]["media"]
    assert path.startswith(str(config_file.parent / "media")) and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_rate_limited_sends_are_delivered_exactly_once_after_the_wait(admin, citybot):
    ids = [inbound(admin, user=f"vecino{i}", text=f"Bache en la calle Mayor {i}") for i in range(3)]
    citybot("run", "--once")  # ingest + acks
    assert len(sent(admin)) == 3
    refs = [t["ref"] for t in tickets(citybot)]
    for ref in refs:
        citybot("--as", "carmen", "tickets", "resolve", ref)
    admin.post("/_sandbox/telegram/faults", json={"status": 429, "count": 2, "retry_after": 1}).raise_for_status()
    started = time.monotonic()
    citybot("run", "--once")
    assert time.monotonic() - started >= 1
    resolutions = sent(admin)[3:]
    assert sorted(r["in_reply_to"] for r in resolutions) == sorted(ids)
    citybot("run", "--once")
    assert len(sent(admin)) == 6


def test_thanks_gets_a_polite_reply_and_no_ticket(admin, citybot):
    inbound(admin, user="pepe", text="¡Gracias por arreglar la plaza!", kind="dm")
    citybot("run", "--once")
    assert tickets(citybot) == []
    [reply] = sent(admin)
    assert reply["text"].startswith("¡Gracias por su mensaje")


def test_citizen_reply_in_thread_is_a_followup(admin, citybot):
    first = inbound(admin, user="ana", text="Contenedor de basura roto en la plaza", kind="dm")
    citybot("run", "--once")
    ack = sent(admin)[0]
    inbound(admin, user="ana", text="Y huele fatal", kind="dm", reply_to=ack["id"])
    citybot("run", "--once")
    [ticket] = tickets(citybot)
    assert ticket["reports"] == 1
    shown = json.loads(citybot("tickets", "show", ticket["ref"], "--json").stdout)
    assert [m["role"] for m in shown["messages"]] == ["report", "followup"]
    assert sent(admin)[-1]["in_reply_to"] != first
