"""Staff corrections (`tickets recategorize`) as training examples."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import transaction
from bot.models import TicketEvent
from classifiers.corpus import Example


def corrections(engine: Engine) -> list[Example]:
    """The latest correction per ticket: the reporters' text labelled with the category staff chose."""
    latest: dict[int, Example] = {}
    with transaction(engine) as session:
        events = session.exec(select(TicketEvent).where(TicketEvent.kind == "recategorized").order_by(TicketEvent.id)).all()
        for event in events:
            text = (event.data or {}).get("correction_text")
            if text and event.data.get("category"):
                latest[event.ticket_id] = Example(text, event.data["category"])
    return list(latest.values())
