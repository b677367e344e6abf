"""PostgreSQL databases for tests: one migrated template per session, a fresh copy per test.

Databases are made and dropped by bench.harness (`CITYBOT_BENCH_PG` names the server).
"""

from __future__ import annotations

import os

from bench.harness import fresh_pg_database

# CITYBOT_TEST_DATABASES=sqlite runs only the SQLite half (quicker while developing).
DATABASES = [kind for kind in os.environ.get("CITYBOT_TEST_DATABASES", "sqlite,postgresql").split(",") if kind]


def create_migrated_template() -> str | None:
    """A new, migrated database's URL, or None when the server is unreachable."""
    from bot.db import open_database

    url = fresh_pg_database()
    if url is not None:
        open_database(url).dispose()
    return url
