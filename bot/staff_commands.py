"""Staff commands on Telegram: `/resolve REF [note]`, `/note REF text`, `/claim REF`.

Only a post on Telegram whose author id is a configured staff member's Telegram handle is obeyed
(the handles are the allowlist); it acts as that staff member through `TicketService`, inside the
pipeline's transaction, and gets a short reply. Anyone else gets a polite refusal, a `security:`
warning is logged, and no ticket changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.config import Config
from bot.models import Citizen, Message
from bot.service import ServiceError, TicketService
from bot.staff_text import staff_text
from bot.tickets import find_ticket, first_report_per_citizen, queue_reply

log = logging.getLogger(__name__)
STAFF_COMMANDS = ("resolve", "note", "claim")
STAFF_CHANNEL = "telegram"


@dataclass
class CommandResult:
    """`accepted`: a staff member's command that changed the ticket `ref`."""

    accepted: bool
    ref: str | None = None
    reason: str | None = None


def staff_member(cfg: Config, channel: str, author_id: str) -> str | None:
    """The staff name whose Telegram handle is `author_id`, when the post came from Telegram."""
    if channel != STAFF_CHANNEL:
        return None
    return next((s.name for d in cfg.departments for s in d.staff if s.handles.get(STAFF_CHANNEL) == author_id), None)


def run_staff_command(session: Session, engine: Engine, cfg: Config, clock: Clock, message: Message,
                      citizen: Citizen, name: str, arg: str) -> CommandResult:
    """Carry out `/name arg` from `message` when its author is staff; queue the reply either way."""
    staff = staff_member(cfg, message.channel, citizen.external_user_id)
    if staff is None:
        log.warning("security: refused /%s on %s from a sender who is not staff (message %s)", name, message.channel, message.id)
        lang = citizen.language or cfg.city.language
        queue_reply(session, clock, message, citizen, staff_text("refused", lang), "staff_refused")
        return CommandResult(False, reason="not staff")
    lang = cfg.city.language
    ref, _, rest = arg.partition(" ")
    rest = rest.strip()
    if not ref or (name == "note" and not rest):
        return _answer(session, clock, message, citizen, staff_text("usage", lang), CommandResult(False, reason="usage"))
    service = TicketService(engine, cfg, clock, actor=staff).within(session)
    try:
        if name == "resolve":
            ticket = service.resolve(ref, note=rest or None)
            reporters = len(first_report_per_citizen(session, find_ticket(session, ref)))
            text = staff_text("done_resolve", lang, ref=ticket["ref"], recipients=reporters)
        elif name == "claim":
            ticket = service.claim(ref)
            text = staff_text("done_claim", lang, ref=ticket["ref"])
        else:
            ticket = service.note(ref, rest)
            text = staff_text("done_note", lang, ref=ticket["ref"])
    except ServiceError as exc:
        if find_ticket(session, ref) is None:
            text = staff_text("unknown_ref", lang, ref=ref[:32])
        else:
            text = staff_text("failed", lang, command=name, error=exc)
        return _answer(session, clock, message, citizen, text, CommandResult(False, reason=str(exc)))
    log.info("staff: %s ran /%s on %s", staff, name, ticket["ref"])
    return _answer(session, clock, message, citizen, text, CommandResult(True, ref=ticket["ref"]))


def _answer(session: Session, clock: Clock, message: Message, citizen: Citizen, text: str, result: CommandResult) -> CommandResult:
    """The reply to a staff member, in the chat their command came from."""
    row = queue_reply(session, clock, message, citizen, text, "staff_command")
    row.audience = "staff"
    return result
