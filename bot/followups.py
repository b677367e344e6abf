"""After resolution, ask the reporters "is it fixed?" once, and act on their answer.

`ask_followups(engine, cfg, clock) -> refs asked now` is a scheduler job: every ticket resolved at
least `followups.after_days` ago and not asked yet gets `followup_asked_at` and the
`fixed_question` template in each reporter's thread; on Telegram with Sí/No buttons whose callback
data is `fixed:<REF>:yes` / `fixed:<REF>:no`.

The pipeline calls `answer_of` / `callback_answer` on the reporters' posts and `apply_answer`
when one answers: yes keeps the ticket resolved (`fixed_confirmed` True, a thank-you); no reopens
it (`fixed_confirmed` False, event "reopened_by_citizen", a reply, and a DM to the assignee).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.config import Config
from bot.models import Citizen, Message, OutboxMessage, Ticket
from bot.staff_notify import notify_assignee
from bot.ticket_sweep import sweep_once
from bot.tickets import first_report_per_citizen, queue_reply, record_event, render

BUTTON_LABELS = {"es": ("Sí", "No"), "en": ("Yes", "No"), "fr": ("Oui", "Non")}
CALLBACK = re.compile(r"^fixed:([A-Za-z0-9]+-\d+):(yes|no)$")

# Folded (lower case, no accents) answers. A post answers when its first word is one of the
# words, or it contains one of the phrases, and it does not point both ways.
YES_WORDS = {"si", "yes", "oui", "yep", "yeah", "ok", "vale", "arreglado", "arreglada", "fixed", "repare", "👍"}
NO_WORDS = {"no", "non", "nope", "nop", "👎"}
NO_PHRASES = ("sigue igual", "sigue roto", "sigue rota", "sigue sin", "todavia no", "aun no", "not fixed",
              "still broken", "not yet", "pas encore", "toujours pas", "pas repare", "rien n'a change")


def fold(text: str) -> str:
    """Lower case without accents; emoji and letters kept."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def answer_of(text: str) -> bool | None:
    """True for a yes ("Sí!", "oui", "👍"), False for a no ("no, sigue igual"), None otherwise."""
    folded = fold(text)
    words = re.findall(r"[\w']+|👍|👎", folded)
    if not words:
        return None
    said_no = words[0] in NO_WORDS or any(phrase in folded for phrase in NO_PHRASES)
    said_yes = words[0] in YES_WORDS
    if said_yes == said_no:
        return None
    return said_yes


def callback_answer(data: str) -> tuple[str, bool] | None:
    """(ref, fixed?) for a button's callback data `fixed:<REF>:yes|no`, else None."""
    match = CALLBACK.match(data.strip())
    return (match.group(1), match.group(2) == "yes") if match else None


def buttons(ref: str, lang: str) -> list[list[str]]:
    yes, no = BUTTON_LABELS.get(lang, BUTTON_LABELS["en"])
    return [[yes, f"fixed:{ref}:yes"], [no, f"fixed:{ref}:no"]]


def ask_followups(engine: Engine, cfg: Config, clock: Clock) -> list[str]:
    """Ask the reporters of every ticket resolved `after_days` ago, once; the refs asked now."""
    if cfg.followups.after_days is None:
        return []
    cutoff = clock.now() - timedelta(days=cfg.followups.after_days)

    def ask(session: Session, ticket: Ticket) -> None:
        asked = 0
        for message, citizen in first_report_per_citizen(session, ticket):
            lang = citizen.language or ticket.language or cfg.city.language
            row = queue_reply(session, clock, message, citizen, render(cfg, "fixed_question", lang, ticket), "fixed_question", ticket)
            if row.channel == "telegram":
                row.buttons = buttons(ticket.ref, lang)
            asked += 1
        record_event(session, clock, ticket, "bot", "followup_asked", public=True, recipients=asked)

    where = (Ticket.status == "resolved") & Ticket.resolved_at.is_not(None) & (Ticket.resolved_at <= cutoff)
    return sweep_once(engine, clock, "followup_asked_at", where, ask)


def awaits_answer(session: Session, ticket: Ticket, citizen: Citizen) -> bool:
    """The ticket was resolved, its reporters were asked, and `citizen` is one of them."""
    if ticket.status != "resolved" or ticket.followup_asked_at is None:
        return False
    return any(c.id == citizen.id for _, c in first_report_per_citizen(session, ticket))


def apply_answer(session: Session, cfg: Config, clock: Clock, message: Message, citizen: Citizen,
                 ticket: Ticket, fixed: bool) -> OutboxMessage:
    """Record the reporter's answer in `message` and queue the reply (and, for a no, the assignee's DM)."""
    message.ticket_id = ticket.id
    message.role = "followup"
    ticket.updated_at = clock.now()
    ticket.fixed_confirmed = fixed
    actor = f"citizen:{citizen.id}"
    if fixed:
        record_event(session, clock, ticket, actor, "citizen_confirmed", text=message.text, message_id=message.id)
        template = "fixed_thanks"
    else:
        ticket.status = "in_progress" if ticket.assignee else ("open" if ticket.department else "triage")
        ticket.resolved_at = None
        ticket.escalated_at = ticket.followup_asked_at = None
        record_event(session, clock, ticket, actor, "reopened_by_citizen", public=True, text=message.text, message_id=message.id)
        notify_assignee(session, cfg, clock, ticket, "reopened")
        template = "fixed_reopened"
    lang = citizen.language or ticket.language or cfg.city.language
    return queue_reply(session, clock, message, citizen, render(cfg, template, lang, ticket), template, ticket)
