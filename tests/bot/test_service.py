import pytest
from sqlmodel import select

from bot.db import transaction
from bot.models import OutboxMessage, TicketEvent
from bot.pipeline import Pipeline
from bot.service import ServiceError, TicketService
from tests.helpers import post


@pytest.fixture
def svc(app):
    p = Pipeline(app.engine, app.cfg, app.classifier, app.clock)
    p.process(post("La farola de la calle Real está apagada", user="ana"))           # JUN-1
    p.process(post("Pothole on Oak Street, huge", user="john"))                     # JUN-2
    p.process(post("Otra farola apagada en calle Real, la misma", user="luis"))     # JUN-3
    return TicketService(app.engine, app.cfg, app.clock, actor="manolo")


def outbox(app, purpose):
    with transaction(app.engine) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.purpose == purpose).order_by(OutboxMessage.id)).all())


def test_list_defaults_to_unfinished_newest_first(svc):
    assert [t["ref"] for t in svc.list()] == ["JUN-3", "JUN-2", "JUN-1"]
    svc.resolve("JUN-2")
    assert [t["ref"] for t in svc.list()] == ["JUN-3", "JUN-1"]
    assert [t["ref"] for t in svc.list("all", limit=2)] == ["JUN-3", "JUN-2"]
    assert [t["ref"] for t in svc.list("resolved")] == ["JUN-2"]
    assert [t["ref"] for t in svc.list(category="roads", status="all")] == ["JUN-2"]


def test_ticket_json_has_the_contract_fields(svc):
    ticket = svc.list()[0]
    assert set(ticket) == {"ref", "status", "category", "department", "assignee", "priority", "channel", "created_at",
                           "updated_at", "expected_at", "resolved_at", "location", "reports", "confidence"}
    assert ticket["channel"] == "telegram" and ticket["reports"] == 1


def test_resolve_replies_to_every_reporter_in_their_thread(app, svc):
    svc.close("JUN-3", "duplicate", of="JUN-1")
    svc.resolve("JUN-1", note="Bombilla cambiada.")
    replies = outbox(app, "resolved")
    assert [r.recipient_handle for r in replies] == ["ana", "luis"]
    assert all("JUN-1" in r.text and "Bombilla cambiada." in r.text for r in replies)
    assert all(r.in_reply_to for r in replies)
    assert svc.show("JUN-1")["reports"] == 2
    [closed] = outbox(app, "closed")
    assert "duplicado de JUN-1" in closed.text


def test_every_change_writes_an_event(app, svc):
    svc.assign("JUN-2", "carmen")
    svc.note("JUN-2", "mirar mañana")
    svc.reply("JUN-2", "Vamos mañana a primera hora")
    svc.claim("JUN-2")
    svc.recategorize("JUN-2", "water_drains")
    svc.resolve("JUN-2")
    svc.reopen("JUN-2")
    kinds = [e["kind"] for e in svc.show("JUN-2")["events"]]
    assert kinds[-7:] == ["assigned", "note", "reply", "claimed", "recategorized", "resolved", "reopened"]
    assert svc.show("JUN-2")["status"] == "in_progress"
    # notes stay internal; replies go out
    assert [r.purpose for r in outbox(app, "reply")] == ["reply"]
    with transaction(app.engine) as s:
        note = s.exec(select(TicketEvent).where(TicketEvent.kind == "note")).one()
        assert note.public is False


def test_recategorize_reroutes_and_keeps_the_correction(svc):
    ticket = svc.recategorize("JUN-2", "noise")
    assert (ticket["category"], ticket["department"], ticket["assignee"]) == ("noise", "police", "antonio")
    event = svc.show("JUN-2")["events"][-1]
    assert event["data"]["previous"] == "roads" and "Pothole" in event["data"]["correction_text"]


@pytest.mark.parametrize("call, message", [
    (lambda s: s.show("JUN-99"), "unknown ticket 'JUN-99'"),
    (lambda s: s.assign("JUN-1", "nobody"), "unknown staff member 'nobody'"),
    (lambda s: s.list(status="done"), "'done' is not a status"),
    (lambda s: s.recategorize("JUN-1", "potholes"), "'potholes' is not a category"),
    (lambda s: s.close("JUN-1", "boring"), "'boring' is not a close reason"),
    (lambda s: s.close("JUN-1", "duplicate"), "--of REF is required"),
    (lambda s: s.close("JUN-1", "duplicate", of="JUN-1"), "JUN-1 cannot be a duplicate of JUN-1"),
    (lambda s: s.reopen("JUN-1"), "JUN-1 is open, not resolved or closed"),
    (lambda s: s.note("JUN-1", "   "), "the text is empty"),
    (lambda s: s.resolve("JUN-1", photo="/nonexistent.jpg"), "photo '/nonexistent.jpg' is not a readable file"),
])
def test_bad_input_is_refused_with_a_clear_message(svc, call, message):
    with pytest.raises(ServiceError) as info:
        call(svc)
    assert message in str(info.value)


def test_resolved_ticket_cannot_be_resolved_again(svc):
    svc.resolve("JUN-1")
    with pytest.raises(ServiceError, match="JUN-1 is resolved; reopen it first"):
        svc.resolve("JUN-1")


def test_overdue_lists_tickets_past_their_promise(svc, clock):
    assert svc.list(overdue=True) == []
    # Streetlights: 21 office hours, Thursday 10:00 local; roads: 70, Wednesday 9 December (7 and 8 are holidays).
    clock.advance(hours=71)  # Thursday 09:00 local
    assert svc.list(overdue=True) == []
    clock.advance(hours=29)  # Friday 14:00 local
    assert [t["ref"] for t in svc.list(overdue=True)] == ["JUN-3", "JUN-1"]
    assert svc.show("JUN-2")["expected_at"].startswith("2026-12-09T09:00")
