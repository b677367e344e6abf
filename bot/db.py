"""Engine and sessions. `open_database(url)` migrates the schema to the latest revision."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and foreign keys.

    SQLite runs with synchronous=NORMAL: in WAL mode a crash of the process (or kill -9) loses
    nothing committed; only a power cut can roll back the last transactions, and then the cursor
    rolls back with them, so posts are fetched again rather than lost.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


MIGRATION_LOCK_KEY = 0x63697479626F74  # "citybot": the advisory lock that serialises migrations


def migrate(engine: Engine) -> None:
    """Apply every pending migration (idempotent).

    Processes starting at once on one database migrate one after the other: a PostgreSQL
    advisory lock (held to the end of the migration's transaction), or on SQLite an exclusive
    lock on a `<database>.migrate.lock` file beside it. The later ones find the schema at head.
    """
    with _sqlite_file_lock(engine):
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    with open(f"{path}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_database(url: str) -> Engine:
    """Connect to `url` and bring its schema up to date."""
    engine = make_engine(url)
    migrate(engine)
    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
