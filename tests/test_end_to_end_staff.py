"""Staff on Telegram through the sandbox and the real python-telegram-bot: the assignment DM, a refused and an
accepted /resolve, the "is it fixed?" question with buttons, and the citizen's "No" press reopening the ticket."""

import json

import pytest

from bot.app import build_app
from bot.config import load_config
from bot.followups import ask_followups
from channels.sandbox.telegram import user_id_for
from tests.test_end_to_end import admin, citybot, sandbox  # noqa: F401  (the CLI against a loopback sandbox)


@pytest.fixture
def config_file(config_file):
    """The shipped config, with manolo's and carmen's Telegram ids those of the sandbox users of their names."""
    text = config_file.read_text(encoding="utf-8")
    for name, handle in (("manolo", "100001"), ("carmen", "100002")):
        text = text.replace(f'handles: {{telegram: "{handle}"}}', f'handles: {{telegram: "{user_id_for(name)}"}}')
    config_file.write_text(text, encoding="utf-8")
    return config_file


def say(admin, user, text, **body):
    answer = admin.post("/_sandbox/telegram/inbound", json={"user": user, "text": text, "kind": "dm", **body})
    answer.raise_for_status()
    return answer.json()["id"]


def sent_to(admin, user):
    return [m for m in admin.get("/_sandbox/telegram/sent").json() if m["to_user"] == user]


def ticket(citybot, ref="JUN-1"):
    return json.loads(citybot("tickets", "show", ref, "--json").stdout)


def test_staff_work_a_ticket_on_telegram_and_the_citizen_says_it_is_not_fixed(admin, citybot, config_file):  # noqa: F811
    say(admin, "carmen", "/start")  # staff open their chat with the bot once
    report = say(admin, "ana", "La farola de la calle Real 12 está apagada")
    citybot("run", "--once")
    assert ticket(citybot)["assignee"] == "carmen"
    [_, assigned] = sent_to(admin, "carmen")
    assert assigned["text"].startswith("Nueva incidencia para usted: JUN-1 (alumbrado público).")
    assert "ana" not in assigned["text"]  # the citizen is never named to staff

    say(admin, "ana", "/resolve JUN-1 ya está")
    citybot("run", "--once")
    assert sent_to(admin, "ana")[-1]["text"] == "Lo sentimos, ese comando es solo para el personal del Ayuntamiento."
    assert ticket(citybot)["status"] == "open"

    say(admin, "carmen", "/resolve JUN-1 Bombilla cambiada.")
    citybot("run", "--once")
    assert ticket(citybot)["status"] == "resolved"
    assert sent_to(admin, "carmen")[-1]["text"] == "JUN-1 resuelta. Avisados: 1 ciudadano(s)."
    resolution = sent_to(admin, "ana")[-1]
    assert resolution["in_reply_to"] == report and "Bombilla cambiada." in resolution["text"]

    cfg = load_config(config_file)
    cfg.followups.after_days = 1e-9  # the scheduler's job, run now rather than three days on
    application = build_app(cfg, with_classifier=False)
    assert ask_followups(application.engine, cfg, application.clock) == ["JUN-1"]
    application.engine.dispose()
    citybot("run", "--once")
    question = sent_to(admin, "ana")[-1]
    assert question["text"] == "Incidencia JUN-1: ¿Está arreglado? Responda sí o no."
    assert question["buttons"] == [{"label": "Sí", "data": "fixed:JUN-1:yes"}, {"label": "No", "data": "fixed:JUN-1:no"}]

    admin.post("/_sandbox/telegram/inbound", json={"user": "ana", "callback": "fixed:JUN-1:no", "reply_to": question["id"]}).raise_for_status()
    citybot("run", "--once")
    shown = ticket(citybot)
    assert shown["status"] == "in_progress" and shown["resolved_at"] is None
    assert "reopened_by_citizen" in [e["kind"] for e in shown["events"]]
    # threaded under the question (the sandbox names the author of the message answered: the bot)
    [sorry] = [m for m in admin.get("/_sandbox/telegram/sent").json() if m["in_reply_to"] == question["id"]]
    assert sorry["text"].startswith("Lo sentimos. Hemos reabierto la incidencia JUN-1")
    assert sent_to(admin, "carmen")[-1]["text"].startswith("El ciudadano dice que JUN-1 (alumbrado público) no está arreglada")
    assert [c["answered"] for c in admin.get("/_sandbox/telegram/callbacks").json()] == [True]
