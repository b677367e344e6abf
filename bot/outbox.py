"""Outbox delivery: due rows are claimed, sent with no transaction open, then recorded.

Several deliverers (threads or processes, each with its own `worker_id`) may share one database.
A deliverer claims a few due rows in one short transaction by writing its lease on them
(PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: a conditional `UPDATE ... RETURNING`), so two
deliverers never take the same row. Within a deliverer, each channel is a lane (its own thread,
its rows in order). The platform call runs outside any transaction, and its
outcome is recorded in a second short transaction only while the lease is still ours. A crashed
deliverer's lease expires and the row becomes claimable again; a deliverer starting on the same
host frees at once the leases of processes there that are gone (kill -9, a crash).

A failure never loses a row. Rate limits wait the platform's retry-after; other transient
errors back off exponentially with jitter; after `delivery.max_attempts` (or a permanent
refusal) the row is `dead` and stays visible. When a split reply fails after some parts went
out (the error's `delivered`), those parts are stored as ReplyPart rows at once, and the retry
sends only the remaining parts, threaded under the last one posted.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import func, insert, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.leadership import holder_gone
from bot.models import OutboxMessage, ReplyPart
from channels.base import Channel, OutboundMessage, PermanentError, RateLimited

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 300.0
CLAIM_SIZE = 10  # rows claimed at a time: small, so a slow platform never outlives the lease


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0  # outcomes not recorded because another deliverer had taken the row


@dataclass(frozen=True)
class Claimed:
    """A row this deliverer holds the lease on (a detached snapshot) and the parts already posted."""

    row: OutboxMessage
    parts: tuple[str, ...] = ()
    # An earlier deliverer held the row and never recorded an outcome (it died mid-send).
    maybe_sent: bool = False


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Delivery:
    def __init__(self, engine: Engine, cfg: Config, channels: Mapping[str, Channel], clock: Clock | None = None,
                 rng: random.Random | None = None, worker_id: str | None = None,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, not {lease_seconds!r}")
        self.engine = engine
        self.cfg = cfg
        self.channels = channels
        self.clock = clock or Clock()
        self.rng = rng or random.Random()
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.lease_seconds = lease_seconds
        self._orphans_freed = False
        self._lanes: ThreadPoolExecutor | None = None
        self._sqlite_lock = threading.Lock()
        self._stopping = threading.Event()

    def free_orphaned_leases(self) -> int:
        """Free the leases held by deliverers of this host whose process is gone; return how many rows."""
        host = self.worker_id.split(":")[0]
        now = self.clock.now()
        with transaction(self.engine) as session:
            owners = session.exec(select(OutboxMessage.lease_owner).distinct().where(
                OutboxMessage.state == "pending", OutboxMessage.lease_until >= now,
                OutboxMessage.lease_owner.like(f"{host}:%"))).all()
            gone = [owner for owner in owners if holder_gone(owner)]
            if not gone:
                return 0
            freed = session.execute(update(OutboxMessage).where(
                OutboxMessage.state == "pending", OutboxMessage.lease_owner.in_(gone)).values(
                lease_until=None)).rowcount  # the owner stays: the next claim knows the send may have happened
        log.warning("outbox: freed %d row(s) leased by stopped deliverer(s) %s; their outcome is unknown, so they are retried",
                    freed, ", ".join(gone))
        return freed

    def deliver_due(self, batch: int = 100) -> DeliveryStats:
        """Claim and try up to `batch` due rows per channel, oldest first, each at most once per call.

        Each channel with due rows is a lane: its rows go out one after another, in order, while
        the other channels' lanes send in their own threads (so within a call one platform's round
        trips do not wait for another's). The call returns when every lane has finished, so an
        adapter is only ever used by one lane at a time; if a lane failed, its error is raised then.
        An interrupt (Ctrl-C) stops every lane after the send in flight.
        """
        self._stopping.clear()
        if not self._orphans_freed:
            self.free_orphaned_leases()
            self._orphans_freed = True
        lanes = self._due_channels()
        if len(lanes) <= 1:
            return self._deliver_lane(lanes, batch)
        if self._lanes is None:
            self._lanes = ThreadPoolExecutor(max_workers=len(self.channels), thread_name_prefix="outbox-lane")
        results = [self._lanes.submit(self._deliver_lane, [name], batch) for name in lanes]
        try:
            wait(results)
        except BaseException:  # KeyboardInterrupt while the lanes send
            self._stopping.set()
            wait(results)
            raise
        stats = DeliveryStats()
        for result in results:
            lane = result.result()  # a lane's error is raised here, now that every lane is done
            for name in ("sent", "retried", "dead", "lost"):
                setattr(stats, name, getattr(stats, name) + getattr(lane, name))
        return stats

    def _deliver_lane(self, channels: list[str], batch: int) -> DeliveryStats:
        stats = DeliveryStats()
        if not channels:
            return stats
        seen: list[int] = []
        while len(seen) < batch and not self._stopping.is_set():
            claimed = self.claim(min(CLAIM_SIZE, batch - len(seen)), exclude=seen, channels=channels)
            if not claimed:
                break
            for number, item in enumerate(claimed):
                if self._stopping.is_set():
                    self._release(claimed[number:])
                    break
                seen.append(item.row.id)
                self._deliver(item, stats)
        return stats

    def _release(self, items: Sequence[Claimed]) -> None:
        """Give back rows claimed but not tried (a stop): due again at once for any deliverer."""
        with self._database(), self.engine.begin() as conn:
            for item in items:
                conn.execute(update(OutboxMessage).where(
                    OutboxMessage.id == item.row.id, OutboxMessage.lease_owner == self.worker_id,
                    OutboxMessage.state == "pending").values(
                    # a row an earlier deliverer may have sent keeps an owner, so the next claim knows it
                    lease_owner=self.worker_id if item.maybe_sent else None, lease_until=None))

    def _due_channels(self) -> list[str]:
        """The channels (with an adapter here) that have a row to claim now."""
        now = self.clock.now()
        with self._database(), transaction(self.engine) as session:
            return list(session.exec(select(OutboxMessage.channel).distinct().where(
                *self._due(now, list(self.channels)))).all())

    @staticmethod
    def _due(now: datetime, channels: list[str]) -> tuple:
        return (OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now,
                OutboxMessage.channel.in_(channels),
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))

    def _database(self):
        """Held around each transaction of a lane on SQLite, so lanes never race for its write lock."""
        return self._sqlite_lock if self.engine.dialect.name == "sqlite" else nullcontext()

    def close(self) -> None:
        """Stop the lane threads after the sends in flight (idempotent)."""
        self._stopping.set()
        if self._lanes is not None:
            self._lanes.shutdown(wait=True, cancel_futures=True)
            self._lanes = None

    def next_due(self) -> datetime | None:
        """When the earliest pending row for an available channel may next be claimed."""
        now = self.clock.now()
        pending = (OutboxMessage.state == "pending", OutboxMessage.channel.in_(list(self.channels)))
        with transaction(self.engine) as session:
            free = session.exec(select(func.min(OutboxMessage.next_attempt_at)).where(
                *pending, or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))).one()
            leased = session.exec(select(func.min(OutboxMessage.lease_until)).where(
                *pending, OutboxMessage.lease_until >= now)).one()
        times = [t for t in (free, leased) if t is not None]
        return min(times) if times else None

    # -- claiming ------------------------------------------------------------------
    def claim(self, limit: int, exclude: Sequence[int] = (), channels: Sequence[str] | None = None) -> list[Claimed]:
        """Lease up to `limit` due rows of `channels` (default: every channel here) to this deliverer.

        One short transaction. A row is due when pending, its `next_attempt_at` has come and
        nobody holds a live lease. Two deliverers calling this at once never get the same row.
        """
        now = self.clock.now()
        due = self._due(now, list(channels if channels is not None else self.channels))
        candidates = select(OutboxMessage.id, OutboxMessage.lease_owner).where(*due).order_by(OutboxMessage.id).limit(limit)
        if exclude:
            candidates = candidates.where(OutboxMessage.id.not_in(list(exclude)))
        lease = {"lease_owner": self.worker_id, "lease_until": now + timedelta(seconds=self.lease_seconds)}
        with self._database(), transaction(self.engine) as session:
            if self.engine.dialect.name == "postgresql":
                # Rows another deliverer is claiming right now are skipped, not waited for.
                candidates = candidates.with_for_update(skip_locked=True)
            # A due row that still names an owner was left mid-send: every recorded outcome clears it.
            previous_owner = dict(session.execute(candidates).all())
            if not previous_owner:
                return []
            if self.engine.dialect.update_returning:
                ids = session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(list(previous_owner)), *due).values(**lease)
                    .returning(OutboxMessage.id).execution_options(synchronize_session=False)).scalars().all()
            else:  # SQLite before 3.35: one conditional UPDATE per row, kept only if it changed the row
                ids = [row_id for row_id in previous_owner if session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == row_id, *due).values(**lease)
                    .execution_options(synchronize_session=False)).rowcount == 1]
            if not ids:
                return []
            rows = session.exec(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
            parts: dict[int, list[str]] = {}
            for part in session.exec(select(ReplyPart).where(ReplyPart.outbox_id.in_(ids)).order_by(ReplyPart.id)).all():
                parts.setdefault(part.outbox_id, []).append(part.external_id)
        return [Claimed(row, tuple(parts.get(row.id, ())), maybe_sent=previous_owner.get(row.id) is not None)
                for row in rows]

    # -- sending and recording -------------------------------------------------------
    def outbound(self, item: Claimed) -> OutboundMessage:
        """The message for the platform: parts already posted are skipped, the rest thread under the last."""
        row = item.row
        return OutboundMessage(
            channel=row.channel, recipient_id=row.recipient_id, text=row.text,
            conversation_id=row.conversation_id, recipient_handle=row.recipient_handle,
            in_reply_to=item.parts[-1] if item.parts else row.in_reply_to, media_paths=tuple(row.media),
            idempotency_key=f"citybot-outbox-{row.id}", public=row.audience == "public",
            buttons=tuple((label, data) for label, data in row.buttons), skip_parts=len(item.parts),
            maybe_sent=item.maybe_sent,
        )

    def _deliver(self, item: Claimed, stats: DeliveryStats) -> None:
        row = item.row
        try:
            result = self.channels[row.channel].send(self.outbound(item))
        except RateLimited as exc:
            log.info("outbox %s: %s rate limit, retry in %.0fs", row.id, row.channel, exc.retry_after)
            values = {"next_attempt_at": self.clock.now() + timedelta(seconds=exc.retry_after),
                      "last_error": str(exc)[:1000]}
            self._record(item, values, _delivered(exc), stats, "retried")
        except PermanentError as exc:
            self._record(item, self._failure(row, str(exc), permanent=True), _delivered(exc), stats)
        except Exception as exc:  # noqa: BLE001 - any other failure is retried, never lost
            self._record(item, self._failure(row, f"{type(exc).__name__}: {exc}"), _delivered(exc), stats)
        else:
            posted = (result.external_id, *result.extra_ids)
            values = {"state": "sent", "external_id": (item.parts + posted)[0], "sent_at": self.clock.now(),
                      "attempts": row.attempts + 1, "last_error": None}
            self._record(item, values, posted, stats, "sent")

    def _record(self, item: Claimed, values: dict[str, Any], posted: Sequence[str], stats: DeliveryStats,
                outcome: str | None = None) -> None:
        """Write the outcome and the newly posted parts, only while this deliverer still holds the row."""
        row = item.row
        # A Core connection, not an ORM session: this runs once per delivered reply.
        with self._database(), self.engine.begin() as conn:
            changed = conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == self.worker_id,
                       OutboxMessage.state == "pending")
                .values(lease_owner=None, lease_until=None, **values)).rowcount
            if changed != 1:
                log.warning("outbox %s: no longer held by %s; its outcome was not recorded", row.id, self.worker_id)
                stats.lost += 1
                return
            new_parts = [{"channel": row.channel, "external_id": external_id, "outbox_id": row.id}
                         for external_id in dict.fromkeys(posted) if external_id not in item.parts]
            if new_parts:
                conn.execute(insert(ReplyPart), new_parts)
        outcome = outcome or ("dead" if values.get("state") == "dead" else "retried")
        setattr(stats, outcome, getattr(stats, outcome) + 1)

    def _failure(self, row: OutboxMessage, error: str, permanent: bool = False) -> dict[str, Any]:
        """The row's new values after a failed attempt: a backed-off retry, or dead."""
        attempts = row.attempts + 1
        error = error[:1000]
        if permanent or attempts >= self.cfg.delivery.max_attempts:
            log.warning("outbox %s: dead after %d attempts: %s", row.id, attempts, error)
            return {"attempts": attempts, "last_error": error, "state": "dead"}
        delay = min(self.cfg.delivery.backoff_max_seconds, self.cfg.delivery.backoff_base_seconds * 2 ** (attempts - 1))
        log.info("outbox %s: attempt %d failed (%s), retry in %.1fs", row.id, attempts, error, delay)
        return {"attempts": attempts, "last_error": error,
                "next_attempt_at": self.clock.now() + timedelta(seconds=delay * self.rng.uniform(0.5, 1.0))}


def _delivered(exc: BaseException) -> tuple[str, ...]:
    """The external ids an adapter had already posted when `exc` interrupted a split reply."""
    return tuple(str(part) for part in getattr(exc, "delivered", ()) or ())
