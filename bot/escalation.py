"""Overdue escalation: a ticket past its promised date goes to its department head, once.

A scheduler job: `escalate_overdue(engine, cfg, clock) -> refs escalated now`. Each ticket that is
past `expected_at`, neither resolved nor closed, and not yet escalated gets `escalated_at`, a
TicketEvent "escalated" and a staff DM to the head of its department (of the triage department
when it has none). A head without a reachable channel still gets the event, which the staff digest
shows. Reopening a ticket clears `escalated_at`, so it can be escalated again.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.config import Config
from bot.models import Ticket
from bot.staff_notify import notify_staff
from bot.ticket_sweep import sweep_once
from bot.tickets import overdue_filter, record_event

log = logging.getLogger(__name__)
TRIAGE_DEPARTMENT = "triage"


def department_head(cfg: Config, ticket: Ticket) -> str | None:
    """The head of the ticket's department, or of the triage department; None when there is none."""
    code = ticket.department or TRIAGE_DEPARTMENT
    department = next((d for d in cfg.departments if d.code == code), None)
    return department.head_name if department else None


def escalate_overdue(engine: Engine, cfg: Config, clock: Clock) -> list[str]:
    """Escalate every overdue ticket not escalated before; the refs escalated by this call."""

    def escalate(session: Session, ticket: Ticket) -> None:
        head = department_head(cfg, ticket)
        dm = notify_staff(session, cfg, clock, ticket, head, "escalated", "staff_escalated")
        record_event(session, clock, ticket, "bot", "escalated", head=head, assignee=ticket.assignee,
                     due=ticket.expected_at.isoformat(), notified=dm is not None)
        log.info("escalation: %s is overdue; head %s %s", ticket.ref, head or "(none)",
                 "notified" if dm is not None else "has no reachable channel")

    return sweep_once(engine, clock, "escalated_at", overdue_filter(clock.now()), escalate)
