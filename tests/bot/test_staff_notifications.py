"""Staff DMs on assignment (pipeline routing, assign, recategorize): what they say and what they never say."""

from sqlmodel import select

from bot.db import transaction
from bot.models import OutboxMessage, Ticket
from bot.pipeline import Pipeline
from bot.service import TicketService
from channels.base import MediaRef
from tests.helpers import post


def staff_dms(app):
    with transaction(app.engine) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.audience == "staff").order_by(OutboxMessage.id)).all())


def ticket(app, ref):
    with transaction(app.engine) as s:
        return s.exec(select(Ticket).where(Ticket.ref == ref)).one()


def test_routed_ticket_sends_its_assignee_a_dm_with_the_photo(app, tmp_path):
    photo = tmp_path / "farola.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    out = Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post(
        "La farola de la calle Real 12 está apagada", user="vecina_lola_77", lat=37.2, lon=-3.6,
        media=(MediaRef(kind="photo", path=str(photo), remote_id="f1"),)))
    [dm] = staff_dms(app)
    assignee = ticket(app, out.ticket_ref).assignee
    handle = {"manolo": "100001", "carmen": "100002"}[assignee]
    assert (dm.channel, dm.recipient_id, dm.purpose, dm.ticket_id) == ("telegram", handle, "staff_assigned", 1)
    assert dm.media == [str(photo)] and dm.in_reply_to is None
    lines = dm.text.splitlines()
    assert lines[0] == "Nueva incidencia para usted: JUN-1 (alumbrado público)."
    assert lines[1] == "Lugar: Calle Real 12 (37.20000, -3.60000)"
    assert lines[2] == "Aviso: «La farola de la calle Real 12 está apagada»"
    assert lines[3] == "Fecha prevista: jueves 26 de noviembre, 10:00"
    assert "/resolve JUN-1" in lines[4]
    assert "vecina_lola_77" not in dm.text and "u-vecina_lola_77" not in dm.text


def test_dm_neutralises_terminal_escapes_in_the_citizen_text(app):
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(
        post("Farola apagada\x1b]8;;http://evil\x07 en la calle Real\nlleva días"))
    [dm] = staff_dms(app)
    assert "\x1b" not in dm.text and "\\x1b]8;;http://evil\\x07" in dm.text
    assert "calle Real ⏎ lleva días" in dm.text and dm.media == []


def test_triage_ticket_without_assignee_sends_no_dm(app):
    app.cfg.classification.min_confidence = 0.999
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post("Hay un bache enorme en la puerta del mercado"))
    assert staff_dms(app) == []


def test_assign_and_recategorize_tell_only_a_new_assignee(app):
    app.cfg.classification.min_confidence = 0.999
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post("Hay un bache enorme en la puerta del mercado"))
    svc = TicketService(app.engine, app.cfg, app.clock, actor="rosa")
    svc.assign("JUN-1", "carmen")
    svc.assign("JUN-1", "carmen")  # same person again: nothing new to tell
    svc.recategorize("JUN-1", "roads")  # same department, assignee kept
    svc.recategorize("JUN-1", "trees")  # environment: lucia
    dms = staff_dms(app)
    assert [(d.recipient_id, d.purpose) for d in dms] == [("100002", "staff_assigned"), ("100003", "staff_assigned")]
    assert dms[1].text.startswith("Nueva incidencia para usted: JUN-1 (árboles y vegetación).")
    assert "Fecha prevista: miércoles 9 de diciembre, 10:00" in dms[1].text  # the trees SLA, not the triage one


def test_staff_without_a_reachable_channel_is_skipped(app):
    app.cfg.departments[0].staff[1].handles = {}  # carmen
    app.cfg.classification.min_confidence = 0.999
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post("Hay un bache enorme en la puerta del mercado"))
    TicketService(app.engine, app.cfg, app.clock).assign("JUN-1", "carmen")
    assert staff_dms(app) == [] and ticket(app, "JUN-1").assignee == "carmen"


def test_dm_language_is_the_city_language(app):
    app.cfg.city.default_language = "fr"
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post("Streetlight out on Calle Real", user="john"))
    [dm] = staff_dms(app)
    assert dm.text.startswith("Nouveau ticket pour vous : JUN-1 (éclairage public).")
    assert "Échéance : jeudi 26 novembre à 10h00" in dm.text
