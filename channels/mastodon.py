"""The Mastodon adapter, on Mastodon.py 2.x.

Ids: a message's `external_id` is its status id; `in_reply_to` is the status it
answers; `conversation_id` is the id of the thread's root status (the status
itself when it starts a thread). `SendResult.external_id` is the id of the first
status posted. Ids are Mastodon's numeric strings.

Cursor: an opaque JSON string, e.g.
`{"v": 1, "mentions": "117683543406346241", "tags": {"junincidencias": "1176835434..."}}`:
the newest mention notification id and, per followed hashtag (case- and
accent-folded), the newest status id already returned. Each is the next
`min_id`. `None` (a first run) walks the mentions back from the newest to
`backfill` ago (default one day; `None` reads them all from the start) and
reads each hashtag from the snowflake id of that moment; on a first run, posts
older than `backfill` are skipped. A hashtag added later starts the same way.

What `fetch` returns:
- every mention notification (`kind` "mention", or "dm" for a direct status),
  stepping forward with `min_id` and the `Link` headers so nothing is skipped
  or repeated, all pages in one call (at most `max_pages` per source);
- statuses of the configured hashtag timelines (`kind` "public") that do not
  mention the bot (those come as mentions), are not the bot's own and are not
  reblogs. Keywords are kept for the config's sake but not searched: Mastodon
  has no reliable full-text search across instances.
Text is the HTML content as plain text (`channels.html_text`). Mastodon has no
geotags: a "📍 lat,lon" line (what the sandbox writes) or a `geo:lat,lon` URI
becomes `lat`/`lon`. If a page after the first fails, `fetch` returns what it
read with the cursor just past it; an error before any progress is raised.

With `streaming=True` a background `stream_user` listener queues mention
notifications as they happen and `fetch` drains the queue (waiting up to
`timeout` seconds when there is nothing new). Polling remains the fallback: it
runs whenever the stream is down, once after every (re)connection to fill the
gap, when the cursor given is not the one last returned, and every
`resync_seconds` in any case.

Sending: `@acct text` as a reply with the configured visibility (or the parent's,
when that is narrower: a reply to a direct message stays direct), split to the
instance's character limit, each part replying to the previous one. Part n
carries `Idempotency-Key: <key>:<n>`, so a retried delivery never posts twice.
Photos go with the first part (four per status), uploaded with `media_post`.
A reply to a status that no longer exists goes out direct and unthreaded.
A public post (`OutboundMessage.public`, a digest) has no @mention and no parent,
with the configured visibility ("unlisted" when that is "direct"), split and
with photos as a reply is.

Errors: 429 -> RateLimited (seconds to `X-RateLimit-Reset`, at least 1); network
errors and 5xx -> TransientError; other 4xx and unreadable media -> PermanentError.
The access token never appears in logs, reprs or error messages.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon, StreamListener
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonIOError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)

from channels.base import (
    Capabilities,
    ChannelError,
    FetchResult,
    InboundMessage,
    MalformedPayload,
    MediaRef,
    MessageKind,
    OutboundMessage,
    PermanentError,
    RateLimited,
    SendResult,
    TransientError,
)
from channels.common import (
    MAX_HANDLE_LENGTH,
    MAX_ID_LENGTH,
    MAX_LANG_LENGTH,
    brief,
    check_id,
    fitting_prefix,
    need,
    need_list,
    need_object,
    need_str,
    optional_str,
    read_limited,
    sanitize_text,
    write_atomically,
)
from channels.html_text import html_to_text

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARACTERS = 500
URL_LENGTH = 23  # Mastodon counts every URL as 23 characters
MAX_MEDIA = 4
NOTIFICATIONS_PAGE, STATUSES_PAGE = 80, 40
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_QUEUED = 10_000  # streamed notifications kept between two fetches
MAX_CONTEXT_LOOKUPS = 20  # thread-root lookups per fetch
_VISIBILITY_ORDER = ("public", "unlisted", "private", "direct")  # widest first

_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'»]")
_MENTION = r"@\w+(?:[.\-]\w+)*(?:@[\w\-]+(?:\.[\w\-]+)+)?"
_LEADING_MENTIONS = re.compile(rf"^(?:{_MENTION}[\s,:;]*)+")
# Mastodon has no geotags: a "📍 lat,lon" (what the sandbox writes) or a geo: URI.
_PIN = re.compile(r"(?:📍\ufe0f?|\bgeo:)\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)")


# -- plain values and parsing (pure) ----------------------------------------------


def plain(value: Any) -> Any:
    """A JSON-ready copy of a Mastodon.py value (datetimes -> ISO strings, ids -> str)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, str):
        return str.__str__(value)  # drops Mastodon.py's id wrapper
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _id(value: Any, name: str) -> str:
    """A Mastodon id: a non-empty string of ASCII digits (ints are accepted), at most MAX_ID_LENGTH."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedPayload(f"{name} must be an id string, got {brief(value)}")
    if isinstance(value, int) and not 0 <= value < 10**MAX_ID_LENGTH:
        raise MalformedPayload(f"{name} must be a numeric id, got {brief(value)}")
    text = str(value)
    if not text.isascii() or not text.isdigit():
        raise MalformedPayload(f"{name} must be a numeric id, got {brief(text)}")
    return check_id(text, name)


def id_key(value: str) -> tuple[int, str]:
    """Sort key for numeric id strings (longer is newer)."""
    return (len(value), value)


def newest(*ids: str | None) -> str | None:
    present = [i for i in ids if i]
    return max(present, key=id_key) if present else None


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise MalformedPayload(f"created_at must be a timestamp, got {brief(value)}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedPayload(f"created_at must be an ISO 8601 time, got {brief(value)}") from None


def _username(acct: str | None) -> str:
    return (acct or "").lstrip("@").partition("@")[0].casefold()


def mentions_bot(status: dict[str, Any], bot_username: str | None, bot_id: str | None = None) -> bool:
    """True when the status's `mentions` name the bot (by account id, else by local username)."""
    bot = _username(bot_username)
    mentions = status.get("mentions")
    for mention in mentions if isinstance(mentions, list) else []:
        if not isinstance(mention, dict):
            continue
        if bot_id and str(mention.get("id")) == bot_id:
            return True
        acct = str(mention.get("acct") or "")
        if bot and "@" not in acct and acct.casefold() == bot:
            return True
    return False


def clean_text(text: str, bot_username: str | None) -> str:
    """Drop the bot's @mention from the leading run of mentions; keep the others."""
    bot = _username(bot_username)
    match = _LEADING_MENTIONS.match(text)
    if not bot or not match:
        return text.strip()
    kept = [m for m in re.findall(_MENTION, match.group(0)) if _username(m) != bot]
    return " ".join([*kept, text[match.end():].strip()]).strip()


def _location(text: str) -> tuple[str, float | None, float | None]:
    """Take a "📍 lat,lon" (or geo:lat,lon) out of the text, when it is a valid point."""
    match = _PIN.search(text)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if abs(lat) <= 90 and abs(lon) <= 180:
            rest = (text[:match.start()].rstrip() + "\n" + text[match.end():].lstrip()).strip()
            return re.sub(r"\n{3,}", "\n\n", rest), lat, lon
    return text, None, None


def _media(status: dict[str, Any]) -> tuple[MediaRef, ...]:
    refs = []
    for item in need_list(status.get("media_attachments"), "status.media_attachments"):
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        kind = {"image": "photo", "gifv": "video", "video": "video"}.get(str(item.get("type")))
        try:
            ident = _id(item["id"], "media_attachments.id")
        except MalformedPayload:
            continue  # an attachment we cannot fetch; the post itself still counts
        if kind:
            refs.append(MediaRef(kind=kind, remote_id=ident))
    return tuple(refs)


def parse_status(
    status: dict[str, Any],
    *,
    bot_username: str | None,
    kind: MessageKind,
    bot_id: str | None = None,
    conversation_id: str | None = None,
) -> InboundMessage | None:
    """Turn one Status (JSON or Mastodon.py dict) into an InboundMessage, or None to ignore it.

    Ignored: reblogs, the bot's own statuses, and statuses with no text and no
    media. `kind` is the source ("mention" or "public"); a `direct` status is
    always "dm". The text is the content as plain text (spoiler text first),
    without the leading @bot mention and without a "📍 lat,lon" pin, which
    becomes `lat`/`lon`. `conversation_id` defaults to the status id when it
    starts a thread, else to its parent's id (`fetch` passes the thread root).
    Media are MediaRefs without a path (`fetch` downloads them). Raises
    MalformedPayload (naming the field) on a malformed status, and nothing else.
    """
    status = need_object(status, "status")
    status_id = _id(need(status, "id", "status.id"), "status.id")
    account = need_object(need(status, "account", "status.account"), "status.account")
    author_id = _id(need(account, "id", "account.id"), "account.id")
    acct = optional_str(account.get("acct"), "account.acct", MAX_HANDLE_LENGTH)
    if not acct:
        raise MalformedPayload("account.acct is missing or has no printable characters")
    content = need_str(need(status, "content", "status.content"), "status.content")
    created_at = _datetime(need(status, "created_at", "status.created_at"))
    visibility = status.get("visibility") or "public"
    if visibility not in _VISIBILITY_ORDER:
        raise MalformedPayload(f"unknown visibility {brief(visibility)}")
    if status.get("reblog"):
        return None
    if (bot_id and author_id == bot_id) or (
            bot_username and "@" not in acct and acct.casefold() == _username(bot_username)):
        return None

    text = clean_text(sanitize_text(html_to_text(content)), bot_username)
    spoiler = status.get("spoiler_text")
    spoiler = sanitize_text(html_to_text(spoiler)) if isinstance(spoiler, str) else ""
    if spoiler:
        text = f"{spoiler}\n\n{text}".strip()
    text, lat, lon = _location(text)
    media = _media(status)
    if not text and not media and lat is None:
        return None
    parent = status.get("in_reply_to_id")
    parent = _id(parent, "in_reply_to_id") if parent not in (None, "") else None
    language = status.get("language")
    return InboundMessage(
        channel="mastodon",
        external_id=status_id,
        author_id=author_id,
        author_handle=acct,
        text=text,
        kind="dm" if visibility == "direct" else kind,
        conversation_id=conversation_id or parent or status_id,
        in_reply_to=parent,
        lang_hint=optional_str(language, "language", MAX_LANG_LENGTH) if isinstance(language, str) else None,
        created_at=created_at,
        lat=lat,
        lon=lon,
        media=media,
        raw=plain(status),
    )


def parse_notification(
    note: dict[str, Any], *, bot_username: str | None, bot_id: str | None = None
) -> InboundMessage | None:
    """A mention notification's status as an InboundMessage; None for other types.

    Raises MalformedPayload on a malformed notification or status, and nothing else.
    """
    note = need_object(note, "notification")
    _id(need(note, "id", "notification.id"), "notification.id")
    if note.get("type") != "mention":
        return None
    status = note.get("status")
    if not isinstance(status, dict):
        raise MalformedPayload("mention notification without a status")
    return parse_status(status, bot_username=bot_username, kind="mention", bot_id=bot_id)


# -- length and splitting (pure) --------------------------------------------------


def status_length(text: str) -> int:
    """An upper bound of Mastodon's count: code points, URLs at least 23."""
    return len(text) + sum(max(0, URL_LENGTH - len(m.group(0))) for m in _URL.finditer(text))


def split_status(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` (status_length).

    Cuts at the last paragraph break that keeps a part a quarter full, else at a
    line break, else at a space, else hard; never inside a URL when it can cut
    before it. Parts are stripped; a blank text gives [].
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    text = text.strip()
    while text:
        if status_length(text) <= limit:
            parts.append(text)
            break
        fit = max(1, fitting_prefix(text, limit, status_length))
        cut = 0
        for separator in ("\n\n", "\n", " "):
            found = text.rfind(separator, 0, fit + 1)
            if found >= max(1, fit // 4) or (separator == " " and found > 0):
                cut = found
                break
        cut = cut or fit
        for url in _URL.finditer(text):
            if url.start() < cut < url.end() and url.start() > 0:
                cut = url.start()
                break
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts


# -- errors ---------------------------------------------------------------------------


def _status_code(exc: MastodonAPIError) -> int | None:
    code = exc.args[1] if len(exc.args) > 1 else None
    return code if isinstance(code, int) else None


def map_error(exc: BaseException, secret: str = "", reset: float | None = None) -> ChannelError:
    """The ChannelError for a Mastodon.py exception (or an OSError reading media).

    MastodonRatelimitError -> RateLimited until `reset` (epoch seconds; at least
    1 s, 60 s when unknown); network errors, 5xx, 408 and 425 -> TransientError;
    other API errors (401, 404, 422...), bad arguments and unreadable files ->
    PermanentError. `secret` (the token) is scrubbed from the message.
    """
    if isinstance(exc, ChannelError):
        return exc
    text = f"mastodon: {type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "***")
    if isinstance(exc, MastodonRatelimitError):
        wait = 60.0 if reset is None else max(1.0, round(reset - time.time(), 3))
        return RateLimited(wait, "mastodon: too many requests")
    if isinstance(exc, MastodonNetworkError | MastodonServerError):
        return TransientError(text)
    if isinstance(exc, MastodonNotFoundError | MastodonUnauthorizedError):
        return PermanentError(text)
    if isinstance(exc, MastodonAPIError):
        code = _status_code(exc)
        if code in (408, 425) or (code is not None and code >= 500):
            return TransientError(text)
        return PermanentError(text)
    if isinstance(exc, MastodonIllegalArgumentError | MastodonIOError | MastodonVersionError
                  | OSError):
        return PermanentError(text)
    return TransientError(text)  # other MastodonErrors: unreadable answers and the like


# -- the cursor ---------------------------------------------------------------------


def tag_key(tag: str) -> str:
    """How hashtags are compared (and keyed in the cursor): no '#', case- and accent-folded."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", tag.strip().lstrip("#")))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass
class Cursor:
    """Where each source stands: the next `min_id` for mentions and for each hashtag."""

    mentions: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps({"v": 1, "mentions": self.mentions, "tags": dict(sorted(self.tags.items()))},
                          separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> Cursor:
        """Parse a cursor; None gives a fresh one. Raises ValueError when unreadable."""
        if not text:
            return cls()
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a mastodon cursor")
        mentions = data.get("mentions")
        tags = data.get("tags") or {}
        if not isinstance(tags, dict):
            raise ValueError("cursor tags must be an object")
        return cls(_id(mentions, "mentions") if mentions is not None else None,
                   {str(k): _id(v, f"tags.{k}") for k, v in tags.items()})


def snowflake(moment: datetime) -> str:
    """The smallest Mastodon status id of `moment` (milliseconds << 16)."""
    return str(int(moment.timestamp() * 1000) << 16)


# -- streaming ------------------------------------------------------------------------


class _Listener(StreamListener):
    """Queues mention notifications from `stream_user` and tracks whether the stream is up.

    The stream counts as up from the first line the server sends on a new
    connection (Mastodon sends ":)" at once); each new connection bumps `epoch`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()
        self.items: list[dict[str, Any]] = []
        self.up = False
        self.epoch = 0
        self._connecting = False

    def handle_stream(self, response: Any) -> None:
        with self.cond:
            self._connecting = True
        try:
            super().handle_stream(response)
        finally:
            with self.cond:
                self.up = self._connecting = False
                self.cond.notify_all()

    def _alive(self) -> None:
        with self.cond:
            if self._connecting:
                self._connecting, self.up = False, True
                self.epoch += 1
                self.cond.notify_all()

    def handle_heartbeat(self) -> None:
        self._alive()

    def on_any_event(self, name: str, data: Any = None) -> None:
        self._alive()

    def on_notification(self, notification: Any) -> None:
        if isinstance(notification, dict) and notification.get("type") == "mention":
            with self.cond:
                if len(self.items) >= MAX_QUEUED:  # nobody is fetching: let polling catch up
                    self.items.clear()
                    self.epoch += 1
                self.items.append(plain(notification))
                self.cond.notify_all()

    def on_unknown_event(self, name: str, unknown_event: Any = None) -> None:
        pass  # new event types must not break the stream

    def on_abort(self, err: Exception) -> None:
        log.info("mastodon: stream interrupted: %s", type(err).__name__)

    def state(self) -> tuple[bool, int]:
        with self.cond:
            return self.up, self.epoch

    def requeue(self, items: list[dict[str, Any]]) -> None:
        """Put drained notifications back in front of the queue."""
        with self.cond:
            self.items[:0] = items

    def drain(self, timeout: float = 0) -> list[dict[str, Any]]:
        """Take the queued notifications, waiting up to `timeout` s for one while the stream is up."""
        with self.cond:
            if not self.items and timeout > 0 and self.up:
                epoch = self.epoch
                self.cond.wait_for(lambda: self.items or not self.up or self.epoch != epoch,
                                   timeout)
            items, self.items = self.items, []
            return items


class _Lru:
    """A small bounded, thread-safe mapping (status id -> root id or visibility)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None, default: str | None = None) -> str | None:
        with self._lock:
            return self._items.get(key, default) if key is not None else default

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_UNSET = object()


# -- the adapter ------------------------------------------------------------------------


class MastodonChannel:
    """The Mastodon `Channel`. Construction makes no network call.

    `capabilities.max_length` is 500 until the first fetch or send reads the
    instance's `configuration.statuses.max_characters`.
    """

    name = "mastodon"

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str,
        bot_username: str | None = None,
        hashtags: Sequence[str] = (),
        keywords: Sequence[str] = (),
        visibility: str = "unlisted",
        streaming: bool = False,
        media_dir: Path,
        request_timeout: float = 30.0,
        backfill: timedelta | None = timedelta(days=1),
        max_pages: int = 50,
        resync_seconds: float = 300.0,
        stream_timeout: float = 60.0,
        stream_reconnect_wait: float = 5.0,
    ) -> None:
        if visibility not in _VISIBILITY_ORDER:
            raise ValueError(f"visibility must be one of {', '.join(_VISIBILITY_ORDER)}")
        self._token = access_token
        self.base_url = base_url.rstrip("/")
        self.bot_username = bot_username.lstrip("@") if bot_username else None
        self.hashtags = tuple(dict.fromkeys(t.strip().lstrip("#") for t in hashtags if t.strip("# ")))
        self.keywords = tuple(keywords)
        self.visibility = visibility
        self.streaming = streaming
        self.media_dir = Path(media_dir)
        self.backfill = backfill
        self.max_pages = max(1, max_pages)
        self.resync_seconds = resync_seconds
        self.stream_timeout = stream_timeout
        self.stream_reconnect_wait = stream_reconnect_wait
        self.capabilities = Capabilities(max_length=DEFAULT_MAX_CHARACTERS, threads=True, media=True,
                                         idempotency=True)
        self._api = self._client(request_timeout)
        self._files = requests.Session()  # media downloads: no token sent to other hosts
        self._request_timeout = request_timeout
        self._lock = threading.Lock()
        self._bot_id: str | None = None
        self._ready_done = False
        self._closed = False
        self._roots = _Lru()
        self._visibilities = _Lru()
        self._uploads = _Lru(1000)
        # streaming state
        self._listener: _Listener | None = None
        self._stream_api: Mastodon | None = None
        self._stream_handle: Any = None
        self._stream_retry_at = 0.0
        self._polled_epoch = -1
        self._last_poll = 0.0
        self._last_cursor: Any = _UNSET

    def _client(self, timeout: float) -> Mastodon:
        return Mastodon(api_base_url=self.base_url, access_token=self._token,
                        version_check_mode="none", ratelimit_method="throw",
                        request_timeout=timeout)

    def __repr__(self) -> str:  # never show the token
        return f"MastodonChannel(base_url={self.base_url!r}, bot_username={self.bot_username!r})"

    # -- plumbing --

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Call Mastodon.py, mapping its errors to ChannelErrors."""
        if self._closed:
            raise PermanentError("mastodon channel is closed")
        try:
            return function(*args, **kwargs)
        except (MastodonError, OSError) as exc:
            raise map_error(exc, self._token, self._api.ratelimit_reset) from None

    def _ready(self) -> None:
        """Learn the bot account and the instance's character limit, once."""
        if self._closed:
            raise PermanentError("mastodon channel is closed")
        with self._lock:
            if self._ready_done:
                return
            me = self._call(self._api.account_verify_credentials)
            self._bot_id = str(me["id"])
            if not self.bot_username:
                self.bot_username = str(me["acct"])
            limit = self._max_characters()
            self.capabilities = replace(self.capabilities, max_length=limit)
            self._ready_done = True

    def _max_characters(self) -> int:
        for getter in (self._api.instance_v1, self._api.instance_v2):
            try:
                instance = self._call(getter)
            except PermanentError:
                continue  # this instance lacks that endpoint
            try:
                value = int(instance["configuration"]["statuses"]["max_characters"])
            except (KeyError, TypeError, ValueError):
                continue
            if value > 0:
                return value
        return DEFAULT_MAX_CHARACTERS

    def close(self) -> None:
        """Stop the stream and close HTTP sessions. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            handle, self._stream_handle = self._stream_handle, None
        if handle is not None:
            try:
                handle.close()
                handle.join(1.0)
            except Exception:  # closing must not raise
                log.debug("mastodon: error while closing the stream", exc_info=False)
        self._api.session.close()
        if self._stream_api is not None:
            self._stream_api.session.close()
        self._files.close()

    @property
    def stream_up(self) -> bool:
        """True while the streaming connection is established (always False when polling)."""
        return bool(self._listener and self._listener.state()[0])

    # -- fetch --

    def fetch(self, cursor: str | None, timeout: float = 0) -> FetchResult:
        """The posts after `cursor` (see the module docstring for its format).

        Polling mode ignores `timeout`; streaming mode waits up to `timeout` s
        for a streamed mention when nothing else is new. A payload that cannot
        be parsed lands in `rejected`; the cursor still moves past it. Photos
        are saved to `media_dir/mastodon/<attachment id>.<ext>` (path None when
        the download fails).
        """
        try:
            state = Cursor.loads(cursor)
        except (ValueError, TypeError) as exc:
            log.warning("mastodon: unreadable cursor (%s); starting afresh", exc)
            state = Cursor()
        first_run = state.mentions is None
        start = state.dumps()
        self._ready()
        notes, error = self._mentions(state, cursor, timeout)
        messages: list[InboundMessage] = []
        rejected: list[dict[str, Any]] = []
        seen: set[str] = set()
        for note in notes:
            state.mentions = newest(state.mentions, _note_id(note))
            self._take(note, lambda n: parse_notification(
                n, bot_username=self.bot_username, bot_id=self._bot_id), messages, rejected, seen)
        tags_error = self._hashtag_posts(state, messages, rejected, seen) if error is None else None
        error = error or tags_error
        if error is not None and state.dumps() == start:
            raise error  # no progress at all: let the core back off
        if error is not None:
            log.warning("mastodon: partial fetch, will resume: %s", error)
        if first_run and self.backfill is not None:
            since = datetime.now(UTC) - self.backfill
            messages = [m for m in messages if not m.created_at or m.created_at >= since]
        lookups = [MAX_CONTEXT_LOOKUPS]  # /context calls left in this fetch
        messages = [self._with_media(self._with_root(m, lookups)) for m in messages]
        next_cursor = state.dumps()
        self._last_cursor = next_cursor
        return FetchResult(messages=messages, next_cursor=next_cursor, rejected=rejected)

    def _take(self, item: Any, parse: Any, messages: list, rejected: list, seen: set) -> None:
        """Parse one payload into `messages` or `rejected`, once per status id."""
        try:
            message = parse(item)
        except Exception as exc:  # one bad payload must not block the queue
            item_id = item.get("id") if isinstance(item, dict) else None
            log.warning("mastodon: rejected payload %s: %s", item_id, exc)
            rejected.append({"id": str(item_id) if item_id is not None else None,
                             "error": f"{type(exc).__name__}: {exc}", "raw": plain(item)})
            return
        if message is None or message.external_id in seen:
            return
        seen.add(message.external_id)
        visibility = message.raw.get("visibility")
        if isinstance(visibility, str):
            self._visibilities.put(message.external_id, visibility)
        messages.append(message)

    # mentions: polling, and the stream when enabled

    def _mentions(self, state: Cursor, cursor: str | None, timeout: float
                  ) -> tuple[list[dict[str, Any]], ChannelError | None]:
        """Mention notifications after the cursor, oldest first, and the error that cut a poll short."""
        if not self.streaming:
            return self._poll_mentions(state.mentions)
        listener = self._ensure_stream()
        up, epoch = listener.state()
        need_poll = (not up or epoch != self._polled_epoch or cursor != self._last_cursor
                     or time.monotonic() - self._last_poll >= self.resync_seconds)
        streamed = listener.drain(0 if need_poll else timeout)
        polled: list[dict[str, Any]] = []
        error = None
        if need_poll:
            try:
                polled, error = self._poll_mentions(state.mentions)
            except ChannelError:
                listener.requeue(streamed)  # keep them for the next fetch
                raise
            if error is None:
                self._last_poll = time.monotonic()
                if up:
                    self._polled_epoch = epoch
        merged: dict[str, dict[str, Any]] = {}
        for note in polled + streamed:
            note_id = _note_id(note)
            if note_id and (state.mentions is None or id_key(note_id) > id_key(state.mentions)):
                merged.setdefault(note_id, note)
        if error is not None:
            # The poll stopped part-way: moving past what it did not cover could skip posts.
            reach = newest(*(_note_id(n) for n in polled)) or "0"
            later = [n for k, n in merged.items() if id_key(k) > id_key(reach)]
            listener.requeue(later)
            merged = {k: n for k, n in merged.items() if id_key(k) <= id_key(reach)}
        return [merged[k] for k in sorted(merged, key=id_key)], error

    def _poll_mentions(self, min_id: str | None) -> tuple[list[dict[str, Any]], ChannelError | None]:
        if min_id is None and self.backfill is not None:
            return self._recent_mentions(datetime.now(UTC) - self.backfill), None
        return self._pages(
            lambda: self._api.notifications(types=["mention"], min_id=min_id or "0",
                                            limit=NOTIFICATIONS_PAGE),
            NOTIFICATIONS_PAGE)

    def _recent_mentions(self, since: datetime) -> list[dict[str, Any]]:
        """A first run: walk back from the newest mention (Link rel="next") to `since`, oldest first.

        Any error is raised: a partial walk back would leave older posts behind the cursor.
        """
        items: list[dict[str, Any]] = []
        page = self._call(self._api.notifications, types=["mention"], limit=NOTIFICATIONS_PAGE)
        for _ in range(self.max_pages):
            batch = [plain(entry) for entry in page or []]
            items.extend(batch)
            if (len(batch) < NOTIFICATIONS_PAGE or _older_than(batch[-1], since)
                    or getattr(page, "_pagination_next", None) is None):
                break
            page = self._call(self._api.fetch_next, page)
        return sorted(items, key=lambda e: id_key(_note_id(e) or "0"))

    def _pages(self, first: Any, page_size: int) -> tuple[list[dict[str, Any]], ChannelError | None]:
        """All pages from `first()` forward (min_id paging via Link rel="prev"), oldest first.

        An error on the first page is raised; a later one ends the walk and is
        returned with what was read so far.
        """
        items: list[dict[str, Any]] = []
        page = self._call(first)
        for _ in range(self.max_pages):
            batch = [plain(entry) for entry in page or []]
            items.extend(sorted(batch, key=lambda e: id_key(_note_id(e) or "0")))
            if len(batch) < page_size or getattr(page, "_pagination_prev", None) is None:
                break
            try:
                page = self._call(self._api.fetch_previous, page)
            except ChannelError as exc:
                return items, exc
        return items, None

    # hashtags

    def _hashtag_posts(self, state: Cursor, messages: list, rejected: list, seen: set
                       ) -> ChannelError | None:
        """Add each followed hashtag's new public posts; return the error that stopped one."""
        for tag in self.hashtags:
            key = tag_key(tag)
            min_id = state.tags.get(key)
            if min_id is None:
                since = datetime.now(UTC) - (self.backfill or timedelta(days=3650))
                min_id = snowflake(since)
            try:
                statuses, error = self._pages(
                    lambda: self._api.timeline_hashtag(tag, min_id=min_id, limit=STATUSES_PAGE),
                    STATUSES_PAGE)
            except ChannelError as exc:
                return exc
            for status in statuses:
                min_id = newest(min_id, _note_id(status))
                self._take(status, self._parse_public, messages, rejected, seen)
            state.tags[key] = min_id
            if error is not None:
                return error
        return None

    def _parse_public(self, status: dict[str, Any]) -> InboundMessage | None:
        if isinstance(status, dict) and mentions_bot(status, self.bot_username, self._bot_id):
            return None  # it arrives as a mention notification
        return parse_status(status, bot_username=self.bot_username, kind="public",
                            bot_id=self._bot_id)

    # enrichment

    def _with_root(self, message: InboundMessage, lookups: list[int]) -> InboundMessage:
        """Set conversation_id to the thread's root status.

        Known threads come from memory; otherwise `/context` is asked, at most
        `lookups[0]` times per fetch (to spare the rate limit), else the parent stands in.
        """
        if message.in_reply_to is None:
            self._roots.put(message.external_id, message.external_id)
            return message
        root = self._roots.get(message.in_reply_to)
        if root is None and lookups[0] <= 0:
            root = message.in_reply_to
        if root is None:
            lookups[0] -= 1
            try:
                context = self._call(self._api.status_context, message.in_reply_to)
                ancestors = context.get("ancestors") or []
                root = str(ancestors[0]["id"]) if ancestors else message.in_reply_to
            except (ChannelError, KeyError, TypeError, IndexError) as exc:
                log.info("mastodon: no thread root for %s: %s", message.external_id, exc)
                root = message.in_reply_to
        self._roots.put(message.external_id, root)
        return replace(message, conversation_id=root)

    def _with_media(self, message: InboundMessage) -> InboundMessage:
        """Download each photo; keep the ref (path None) when a download fails."""
        if not message.media:
            return message
        urls = {str(a.get("id")): a.get("url") or a.get("remote_url")
                for a in message.raw.get("media_attachments") or [] if isinstance(a, dict)}
        media = []
        for ref in message.media:
            url = urls.get(ref.remote_id or "")
            if ref.kind != "photo" or not url:
                media.append(ref)
                continue
            try:
                media.append(replace(ref, path=str(self._download(ref.remote_id or "x", url))))
            except (OSError, requests.RequestException, ValueError) as exc:
                log.warning("mastodon: could not download %s of %s: %s", ref.kind,
                            message.external_id, type(exc).__name__)
                media.append(ref)
        return replace(message, media=tuple(media))

    def _download(self, media_id: str, url: str) -> Path:
        suffix = Path(urlsplit(url).path).suffix.lower()
        if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
            suffix = ".jpg"
        target = self.media_dir / "mastodon" / f"{re.sub(r'[^0-9A-Za-z_-]', '_', media_id)}{suffix}"
        if target.exists() and target.stat().st_size > 0:
            return target
        with self._files.get(url, timeout=self._request_timeout, stream=True) as response:
            response.raise_for_status()
            data = read_limited(response.iter_content(64 * 1024), MAX_DOWNLOAD_BYTES,
                                "media file too large")
        if not data:
            raise ValueError("empty media file")
        return write_atomically(target, data)

    # streaming

    def _ensure_stream(self) -> _Listener:
        """Start the stream listener once (retrying a failed start later)."""
        with self._lock:
            if self._listener is None:
                self._listener = _Listener()
            listener = self._listener
            if self._stream_handle is not None or time.monotonic() < self._stream_retry_at:
                return listener
            self._stream_api = self._stream_api or self._client(self._request_timeout)
            try:
                self._stream_handle = self._call(
                    self._stream_api.stream_user, listener, run_async=True,
                    timeout=self.stream_timeout, reconnect_async=True,
                    reconnect_async_wait_sec=self.stream_reconnect_wait)
            except ChannelError as exc:
                log.warning("mastodon: streaming unavailable, polling: %s", exc)
                self._stream_retry_at = time.monotonic() + max(1.0, self.stream_reconnect_wait)
            return listener

    # -- send --

    def send(self, message: OutboundMessage) -> SendResult:
        """Post `@acct text` threaded under `in_reply_to` (see the module docstring).

        If a later part fails, the error carries `delivered`: the status ids
        already posted (a retry with the same idempotency key re-finds them).
        """
        self._ready()
        text = message.text.strip()
        paths = tuple(message.media_paths)
        if not text and not paths:
            raise PermanentError("mastodon: nothing to send (empty text, no media)")
        if message.public:
            parent, visibility, handle = self._public_target(message)
        else:
            parent, visibility, handle = self._reply_target(message)
        if not handle and visibility == "direct":
            raise PermanentError("mastodon: a direct reply needs the recipient's handle")
        prefix = f"@{handle} " if handle else ""
        room = self.capabilities.max_length - status_length(prefix)
        if room < 1:
            raise PermanentError("mastodon: the recipient's handle leaves no room for text")
        parts = split_status(text, room) or [""]
        media_groups = [paths[i:i + MAX_MEDIA] for i in range(0, len(paths), MAX_MEDIA)]
        parts += [""] * (len(media_groups) - len(parts))
        delivered: list[str] = []
        previous = parent
        try:
            for index, part in enumerate(parts, 1):
                if index <= message.skip_parts:  # posted by an earlier attempt
                    continue
                group = media_groups[index - 1] if index <= len(media_groups) else ()
                media_ids = [self._upload(path, message.idempotency_key) for path in group]
                key = f"{message.idempotency_key}:{index}" if message.idempotency_key else None
                status = self._call(self._api.status_post, (prefix + part).strip(),
                                    in_reply_to_id=previous, visibility=visibility,
                                    idempotency_key=key, media_ids=media_ids or None)
                status_id = str(status["id"])
                delivered.append(status_id)
                self._visibilities.put(status_id, visibility)
                self._roots.put(status_id, self._roots.get(previous, previous) if previous
                                else status_id)
                previous = status_id
        except ChannelError as error:
            error.delivered = tuple(delivered)  # type: ignore[attr-defined]
            raise
        return SendResult(external_id=delivered[0], extra_ids=tuple(delivered[1:]))

    def _reply_target(self, message: OutboundMessage) -> tuple[str | None, str, str]:
        """(parent, visibility, handle) of a reply: never wider than the parent; gone -> direct."""
        parent = message.in_reply_to or None
        if parent is not None and not str(parent).isdigit():
            raise PermanentError(f"mastodon: bad in_reply_to {parent!r}")
        visibility = self.visibility
        if parent is not None:
            parent_visibility = self._visibility_of(parent)
            if parent_visibility is None:  # the post is gone: answer privately, unthreaded
                parent, visibility = None, "direct"
            else:
                visibility = max(visibility, parent_visibility, key=_VISIBILITY_ORDER.index)
        return parent, visibility, (message.recipient_handle or "").strip().lstrip("@")

    def _public_target(self, message: OutboundMessage) -> tuple[str | None, str, str]:
        """(parent, visibility, handle) of a public post: no parent (a resumed one goes on under
        `in_reply_to`, its last part), the configured visibility ("unlisted" for "direct"), no @."""
        parent = (message.in_reply_to or None) if message.skip_parts else None
        if parent is not None and not str(parent).isdigit():
            raise PermanentError(f"mastodon: bad in_reply_to {parent!r}")
        return parent, "unlisted" if self.visibility == "direct" else self.visibility, ""

    def _visibility_of(self, status_id: str) -> str | None:
        """The visibility of a status (cached), None when it no longer exists."""
        known = self._visibilities.get(status_id)
        if known:
            return known
        try:
            status = self._api.status(status_id)
        except MastodonNotFoundError:
            log.info("mastodon: status %s is gone", status_id)
            return None
        except (MastodonError, OSError) as exc:
            raise map_error(exc, self._token, self._api.ratelimit_reset) from None
        visibility = str(status.get("visibility") or "public")
        self._visibilities.put(status_id, visibility)
        return visibility if visibility in _VISIBILITY_ORDER else "direct"

    def _upload(self, path: str, key: str | None) -> str:
        """media_post one file (once per idempotency key and path)."""
        cache_key = f"{key}|{path}" if key else None
        cached = self._uploads.get(cache_key)
        if cached:
            return cached
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise PermanentError(f"mastodon: cannot read media {Path(path).name}: "
                                 f"{type(exc).__name__}") from None
        mime = _image_mime(data) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        media = self._call(self._api.media_post, data, mime_type=mime, file_name=Path(path).name)
        media_id = str(media["id"])
        if cache_key:
            self._uploads.put(cache_key, media_id)
        return media_id


def _note_id(item: Any) -> str | None:
    value = item.get("id") if isinstance(item, dict) else None
    return str(value) if value is not None and str(value).isdigit() else None


def _older_than(item: dict[str, Any], since: datetime) -> bool:
    """True when a notification was created before `since` (False when its time is unreadable)."""
    try:
        return _datetime(item.get("created_at")) < since
    except (TypeError, ValueError):
        return False


def _image_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


__all__ = [
    "Cursor",
    "MastodonChannel",
    "clean_text",
    "map_error",
    "mentions_bot",
    "parse_notification",
    "parse_status",
    "plain",
    "split_status",
    "status_length",
]
