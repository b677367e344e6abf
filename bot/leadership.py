"""One leader among processes sharing a database, for a named role.

`Leadership(engine, "scheduler", holder, lease_seconds, clock)` is held by at most one holder at a
time. The same class guards any other single-owner role (e.g. `"cursor:telegram"`).

PostgreSQL: a session-level `pg_try_advisory_lock` on a dedicated connection kept open. The lock
lives exactly as long as that connection, so a dead connection (or process) frees it at once.
Other databases (SQLite): the `Lease` row, taken when absent or expired and renewed by its holder;
a crashed holder's lease runs out after `lease_seconds`. Renew well before that (a third is usual).

Call `try_acquire()` (or `renew()`) before acting as leader: both re-check the lock and return
whether this holder leads now. `is_leader` is the result of the last check, without I/O.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.clock import Clock
from bot.models import Lease

log = logging.getLogger(__name__)


def default_holder() -> str:
    """A holder id unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_gone(holder: str) -> bool:
    """True when `holder` (host:pid:...) names a process of this host that no longer runs (kill -9, a crash)."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname()[:40] or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(f"citybot:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    def __init__(self, engine: Engine, name: str, holder: str | None = None, lease_seconds: float = 60,
                 clock: Clock | None = None) -> None:
        if not name or len(name) > 96:
            raise ValueError(f"leadership name must be 1-96 characters, not {name!r}")
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, not {lease_seconds!r}")
        self.engine = engine
        self.name = name
        self.holder = (holder or default_holder())[:128]
        self.lease_seconds = lease_seconds
        self.clock = clock or Clock()
        self._advisory = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None  # PostgreSQL: the connection that holds the lock
        self._leader = False
        self._lock = threading.Lock()  # jobs on several threads share one Leadership

    @property
    def is_leader(self) -> bool:
        return self._leader

    def try_acquire(self) -> bool:
        """Become (or stay) the leader if nobody else is; True when this holder leads afterwards."""
        with self._lock:
            leader = self._pg_acquire() if self._advisory else self._lease_acquire()
            if leader != self._leader:
                log.info("%s: %s leadership (%s)", self.name, "took" if leader else "lost", self.holder)
            self._leader = leader
            return leader

    def renew(self) -> bool:
        """Extend the lease (or check the lock is still held). False when leadership was lost."""
        if not self._leader:
            return False
        return self.try_acquire()

    def release(self) -> None:
        """Give leadership up so another holder may take it at once. Safe to call when not leading."""
        with self._lock:
            if self._advisory:
                self._pg_release()
            elif self._leader:
                with self.engine.begin() as conn:
                    conn.execute(update(Lease).where(Lease.name == self.name, Lease.holder == self.holder)
                                 .values(expires_at=self.clock.now() - timedelta(seconds=1)))
            self._leader = False

    # -- SQLite (and any database without advisory locks): the Lease row -----------
    def _lease_acquire(self) -> bool:
        now = self.clock.now()
        values = {"holder": self.holder, "expires_at": now + timedelta(seconds=self.lease_seconds)}
        try:
            # The UPDATE comes first, so the transaction holds SQLite's write lock from its first
            # statement (as BEGIN IMMEDIATE would): no other writer can slip in before the INSERT.
            with self.engine.begin() as conn:
                taken = conn.execute(update(Lease).where(
                    Lease.name == self.name, or_(Lease.expires_at < now, Lease.holder == self.holder)).values(**values))
                if taken.rowcount == 1:
                    return True
                current = conn.execute(select(Lease.holder).where(Lease.name == self.name)).scalar()
                if current is not None and holder_gone(current):
                    # its process on this host is gone: no need to wait out the lease
                    conn.execute(update(Lease).where(Lease.name == self.name, Lease.holder == current).values(**values))
                    log.info("%s: took over from %s, which is no longer running", self.name, current)
                    return True
                if current is not None:
                    return False  # someone else's live lease
                conn.execute(insert(Lease).values(name=self.name, **values))
                return True
        except IntegrityError:
            return False  # another holder inserted the row first
        except DBAPIError as exc:  # a locked or unreachable database: not the leader this time
            log.warning("%s: lease check failed: %s", self.name, exc)
            return False

    # -- PostgreSQL: a session-level advisory lock ---------------------------------
    def _pg_acquire(self) -> bool:
        if self._conn is not None:
            if self._pg_alive():
                return True
            self._pg_drop()
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            log.warning("%s: cannot connect to take the lock: %s", self.name, exc)
            return False
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.name)}).scalar()
        except DBAPIError as exc:
            log.warning("%s: advisory lock failed: %s", self.name, exc)
            conn.invalidate()
            conn.close()
            return False
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _pg_alive(self) -> bool:
        """Whether our connection still exists and holds the lock."""
        try:
            held = self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = (:key)::bigint"), {"key": advisory_key(self.name)}).scalar()
        except DBAPIError:
            return False
        return bool(held)

    def _pg_release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self.name)})
            self._conn.close()
        except DBAPIError:
            self._pg_drop()
        self._conn = None

    def _pg_drop(self) -> None:
        """Forget a broken connection; it never goes back to the pool (it might still hold the lock)."""
        try:
            self._conn.invalidate()
            self._conn.close()
        except DBAPIError:
            pass
        self._conn = None
