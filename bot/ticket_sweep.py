"""Scheduled once-per-ticket actions (escalation, follow-ups) that stay once under repeats and races.

`sweep_once(engine, clock, stamp, where, act)` finds the tickets matching `where` whose `stamp`
column is NULL, and for each one, in its own transaction, sets the stamp with
``UPDATE ... WHERE id = :id AND <stamp> IS NULL AND <where>`` and runs `act` only when that
update changed the row. A second caller (another process, a later run) finds the stamp set.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.clock import Clock
from bot.db import transaction
from bot.models import Ticket


def sweep_once(engine: Engine, clock: Clock, stamp: str, where: Any, act: Callable[[Session, Ticket], None]) -> list[str]:
    """Stamp and act on every matching ticket exactly once; the refs acted on, oldest ticket first."""
    column = getattr(Ticket, stamp)
    now = clock.now()
    with transaction(engine) as session:
        ids = session.exec(select(Ticket.id).where(column.is_(None), where).order_by(Ticket.id)).all()
    done = []
    for ticket_id in ids:
        with transaction(engine) as session:
            claim = update(Ticket).where(Ticket.id == ticket_id, column.is_(None), where).values({stamp: now})
            if session.connection().execute(claim).rowcount != 1:
                continue  # someone else got there first, or the ticket changed meanwhile
            ticket = session.get(Ticket, ticket_id)
            act(session, ticket)
            done.append(ticket.ref)
    return done
