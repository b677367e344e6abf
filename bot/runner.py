"""The bot loop: ingest every channel, process, deliver. `run_once` for one pass, `run_forever` until stopped."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping

from bot import quarantine
from bot.app import App
from bot.db import transaction
from bot.leadership import Leadership
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import func, select

from bot.models import ChannelCursor, OutboxMessage
from bot.outbox import Delivery
from bot.pipeline import Outcome, Pipeline
from channels.base import Channel, ChannelError, RateLimited

log = logging.getLogger(__name__)
CURSOR_LEASE_SECONDS = 30


@dataclass
class PassReport:
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: int = 0  # payloads the adapters could not parse (quarantined)
    failed: int = 0  # posts whose processing raised (quarantined)
    sent: int = 0
    dead: int = 0
    pending: int = 0

    @property
    def tickets(self) -> list[str]:
        return [o.ticket_ref for o in self.outcomes if o.action == "ticket"]


def is_outage(exc: BaseException) -> bool:
    """True for a failure of the database itself (unreachable, locked, connection lost), not of a post's data."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _rejected_id(rejected: dict) -> str | None:
    """The platform id of a rejected payload, as far as the adapter could tell."""
    for key in ("external_id", "id"):
        if rejected.get(key) not in (None, ""):
            return str(rejected[key])
    update = rejected.get("update_id")
    return f"update:{update}" if update is not None else None


class Runner:
    def __init__(self, app: App, channels: Mapping[str, Channel]) -> None:
        self.app = app
        self.channels = dict(channels)
        self.pipeline = Pipeline(app.engine, app.cfg, app.classifier, app.clock)
        self.delivery = Delivery(app.engine, app.cfg, self.channels, app.clock)
        # One process at a time reads each channel (several `citybot run` may share a database).
        self.cursor_owners = {name: Leadership(app.engine, f"cursor:{name}", lease_seconds=CURSOR_LEASE_SECONDS)
                              for name in self.channels}

    def owns_cursor(self, name: str) -> bool:
        """Take or renew this process's hold on channel `name`'s cursor; False while another process has it."""
        return self.cursor_owners[name].try_acquire()

    # -- ingest --------------------------------------------------------------------
    def ingest(self, name: str, timeout: float = 0, report: PassReport | None = None) -> int:
        """One fetch from channel `name`: process every post, then store the cursor. Returns posts fetched.

        Poison never stalls the cursor: each payload the adapter rejected, and each post whose
        processing raised, is kept as a QuarantinedPayload (committed before the cursor moves)
        and the rest go on. A database outage (`is_outage`) is raised instead, with the cursor
        left where it was, so every post is fetched again.
        """
        report = report or PassReport()
        channel = self.channels[name]
        cursor = self._cursor(name)
        result = channel.fetch(cursor, timeout=timeout)
        for rejected in result.rejected:
            quarantine.store(self.app.engine, self.app.clock, name, _rejected_id(rejected),
                             str(rejected.get("error") or "rejected"), rejected.get("raw"))
        if result.rejected:
            log.warning("%s: quarantined %d malformed payload(s)", name, len(result.rejected))
        report.rejected += len(result.rejected)
        for inbound in result.messages:
            try:
                report.outcomes.append(self.pipeline.process(inbound))
            except Exception as exc:  # noqa: BLE001 - one bad post must not hold the others back
                if is_outage(exc):
                    raise
                log.warning("%s: processing %s failed (%s); quarantined", name, inbound.external_id,
                            type(exc).__name__)
                quarantine.store(self.app.engine, self.app.clock, name, inbound.external_id,
                                 f"{type(exc).__name__}: {exc}", inbound.raw)
                report.failed += 1
        # Only now, with every post committed or quarantined, may the cursor move past them.
        if result.next_cursor != cursor:
            self._save_cursor(name, result.next_cursor)
        return len(result.messages) + len(result.rejected)

    def _cursor(self, name: str) -> str | None:
        with transaction(self.app.engine) as session:
            row = session.get(ChannelCursor, name)
            return row.cursor if row else None

    def _save_cursor(self, name: str, cursor: str | None) -> None:
        with transaction(self.app.engine) as session:
            row = session.get(ChannelCursor, name) or ChannelCursor(channel=name, updated_at=self.app.clock.now())
            row.cursor = cursor
            row.updated_at = self.app.clock.now()
            session.add(row)

    # -- one pass ------------------------------------------------------------------
    def run_once(self) -> PassReport:
        """Drain every channel, then deliver everything deliverable within `delivery.once_max_wait_seconds`."""
        report = PassReport()
        max_wait = self.app.cfg.delivery.once_max_wait_seconds
        for name in self.channels:
            self._drain(name, report, max_wait)
        deadline = time.monotonic() + max_wait
        while True:
            stats = self.delivery.deliver_due()
            report.sent += stats.sent
            report.dead += stats.dead
            due = self.delivery.next_due()
            if due is None:
                break
            wait = max(0.0, (due - self.app.clock.now()).total_seconds())
            if time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
        report.pending = self._pending()
        return report

    def _drain(self, name: str, report: PassReport, max_wait: float) -> None:
        if not self.owns_cursor(name):
            log.warning("%s: another citybot process is reading this channel; skipped", name)
            return
        deadline = time.monotonic() + max_wait
        while True:
            try:
                if self.ingest(name, 0, report) == 0:
                    return
            except RateLimited as exc:
                if time.monotonic() + exc.retry_after > deadline:
                    log.warning("%s: rate limited for %.0fs; leaving the rest for the next pass", name, exc.retry_after)
                    return
                time.sleep(exc.retry_after)
            except ChannelError as exc:
                log.warning("%s: fetch failed: %s", name, exc)
                if time.monotonic() + 1 > deadline:
                    return
                time.sleep(1)

    def _pending(self) -> int:
        with transaction(self.app.engine) as session:
            return session.exec(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "pending")).one()

    # -- forever -------------------------------------------------------------------
    def run_forever(self, stop: threading.Event, on_pass=None, ingest: bool = True, deliver: bool = True) -> None:
        """Poll every channel and deliver until `stop` is set. A failing channel backs off alone.

        `ingest=False` / `deliver=False` leave that half to other processes (`citybot run --role`).
        """
        resume_at = {name: 0.0 for name in self.channels} if ingest else {}
        while not stop.is_set():
            report = PassReport()
            for name in resume_at:
                if time.monotonic() < resume_at[name]:
                    continue
                conf = self.app.cfg.channels[name]
                if not self.owns_cursor(name):
                    resume_at[name] = time.monotonic() + CURSOR_LEASE_SECONDS / 3
                    continue
                try:
                    self.ingest(name, conf.poll_timeout, report)
                    # Stay within the platform's request budget (X: 180 requests / 15 min).
                    resume_at[name] = time.monotonic() + conf.poll_interval
                except RateLimited as exc:
                    resume_at[name] = time.monotonic() + exc.retry_after
                except ChannelError as exc:
                    log.warning("%s: fetch failed: %s", name, exc)
                    resume_at[name] = time.monotonic() + 5
            if deliver:
                stats = self.delivery.deliver_due()
                report.sent, report.dead = stats.sent, stats.dead
            if on_pass:
                on_pass(report)
            if not resume_at or all(time.monotonic() < t for t in resume_at.values()):
                stop.wait(min([1.0] + [max(0.0, t - time.monotonic()) for t in resume_at.values()]))

    def close(self) -> None:
        self.delivery.close()
        for owner in self.cursor_owners.values():
            try:
                owner.release()
            except Exception:  # noqa: BLE001 - an unreachable database: the lease simply runs out
                log.debug("releasing %s failed", owner.name, exc_info=True)
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:  # noqa: BLE001 - closing must not mask the real exit
                log.debug("closing %s failed", channel, exc_info=True)
