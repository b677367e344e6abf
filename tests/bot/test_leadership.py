"""Leadership: one holder at a time, on SQLite (the Lease row) and PostgreSQL (an advisory lock)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.db import make_engine, open_database, transaction
from bot.leadership import Leadership, advisory_key, holder_gone
from bot.models import Lease

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def engine(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'lead.db'}")
    yield engine
    engine.dispose()


def test_second_holder_is_refused_while_the_lease_is_live(engine, clock):
    first = Leadership(engine, "scheduler", "a", 60, clock)
    second = Leadership(engine, "scheduler", "b", 60, clock)
    assert first.try_acquire() and first.is_leader
    assert not second.try_acquire() and not second.is_leader
    clock.advance(seconds=40)
    assert first.renew()  # renewing moves the end to 40 + 60 s
    clock.advance(seconds=40)
    assert not second.try_acquire()
    with transaction(engine) as session:
        assert session.exec(select(Lease.holder).where(Lease.name == "scheduler")).one() == "a"


def test_another_holder_takes_over_after_expiry(engine, clock):
    first = Leadership(engine, "scheduler", "a", 60, clock)
    second = Leadership(engine, "scheduler", "b", 60, clock)
    assert first.try_acquire()
    clock.advance(seconds=61)
    assert second.try_acquire()
    assert not first.renew() and not first.is_leader
    assert not first.try_acquire()


def test_release_lets_the_next_holder_in_at_once(engine, clock):
    first = Leadership(engine, "scheduler", "a", 60, clock)
    second = Leadership(engine, "scheduler", "b", 60, clock)
    assert first.try_acquire()
    first.release()
    assert not first.is_leader
    assert second.try_acquire()


def test_names_are_independent_locks(engine, clock):
    assert Leadership(engine, "scheduler", "a", 60, clock).try_acquire()
    assert Leadership(engine, "cursor:telegram", "b", 60, clock).try_acquire()
    assert not Leadership(engine, "cursor:telegram", "a", 60, clock).try_acquire()


def dead_pid() -> int:
    """The pid of a process that has exited (reaped), so no process of this host has it now."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_whose_process_is_gone_is_taken_over_at_once(engine, clock):
    import socket

    gone = f"{socket.gethostname()[:40]}:{dead_pid()}:deadbeef"
    assert holder_gone(gone)
    assert Leadership(engine, "cursor:x", gone, 600, clock).try_acquire()
    assert Leadership(engine, "cursor:x", "live-holder", 600, clock).try_acquire()  # no wait for 600 s
    with transaction(engine) as session:
        assert session.exec(select(Lease.holder).where(Lease.name == "cursor:x")).one() == "live-holder"


def test_other_hosts_and_live_processes_are_never_presumed_gone():
    import os
    import socket

    assert not holder_gone(f"{socket.gethostname()[:40]}:{os.getpid()}:x")
    assert not holder_gone(f"{socket.gethostname()[:40]}:1:x")  # init runs (or is not ours to signal)
    assert not holder_gone(f"another-host:{dead_pid()}:x")
    assert not holder_gone("a")


def test_bad_arguments_are_named(engine, clock):
    with pytest.raises(ValueError, match="lease_seconds"):
        Leadership(engine, "scheduler", "a", 0, clock)
    with pytest.raises(ValueError, match="name"):
        Leadership(engine, "", "a", 60, clock)


# -- PostgreSQL -----------------------------------------------------------------------
@pytest.fixture
def pg_engine():
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        engine.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (db test) is not reachable: {type(exc).__name__}")
    yield engine
    engine.dispose()


@pytest.fixture
def lock_name() -> str:
    return f"test:{uuid.uuid4().hex}"  # unique, so parallel test runs never share a lock


def test_postgres_two_holders_one_wins(pg_engine, lock_name, clock):
    first = Leadership(pg_engine, lock_name, "a", 60, clock)
    second = Leadership(pg_engine, lock_name, "b", 60, clock)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        clock.advance(seconds=3600)  # no lease to run out: the lock is held as long as the connection lives
        assert first.renew()
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()


def test_postgres_leadership_is_lost_when_the_connection_closes(pg_engine, lock_name, clock):
    first = Leadership(pg_engine, lock_name, "a", 60, clock)
    second = Leadership(pg_engine, lock_name, "b", 60, clock)
    try:
        assert first.try_acquire()
        with pg_engine.connect() as admin:
            pid = admin.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = (:key)::bigint"), {"key": advisory_key(lock_name)}).scalar_one()
            # waits (up to 10 s) until that backend is gone
            assert admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar()
        assert second.try_acquire()
        assert not first.renew() and not first.is_leader
    finally:
        first.release()
        second.release()
