"""The staff verbs. One service layer for the CLI, the scheduler and the bot.

Every verb runs in one transaction (its own, or the caller's via `within(session)`): the
ticket change, its TicketEvent and any outbox rows commit together or not at all. Bad input
raises `ServiceError` with a message that names the problem.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.errors import ServiceError
from bot.i18n import close_reason
from bot.models import CLOSE_REASONS, CLOSED_STATUSES, TICKET_STATUSES, Citizen, Message, OutboxMessage, Staff, Ticket, TicketEvent, unfinished
from bot.staff_notify import notify_assignee
from bot.tickets import (
    find_ticket, iso, least_loaded_staff, notify_reporters, overdue_filter,
    record_event, sla_deadline, ticket_json,
)


class TicketService:
    def __init__(self, engine: Engine, cfg: Config, clock: Clock | None = None, actor: str = "staff",
                 session: Session | None = None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.clock = clock or Clock()
        self.actor = actor
        self._session = session

    def within(self, session: Session) -> TicketService:
        """The same verbs, run inside the caller's `session`: the caller's transaction commits them.

        A verb checks its input before it changes anything, so a ServiceError leaves `session` clean.
        """
        return TicketService(self.engine, self.cfg, self.clock, self.actor, session=session)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        if self._session is not None:
            yield self._session
        else:
            with transaction(self.engine) as session:
                yield session

    # -- reading -----------------------------------------------------------------
    def list(self, status: str | None = None, category: str | None = None, assignee: str | None = None, overdue: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Tickets newest first. No status: everything not resolved or closed. `all`: everything."""
        with self._tx() as session:
            query = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc())
            if status is None:
                query = query.where(unfinished())
            elif status != "all":
                query = query.where(Ticket.status == self._status(status))
            if category:
                query = query.where(Ticket.category == self._category(category))
            if assignee:
                query = query.where(Ticket.assignee == self._staff(session, assignee).name)
            if overdue:
                query = query.where(overdue_filter(self.clock.now()))
            if limit is not None:
                if limit < 0:
                    raise ServiceError(f"--limit must be 0 or more, not {limit}")
                query = query.limit(limit)
            return [ticket_json(session, t) for t in session.exec(query).all()]

    def show(self, ref: str) -> dict[str, Any]:
        """The ticket JSON plus its timeline: `messages`, `events` and `replies`."""
        with self._tx() as session:
            ticket = self._ticket(session, ref)
            data = ticket_json(session, ticket)
            data["priority_reason"] = ticket.priority_reason
            data["duplicate_of"] = session.get(Ticket, ticket.duplicate_of).ref if ticket.duplicate_of else None
            data["closed_reason"] = ticket.closed_reason
            messages = session.exec(select(Message, Citizen).join(Citizen).where(Message.ticket_id == ticket.id).order_by(Message.id)).all()
            data["messages"] = [
                {"channel": m.channel, "external_id": m.external_id, "role": m.role, "from": c.handle, "text": m.text,
                 "at": iso(m.received_at), "lat": m.lat, "lon": m.lon, "media": [x.get("path") or x.get("kind") for x in m.media]}
                for m, c in messages
            ]
            events = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)).all()
            data["events"] = [{"at": iso(e.at), "actor": e.actor, "kind": e.kind, "public": e.public, "text": e.text, "data": e.data} for e in events]
            replies = session.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id)).all()
            data["replies"] = [
                {"channel": r.channel, "to": r.recipient_handle, "purpose": r.purpose, "text": r.text, "state": r.state,
                 "attempts": r.attempts, "in_reply_to": r.in_reply_to, "external_id": r.external_id, "at": iso(r.sent_at or r.created_at)}
                for r in replies
            ]
            return data

    # -- changing ----------------------------------------------------------------
    def assign(self, ref: str, staff_name: str) -> dict[str, Any]:
        with self._tx() as session:
            ticket = self._open_ticket(session, ref)
            staff = self._staff(session, staff_name)
            previous = ticket.assignee
            ticket.assignee = staff.name
            ticket.department = ticket.department or staff.department
            if ticket.status in ("new", "triage"):
                ticket.status = "open"
                sla_deadline(self.cfg, ticket)
            self._touch(session, ticket, "assigned", assignee=staff.name)
            self._tell_new_assignee(session, ticket, previous)
            return ticket_json(session, ticket)

    def claim(self, ref: str) -> dict[str, Any]:
        """The acting staff member takes the ticket and starts on it."""
        with self._tx() as session:
            ticket = self._open_ticket(session, ref)
            staff = self._staff(session, self.actor)
            if ticket.status in ("new", "triage"):
                ticket.department = ticket.department or staff.department
                sla_deadline(self.cfg, ticket)
            ticket.assignee = staff.name
            ticket.status = "in_progress"
            self._touch(session, ticket, "claimed", assignee=staff.name)
            return ticket_json(session, ticket)

    def note(self, ref: str, text: str) -> dict[str, Any]:
        """An internal note: recorded, never sent."""
        with self._tx() as session:
            ticket = self._ticket(session, ref)
            self._touch(session, ticket, "note", text=self._text(text))
            return ticket_json(session, ticket)

    def reply(self, ref: str, text: str) -> dict[str, Any]:
        """A public reply to every reporter, in their thread."""
        with self._tx() as session:
            ticket = self._ticket(session, ref)
            text = self._text(text)
            sent = notify_reporters(session, self.cfg, self.clock, ticket, "reply", "reply", text=text)
            self._touch(session, ticket, "reply", public=True, text=text, recipients=sent)
            return ticket_json(session, ticket)

    def resolve(self, ref: str, note: str | None = None, photo: str | None = None) -> dict[str, Any]:
        """Mark resolved and queue the status reply to every reporter."""
        with self._tx() as session:
            ticket = self._open_ticket(session, ref)
            note_text = f"{self._text(note)} " if note else ""
            media = [self._keep_photo(photo, ticket)] if photo else []
            ticket.status = "resolved"
            ticket.resolved_at = self.clock.now()
            sent = notify_reporters(session, self.cfg, self.clock, ticket, "resolved", "resolved", media, note=note_text)
            self._touch(session, ticket, "resolved", public=True, text=note, recipients=sent, photo=media[0] if media else None)
            return ticket_json(session, ticket)

    def close(self, ref: str, reason: str, of: str | None = None) -> dict[str, Any]:
        if reason not in CLOSE_REASONS:
            raise ServiceError(f"'{reason}' is not a close reason (use one of: {', '.join(CLOSE_REASONS)})")
        if (reason == "duplicate") != bool(of):
            raise ServiceError("--of REF is required with --reason duplicate, and only then")
        with self._tx() as session:
            ticket = self._open_ticket(session, ref)
            target = None
            if of:
                target = self._ticket(session, of)
                if target.id == ticket.id or target.duplicate_of == ticket.id:
                    raise ServiceError(f"{ticket.ref} cannot be a duplicate of {target.ref}")
                ticket.duplicate_of = target.id
            ticket.status = "closed"
            ticket.closed_reason = reason
            of_ref = target.ref if target else None
            sent = notify_reporters(session, self.cfg, self.clock, ticket, "closed", "closed",
                                    localized=lambda lang: {"note": close_reason(reason, lang, of_ref)})
            self._touch(session, ticket, "closed", public=True, reason=reason, of=target.ref if target else None, recipients=sent)
            return ticket_json(session, ticket)

    def reopen(self, ref: str) -> dict[str, Any]:
        with self._tx() as session:
            ticket = self._ticket(session, ref)
            if ticket.status not in CLOSED_STATUSES:
                raise ServiceError(f"{ticket.ref} is {ticket.status}, not resolved or closed")
            ticket.status = "in_progress" if ticket.assignee else ("open" if ticket.department else "triage")
            ticket.resolved_at = None
            ticket.closed_reason = None
            ticket.duplicate_of = None
            # a new promise to keep and a new resolution to ask about
            ticket.escalated_at = ticket.followup_asked_at = ticket.fixed_confirmed = None
            sent = notify_reporters(session, self.cfg, self.clock, ticket, "reopened", "reopened")
            self._touch(session, ticket, "reopened", public=True, recipients=sent)
            return ticket_json(session, ticket)

    def recategorize(self, ref: str, code: str) -> dict[str, Any]:
        """Move the ticket to category `code`, re-route it, and keep the correction for training."""
        with self._tx() as session:
            ticket = self._ticket(session, ref)
            category = self.cfg.category(self._category(code))
            previous, previous_assignee = ticket.category, ticket.assignee
            ticket.category = category.code
            if ticket.department != category.department or ticket.assignee is None:
                ticket.department = category.department
                ticket.assignee = least_loaded_staff(session, category.department)
            if ticket.status in ("new", "triage"):
                ticket.status = "open" if ticket.assignee else "new"
            sla_deadline(self.cfg, ticket)
            text = " ".join(m.text for m in session.exec(select(Message).where(Message.ticket_id == ticket.id, Message.role == "report")).all())
            self._touch(session, ticket, "recategorized", previous=previous, category=category.code, assignee=ticket.assignee, correction_text=text)
            self._tell_new_assignee(session, ticket, previous_assignee)
            return ticket_json(session, ticket)

    # -- helpers -----------------------------------------------------------------
    def _tell_new_assignee(self, session: Session, ticket: Ticket, previous: str | None) -> None:
        """A staff DM to the assignee when the ticket has just changed hands."""
        if ticket.assignee and ticket.assignee != previous:
            notify_assignee(session, self.cfg, self.clock, ticket)

    def _touch(self, session: Session, ticket: Ticket, kind: str, public: bool = False, text: str | None = None, **data: Any) -> None:
        ticket.updated_at = self.clock.now()
        record_event(session, self.clock, ticket, self.actor, kind, public=public, text=text, **data)

    def _ticket(self, session: Session, ref: str) -> Ticket:
        ticket = find_ticket(session, ref)
        if ticket is None:
            raise ServiceError(f"unknown ticket '{ref}'")
        return ticket

    def _open_ticket(self, session: Session, ref: str) -> Ticket:
        ticket = self._ticket(session, ref)
        if ticket.status in CLOSED_STATUSES:
            raise ServiceError(f"{ticket.ref} is {ticket.status}; reopen it first")
        return ticket

    def _staff(self, session: Session, name: str) -> Staff:
        staff = session.exec(select(Staff).where(Staff.name == name)).first()
        if staff is None or not staff.active:
            known = ", ".join(session.exec(select(Staff.name).where(Staff.active).order_by(Staff.name)).all())
            raise ServiceError(f"unknown staff member '{name}' (known: {known})")
        return staff

    def _status(self, status: str) -> str:
        if status not in TICKET_STATUSES:
            raise ServiceError(f"'{status}' is not a status (use one of: {', '.join(TICKET_STATUSES)}, all)")
        return status

    def _category(self, code: str) -> str:
        if self.cfg.category(code) is None:
            raise ServiceError(f"'{code}' is not a category (use one of: {', '.join(c.code for c in self.cfg.categories)})")
        return code

    @staticmethod
    def _text(text: str | None) -> str:
        if text is None or not text.strip():
            raise ServiceError("the text is empty")
        return text.strip()

    def _keep_photo(self, photo: str, ticket: Ticket) -> str:
        """Copy the resolution photo beside the database so the outbox can send it later."""
        source = Path(photo)
        if not source.is_file():
            raise ServiceError(f"photo '{photo}' is not a readable file")
        target_dir = self.cfg.base_dir / "media" / "resolutions"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{ticket.ref}{source.suffix.lower() or '.jpg'}"
        shutil.copyfile(source, target)
        return str(target)
