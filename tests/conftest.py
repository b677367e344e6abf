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

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def shared_model_cache(tmp_path_factory):
    """Train the shipped model once per test session, not once per test.

    CITYBOT_TEST_MODEL_CACHE (optional) keeps that model across sessions while developing.
    """
    os.environ["CITYBOT_MODEL_CACHE"] = os.environ.get("CITYBOT_TEST_MODEL_CACHE") or str(tmp_path_factory.mktemp("models"))


@pytest.fixture
def config_file(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped config.yaml in an empty folder (so tickets.db lands there)."""
    monkeypatch.delenv("CITYBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("CITYBOT_CONFIG", raising=False)
    monkeypatch.delenv("CITYBOT_SANDBOX", raising=False)
    target = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", target)
    return target


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
