"""Staff views of the outbox: list rows by state, and put dead rows back in the queue.

Listed rows never show who a public post went to (there is nobody); citizen and staff rows show
the recipient's handle, for staff eyes only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import Clock
from bot.db import transaction
from bot.models import OUTBOX_STATES, OutboxMessage, Ticket
from bot.tickets import iso

LIST_STATES = (*OUTBOX_STATES, "all")
ERASED = "forgotten"  # the recipient id bot/privacy leaves on a forgotten citizen's replies


class OutboxAdminError(ValueError):
    """A bad request from staff: an unknown id, a row that is not dead, a bad state."""


def recipient(row: OutboxMessage) -> str | None:
    """Who the row goes to, as staff may see it: never anything for a public post."""
    if row.audience == "public":
        return None
    if row.audience == "staff":
        return row.recipient_handle or row.recipient_id
    return row.recipient_handle


def as_dict(row: OutboxMessage, ref: str | None) -> dict[str, Any]:
    return {
        "id": row.id, "channel": row.channel, "purpose": row.purpose, "audience": row.audience,
        "state": row.state, "attempts": row.attempts, "next_attempt_at": iso(row.next_attempt_at),
        "last_error": row.last_error, "recipient": recipient(row), "ticket": ref,
        "created_at": iso(row.created_at), "sent_at": iso(row.sent_at),
    }


def list_outbox(engine: Engine, state: str = "pending", limit: int | None = None) -> list[dict[str, Any]]:
    """Rows in `state` (or `all`), newest first, at most `limit`."""
    if state not in LIST_STATES:
        raise OutboxAdminError(f"'{state}' is not an outbox state (use one of: {', '.join(LIST_STATES)})")
    if limit is not None and limit < 1:
        raise OutboxAdminError(f"--limit must be at least 1, not {limit}")
    query = select(OutboxMessage, Ticket.ref).join(Ticket, OutboxMessage.ticket_id == Ticket.id, isouter=True)
    if state != "all":
        query = query.where(OutboxMessage.state == state)
    query = query.order_by(OutboxMessage.id.desc()).limit(limit)
    with transaction(engine) as session:
        return [as_dict(row, ref) for row, ref in session.exec(query).all()]


def retry(engine: Engine, clock: Clock, row_id: int | None = None, all_dead: bool = False) -> list[int]:
    """Put dead rows back in the queue: pending, attempts 0, due now. Returns the ids retried.

    Exactly one of `row_id` and `all_dead`. A row that is not dead, or one cancelled because
    its citizen was forgotten, is an error (`--all-dead` silently leaves the latter).
    """
    if (row_id is None) == (not all_dead):
        raise OutboxAdminError("give an outbox id or --all-dead (one of them)")
    with transaction(engine) as session:
        if all_dead:
            rows = session.exec(select(OutboxMessage).where(OutboxMessage.state == "dead",
                                                            OutboxMessage.recipient_id != ERASED)
                                .order_by(OutboxMessage.id)).all()
        else:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                raise OutboxAdminError(f"unknown outbox message {row_id}")
            if row.state != "dead":
                raise OutboxAdminError(f"outbox message {row_id} is {row.state}, not dead: only dead rows can be retried")
            if row.recipient_id == ERASED:
                raise OutboxAdminError(f"outbox message {row_id} was cancelled: its citizen's data was erased")
            rows = [row]
        for row in rows:
            row.state, row.attempts, row.next_attempt_at = "pending", 0, clock.now()
            row.lease_owner = row.lease_until = None
            session.add(row)
        return [row.id for row in rows]
