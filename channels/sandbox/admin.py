"""Admin API input shared by every platform fake: validated inbound posts and faults.

The contract fixes these bodies for all platforms, so each fake validates them
the same way and answers 400 with `{"error": ...}` naming the first problem.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.sandbox.web import Request, Response

KINDS = ("mention", "dm", "public")
FAULT_STATUSES = (429, 500, 503)


class AdminError(Exception):
    """An admin API error answer: HTTP `status` with `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class InboundPost:
    """A validated `POST /_sandbox/{platform}/inbound` body. `reply_to` is left as given."""

    user: str
    text: str
    kind: str = "mention"
    lang: str | None = None
    lat: float | None = None
    lon: float | None = None
    photo: bool = False
    reply_to: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> InboundPost:
        """Validate the body; raise AdminError(400) naming the first problem."""
        if not isinstance(body, dict):
            raise AdminError(400, "inbound body must be a JSON object")
        user = body.get("user")
        if not isinstance(user, str) or not user.strip().lstrip("@"):
            raise AdminError(400, "'user' is required: a non-empty string")
        text = body.get("text")
        if not isinstance(text, str):
            raise AdminError(400, "'text' is required: a string")
        kind = body.get("kind") or "mention"
        if kind not in KINDS:
            raise AdminError(400, f"'kind' must be one of {', '.join(KINDS)}")
        lang = body.get("lang")
        if lang is not None and not isinstance(lang, str):
            raise AdminError(400, "'lang' must be a string such as \"es\"")
        lat, lon = body.get("lat"), body.get("lon")
        if (lat is None) != (lon is None):
            raise AdminError(400, "'lat' and 'lon' go together")
        if lat is not None:
            for key, value, bound in (("lat", lat, 90), ("lon", lon, 180)):
                if not _is_number(value) or abs(value) > bound:
                    raise AdminError(400, f"'{key}' must be a number within ±{bound}")
        photo = body.get("photo", False)
        if not isinstance(photo, bool):
            raise AdminError(400, "'photo' must be true or false")
        if not text.strip() and not photo and lat is None:
            raise AdminError(400, "'text' is empty (send text, a photo or a location)")
        reply_to = body.get("reply_to")
        if reply_to is not None and (isinstance(reply_to, bool)
                                     or not isinstance(reply_to, str | int)):
            raise AdminError(400, "'reply_to' must be a message id")
        return cls(
            user=user.strip().lstrip("@"),
            text=text,
            kind=kind,
            lang=lang or None,
            lat=float(lat) if lat is not None else None,
            lon=float(lon) if lon is not None else None,
            photo=photo,
            reply_to=str(reply_to) if reply_to not in (None, "") else None,
        )


@dataclass
class Fault:
    """The next `count` platform API calls fail with `status` (429 carries `retry_after`).

    Sandbox extensions (for the fault benchmark): `status` may be a list, each failure then
    picks one of them; `rate` (0 < rate <= 1) makes each call fail with that probability
    until `count` failures have happened; `seed` makes those draws repeatable.
    `GET /_sandbox/{platform}/faults` shows the current fault and how many failures it `injected`.
    """

    status: int
    count: int
    retry_after: int = 1
    rate: float = 1.0
    statuses: tuple[int, ...] = ()
    rng: random.Random = field(default_factory=random.Random, repr=False)
    injected: int = 0  # failures served so far

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        """Validate a `POST /_sandbox/{platform}/faults` body; AdminError(400) if bad."""
        if not isinstance(body, dict):
            raise AdminError(400, "faults body must be a JSON object")
        status, count = body.get("status"), body.get("count", 1)
        retry_after, rate, seed = body.get("retry_after", 1), body.get("rate", 1), body.get("seed")
        statuses = tuple(status) if isinstance(status, list) and status else (status,)
        if any(isinstance(s, bool) or s not in FAULT_STATUSES for s in statuses):
            raise AdminError(400, "'status' must be 429, 500 or 503 (or a list of them)")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise AdminError(400, "'count' must be a non-negative integer")
        if not _is_number(retry_after) or retry_after <= 0:
            raise AdminError(400, "'retry_after' must be a positive number of seconds")
        if not _is_number(rate) or not 0 < rate <= 1:
            raise AdminError(400, "'rate' must be a number above 0 and at most 1")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise AdminError(400, "'seed' must be an integer")
        return cls(statuses[0], count, math.ceil(retry_after), float(rate),
                   statuses if len(statuses) > 1 else (), random.Random(seed))

    def as_json(self) -> dict[str, Any]:
        return {"status": list(self.statuses) if self.statuses else self.status, "count": self.count,
                "retry_after": self.retry_after, "rate": self.rate, "injected": self.injected}

    def take(self) -> bool:
        """Use up one failure (at `rate`, picking its status); False when this call goes through."""
        if self.count <= 0:
            return False
        if self.rate < 1 and self.rng.random() >= self.rate:
            return False
        self.count -= 1
        self.injected += 1
        if self.statuses:
            self.status = self.rng.choice(self.statuses)
        return True


def dispatch(platform: str, routes: dict[tuple[str, str], Callable[[Request], Any]],
             request: Request, action: str) -> Response:
    """Serve `/_sandbox/{platform}/{action}` from `routes`, keyed by (method, action).

    An action known under another method answers 405, an unknown one 404; the
    handler's value is sent as JSON and an AdminError as its status and message.
    """
    handler = routes.get((request.method, action))
    if handler is None:
        if any(a == action for _, a in routes):
            return Response.error(405, f"method {request.method} not allowed on {action}")
        return Response.error(404, f"unknown {platform} admin action '{action}'")
    try:
        return Response.json(handler(request))
    except AdminError as exc:
        return Response.error(exc.status, str(exc))


def _skip(request: Request) -> int:
    value = request.params().get("after", "0")
    if not value.isdigit():
        raise AdminError(400, f"after must be a whole number, got {value!r}")
    return int(value)


class ContractAdmin:
    """The admin API every fake serves alike: the contract's routes over its `_inbound`/`_sent` records.

    A fake sets `name`, `_inbound`, `_sent` and `_records_lock` (its state lock), implements
    `_admin_inbound`, `_admin_faults`, `_admin_raw` and `reset`, and may add routes in
    `_extra_admin_routes`.
    """

    name: str

    def admin(self, action: str, request: Request) -> Response:
        """Serve `/_sandbox/{name}/{action}`."""
        routes = {
            ("POST", "inbound"): self._admin_inbound,
            ("GET", "inbound"): lambda r: self.inbound(),
            ("GET", "sent"): lambda r: self.sent(_skip(r)),
            ("POST", "faults"): self._admin_faults,
            ("GET", "faults"): lambda r: self._fault.as_json() if getattr(self, "_fault", None) else {"count": 0, "injected": 0},
            ("POST", "reset"): lambda r: self.reset() or {"ok": True},
            ("POST", "raw"): self._admin_raw,
            **self._extra_admin_routes(),
        }
        return dispatch(self.name, routes, request, action)

    def _extra_admin_routes(self) -> dict[tuple[str, str], Callable[[Request], Any]]:
        return {}

    def inbound(self) -> list[dict[str, Any]]:
        """The citizen posts made through the admin API, oldest first."""
        with self._records_lock:
            return [dict(r) for r in self._inbound]

    def sent(self, skip: int = 0) -> list[dict[str, Any]]:
        """Everything the bot posted, oldest first; `?after=N` leaves out the first N (for polling)."""
        with self._records_lock:
            return [dict(r) for r in self._sent[skip:]]
