"""Helpers shared by the channel tests: one platform's sandbox admin API, a free port."""

from __future__ import annotations

import socket
from typing import Any

import httpx


class SandboxAdmin:
    """`/_sandbox/{platform}/...` calls that assert they succeeded."""

    def __init__(self, platform: str) -> None:
        self.prefix = f"/_sandbox/{platform}"

    def post(self, client: httpx.Client, **body) -> str:
        """A citizen post (POST inbound); its id."""
        return self._create(client, "inbound", body)

    def raw(self, client: httpx.Client, **body) -> str:
        """A raw platform object (POST raw); its id."""
        return self._create(client, "raw", body)

    def sent(self, client: httpx.Client) -> list[dict]:
        """Everything the bot posted."""
        return client.get(f"{self.prefix}/sent").json()

    def fault(self, client: httpx.Client, **body) -> None:
        """Make the next platform API calls fail (POST faults)."""
        assert client.post(f"{self.prefix}/faults", json=body).status_code == 200

    def _create(self, client: httpx.Client, action: str, body: dict[str, Any]) -> str:
        response = client.post(f"{self.prefix}/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()["id"]


def only(channel, cursor: str | None = None):
    """The one message a fetch from `cursor` returns."""
    result = channel.fetch(cursor)
    (message,) = result.messages
    return message


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
