import pytest
from sqlmodel import func, select

from bot.db import transaction
from bot.models import Citizen, Message, OutboxMessage, Ticket, TicketEvent
from bot.pipeline import Pipeline
from bot.privacy import UnknownCitizen, anonymise, forget_citizen, purge_expired
from bot.service import TicketService
from channels.base import MediaRef
from tests.helpers import post


@pytest.fixture
def seeded(app, tmp_path):
    photo = app.cfg.base_dir / "media" / "inbound" / "p1.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    p = Pipeline(app.engine, app.cfg, app.classifier, app.clock)
    p.process(post("La farola de la calle Real 12 está apagada, llamadme al 600 123 456 o escribid a ana@example.org",
                   user="ana_garcia", lat=37.2, lon=-3.6, media=(MediaRef("photo", str(photo)),)))  # JUN-1
    p.process(post("Bache enorme en la calle Mayor", user="luis"))  # JUN-2
    return photo


def counts(app):
    with transaction(app.engine) as s:
        return (s.exec(select(func.count()).select_from(Ticket)).one(),
                s.exec(select(func.count()).select_from(Message)).one())


def test_anonymise_removes_what_identifies_people():
    text = anonymise("@ana_garcia y @pepe@mastodon.social: llamad al +34 600 123 456, ana@example.org, https://x.com/a/1")
    assert text == "[…] y […]: llamad al […], […], […]"
    assert anonymise("Farola 12 de la calle Real") == "Farola 12 de la calle Real"


def test_forget_erases_the_citizen_and_keeps_the_ticket(app, seeded):
    before = counts(app)
    report = forget_citizen(app.engine, app.cfg, app.clock, "telegram", "@Ana_Garcia")
    assert report.citizens == 1 and report.messages == 1 and report.photos == 1 and report.cancelled_replies == 1
    assert not seeded.exists()
    assert counts(app) == before
    with transaction(app.engine) as s:
        ana = s.get(Citizen, s.exec(select(Message.citizen_id).where(Message.ticket_id == 1)).one())
        assert ana.handle is None and ana.external_user_id == f"forgotten-{ana.id}"
        message = s.exec(select(Message).where(Message.ticket_id == 1)).one()
        assert "600" not in message.text and "example.org" not in message.text and "farola" in message.text.lower()
        assert message.raw == {"purged": True} and message.media == [] and message.lat is None
        ack = s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == 1, OutboxMessage.audience == "citizen")).one()
        assert ack.state == "dead" and ack.recipient_id == "forgotten" and ack.recipient_handle is None
        ticket = s.get(Ticket, 1)
        assert ticket.status == "open" and ticket.category == "streetlight" and ticket.lat == 37.2
        luis = s.exec(select(Citizen).where(Citizen.handle == "luis")).one()
        assert luis.external_user_id == "u-luis"


def test_forget_without_keeping_text(app, seeded):
    cfg = app.cfg.model_copy(update={"privacy": app.cfg.privacy.model_copy(update={"keep_text_on_forget": False})})
    forget_citizen(app.engine, cfg, app.clock, "telegram", "u-ana_garcia")
    with transaction(app.engine) as s:
        assert s.exec(select(Message.text).where(Message.ticket_id == 1)).one() == ""


def test_forget_an_unknown_citizen_says_so(app, seeded):
    with pytest.raises(UnknownCitizen, match="no citizen 'nobody' on telegram"):
        forget_citizen(app.engine, app.cfg, app.clock, "telegram", "nobody")
    with pytest.raises(UnknownCitizen):
        forget_citizen(app.engine, app.cfg, app.clock, "x", "ana_garcia")  # right handle, other platform


def test_forget_also_scrubs_followup_events_and_corrections(app, seeded):
    svc = TicketService(app.engine, app.cfg, app.clock, actor="manolo")
    svc.recategorize("JUN-1", "roads")
    forget_citizen(app.engine, app.cfg, app.clock, "telegram", "ana_garcia")
    with transaction(app.engine) as s:
        event = s.exec(select(TicketEvent).where(TicketEvent.kind == "recategorized")).one()
        assert "600 123 456" not in event.data["correction_text"] and "example.org" not in event.data["correction_text"]


def test_retention_purges_old_closed_tickets_only(app, seeded, clock):
    svc = TicketService(app.engine, app.cfg, app.clock, actor="manolo")
    svc.resolve("JUN-1")
    clock.advance(days=app.cfg.privacy.retention_days - 1)
    assert purge_expired(app.engine, app.cfg, clock) == []
    clock.advance(days=2)
    assert purge_expired(app.engine, app.cfg, clock) == ["JUN-1"]
    assert purge_expired(app.engine, app.cfg, clock) == []  # already done
    with transaction(app.engine) as s:
        old = s.exec(select(Message).where(Message.ticket_id == 1)).one()
        young = s.exec(select(Message).where(Message.ticket_id == 2)).one()
        assert old.raw == {"purged": True} and "600" not in old.text
        assert young.raw != {"purged": True}
        ana = s.get(Citizen, old.citizen_id)
        assert ana.handle is None
        assert s.get(Ticket, 1).status == "resolved"


def test_cli_forget(config_file, app, seeded):
    from typer.testing import CliRunner

    from bot.cli import app as cli

    result = CliRunner().invoke(cli, ["--config", str(config_file), "citizens", "forget", "telegram", "ana_garcia", "--json"])
    assert result.exit_code == 0, result.output
    assert '"citizens": 1' in result.stdout
    again = CliRunner().invoke(cli, ["--config", str(config_file), "citizens", "forget", "telegram", "ana_garcia"])
    assert again.exit_code == 1 and "no citizen 'ana_garcia' on telegram" in again.stderr
    bad = CliRunner().invoke(cli, ["--config", str(config_file), "citizens", "forget", "myspace", "ana"])
    assert bad.exit_code == 1 and "'myspace' is not a channel" in bad.stderr


def test_forget_and_retention_reach_quarantined_payloads(app, seeded, clock):
    from bot import quarantine
    from bot.models import QuarantinedPayload

    quarantine.store(app.engine, clock, "telegram", "1:99", "MalformedPayload: date", {"message": {"from": {"id": "u-ana_garcia"}}})
    quarantine.store(app.engine, clock, "telegram", "1:98", "MalformedPayload: date", {"message": {"from": {"id": "u-other"}}})
    report = forget_citizen(app.engine, app.cfg, app.clock, "telegram", "ana_garcia")
    assert report.quarantined == 1
    with transaction(app.engine) as s:
        assert [q.external_id for q in s.exec(select(QuarantinedPayload)).all()] == ["1:98"]
    clock.advance(days=app.cfg.privacy.retention_days + 1)
    purge_expired(app.engine, app.cfg, clock)
    with transaction(app.engine) as s:
        assert s.exec(select(QuarantinedPayload)).all() == []
