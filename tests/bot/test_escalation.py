"""Overdue escalation: once per ticket, to the department head, whatever the number of runs or processes."""

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.db import transaction
from bot.escalation import escalate_overdue
from bot.models import OutboxMessage, Ticket, TicketEvent
from bot.pipeline import Pipeline
from bot.service import TicketService
from tests.bot.test_digest import pg_url  # noqa: F401  (a throw-away PostgreSQL database)
from tests.helpers import post


def escalations(app):
    with transaction(app.engine) as s:
        dms = list(s.exec(select(OutboxMessage).where(OutboxMessage.purpose == "staff_escalated").order_by(OutboxMessage.id)).all())
        events = list(s.exec(select(TicketEvent).where(TicketEvent.kind == "escalated").order_by(TicketEvent.id)).all())
        return dms, events


def report(app, text, **kw):
    return Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post(text, **kw)).ticket_ref


def test_overdue_ticket_is_escalated_to_the_head_exactly_once(app, clock):
    report(app, "La farola de la calle Real 12 está apagada")  # due Thursday 26 November 09:00 UTC
    assert escalate_overdue(app.engine, app.cfg, clock) == []
    clock.advance(days=3, minutes=1)
    assert escalate_overdue(app.engine, app.cfg, clock) == ["JUN-1"]
    assert escalate_overdue(app.engine, app.cfg, clock) == []
    clock.advance(days=2)
    assert escalate_overdue(app.engine, app.cfg, clock) == []
    [dm], [event] = escalations(app)
    assert (dm.recipient_id, dm.audience, dm.ticket_id) == ("100001", "staff", 1)  # manolo heads public works
    assert dm.text.startswith("Fuera de plazo: JUN-1 (alumbrado público) vencía el jueves 26 de noviembre, 10:00 y sigue abierta.")
    assert event.actor == "bot" and event.data["head"] == "manolo" and event.data["notified"] is True
    with transaction(app.engine) as s:
        assert s.get(Ticket, 1).escalated_at == clock.now() - timedelta(days=2)


def test_configured_head_and_triage_head(app, clock):
    app.cfg.departments[0].head = "carmen"
    report(app, "La farola de la calle Real 12 está apagada")
    app.cfg.classification.min_confidence = 0.999
    report(app, "Hay un bache enorme en la puerta del mercado", user="luis")  # triage, no department
    clock.advance(days=10)
    assert escalate_overdue(app.engine, app.cfg, clock) == ["JUN-1", "JUN-2"]
    dms, _ = escalations(app)
    assert [d.recipient_id for d in dms] == ["100002", "100005"]  # carmen; rosa heads triage
    assert "Responsable: sin asignar." in dms[1].text


def test_head_without_a_channel_still_gets_the_event(app, clock):
    app.cfg.departments[0].staff[0].handles = {}  # manolo
    report(app, "La farola de la calle Real 12 está apagada")
    clock.advance(days=10)
    assert escalate_overdue(app.engine, app.cfg, clock) == ["JUN-1"]
    assert escalate_overdue(app.engine, app.cfg, clock) == []
    dms, [event] = escalations(app)
    assert dms == [] and event.data["notified"] is False


def test_resolved_tickets_are_not_escalated_and_reopening_rearms(app, clock):
    report(app, "La farola de la calle Real 12 está apagada")
    clock.advance(days=10)
    svc = TicketService(app.engine, app.cfg, clock, actor="manolo")
    svc.resolve("JUN-1")
    assert escalate_overdue(app.engine, app.cfg, clock) == []
    svc.reopen("JUN-1")
    assert escalate_overdue(app.engine, app.cfg, clock) == ["JUN-1"]
    svc.resolve("JUN-1")
    svc.reopen("JUN-1")
    assert escalate_overdue(app.engine, app.cfg, clock) == ["JUN-1"]
    assert len(escalations(app)[1]) == 2


@pytest.mark.one_database  # makes its own PostgreSQL database
def test_racing_processes_escalate_once_on_postgresql(cfg, clock, pg_url):  # noqa: F811
    first = build_app(cfg, clock, with_classifier=False)
    engines = [first.engine, build_app(cfg, clock, with_classifier=False).engine]
    with transaction(first.engine) as s:
        for n in range(20):
            ticket = Ticket(status="open", channel="telegram", department="public_works", assignee="carmen", category="roads",
                            created_at=clock.now(), updated_at=clock.now(), expected_at=clock.now() - timedelta(hours=1))
            s.add(ticket)
            s.flush()
            ticket.ref = f"JUN-{ticket.id}"
    barrier = threading.Barrier(len(engines))
    results: list[list[str]] = []

    def worker(engine):
        barrier.wait()
        results.append(escalate_overdue(engine, cfg, clock))

    threads = [threading.Thread(target=worker, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refs = sum(results, [])
    assert len(refs) == len(set(refs)) == 20
    dms, events = escalations(first)
    assert len(dms) == len(events) == 20
    for engine in engines:
        engine.dispose()
