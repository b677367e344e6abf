"""Staff DMs about one ticket: assignment, a citizen's "not fixed", escalation.

Each DM is in the city's language and carries the ref, category, place, the citizen's words
(neutralised) and the promised date, with the report's photo when there is one. It never names
the citizen. The caller's transaction commits the outbox row with the change that caused it.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.clock import Clock
from bot.config import Config
from bot.i18n import promised_date, status_name
from bot.models import Message, OutboxMessage, Ticket
from bot.safe_text import neutralize
from bot.staff_text import staff_text
from bot.tickets import queue_staff_dm, report_messages

MAX_QUOTE = 500  # characters of the citizen's text quoted in a DM


def category_name(cfg: Config, ticket: Ticket, lang: str) -> str:
    category = cfg.category(ticket.category) if ticket.category else None
    if category is None:
        return status_name("triage", lang)
    return category.names.get(lang) or next(iter(category.names.values()))


def place(ticket: Ticket) -> str:
    """The location text and/or the coordinates, or a dash."""
    parts = []
    if ticket.location_text:
        parts.append(ticket.location_text)
    if ticket.lat is not None and ticket.lon is not None:
        parts.append(f"({ticket.lat:.5f}, {ticket.lon:.5f})")
    return " ".join(parts) or "—"


def ticket_brief(session: Session, cfg: Config, ticket: Ticket, headline: str,
                 reports: list[Message] | None = None) -> tuple[str, list[str]]:
    """(DM text, media paths): `headline` key of bot.staff_text, then place, report, date and commands.

    `reports` are the ticket's report messages when the caller has them (default: read them).
    """
    lang = cfg.city.language
    promised = promised_date(ticket.expected_at, lang, cfg.city.timezone)
    fields = {
        "ref": ticket.ref, "category": category_name(cfg, ticket, lang), "promised": promised,
        "status": status_name(ticket.status, lang), "assignee": ticket.assignee or staff_text("unassigned", lang),
    }
    lines = [staff_text(headline, lang, **fields), staff_text("place", lang, place=place(ticket))]
    if reports is None:
        reports = report_messages(session, ticket)
    text = next((m.text for m in reports if m.ticket_id == ticket.id and m.text.strip()), "")
    if text:
        quote = neutralize(text, single_line=True)
        lines.append(staff_text("report", lang, text=quote[:MAX_QUOTE] + ("…" if len(quote) > MAX_QUOTE else "")))
    lines.append(staff_text("promised", lang, promised=promised))
    lines.append(staff_text("hint", lang, ref=ticket.ref))
    photo = next((item["path"] for m in reports for item in m.media if item.get("path")), None)
    return "\n".join(lines), [photo] if photo else []


def notify_staff(session: Session, cfg: Config, clock: Clock, ticket: Ticket, staff_name: str | None,
                 headline: str, purpose: str, reports: list[Message] | None = None) -> OutboxMessage | None:
    """Queue the brief to `staff_name`; None when there is nobody or they have no reachable channel."""
    if not staff_name:
        return None
    text, media = ticket_brief(session, cfg, ticket, headline, reports)
    return queue_staff_dm(session, cfg, clock, staff_name, text, purpose, ticket=ticket, media=media)


def notify_assignee(session: Session, cfg: Config, clock: Clock, ticket: Ticket, headline: str = "assigned",
                    reports: list[Message] | None = None) -> OutboxMessage | None:
    """Tell the ticket's assignee (purpose `staff_<headline>`)."""
    return notify_staff(session, cfg, clock, ticket, ticket.assignee, headline, f"staff_{headline}", reports)
