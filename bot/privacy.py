"""Personal data: erasing a citizen on request (GDPR art. 17) and purging it after the retention period.

What counts as personal: the citizen's handle and platform user id, the raw platform payloads,
the photos they sent, where they were (a message's coordinates), and the text of what they
wrote and what we wrote back to them. What stays: tickets (category, place of the problem,
dates, status) and their events, so the town's statistics are unchanged.

Message text is kept only when `privacy.keep_text_on_forget` is true, and then anonymised:
@handles, e-mail addresses, phone numbers and links are replaced by `[…]`.
Platform post ids are kept: the pipeline needs them to never process a post twice.
Quarantined raw payloads that name the citizen are deleted; the rest go after the retention period.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.models import CLOSED_STATUSES, Citizen, Message, OutboxMessage, QuarantinedPayload, Ticket, TicketEvent

log = logging.getLogger(__name__)

REDACTED = "[…]"
_PERSONAL = re.compile(
    r"""(?x)
    (?:https?://|www\.)\S+                      # links
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+              # e-mail addresses
    | (?<![\w@])@\w[\w.]*(?:@[\w-]+(?:\.[\w-]+)+)?  # @handles, @user@instance
    | \+?\d[\d\s().-]{7,}\d                     # phone numbers
    """
)


def anonymise(text: str | None) -> str:
    """`text` with handles, e-mail addresses, phone numbers and links replaced by `[…]`."""
    return _PERSONAL.sub(REDACTED, text or "")


@dataclass
class ErasureReport:
    citizens: int = 0
    messages: int = 0
    replies: int = 0
    cancelled_replies: int = 0
    photos: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class UnknownCitizen(LookupError):
    """No citizen matches the channel and handle given."""


def forget_citizen(engine: Engine, cfg: Config, clock: Clock, channel: str, handle: str) -> ErasureReport:
    """Erase the personal data of the citizen known as `handle` (or by user id) on `channel`.

    Raises UnknownCitizen when nobody matches. Safe to run twice (the second finds nobody).
    """
    wanted = handle.strip().lstrip("@")
    with transaction(engine) as session:
        citizens = session.exec(
            select(Citizen).where(
                Citizen.channel == channel,
                or_(func.lower(Citizen.handle) == wanted.lower(), Citizen.external_user_id == wanted),
            )
        ).all()
        if not citizens:
            raise UnknownCitizen(f"no citizen '{handle}' on {channel}")
        report = ErasureReport()
        for citizen in citizens:
            _drop_quarantined(session, citizen, report)
            _erase_citizen(session, cfg, clock, citizen, report)
        log.info("erased the personal data of %d citizen(s) on %s", report.citizens, channel)
        return report


def purge_expired(engine: Engine, cfg: Config, clock: Clock) -> list[str]:
    """Anonymise the messages of tickets resolved or closed more than `privacy.retention_days` ago.

    Returns the refs purged this time. A citizen whose every message is purged loses their handle too.
    """
    days = cfg.privacy.retention_days
    if days is None:
        return []
    cutoff = clock.now() - timedelta(days=days)
    with transaction(engine) as session:
        tickets = session.exec(
            select(Ticket).where(Ticket.status.in_(CLOSED_STATUSES), Ticket.updated_at < cutoff)
        ).all()
        purged: list[str] = []
        touched_citizens: set[int] = set()
        for ticket in tickets:
            messages = session.exec(select(Message).where(Message.ticket_id == ticket.id)).all()
            messages = [m for m in messages if not _is_purged(m)]
            if not messages:
                continue
            report = ErasureReport()
            for message in messages:
                _erase_message(session, cfg, message, report, keep_text=cfg.privacy.keep_text_on_forget)
                touched_citizens.add(message.citizen_id)
            _erase_replies(session, select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id), report)
            _erase_event_texts(session, ticket.id, keep_text=cfg.privacy.keep_text_on_forget)
            purged.append(ticket.ref)
        for citizen_id in touched_citizens:
            remaining = session.exec(select(Message).where(Message.citizen_id == citizen_id)).all()
            if all(_is_purged(m) for m in remaining):
                citizen = session.get(Citizen, citizen_id)
                citizen.handle = citizen.language = None
                citizen.external_user_id = f"forgotten-{citizen.id}"
        # poison payloads are raw platform data: they go once the retention period is over
        for row in session.exec(select(QuarantinedPayload).where(QuarantinedPayload.created_at < cutoff)).all():
            session.delete(row)
        if purged:
            log.info("retention: purged the personal data of %d ticket(s)", len(purged))
        return purged


# -- the erasing itself ---------------------------------------------------------------
def _drop_quarantined(session: Session, citizen: Citizen, report: ErasureReport) -> None:
    """Quarantined raw payloads of the citizen's channel that name their user id or handle are deleted."""
    names = {citizen.external_user_id, *([citizen.handle] if citizen.handle else [])}
    for row in session.exec(select(QuarantinedPayload).where(QuarantinedPayload.channel == citizen.channel)).all():
        raw = json.dumps(row.raw, ensure_ascii=False)
        if any(f'"{name}"' in raw or f"@{name}" in raw for name in names):
            session.delete(row)
            report.quarantined += 1



def _is_purged(message: Message) -> bool:
    return message.raw.get("purged") is True


def _erase_citizen(session: Session, cfg: Config, clock: Clock, citizen: Citizen, report: ErasureReport) -> None:
    keep = cfg.privacy.keep_text_on_forget
    messages = session.exec(select(Message).where(Message.citizen_id == citizen.id)).all()
    ticket_ids = {m.ticket_id for m in messages if m.ticket_id is not None}
    for message in messages:
        _erase_message(session, cfg, message, report, keep_text=keep)
    for ticket_id in ticket_ids:
        _erase_event_texts(session, ticket_id, keep_text=keep, citizen_id=citizen.id)
    to_them = (OutboxMessage.channel == citizen.channel) & (OutboxMessage.recipient_id == citizen.external_user_id)
    # staff DMs quote the report; they are anonymised too
    about_them = (OutboxMessage.audience == "staff") & OutboxMessage.ticket_id.in_(ticket_ids or {-1})
    _erase_replies(session, select(OutboxMessage).where(to_them | about_them), report)
    citizen.handle = None
    citizen.language = None
    citizen.external_user_id = f"forgotten-{citizen.id}"
    report.citizens += 1
    session.add(citizen)


def _erase_message(session: Session, cfg: Config, message: Message, report: ErasureReport, keep_text: bool) -> None:
    for item in message.media:
        path = item.get("path")
        if path and _inside(cfg, path) and Path(path).is_file():
            Path(path).unlink()
            report.photos += 1
    message.text = anonymise(message.text) if keep_text else ""
    message.media = []
    message.raw = {"purged": True}
    message.lat = message.lon = None
    report.messages += 1
    session.add(message)


def _erase_replies(session: Session, query, report: ErasureReport) -> None:
    for row in session.exec(query).all():
        if row.audience == "public":
            continue  # digests never name anyone
        if row.audience == "staff":
            row.text = anonymise(row.text)
            session.add(row)
            continue
        if row.state == "pending":
            row.state = "dead"
            row.last_error = "not sent: the citizen's data was erased"
            report.cancelled_replies += 1
        row.recipient_id = "forgotten"
        row.recipient_handle = None
        row.text = anonymise(row.text)
        report.replies += 1
        session.add(row)


def _erase_event_texts(session: Session, ticket_id: int, keep_text: bool, citizen_id: int | None = None) -> None:
    """Citizen words copied into events (follow-ups, training corrections) go the same way as the message."""
    events = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)).all()
    for event in events:
        by_citizen = event.actor.startswith("citizen:") and (citizen_id is None or event.actor == f"citizen:{citizen_id}")
        if by_citizen and event.text:
            event.text = anonymise(event.text) if keep_text else ""
        if "correction_text" in event.data:
            event.data = {**event.data, "correction_text": anonymise(event.data["correction_text"]) if keep_text else ""}
        session.add(event)


def _inside(cfg: Config, path: str) -> bool:
    """Only files under the bot's own folder are ever deleted."""
    try:
        Path(path).resolve().relative_to(cfg.base_dir.resolve())
    except ValueError:
        return False
    return True
