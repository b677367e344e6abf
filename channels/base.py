"""The channel interface: what every platform adapter offers the core.

Adapters are thin. They turn platform payloads into `InboundMessage` values and
`OutboundMessage` values into API calls. They never touch the database: the core
owns cursors, idempotency, tickets and the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

MessageKind = Literal["mention", "dm", "public"]


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do with a reply."""

    max_length: int
    threads: bool = True
    media: bool = True
    idempotency: bool = False


@dataclass(frozen=True)
class MediaRef:
    """A photo (or other file) attached to a citizen's post, already saved locally."""

    kind: str
    path: str | None = None
    remote_id: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One citizen post, in platform-neutral form.

    `external_id` is unique per channel. `in_reply_to` is the external id of the
    post this one answers (a citizen's earlier post or one of the bot's replies).
    `conversation_id` is where a reply goes (a Telegram chat id, an X conversation).
    """

    channel: str
    external_id: str
    author_id: str
    author_handle: str | None
    text: str
    kind: MessageKind = "mention"
    conversation_id: str | None = None
    in_reply_to: str | None = None
    lang_hint: str | None = None
    created_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    media: tuple[MediaRef, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundMessage:
    """One reply to deliver. `idempotency_key` is stable across retries of one outbox row."""

    channel: str
    recipient_id: str
    text: str
    conversation_id: str | None = None
    recipient_handle: str | None = None
    in_reply_to: str | None = None
    media_paths: tuple[str, ...] = ()
    idempotency_key: str | None = None
    # A post to everyone (a digest): no mention, no thread; `recipient_id` is then the target chat, if any.
    public: bool = False
    # Telegram inline keyboard, one row: ((label, callback data), ...). Other platforms ignore it.
    buttons: tuple[tuple[str, str], ...] = ()
    # Parts of a split reply an earlier attempt already posted: the adapter sends only the rest,
    # threaded under `in_reply_to` (then the last part posted). Photos count as parts where they are posts.
    skip_parts: int = 0
    # An earlier attempt may have been accepted by the platform without the bot recording it (the
    # process died mid-send). Adapters whose API can read the bot's own posts look before posting.
    maybe_sent: bool = False


@dataclass(frozen=True)
class FetchResult:
    """Messages fetched from one cursor position, and the cursor that follows them.

    The core commits the messages first and only then stores `next_cursor`, so a
    crash between the two re-fetches instead of skipping.
    """

    messages: list[InboundMessage]
    next_cursor: str | None
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SendResult:
    """The platform's id for a delivered reply (the first one, if it was split)."""

    external_id: str
    extra_ids: tuple[str, ...] = ()


class ChannelError(Exception):
    """A platform call failed. Subclasses tell the core whether to retry."""


class RateLimited(ChannelError):
    """The platform asked us to wait `retry_after` seconds."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (retry after {retry_after:g}s)")
        self.retry_after = float(retry_after)


class TransientError(ChannelError):
    """A network error or a 5xx: retry later with backoff."""


class PermanentError(ChannelError):
    """The platform refused the call for good (bad request, forbidden): do not retry."""


class MalformedPayload(ValueError):
    """A platform payload a parser cannot read. The message names the bad field.

    The one rejection form of every adapter's pure parser (`parse_update`, `parse_tweet`,
    `parse_dm_event`, `parse_status`, `parse_notification`): they return an
    `InboundMessage`, None for a payload the bot ignores, or raise this.
    """


class Channel(Protocol):
    """A platform adapter. Construction makes no network call."""

    name: str
    capabilities: Capabilities

    def fetch(self, cursor: str | None, timeout: float = 0) -> FetchResult:
        """Return the posts after `cursor`. `timeout` allows long polling."""
        ...

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one reply, threaded under `message.in_reply_to` when given."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
