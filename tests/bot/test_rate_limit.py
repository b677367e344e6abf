"""A citizen flooding the bot: beyond `privacy.max_tickets_per_hour` new tickets wait in triage."""

import pytest
from sqlmodel import select

from bot.db import transaction
from bot.models import OutboxMessage, Ticket, TicketEvent
from bot.pipeline import Pipeline
from tests.helpers import post

STREETS = ["calle Real", "calle Mayor", "calle Ancha", "calle Nueva", "plaza de España"]


@pytest.fixture
def pipeline(app):
    app.cfg.privacy.max_tickets_per_hour = 3
    return Pipeline(app.engine, app.cfg, app.classifier, app.clock)


def tickets(app):
    with transaction(app.engine) as s:
        return {t.ref: t for t in s.exec(select(Ticket)).all()}


def test_the_flood_goes_to_triage_not_to_staff(app, pipeline, clock):
    refs = [pipeline.process(post(f"La farola de la {street} está apagada", user="pesado")).ticket_ref for street in STREETS]
    other = pipeline.process(post("La farola de la calle San Sebastián está apagada", user="ana")).ticket_ref
    rows = tickets(app)
    assert [rows[r].status for r in refs] == ["open", "open", "open", "triage", "triage"]
    assert [rows[r].assignee for r in refs[3:]] == [None, None]
    assert rows[other].status == "open"
    with transaction(app.engine) as s:
        limited = s.exec(select(TicketEvent).where(TicketEvent.kind == "rate_limited")).all()
        staff_dms = s.exec(select(OutboxMessage.ticket_id).where(OutboxMessage.audience == "staff")).all()
        acks = s.exec(select(OutboxMessage).where(OutboxMessage.purpose == "ack")).all()
    assert sorted(e.ticket_id for e in limited) == sorted(rows[r].id for r in refs[3:])
    assert not {rows[r].id for r in refs[3:]} & set(staff_dms)
    assert len(acks) == 6  # every citizen still gets a ticket number: nothing is lost

    clock.advance(hours=1, minutes=1)
    later = pipeline.process(post("Bache en la calle Real 3", user="pesado")).ticket_ref
    assert tickets(app)[later].status == "open"
