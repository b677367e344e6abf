"""'Is it fixed?': asked once after `followups.after_days`, answered by text in the thread or by a button."""

import dataclasses
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.db import transaction
from bot.followups import answer_of, ask_followups, callback_answer
from bot.models import OutboxMessage, Ticket, TicketEvent
from bot.pipeline import Pipeline
from bot.service import TicketService
from bot.tickets import render
from tests.helpers import post


@pytest.fixture
def resolved(app, clock):
    """JUN-1 reported by ana on Telegram, resolved by its assignee; the post that reported it."""
    report = post("La farola de la calle Real 12 está apagada", user="ana")
    Pipeline(app.engine, app.cfg, app.classifier, clock).process(report)
    TicketService(app.engine, app.cfg, clock, actor="manolo").resolve("JUN-1")
    return report


def pipe(app):
    return Pipeline(app.engine, app.cfg, app.classifier, app.clock)


def rows(app, model, *where):
    with transaction(app.engine) as s:
        return list(s.exec(select(model).where(*where).order_by(model.id)).all())


def ticket(app):
    return rows(app, Ticket)[0]


def asked(app, clock):
    clock.advance(days=3)
    assert ask_followups(app.engine, app.cfg, clock) == ["JUN-1"]


def test_asked_once_after_the_configured_days_with_buttons(app, clock, resolved):
    clock.advance(days=2, hours=23)
    assert ask_followups(app.engine, app.cfg, clock) == []
    clock.advance(hours=1)
    assert ask_followups(app.engine, app.cfg, clock) == ["JUN-1"]
    assert ask_followups(app.engine, app.cfg, clock) == []
    clock.advance(days=5)
    assert ask_followups(app.engine, app.cfg, clock) == []
    [question] = rows(app, OutboxMessage, OutboxMessage.purpose == "fixed_question")
    assert question.text == "Incidencia JUN-1: ¿Está arreglado? Responda sí o no."
    assert question.buttons == [["Sí", "fixed:JUN-1:yes"], ["No", "fixed:JUN-1:no"]]
    assert (question.recipient_handle, question.in_reply_to) == ("ana", resolved.external_id)
    assert [e.kind for e in rows(app, TicketEvent)].count("followup_asked") == 1
    assert ticket(app).followup_asked_at == clock.now() - timedelta(days=5)


def test_no_buttons_off_telegram_and_none_when_disabled(app, clock):
    Pipeline(app.engine, app.cfg, app.classifier, clock).process(post("Streetlight out on Calle Real", user="john", channel="x"))
    TicketService(app.engine, app.cfg, clock, actor="manolo").resolve("JUN-1")
    clock.advance(days=4)
    app.cfg.followups.after_days = None
    assert ask_followups(app.engine, app.cfg, clock) == []
    app.cfg.followups.after_days = 3
    assert ask_followups(app.engine, app.cfg, clock) == ["JUN-1"]
    [question] = rows(app, OutboxMessage, OutboxMessage.purpose == "fixed_question")
    assert question.buttons == [] and question.text == "Ticket JUN-1: Is it fixed? Reply yes or no."


def test_no_in_the_thread_reopens_and_tells_the_assignee(app, clock, resolved):
    asked(app, clock)
    out = pipe(app).process(post("No, sigue igual de oscuro", user="ana", in_reply_to=resolved.external_id))
    t = ticket(app)
    assert out.action == "followup" and out.details == {"fixed": False}
    assert (t.status, t.resolved_at, t.fixed_confirmed, t.followup_asked_at) == ("in_progress", None, False, None)
    assert rows(app, TicketEvent)[-1].kind == "reopened_by_citizen"
    [reply] = rows(app, OutboxMessage, OutboxMessage.purpose == "fixed_reopened")
    assert reply.text.startswith("Lo sentimos. Hemos reabierto la incidencia JUN-1")
    [dm] = rows(app, OutboxMessage, OutboxMessage.purpose == "staff_reopened")
    assert dm.recipient_id == {"manolo": "100001", "carmen": "100002"}[t.assignee]
    assert dm.text.startswith("El ciudadano dice que JUN-1 (alumbrado público) no está arreglada")


def test_si_counts_as_fixed(app, clock, resolved):
    asked(app, clock)
    out = pipe(app).process(post("¡¡Sí!! Gracias", user="ana", in_reply_to=resolved.external_id))
    t = ticket(app)
    assert out.details == {"fixed": True}
    assert (t.status, t.fixed_confirmed) == ("resolved", True)
    assert rows(app, TicketEvent)[-1].kind == "citizen_confirmed"
    [thanks] = rows(app, OutboxMessage, OutboxMessage.purpose == "fixed_thanks")
    assert thanks.text == "¡Gracias por confirmarlo! La incidencia JUN-1 queda resuelta."


def test_button_press_answers_under_the_question(app, clock, resolved):
    asked(app, clock)
    press = dataclasses.replace(post("fixed:JUN-1:no", user="ana", kind="dm", in_reply_to="100:555"), external_id="cb:77")
    out = pipe(app).process(press)
    assert out.details == {"fixed": False} and ticket(app).status == "in_progress"
    [reply] = rows(app, OutboxMessage, OutboxMessage.purpose == "fixed_reopened")
    assert reply.in_reply_to == "100:555"


def test_a_stranger_or_an_early_press_changes_nothing(app, clock, resolved):
    early = dataclasses.replace(post("fixed:JUN-1:no", user="ana", in_reply_to="100:555"), external_id="cb:1")
    assert pipe(app).process(early).action == "ignored"
    asked(app, clock)
    stranger = dataclasses.replace(post("fixed:JUN-1:no", user="eve", in_reply_to="100:555"), external_id="cb:2")
    assert pipe(app).process(stranger).action == "ignored"
    out = pipe(app).process(post("no", user="eve", in_reply_to=resolved.external_id))
    assert out.action == "followup" and out.details == {}
    t = ticket(app)
    assert (t.status, t.fixed_confirmed) == ("resolved", None)


def test_other_text_keeps_the_usual_followup(app, clock, resolved):
    asked(app, clock)
    out = pipe(app).process(post("Por cierto, la de al lado también parpadea", user="ana", in_reply_to=resolved.external_id))
    assert out.action == "followup" and out.details == {} and ticket(app).status == "resolved"
    assert rows(app, OutboxMessage)[-1].purpose == "followup"


@pytest.mark.parametrize("text, expected", [
    ("sí", True), ("Si!", True), ("OUI.", True), ("yes, thanks", True), ("👍", True), ("👍🏽", True),
    ("no", False), ("Non !", False), ("sigue igual", False), ("Todavía no", False), ("not fixed yet", False), ("👎", False),
    ("sí... bueno, no, sigue igual", None), ("gracias", None), ("", None), ("¿?", None),
])
def test_answer_of(text, expected):
    assert answer_of(text) is expected


def test_callback_answer():
    assert callback_answer("fixed:JUN-12:yes") == ("JUN-12", True)
    assert callback_answer("fixed:JUN-12:no") == ("JUN-12", False)
    assert callback_answer("fixed:JUN-12:maybe") is None and callback_answer("other:JUN-1:yes") is None


def test_older_configs_get_built_in_templates(cfg):
    for lang in cfg.templates:
        for key in ("fixed_question", "fixed_thanks", "fixed_reopened"):
            del cfg.templates[lang][key]
    assert cfg.template("fixed_thanks", "fr") == "Merci de l'avoir confirmé ! Le ticket {ref} reste résolu."
    assert render(cfg, "fixed_question", "en", ref="JUN-3") == "Ticket JUN-3: Is it fixed? Reply yes or no."
