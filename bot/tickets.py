"""Ticket helpers shared by the pipeline and the staff service: routing, reporters, replies, JSON."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import func
from sqlmodel import Session, select

from bot.clock import Clock
from bot.config import Config
from bot.i18n import promised_date, status_name
from bot.models import Citizen, Message, OutboxMessage, ReplyPart, Staff, Ticket, TicketEvent, unfinished
from bot.sla import calendar_for


def least_loaded_staff(session: Session, department: str) -> str | None:
    """The active staff member of `department` with the fewest unfinished tickets (ties: by name)."""
    load = (
        select(Staff.name, func.count(Ticket.id))
        .outerjoin(Ticket, (Ticket.assignee == Staff.name) & unfinished())
        .where(Staff.department == department, Staff.active)
        .group_by(Staff.name)
    )
    counts = session.exec(load).all()
    return min(sorted(counts), key=lambda row: row[1])[0] if counts else None


def sla_deadline(cfg: Config, ticket: Ticket) -> None:
    """Set `expected_at` from `created_at` on the city's business calendar.

    The category's `sla_hours` (office hours) or `sla_days` (calendar days), or triage's
    `triage_sla_hours` (office hours) when there is no category or it is in triage; either is
    multiplied by `sla.priority_factors[ticket.priority]` (1 when the priority has no factor).
    """
    calendar = calendar_for(cfg)
    factor = cfg.sla.priority_factors.get(ticket.priority, 1.0)
    category = cfg.category(ticket.category) if ticket.category else None
    if category and ticket.status != "triage" and category.sla_days is not None:
        ticket.expected_at = calendar.add_calendar_days(ticket.created_at, category.sla_days * factor)
        return
    hours = category.sla_hours if category and ticket.status != "triage" else cfg.classification.triage_sla_hours
    ticket.expected_at = calendar.add_office_hours(ticket.created_at, hours * factor)


def record_event(session: Session, clock: Clock, ticket: Ticket, actor: str, kind: str, *, public: bool = False, text: str | None = None, **data: Any) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, at=clock.now(), actor=actor, kind=kind, public=public, text=text, data=data)
    session.add(event)
    return event


def linked_ticket_ids(session: Session, ticket: Ticket) -> list[int]:
    """The ticket and every ticket closed as its duplicate."""
    dup_ids = session.exec(select(Ticket.id).where(Ticket.duplicate_of == ticket.id)).all()
    return [ticket.id, *dup_ids]


def report_messages(session: Session, ticket: Ticket) -> list[Message]:
    """The citizen posts that reported this ticket (or a duplicate of it), oldest first."""
    query = (
        select(Message)
        .where(Message.ticket_id.in_(linked_ticket_ids(session, ticket)), Message.role == "report")
        .order_by(Message.id)
    )
    return list(session.exec(query).all())


def first_report_per_citizen(session: Session, ticket: Ticket) -> list[tuple[Message, Citizen]]:
    seen: set[tuple[int, str]] = set()
    out = []
    for message in report_messages(session, ticket):
        key = (message.citizen_id, message.channel)
        if key in seen:
            continue
        seen.add(key)
        out.append((message, session.get(Citizen, message.citizen_id)))
    return out


def queue_reply(session: Session, clock: Clock, message: Message, citizen: Citizen, text: str, purpose: str, ticket: Ticket | None = None, media: list[str] | None = None) -> OutboxMessage:
    """An outbox row answering `message` in its thread. The caller's transaction commits it."""
    row = OutboxMessage(
        channel=message.channel,
        recipient_id=citizen.external_user_id,
        recipient_handle=citizen.handle,
        conversation_id=message.conversation_id,
        in_reply_to=message.external_id,
        text=text,
        media=media or [],
        purpose=purpose,
        ticket_id=ticket.id if ticket else None,
        message_id=message.id,
        next_attempt_at=clock.now(),
        created_at=clock.now(),
    )
    session.add(row)
    return row


def staff_handle(cfg: Config, staff_name: str, channels: tuple[str, ...] = ("telegram", "x", "mastodon")) -> tuple[str, str] | None:
    """(channel, handle) where `staff_name` can be reached by DM: the first enabled channel with a handle."""
    member = next((s for d in cfg.departments for s in d.staff if s.name == staff_name), None)
    if member is None:
        return None
    enabled = cfg.enabled_channels()
    for channel in channels:
        if channel in enabled and member.handles.get(channel):
            return channel, member.handles[channel]
    return None


def queue_staff_dm(session: Session, cfg: Config, clock: Clock, staff_name: str, text: str, purpose: str,
                   ticket: Ticket | None = None, media: list[str] | None = None, buttons: list[list[str]] | None = None) -> OutboxMessage | None:
    """A DM to a staff member on their first reachable channel, or None when they have no channel."""
    target = staff_handle(cfg, staff_name)
    if target is None:
        return None
    channel, handle = target
    row = OutboxMessage(
        channel=channel, recipient_id=handle, recipient_handle=None, conversation_id=handle, text=text,
        media=media or [], buttons=buttons or [], purpose=purpose, audience="staff",
        ticket_id=ticket.id if ticket else None, next_attempt_at=clock.now(), created_at=clock.now(),
    )
    session.add(row)
    return row


def queue_public_post(session: Session, clock: Clock, channel: str, text: str, purpose: str,
                      target: str = "", media: list[str] | None = None) -> OutboxMessage:
    """A post to everyone on `channel` (Telegram: to the chat `target`). No citizen is named or mentioned."""
    row = OutboxMessage(
        channel=channel, recipient_id=target, conversation_id=target or None, text=text, media=media or [],
        purpose=purpose, audience="public", next_attempt_at=clock.now(), created_at=clock.now(),
    )
    session.add(row)
    return row


def notify_reporters(session: Session, cfg: Config, clock: Clock, ticket: Ticket, template: str, purpose: str,
                     media: list[str] | None = None, localized: Callable[[str], dict[str, str]] | None = None, **fields: str) -> int:
    """Queue `template` to every citizen who reported `ticket`, each in their own language and thread.

    `localized(lang)` adds fields whose wording depends on the reader's language.
    """
    count = 0
    for message, citizen in first_report_per_citizen(session, ticket):
        lang = citizen.language or ticket.language or cfg.city.language
        text = render(cfg, template, lang, ticket, **fields, **(localized(lang) if localized else {}))
        queue_reply(session, clock, message, citizen, text, purpose, ticket, media)
        count += 1
    return count


def render(cfg: Config, template: str, lang: str, ticket: Ticket | None = None, **fields: str) -> str:
    """Fill a reply template. Ticket fields ({ref}, {category}, {status}, {promised}) come from `ticket`."""
    values: dict[str, str] = {"city": cfg.city.name, "note": "", "text": ""}
    if ticket is not None:
        category = cfg.category(ticket.category) if ticket.category else None
        values.update(
            ref=ticket.ref or "",
            category=(category.names.get(lang) or next(iter(category.names.values()))) if category else status_name("triage", lang),
            status=status_name(ticket.status, lang),
            promised=promised_date(ticket.expected_at, lang, cfg.city.timezone),
        )
    values.update(fields)
    return cfg.template(template, lang).format(**values)


def find_ticket(session: Session, ref: str) -> Ticket | None:
    # refs are stored upper-case (the prefix must be), so an exact match can use the unique index
    return session.exec(select(Ticket).where(Ticket.ref == ref.strip().upper())).first()


def thread_ticket(session: Session, channel: str, external_id: str) -> Ticket | None:
    """The ticket a post belongs to, when `external_id` is a citizen post or one of our replies."""
    message = session.exec(select(Message).where(Message.channel == channel, Message.external_id == external_id)).first()
    ticket_id = message.ticket_id if message else None
    if ticket_id is None:
        # any part of one of our replies (a long reply may be a thread of several posts)
        ticket_id = session.exec(
            select(OutboxMessage.ticket_id)
            .join(ReplyPart, ReplyPart.outbox_id == OutboxMessage.id)
            .where(ReplyPart.channel == channel, ReplyPart.external_id == external_id)
        ).first()
    return session.get(Ticket, ticket_id) if ticket_id else None


def iso(value) -> str | None:
    return value.isoformat() if value else None


def ticket_json(session: Session, ticket: Ticket) -> dict[str, Any]:
    """The contract's ticket object."""
    first = session.exec(select(Message.channel).where(Message.ticket_id == ticket.id).order_by(Message.id)).first()
    has_location = ticket.location_text or ticket.lat is not None
    return {
        "ref": ticket.ref,
        "status": ticket.status,
        "category": ticket.category,
        "department": ticket.department,
        "assignee": ticket.assignee,
        "priority": ticket.priority,
        "channel": first or ticket.channel,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "expected_at": iso(ticket.expected_at),
        "resolved_at": iso(ticket.resolved_at),
        "location": {"text": ticket.location_text, "lat": ticket.lat, "lon": ticket.lon} if has_location else None,
        "reports": len(report_messages(session, ticket)),
        "confidence": ticket.confidence,
    }


def overdue_filter(now):
    return (Ticket.expected_at.is_not(None)) & (Ticket.expected_at < now) & unfinished()

