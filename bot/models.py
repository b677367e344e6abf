"""The data model (SQLModel). Schema changes go through alembic migrations in bot/migrations.

Times are timezone-aware UTC (sqlmodel stores them as UTC and returns them aware).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

TICKET_STATUSES = ("new", "triage", "open", "in_progress", "resolved", "closed")
CLOSED_STATUSES = ("resolved", "closed")
CLOSE_REASONS = ("duplicate", "not_ours", "invalid")
OUTBOX_STATES = ("pending", "sent", "dead")
OUTBOX_AUDIENCES = ("citizen", "staff", "public")
PRIORITIES = ("low", "normal", "high", "urgent")


class Department(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)


class Staff(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    full_name: str | None = Field(default=None, max_length=200)
    department: str = Field(foreign_key="department.code", max_length=64)
    active: bool = True


class Citizen(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("channel", "external_user_id", name="uq_citizen_channel_user"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    external_user_id: str = Field(max_length=128)
    handle: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime


# Written as literal SQL, not bound parameters, so that SQLite and PostgreSQL can prove a query
# implies the partial index below (the staff queue, overdue lists, digests and escalation).
UNFINISHED_SQL = "status NOT IN ('resolved', 'closed')"


def unfinished():
    """The filter for tickets that are neither resolved nor closed (uses ix_ticket_unfinished)."""
    return text(f"ticket.{UNFINISHED_SQL}")


class Ticket(SQLModel, table=True):
    __table_args__ = (
        Index("ix_ticket_unfinished", "created_at", sqlite_where=text(UNFINISHED_SQL), postgresql_where=text(UNFINISHED_SQL)),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str | None = Field(default=None, index=True, unique=True, max_length=32)
    status: str = Field(index=True, max_length=16)
    category: str | None = Field(default=None, index=True, max_length=64)
    priority: str = Field(default="normal", max_length=16)
    priority_reason: str | None = None
    department: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, index=True, max_length=64)
    channel: str = Field(max_length=32)
    language: str | None = Field(default=None, max_length=8)
    confidence: float | None = None
    location_text: str | None = None
    lat: float | None = None
    lon: float | None = None
    created_at: datetime = Field(index=True)
    updated_at: datetime
    expected_at: datetime | None = None
    resolved_at: datetime | None = Field(default=None, index=True)
    closed_reason: str | None = Field(default=None, max_length=32)
    duplicate_of: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    # Set once when the overdue ticket was escalated to its department head.
    escalated_at: datetime | None = None
    # Set once when the reporters were asked "is it fixed?" after resolution.
    followup_asked_at: datetime | None = None
    # The reporters' latest answer to that question: True fixed, False not fixed, None no answer.
    fixed_confirmed: bool | None = None


class Message(SQLModel, table=True):
    """A citizen post. `role` is `report` (opened or joined a ticket), `followup`, or `other`."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_message_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=128)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    role: str = Field(default="other", max_length=16)
    kind: str = Field(default="mention", max_length=16)
    conversation_id: str | None = Field(default=None, max_length=128)
    in_reply_to: str | None = Field(default=None, max_length=128)
    text: str = ""
    language: str | None = Field(default=None, max_length=8)
    lat: float | None = None
    lon: float | None = None
    media: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    posted_at: datetime | None = None
    received_at: datetime = Field(index=True)


class TicketEvent(SQLModel, table=True):
    """The audit trail: who did what to a ticket, and whether citizens saw it."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    public: bool = False
    text: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxMessage(SQLModel, table=True):
    """A reply waiting for (or done with) delivery. Written in the same transaction as its cause."""

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    recipient_id: str = Field(max_length=128)
    recipient_handle: str | None = Field(default=None, max_length=200)
    conversation_id: str | None = Field(default=None, max_length=128)
    in_reply_to: str | None = Field(default=None, max_length=128)
    text: str
    media: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=32)
    # citizen: a reply in a citizen's thread; staff: a DM to an employee; public: a post to everyone.
    audience: str = Field(default="citizen", max_length=16)
    # Telegram inline keyboard: [[label, callback data], ...]; other platforms ignore it.
    buttons: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    state: str = Field(default="pending", index=True, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    last_error: str | None = None
    external_id: str | None = Field(default=None, index=True, max_length=128)
    created_at: datetime
    sent_at: datetime | None = None
    # A deliverer claims a row until `lease_until`; another may take it only after that.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None


class ChannelCursor(SQLModel, table=True):
    channel: str = Field(primary_key=True, max_length=32)
    cursor: str | None = Field(default=None, max_length=256)
    updated_at: datetime


class ReplyPart(SQLModel, table=True):
    """Every platform post a delivered reply became (a long reply can be a thread of several)."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_replypart_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=128)
    outbox_id: int = Field(foreign_key="outboxmessage.id", index=True)


class DigestRun(SQLModel, table=True):
    """One digest posted (or being posted) for one period and target. The unique key makes jobs idempotent.

    `kind` is daily|weekly|staff; `period` e.g. 2026-11-26 or 2026-W48; `target` a channel name or `staff:NAME`.
    """

    __table_args__ = (UniqueConstraint("kind", "period", "target", name="uq_digestrun_kind_period_target"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    period: str = Field(max_length=32)
    target: str = Field(max_length=96)
    created_at: datetime
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Lease(SQLModel, table=True):
    """A named lock held by one process until `expires_at` (scheduler leader, a channel's cursor)."""

    name: str = Field(primary_key=True, max_length=96)
    holder: str = Field(max_length=128)
    expires_at: datetime


class QuarantinedPayload(SQLModel, table=True):
    """A platform payload that could not be parsed or processed, kept raw for staff to look at."""

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    external_id: str | None = Field(default=None, max_length=128)
    error: str
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
