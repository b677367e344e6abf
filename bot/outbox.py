"""Outbox delivery: pending rows go out through their channel adapter, one transaction per row.

A failure never loses a row. Rate limits wait the platform's retry-after; other transient
errors back off exponentially with jitter; after `delivery.max_attempts` (or a permanent
refusal) the row is `dead` and stays visible.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.models import OutboxMessage, ReplyPart
from channels.base import Channel, OutboundMessage, PermanentError, RateLimited

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0


class Delivery:
    def __init__(self, engine: Engine, cfg: Config, channels: Mapping[str, Channel], clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.channels = channels
        self.clock = clock or Clock()
        self.rng = rng or random.Random()

    def deliver_due(self, batch: int = 100) -> DeliveryStats:
        """Try every pending row that is due, oldest first."""
        stats = DeliveryStats()
        with transaction(self.engine) as session:
            ids = session.exec(
                select(OutboxMessage.id)
                .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= self.clock.now(),
                       OutboxMessage.channel.in_(list(self.channels)))
                .order_by(OutboxMessage.id)
                .limit(batch)
            ).all()
        for row_id in ids:
            self._deliver_one(row_id, stats)
        return stats

    def next_due(self) -> datetime | None:
        """When the earliest pending row for an available channel becomes due."""
        with transaction(self.engine) as session:
            return session.exec(
                select(OutboxMessage.next_attempt_at)
                .where(OutboxMessage.state == "pending", OutboxMessage.channel.in_(list(self.channels)))
                .order_by(OutboxMessage.next_attempt_at)
            ).first()

    def _deliver_one(self, row_id: int, stats: DeliveryStats) -> None:
        with transaction(self.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.state != "pending":
                return
            channel = self.channels[row.channel]
            outbound = OutboundMessage(
                channel=row.channel, recipient_id=row.recipient_id, text=row.text,
                conversation_id=row.conversation_id, recipient_handle=row.recipient_handle,
                in_reply_to=row.in_reply_to, media_paths=tuple(row.media), idempotency_key=f"citybot-outbox-{row.id}",
                public=row.audience == "public", buttons=tuple((label, data) for label, data in row.buttons),
            )
            now = self.clock.now()
            try:
                result = channel.send(outbound)
            except RateLimited as exc:
                row.next_attempt_at = now + timedelta(seconds=exc.retry_after)
                row.last_error = str(exc)
                stats.retried += 1
                log.info("outbox %s: %s rate limit, retry in %.0fs", row.id, row.channel, exc.retry_after)
                return
            except PermanentError as exc:
                self._fail(row, str(exc), now, permanent=True)
            except Exception as exc:  # noqa: BLE001 - any other failure is retried, never lost
                self._fail(row, f"{type(exc).__name__}: {exc}", now)
            else:
                row.state = "sent"
                row.external_id = result.external_id
                for part in (result.external_id, *result.extra_ids):
                    session.add(ReplyPart(channel=row.channel, external_id=part, outbox_id=row.id))
                row.sent_at = now
                row.attempts += 1
                row.last_error = None
                stats.sent += 1
                return
            if row.state == "dead":
                stats.dead += 1
            else:
                stats.retried += 1

    def _fail(self, row: OutboxMessage, error: str, now: datetime, permanent: bool = False) -> None:
        row.attempts += 1
        row.last_error = error[:1000]
        if permanent or row.attempts >= self.cfg.delivery.max_attempts:
            row.state = "dead"
            log.warning("outbox %s: dead after %d attempts: %s", row.id, row.attempts, row.last_error)
            return
        delay = min(self.cfg.delivery.backoff_max_seconds, self.cfg.delivery.backoff_base_seconds * 2 ** (row.attempts - 1))
        row.next_attempt_at = now + timedelta(seconds=delay * self.rng.uniform(0.5, 1.0))
        log.info("outbox %s: attempt %d failed (%s), retry in %.1fs", row.id, row.attempts, row.last_error, delay)
