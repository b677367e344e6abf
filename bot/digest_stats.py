"""The figures behind the digests: periods, public numbers and staff queues.

Everything here is read-only and free of personal data: no citizen handle, name, id or
message text ever leaves these functions. Place text goes through `scrub_place`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from bot.config import Config
from bot.models import Message, Ticket, unfinished
from bot.privacy import REDACTED, anonymise

PERIOD_KINDS = ("daily", "weekly", "staff")


def period_for(kind: str, now: datetime, tz: str | ZoneInfo) -> tuple[str, datetime, datetime]:
    """(key, start, end) of the digest period containing or preceding `now`; start/end in UTC, end exclusive.

    daily and staff: the local calendar day of `now` ("2026-11-26").
    weekly: the last complete ISO week (Monday to Sunday, local) before `now` ("2026-W47").
    """
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    today = now.astimezone(zone).date()
    if kind in ("daily", "staff"):
        return today.isoformat(), _midnight(today, zone), _midnight(today + timedelta(days=1), zone)
    if kind == "weekly":
        monday = today - timedelta(days=today.weekday()) - timedelta(days=7)
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}", _midnight(monday, zone), _midnight(monday + timedelta(days=7), zone)
    raise ValueError(f"'{kind}' is not a digest period (use one of: {', '.join(PERIOD_KINDS)})")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def scrub_place(text: str | None) -> str | None:
    """Place text safe for public output: @handles, e-mails, phones and links dropped; None when nothing is left."""
    cleaned = " ".join(anonymise(text).replace(REDACTED, " ").split())
    cleaned = re.sub(r" ([,;:.])", r"\1", cleaned).strip(" ,;:-")
    return cleaned or None


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def digest_numbers(session: Session, cfg: Config, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    """The public figures for [start, end), as JSON-ready values.

    received: tickets created in the period; reports: citizen posts that reported a problem in it;
    resolved: tickets resolved in it (still resolved now); promised: of those, the ones with an
    expected date; within_promise: resolved by it, and within_promise_share (null when none);
    confirmed_fixed: resolved ones the citizens confirmed fixed; open and overdue: the queue as
    it stands at `now`; categories: per category code (null: not yet
    classified) received, resolved and the median hours to resolve; oldest_open: the
    `digests.oldest_items` oldest unfinished tickets (ref, category, place, age_days).
    """
    zone = ZoneInfo(cfg.city.timezone)
    # plain rows, not ORM objects: a busy week is thousands of tickets
    columns = (Ticket.category, Ticket.created_at, Ticket.resolved_at, Ticket.expected_at, Ticket.fixed_confirmed)
    created = session.exec(select(*columns).where(Ticket.created_at >= start, Ticket.created_at < end)).all()
    resolved = session.exec(
        select(*columns).where(Ticket.status == "resolved", Ticket.resolved_at >= start, Ticket.resolved_at < end)
    ).all()
    reports = session.exec(
        select(func.count(Message.id)).where(Message.role == "report", Message.received_at >= start, Message.received_at < end)
    ).one()
    unfinished_now = unfinished(), Ticket.created_at < now
    open_count = session.exec(select(func.count(Ticket.id)).where(*unfinished_now)).one()
    overdue_count = session.exec(select(func.count(Ticket.id)).where(*unfinished_now, Ticket.expected_at < now)).one()
    oldest = session.exec(
        select(Ticket).where(*unfinished_now).order_by(Ticket.created_at, Ticket.id).limit(cfg.digests.oldest_items)
    ).all()

    promised = [t for t in resolved if t.expected_at is not None]
    within = [t for t in promised if _aware(t.resolved_at) <= _aware(t.expected_at)]
    return {
        "from": start.astimezone(zone).date().isoformat(),
        "to": (end.astimezone(zone) - timedelta(seconds=1)).date().isoformat(),
        "received": len(created),
        "reports": reports,
        "resolved": len(resolved),
        "promised": len(promised),
        "within_promise": len(within),
        "within_promise_share": round(len(within) / len(promised), 3) if promised else None,
        "confirmed_fixed": sum(1 for t in resolved if t.fixed_confirmed is True),
        "open": open_count,
        "overdue": overdue_count,
        "categories": _by_category(cfg, created, resolved),
        "oldest_open": [
            {"ref": t.ref, "category": t.category, "place": scrub_place(t.location_text),
             "age_days": int(_hours(now - _aware(t.created_at)) // 24)}
            for t in oldest
        ],
    }


def _by_category(cfg: Config, created: list[Ticket], resolved: list[Ticket]) -> list[dict[str, Any]]:
    """Categories with any activity, in config order (unclassified last)."""
    order = [c.code for c in cfg.categories] + [None]
    rows = []
    for code in order:
        received = sum(1 for t in created if t.category == code)
        durations = [_hours(_aware(t.resolved_at) - _aware(t.created_at)) for t in resolved if t.category == code]
        if not received and not durations:
            continue
        rows.append({"category": code, "received": received, "resolved": len(durations),
                     "median_hours_to_resolve": round(median(durations), 1) if durations else None})
    return rows


def staff_queue(session: Session, cfg: Config, staff_name: str, now: datetime) -> list[dict[str, Any]]:
    """A staff member's unfinished tickets, overdue first, then by due date (none last)."""
    tickets = session.exec(
        select(Ticket).where(Ticket.assignee == staff_name, unfinished())
    ).all()
    far = datetime.max.replace(tzinfo=timezone.utc)

    def due(t: Ticket) -> datetime:
        return _aware(t.expected_at) or far

    items = [
        {"ref": t.ref, "category": t.category, "status": t.status, "place": scrub_place(t.location_text),
         "due": due(t).isoformat() if t.expected_at else None, "overdue": due(t) < now}
        for t in sorted(tickets, key=lambda t: (not due(t) < now, due(t), t.id))
    ]
    return items
