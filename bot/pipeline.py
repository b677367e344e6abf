"""The pipeline: one `InboundMessage` in, tickets, events and outbox rows out, in one transaction.

Steps: dedupe on (channel, external id) → upsert the citizen → commands (/start, /status; staff:
/resolve, /note, /claim) → a reporter's answer to "is it fixed?" → follow-up when the post answers
a ticket's thread → classify → not a request: no ticket → new ticket, routed and acknowledged
(and its assignee told by DM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.followups import answer_of, apply_answer, awaits_answer, callback_answer
from bot.models import CLOSED_STATUSES, Citizen, Message, Ticket
from bot.staff_commands import STAFF_COMMANDS, run_staff_command
from bot.staff_notify import notify_assignee
from bot.tickets import find_ticket, least_loaded_staff, queue_reply, record_event, render, sla_deadline, thread_ticket
from channels.base import InboundMessage
from classifiers.base import Classifier
from classifiers.language import UNDETERMINED, has_letters

COMMAND = re.compile(r"^/(\w+)(?:@\w+)?(?:\s+(.*))?$", re.S)  # "/cmd@botname" in Telegram groups
LOCATION_FOLLOWUP_WINDOW = timedelta(hours=1)
RACE_RETRIES = 3  # attempts when a concurrent worker inserts the same citizen first


@dataclass
class Outcome:
    """What happened to one post. `action` is duplicate|ticket|followup|command|not_request|location|ignored."""

    action: str
    ticket_ref: str | None = None
    replies: int = 0
    details: dict = field(default_factory=dict)
    post: tuple[str, str] | None = None  # (channel, external id)


class Pipeline:
    """Turns posts into tickets. Safe to call twice with the same post."""

    def __init__(self, engine: Engine, cfg: Config, classifier: Classifier, clock: Clock | None = None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.classifier = classifier
        self.clock = clock or Clock()

    def process(self, inbound: InboundMessage) -> Outcome:
        """Process one post in its own transaction. A post seen before changes nothing."""
        for attempt in range(1, RACE_RETRIES + 1):
            try:
                with transaction(self.engine) as session:
                    outcome = self._process(session, inbound)
                break
            except IntegrityError:
                # A concurrent worker committed a row we inserted too: the same post (a duplicate),
                # or the same new citizen (then a retry finds that citizen and goes on).
                if self._stored(inbound):
                    outcome = Outcome("duplicate")
                    break
                if attempt == RACE_RETRIES:
                    raise
        outcome.post = (inbound.channel, inbound.external_id)
        return outcome

    def _stored(self, inbound: InboundMessage) -> bool:
        with transaction(self.engine) as session:
            return session.exec(select(Message.id).where(
                Message.channel == inbound.channel, Message.external_id == inbound.external_id)).first() is not None

    def _process(self, session: Session, inbound: InboundMessage) -> Outcome:
        existing = session.exec(
            select(Message.id).where(Message.channel == inbound.channel, Message.external_id == inbound.external_id)
        ).first()
        if existing is not None:
            return Outcome("duplicate")
        citizen, new_citizen = self._upsert_citizen(session, inbound)
        message = self._store_message(session, inbound, citizen)
        text = inbound.text.strip()

        command = COMMAND.match(text)
        if command:
            return self._command(session, message, citizen, command.group(1).lower(), (command.group(2) or "").strip())
        answer = self._fixed_answer(session, inbound, message, citizen)
        if answer is not None:
            return answer
        if not text and inbound.lat is not None:
            return self._location_only(session, message, citizen)
        if inbound.in_reply_to:
            ticket = thread_ticket(session, inbound.channel, inbound.in_reply_to)
            if ticket is not None:
                return self._followup(session, message, citizen, ticket)
        if not text and not message.media:
            message.role = "other"
            return Outcome("ignored")

        result = self.classifier.classify(text, lang_hint=inbound.lang_hint or citizen.language)
        message.language = result.lang
        # Replies follow the language of the citizen's latest post, when it is one the city writes.
        if result.lang in self.cfg.city.languages:
            citizen.language = result.lang
        # Text in no language the city reads is for staff to read, whatever the model made of it.
        unreadable = result.lang == UNDETERMINED and has_letters(text)
        if not result.is_request and not unreadable:
            replies = 0
            if self.cfg.classification.reply_to_non_requests and inbound.kind != "public":
                queue_reply(session, self.clock, message, citizen, render(self.cfg, "not_request", self._lang(citizen)), "not_request")
                replies = 1
            return Outcome("not_request", replies=replies)
        return self._new_ticket(session, message, citizen, result, first_post=new_citizen)

    def _upsert_citizen(self, session: Session, inbound: InboundMessage) -> tuple[Citizen, bool]:
        """The post's author, and whether they are new (this transaction adds them)."""
        citizen = session.exec(
            select(Citizen).where(Citizen.channel == inbound.channel, Citizen.external_user_id == inbound.author_id)
        ).first()
        created = citizen is None
        if created:
            citizen = Citizen(channel=inbound.channel, external_user_id=inbound.author_id, created_at=self.clock.now())
            session.add(citizen)
        citizen.handle = inbound.author_handle or citizen.handle
        hint = (inbound.lang_hint or "").split("-")[0].lower()
        if citizen.language is None and hint in self.cfg.city.languages:
            citizen.language = hint
        session.flush()
        return citizen, created

    def _store_message(self, session: Session, inbound: InboundMessage, citizen: Citizen) -> Message:
        message = Message(
            channel=inbound.channel,
            external_id=inbound.external_id,
            citizen_id=citizen.id,
            kind=inbound.kind,
            conversation_id=inbound.conversation_id,
            in_reply_to=inbound.in_reply_to,
            text=inbound.text,
            lat=inbound.lat,
            lon=inbound.lon,
            media=[{"kind": m.kind, "path": m.path, "remote_id": m.remote_id} for m in inbound.media],
            raw=inbound.raw,
            posted_at=inbound.created_at,
            received_at=self.clock.now(),
        )
        session.add(message)
        session.flush()
        return message

    def _lang(self, citizen: Citizen) -> str:
        return citizen.language or self.cfg.city.language

    def _command(self, session: Session, message: Message, citizen: Citizen, name: str, arg: str) -> Outcome:
        lang = self._lang(citizen)
        if name in STAFF_COMMANDS:
            result = run_staff_command(session, self.engine, self.cfg, self.clock, message, citizen, name, arg)
            details = {"command": name, "accepted": result.accepted, **({"reason": result.reason} if result.reason else {})}
            return Outcome("command", result.ref, 1, details)
        if name == "status" and arg:
            ticket = find_ticket(session, arg.split()[0])
            mine = ticket is not None and session.exec(
                select(Message.id).where(Message.ticket_id == ticket.id, Message.citizen_id == citizen.id)
            ).first()
            if mine:
                text = render(self.cfg, "status", lang, ticket)
            else:
                text = render(self.cfg, "status_unknown", lang, ref=arg.split()[0][:32])
            queue_reply(session, self.clock, message, citizen, text, "status", ticket if mine else None)
            return Outcome("command", ticket.ref if mine else None, 1, {"command": name})
        queue_reply(session, self.clock, message, citizen, render(self.cfg, "welcome", lang), "welcome")
        return Outcome("command", None, 1, {"command": name})

    def _followup(self, session: Session, message: Message, citizen: Citizen, ticket: Ticket) -> Outcome:
        message.ticket_id = ticket.id
        message.role = "followup"
        self._apply_attachments(ticket, message)
        ticket.updated_at = self.clock.now()
        record_event(session, self.clock, ticket, f"citizen:{citizen.id}", "citizen_followup", text=message.text, message_id=message.id)
        queue_reply(session, self.clock, message, citizen, render(self.cfg, "followup", self._lang(citizen), ticket), "followup", ticket)
        return Outcome("followup", ticket.ref, 1)

    def _fixed_answer(self, session: Session, inbound: InboundMessage, message: Message, citizen: Citizen) -> Outcome | None:
        """A reporter's answer to "is it fixed?": a `fixed:REF:yes|no` button, or yes/no in the ticket's thread.

        None when the post is no such answer (it then goes on as usual). A button press is never
        classified: a stale or foreign one is ignored.
        """
        pressed = inbound.external_id.startswith("cb:")
        if pressed:
            parsed = callback_answer(inbound.text)
            ticket = find_ticket(session, parsed[0]) if parsed else None
            fixed = parsed[1] if parsed else None
        else:
            fixed = answer_of(inbound.text) if inbound.in_reply_to else None
            ticket = thread_ticket(session, inbound.channel, inbound.in_reply_to) if fixed is not None else None
        if ticket is None or not awaits_answer(session, ticket, citizen):
            if pressed:
                message.role = "other"
                return Outcome("ignored", details={"reason": "button press that answers nothing"})
            return None
        reply = apply_answer(session, self.cfg, self.clock, message, citizen, ticket, fixed)
        if pressed:
            reply.in_reply_to = inbound.in_reply_to  # under the question, not under the button press
        return Outcome("followup", ticket.ref, 1, {"fixed": fixed})

    def _location_only(self, session: Session, message: Message, citizen: Citizen) -> Outcome:
        """A bare location pin completes the citizen's latest open report from the last hour."""
        since = self.clock.now() - LOCATION_FOLLOWUP_WINDOW
        ticket = session.exec(
            select(Ticket)
            .join(Message, Message.ticket_id == Ticket.id)
            .where(Message.citizen_id == citizen.id, Message.role == "report", Ticket.created_at >= since, Ticket.status.not_in(CLOSED_STATUSES))
            .order_by(Ticket.id.desc())
        ).first()
        if ticket is None:
            return Outcome("ignored", details={"reason": "location without a recent report"})
        message.ticket_id = ticket.id
        message.role = "followup"
        self._apply_attachments(ticket, message)
        ticket.updated_at = self.clock.now()
        record_event(session, self.clock, ticket, f"citizen:{citizen.id}", "location_added", lat=message.lat, lon=message.lon)
        return Outcome("location", ticket.ref)

    @staticmethod
    def _apply_attachments(ticket: Ticket, message: Message) -> None:
        if message.lat is not None and message.lon is not None:
            ticket.lat, ticket.lon = message.lat, message.lon

    def _tell_assignee(self, session: Session, ticket: Ticket, report: Message) -> None:
        """A routed ticket's assignee hears of it by DM, in the same transaction. `report` is its only post."""
        if ticket.assignee:
            notify_assignee(session, self.cfg, self.clock, ticket, reports=[report])

    def _over_hourly_limit(self, session: Session, citizen: Citizen, ticket: Ticket) -> bool:
        """More than `privacy.max_tickets_per_hour` new tickets from one citizen: the rest wait in triage."""
        since = self.clock.now() - timedelta(hours=1)
        opened = session.exec(
            select(func.count(Message.id)).where(
                Message.citizen_id == citizen.id, Message.role == "report", Message.received_at >= since,
                Message.ticket_id.is_not(None), Message.ticket_id != ticket.id)
        ).one()
        return opened >= self.cfg.privacy.max_tickets_per_hour

    def _new_ticket(self, session: Session, message: Message, citizen: Citizen, result, first_post: bool = False) -> Outcome:
        """A ticket for `message`, routed unless unsure, in a language the city does not read, or
        flooding. `first_post`: the citizen was new.

        The rows it adds are flushed together at commit (no autoflush): none of its queries
        needs them, and one flush batches the inserts.
        """
        now = self.clock.now()
        readable = result.lang in self.cfg.city.languages  # not "und": staff read it before anyone acts
        confident = readable and result.category is not None and result.confidence >= self.cfg.classification.min_confidence
        # A guess from text in a language the model does not read is no guess: staff sort it.
        category = self.cfg.category(result.category) if result.category and readable else None
        ticket = Ticket(
            status="triage",
            category=category.code if category else None,
            priority=result.priority,
            priority_reason=result.priority_reason,
            channel=message.channel,
            language=self._lang(citizen),  # the language replies are written in (result.lang when readable)
            confidence=round(result.confidence, 4),
            location_text=result.location.text if result.location else None,
            created_at=now,
            updated_at=now,
        )
        self._apply_attachments(ticket, message)
        session.add(ticket)
        session.flush()
        with session.no_autoflush:
            ticket.ref = f"{self.cfg.city.ticket_prefix}-{ticket.id}"
            message.ticket_id = ticket.id
            message.role = "report"
            record_event(session, self.clock, ticket, "bot", "created", category=ticket.category, confidence=ticket.confidence, priority=ticket.priority, priority_reason=ticket.priority_reason)
            flooding = not first_post and self._over_hourly_limit(session, citizen, ticket)
            if flooding:
                record_event(session, self.clock, ticket, "bot", "rate_limited", limit=self.cfg.privacy.max_tickets_per_hour)
            if confident and not flooding:
                ticket.department = category.department
                ticket.assignee = least_loaded_staff(session, category.department)
                ticket.status = "open" if ticket.assignee else "new"
                if ticket.assignee:
                    record_event(session, self.clock, ticket, "bot", "assigned", assignee=ticket.assignee, department=ticket.department)
            sla_deadline(self.cfg, ticket)
            queue_reply(session, self.clock, message, citizen, render(self.cfg, "ack", self._lang(citizen), ticket), "ack", ticket)
            self._tell_assignee(session, ticket, message)
        return Outcome("ticket", ticket.ref, 1, {"status": ticket.status})
