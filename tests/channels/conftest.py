"""Shared fixtures for the channel tests: one loopback sandbox per test module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from channels.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The module's sandbox, reset before each test."""
    for fake in sandbox_server.fakes.values():
        fake.reset()
    yield sandbox_server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client on the sandbox (admin API and raw Bot API calls)."""
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        yield http
