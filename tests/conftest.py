"""Shared fixtures: the shipped config in a temp folder, a real SQLite database, a frozen clock."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.app import build_app
from bot.clock import FrozenClock
from bot.config import load_config

from bench.harness import drop_pg_database, fresh_pg_database
from tests.pg import DATABASES, create_migrated_template

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def shared_model_cache(tmp_path_factory):
    """Train the shipped model once per test session, not once per test.

    CITYBOT_TEST_MODEL_CACHE (optional) keeps that model across sessions while developing.
    """
    os.environ["CITYBOT_MODEL_CACHE"] = os.environ.get("CITYBOT_TEST_MODEL_CACHE") or str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def pg_template():
    """The URL of a migrated PostgreSQL database each test's database is copied from (None: no server).

    CITYBOT_REQUIRE_POSTGRES=1 (set by CI) turns a missing server into an error, not a skip.
    """
    url = create_migrated_template()
    if url is None and os.environ.get("CITYBOT_REQUIRE_POSTGRES") == "1":
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required (CITYBOT_REQUIRE_POSTGRES=1) but unreachable")
    yield url
    if url is not None:
        drop_pg_database(url)


@pytest.fixture(params=DATABASES)
def database(request, pg_template):
    """The kind of database a test runs on: every test that touches the database runs on both.

    "sqlite" leaves the default (tickets.db beside the config); "postgresql" yields the URL of a
    fresh copy of the migrated template, dropped after the test.
    """
    if request.param == "sqlite":
        yield None
        return
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = fresh_pg_database(template_url=pg_template)
    if url is None:  # the server answered for the template, so this is a failed copy, not "no server"
        pytest.fail(f"could not copy the PostgreSQL template {pg_template}")
    yield url
    drop_pg_database(url)


@pytest.fixture
def config_file(tmp_path, monkeypatch, database) -> Path:
    """A copy of the shipped config.yaml in an empty folder (so tickets.db lands there).

    On the "postgresql" run CITYBOT_DATABASE_URL points at a fresh PostgreSQL database instead;
    subprocesses (the CLI, bots) inherit it.
    """
    monkeypatch.delenv("CITYBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("CITYBOT_CONFIG", raising=False)
    monkeypatch.delenv("CITYBOT_SANDBOX", raising=False)
    if database is not None:
        monkeypatch.setenv("CITYBOT_DATABASE_URL", database)
    target = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", target)
    return target


def pytest_collection_modifyitems(config, items):
    """Tests marked one_database (about the SQLite file, or not about the database) run on SQLite only."""
    deselected = [item for item in items if item.get_closest_marker("one_database")
                  and getattr(item, "callspec", None) and item.callspec.params.get("database") == "postgresql"]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture
def cfg(config_file):
    return load_config(config_file)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))  # a Monday


@pytest.fixture
def app(cfg, clock):
    application = build_app(cfg, clock)
    yield application
    application.engine.dispose()
