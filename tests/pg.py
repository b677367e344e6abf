"""PostgreSQL databases for tests: one migrated template per session, a fresh copy per test."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get("CITYBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# CITYBOT_TEST_DATABASES=sqlite runs only the SQLite half (quicker while developing).
DATABASES = [kind for kind in os.environ.get("CITYBOT_TEST_DATABASES", "sqlite,postgresql").split(",") if kind]


def pg_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def create_migrated_template() -> str | None:
    """Create and migrate a template database; its name, or None when the server is unreachable."""
    from bot.db import open_database

    name = f"citybot_tpl_{uuid.uuid4().hex[:10]}"
    try:
        admin(f'CREATE DATABASE "{name}"')
    except Exception:  # noqa: BLE001 - no server: PostgreSQL tests skip (or fail under CI)
        return None
    open_database(pg_url(name)).dispose()
    return name


def copy_database(template: str) -> str:
    name = f"citybot_t_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
