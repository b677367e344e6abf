"""Staff commands on Telegram: only configured staff handles are obeyed, as that staff member."""

import dataclasses
import logging

import pytest
from sqlmodel import select

from bot.db import transaction
from bot.models import OutboxMessage, Ticket, TicketEvent
from bot.pipeline import Pipeline
from tests.helpers import post


@pytest.fixture
def pipe(app):
    p = Pipeline(app.engine, app.cfg, app.classifier, app.clock)
    p.process(post("La farola de la calle Real 12 está apagada", user="ana"))  # JUN-1
    return p


def as_staff(text, handle="100002", channel="telegram", **kw):
    """A post from the Telegram user id `handle` (carmen's by default)."""
    return dataclasses.replace(post(text, user="someone", channel=channel, kind="dm", **kw), author_id=handle)


def state(app, ref="JUN-1"):
    with transaction(app.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.ref == ref)).one()
        events = [(e.actor, e.kind) for e in s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))]
        outbox = list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())
        return ticket, events, outbox


def test_non_staff_resolve_is_refused_and_changes_nothing(app, pipe, caplog):
    before, events_before, outbox_before = state(app)
    with caplog.at_level(logging.WARNING):
        out = pipe.process(post("/resolve JUN-1 ya está", user="eve", lang_hint="en"))
    after, events, outbox = state(app)
    assert out.action == "command" and out.details["accepted"] is False and out.ticket_ref is None
    assert (after.status, after.resolved_at, events) == (before.status, None, events_before)
    [refusal] = outbox[len(outbox_before):]
    assert (refusal.purpose, refusal.recipient_handle) == ("staff_refused", "eve")
    assert refusal.text == "Sorry, that command is for town hall staff only."
    [record] = [r for r in caplog.records if r.getMessage().startswith("security:")]
    assert record.levelno == logging.WARNING
    assert "/resolve" in record.getMessage() and "telegram" in record.getMessage()
    assert "eve" not in record.getMessage()


def test_a_staff_handle_on_another_platform_is_refused(app, pipe, caplog):
    with caplog.at_level(logging.WARNING):
        out = pipe.process(as_staff("/resolve JUN-1", channel="x"))
    assert out.details["accepted"] is False and state(app)[0].status == "open"
    assert any("security: refused /resolve on x" in r.getMessage() for r in caplog.records)


def test_staff_resolve_resolves_as_that_member_and_tells_the_citizen(app, pipe):
    out = pipe.process(as_staff("/resolve JUN-1 Bombilla cambiada."))
    ticket, events, outbox = state(app)
    assert out.details["accepted"] is True and out.ticket_ref == "JUN-1"
    assert ticket.status == "resolved" and ticket.resolved_at == app.clock.now()
    assert events[-1] == ("carmen", "resolved")
    [citizen_reply] = [r for r in outbox if r.purpose == "resolved"]
    assert citizen_reply.recipient_handle == "ana" and "Bombilla cambiada." in citizen_reply.text
    [confirmation] = [r for r in outbox if r.purpose == "staff_command"]
    assert confirmation.audience == "staff" and confirmation.recipient_id == "100002"
    assert confirmation.text == "JUN-1 resuelta. Avisados: 1 ciudadano(s)."


def test_staff_resolve_of_an_unknown_ref_gets_a_clear_error(app, pipe):
    out = pipe.process(as_staff("/resolve JUN-99 hecho"))
    _, events, outbox = state(app)
    assert out.details["accepted"] is False
    assert outbox[-1].text == "No existe la incidencia JUN-99."
    assert ("carmen", "resolved") not in events


def test_resolving_twice_explains_why_not(app, pipe):
    pipe.process(as_staff("/resolve JUN-1"))
    pipe.process(as_staff("/resolve JUN-1"))
    _, events, outbox = state(app)
    assert outbox[-1].text == "No se pudo hacer /resolve: JUN-1 is resolved; reopen it first"
    assert [k for _, k in events].count("resolved") == 1


def test_claim_and_note_in_a_group_with_the_bot_name(app, pipe):
    pipe.process(as_staff("/claim@citybot_demo_bot JUN-1", handle="100001"))
    pipe.process(as_staff("/note JUN-1 falta la escalera", handle="100001"))
    ticket, events, outbox = state(app)
    assert (ticket.assignee, ticket.status) == ("manolo", "in_progress")
    assert events[-2:] == [("manolo", "claimed"), ("manolo", "note")]
    assert [r.text for r in outbox if r.purpose == "staff_command"] == ["JUN-1 es suya: en curso.", "Nota añadida a JUN-1."]
    assert not [r for r in outbox if r.audience == "citizen" and r.purpose != "ack"]


def test_note_without_text_gets_the_usage(app, pipe):
    out = pipe.process(as_staff("/note JUN-1"))
    assert out.details == {"command": "note", "accepted": False, "reason": "usage"}
    assert state(app)[2][-1].text.startswith("Uso: /resolve REF nota")
