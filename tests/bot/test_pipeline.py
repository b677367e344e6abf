from datetime import datetime, timezone

import pytest
from sqlmodel import select

from bot.db import transaction
from bot.models import Citizen, Message, OutboxMessage, Ticket, TicketEvent
from bot.pipeline import Pipeline
from tests.helpers import post


CITIZEN = OutboxMessage.audience == "citizen"  # replies to citizens, not the staff DMs


def pipeline(app):
    return Pipeline(app.engine, app.cfg, app.classifier, app.clock)


def rows(app, model, *where):
    with transaction(app.engine) as s:
        return list(s.exec(select(model).where(*where)).all())


def test_request_becomes_routed_ticket_with_ack_in_same_transaction(app, clock):
    out = pipeline(app).process(post("La farola de la calle Real 12 está apagada desde el lunes"))
    assert out.action == "ticket" and out.ticket_ref == "JUN-1"
    [ticket] = rows(app, Ticket)
    assert (ticket.category, ticket.department, ticket.status) == ("streetlight", "public_works", "open")
    assert ticket.assignee in ("manolo", "carmen")
    assert ticket.location_text == "Calle Real 12"
    # 21 office hours from Monday 10:00 in Villajún (08:00-15:00): Thursday 10:00, 09:00 UTC
    assert ticket.expected_at == datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    [ack] = rows(app, OutboxMessage, CITIZEN)
    assert ack.purpose == "ack" and ack.in_reply_to == "100:" + ack.in_reply_to.split(":")[1]
    assert "JUN-1" in ack.text and "alumbrado público" in ack.text and "jueves 26 de noviembre" in ack.text
    kinds = [e.kind for e in rows(app, TicketEvent)]
    assert kinds == ["created", "assigned"]


def test_same_post_twice_is_one_ticket(app):
    p = post("There is a pothole on Main Street")
    first, second = pipeline(app).process(p), pipeline(app).process(p)
    assert (first.action, second.action) == ("ticket", "duplicate")
    assert len(rows(app, Ticket)) == 1 and len(rows(app, OutboxMessage, CITIZEN)) == 1


def test_least_loaded_staff_gets_the_next_ticket(app):
    p = pipeline(app)
    p.process(post("farola apagada en la plaza"))
    p.process(post("otra farola apagada en la calle Ancha", user="luis"))
    assignees = sorted(t.assignee for t in rows(app, Ticket))
    assert assignees == ["carmen", "manolo"]


def test_thanks_creates_no_ticket_but_a_polite_reply(app):
    out = pipeline(app).process(post("¡Muchas gracias!"))
    assert out.action == "not_request"
    assert rows(app, Ticket) == []
    [reply] = rows(app, OutboxMessage)
    assert reply.purpose == "not_request" and reply.text.startswith("¡Gracias")


def test_public_chatter_gets_no_reply(app):
    out = pipeline(app).process(post("gracias #JunIncidencias", kind="public"))
    assert out.action == "not_request" and rows(app, OutboxMessage) == []


def test_low_confidence_goes_to_triage(app):
    app.cfg.classification.min_confidence = 0.999
    out = pipeline(app).process(post("Hay un bache enorme en la puerta del mercado, ¿pueden mirarlo?"))
    [ticket] = rows(app, Ticket)
    assert out.action == "ticket" and ticket.status == "triage"
    assert ticket.assignee is None and ticket.department is None
    # 14 office hours from Monday 10:00 in Villajún: 5 + 7 + 2, Wednesday 10:00 (09:00 UTC)
    assert ticket.expected_at == datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", [
    "Die Straßenlaterne vor meinem Haus ist seit einer Woche kaputt",  # the model's guess: 0.17
    "Überall liegt Müll im Park, bitte sofort reinigen",  # a confident guess (0.73), which must not route it
    "يوجد حفرة كبيرة في الشارع أمام المدرسة",  # the model: not a request; staff still read it
])
def test_a_post_in_a_language_the_city_does_not_read_waits_in_triage(app, text):
    p = pipeline(app)
    p.process(post("The streetlight on Elm St is out again", user="hans"))  # hans wrote English before
    out = p.process(post(text, user="hans"))
    assert out.action == "ticket"
    ticket = rows(app, Ticket, Ticket.ref == out.ticket_ref)[0]
    assert (ticket.status, ticket.assignee, ticket.department) == ("triage", None, None)
    assert ticket.category is None  # the model cannot read it: its guess is not kept
    message = rows(app, Message, Message.ticket_id == ticket.id)[0]
    [citizen] = rows(app, Citizen, Citizen.handle == "hans")
    assert message.language == "und" and citizen.language == "en" and ticket.language == "en"
    ack = rows(app, OutboxMessage, CITIZEN, OutboxMessage.ticket_id == ticket.id)[0]
    assert ack.purpose == "ack" and ack.text.startswith("Thank you") and out.ticket_ref in ack.text  # hans's language
    assert "waste" not in ack.text


def test_a_new_citizen_in_another_script_is_answered_in_the_citys_language(app):
    out = pipeline(app).process(post("На улице Ленина не горит фонарь уже неделю", user="olga", lang_hint="ru"))
    [citizen] = rows(app, Citizen, Citizen.handle == "olga")
    [ticket] = rows(app, Ticket)
    assert out.action == "ticket" and ticket.status == "triage" and ticket.language == "es"
    assert citizen.language is None
    [ack] = rows(app, OutboxMessage, CITIZEN)
    assert ack.text.startswith("Gracias por su aviso") and "(en revisión)" in ack.text


def test_a_post_with_nothing_to_read_is_answered_in_the_citizens_language(app):
    from bot.tickets import render

    p = pipeline(app)
    p.process(post("The streetlight on Elm St is out again", user="hans"))
    out = p.process(post("👍👍🔥", user="hans"))
    assert out.action == "not_request"
    reply = rows(app, OutboxMessage, CITIZEN, OutboxMessage.purpose == "not_request")[0]
    assert reply.text == render(app.cfg, "not_request", "en")


def test_reply_in_thread_is_a_followup_not_a_new_ticket(app):
    p = pipeline(app)
    first = post("Bache enorme en la calle Mayor")
    p.process(first)
    out = p.process(post("Ahora es todavía más grande", in_reply_to=first.external_id))
    assert out.action == "followup" and out.ticket_ref == "JUN-1"
    assert len(rows(app, Ticket)) == 1
    # a reply to the bot's own acknowledgement counts too
    from bot.outbox import Delivery
    from tests.helpers import RecordingChannel
    Delivery(app.engine, app.cfg, {"telegram": RecordingChannel()}, app.clock).deliver_due()
    out = p.process(post("y con agua dentro", in_reply_to="100:bot1"))
    assert out.ticket_ref == "JUN-1"
    assert [m.role for m in rows(app, Message)] == ["report", "followup", "followup"]


def test_coordinates_and_photo_are_kept(app):
    from channels.base import MediaRef
    pipeline(app).process(post("Pintadas en la fachada del colegio", lat=37.22, lon=-3.59,
                                media=(MediaRef("photo", "/tmp/p.png", "f1"),)))
    [ticket] = rows(app, Ticket)
    [message] = rows(app, Message)
    assert (ticket.lat, ticket.lon) == (37.22, -3.59)
    assert message.media == [{"kind": "photo", "path": "/tmp/p.png", "remote_id": "f1"}]


def test_location_pin_completes_the_latest_report(app):
    p = pipeline(app)
    p.process(post("contenedor de basura quemado"))
    out = p.process(post("", lat=37.1, lon=-3.5))
    [ticket] = rows(app, Ticket)
    assert out.action == "location" and (ticket.lat, ticket.lon) == (37.1, -3.5)


def test_start_and_status_commands(app):
    p = pipeline(app)
    p.process(post("/start", lang_hint="en"))
    p.process(post("The streetlight on Oak Street is out", user="ana"))
    status = p.process(post("/status JUN-1", user="ana"))
    other = p.process(post("/status JUN-1", user="eve"))
    assert status.ticket_ref == "JUN-1" and other.ticket_ref is None
    texts = [r.text for r in rows(app, OutboxMessage, CITIZEN)]
    assert texts[0].startswith("Hello, I am the Villajún")
    assert texts[2].startswith("Ticket JUN-1 (street lighting) is open")
    assert "could not find ticket JUN-1" in texts[3] or "No encontramos la incidencia JUN-1" in texts[3]


def test_reply_language_follows_the_post(app):
    pipeline(app).process(post("Le lampadaire de la rue Victor Hugo est éteint", user="marie"))
    [ack] = rows(app, OutboxMessage, CITIZEN)
    assert ack.text.startswith("Merci pour votre signalement") and "éclairage public" in ack.text
    [citizen] = rows(app, Citizen)
    assert citizen.language == "fr"


def test_danger_raises_priority_with_a_reason(app):
    pipeline(app).process(post("Cuidado: hay un cable suelto junto a la farola de la plaza"))
    [ticket] = rows(app, Ticket)
    assert ticket.priority == "urgent" and "live wire" in ticket.priority_reason


def test_reply_to_a_later_part_of_a_threaded_reply_is_a_followup(app):
    from bot.outbox import Delivery
    from tests.helpers import RecordingChannel
    first = post("Bache enorme en la calle Mayor")
    pipeline(app).process(first)
    Delivery(app.engine, app.cfg, {"telegram": RecordingChannel(parts=3)}, app.clock).deliver_due()
    out = pipeline(app).process(post("sigue igual", in_reply_to="100:bot1.3"))
    assert out.action == "followup" and out.ticket_ref == "JUN-1"
