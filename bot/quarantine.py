"""Poison payloads kept for staff: what a parser rejected, or what made processing fail.

`store` writes one QuarantinedPayload row (once per channel, external id and error);
`list_rows` and `get_row` read them back as plain dicts for `citybot quarantine`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import Clock
from bot.db import transaction
from bot.models import QuarantinedPayload

ERROR_LIMIT = 2000  # characters of an error message kept


class UnknownQuarantine(LookupError):
    """No quarantined payload has that id."""


def _json_ready(raw: Any) -> dict[str, Any]:
    """`raw` as a JSON object the database can store (odd values become strings)."""
    try:
        value = json.loads(json.dumps(raw, default=str, allow_nan=False))
    except (ValueError, TypeError, RecursionError):
        value = repr(raw)[:10_000]
    return value if isinstance(value, dict) else {"payload": value}


def store(engine: Engine, clock: Clock, channel: str, external_id: str | None, error: str, raw: Any) -> bool:
    """Keep one payload; False if the same (channel, external id, error) is already kept.

    A re-fetch after a crash thus does not keep the same poison twice. Commits before returning.
    """
    external_id = external_id[:128] if external_id else None
    error = error[:ERROR_LIMIT]
    with transaction(engine) as session:
        if external_id is not None:
            seen = session.exec(select(QuarantinedPayload.id).where(
                QuarantinedPayload.channel == channel, QuarantinedPayload.external_id == external_id,
                QuarantinedPayload.error == error)).first()
            if seen is not None:
                return False
        session.add(QuarantinedPayload(channel=channel, external_id=external_id, error=error,
                                       raw=_json_ready(raw), created_at=clock.now()))
    return True


def _utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _as_dict(row: QuarantinedPayload, with_raw: bool) -> dict[str, Any]:
    data = {"id": row.id, "channel": row.channel, "external_id": row.external_id, "error": row.error,
            "created_at": _utc(row.created_at).isoformat()}
    if with_raw:
        data["raw"] = row.raw
    return data


def list_rows(engine: Engine, channel: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Quarantined payloads, newest first, without their raw payloads."""
    with transaction(engine) as session:
        query = select(QuarantinedPayload).order_by(QuarantinedPayload.id.desc())
        if channel:
            query = query.where(QuarantinedPayload.channel == channel)
        if limit is not None:
            query = query.limit(limit)
        return [_as_dict(row, with_raw=False) for row in session.exec(query).all()]


def get_row(engine: Engine, row_id: int) -> dict[str, Any]:
    """One quarantined payload with its raw payload; UnknownQuarantine if there is none."""
    with transaction(engine) as session:
        row = session.get(QuarantinedPayload, row_id)
        if row is None:
            raise UnknownQuarantine(f"no quarantined payload with id {row_id}")
        return _as_dict(row, with_raw=True)
