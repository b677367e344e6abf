"""A loopback fake of the Mastodon REST and streaming APIs, plus its half of the sandbox admin API.

REST (what Mastodon.py 2.x calls), with Mastodon's JSON shapes and errors:

- `GET /api/v1/instance[/]` (`configuration.statuses.max_characters`, `urls.streaming_api`
  pointing back at this sandbox); `/api/v2/instance` answers 404, as on older instances.
- `GET /api/v1/accounts/verify_credentials`: the bot account.
- `GET /api/v1/notifications` (`types[]`, `exclude_types[]`, `min_id`, `max_id`,
  `since_id`, `limit` 40 by default, 80 at most) and `GET /api/v1/notifications/{id}`.
- `GET /api/v1/timelines/tag/{tag}` (public statuses only; limit 20, at most 40).
- `POST /api/v1/statuses` (form or JSON; `Idempotency-Key` honoured for an hour),
  `GET /api/v1/statuses/{id}` and `/context`.
- `POST /api/v1/media`, `POST /api/v2/media` (multipart `file`), `GET /api/v1/media/{id}`;
  files are served at `/system/media_attachments/files/...`.
- `GET /api/v1/streaming/user` (also `/user/notification` and `?stream=user`) as
  Server-Sent Events: `:)` on connect, `event: notification` for each new mention,
  `:thump` heartbeats. `GET /api/v1/streaming/health` answers `OK`.

Paging is Mastodon's: newest first; `max_id` gives older items, `since_id` the
newest items above it, `min_id` the items immediately after it (still newest
first). A non-empty page carries `Link: <...max_id=LAST>; rel="next", <...min_id=FIRST>; rel="prev"`.

Status `content` is HTML as an instance renders it: `<p>` per paragraph, `<br />`
per line, h-card mention spans, hashtag and URL links, entities escaped.

Every API call needs `Authorization: Bearer <any token>` (the instance endpoints
and media files excepted); every token is the bot account (acct `villajun`).

Admin (`/_sandbox/mastodon/...`): POST inbound, GET inbound, GET sent (the contract's
fields, `text` being the plain text the bot posted with its leading `@acct`, plus
`visibility`; a public post and the rest of its thread have `to_user` null; `media`
has one "photo" per attached file), POST faults, POST reset, and sandbox-only extras: POST raw (store any JSON object as the bot's
next notification), GET/POST stream (`{"up": false}` cuts every open stream and
refuses new ones with 503 until `{"up": true}`; GET also counts open streams).

Inbound kinds: `mention` is a public status starting with `@villajun`; `dm` is a
`direct` status mentioning the bot; `public` is a public status without the
mention, which shows only in the tag timeline (`#JunIncidencias` is appended when
the text carries no hashtag). A reply to another citizen's status starts with that
citizen's `@acct`, and a reply to a direct status is direct, as Mastodon's web
composer does. Mastodon has no geotags: `lat`/`lon` become a last line
`📍 <lat>,<lon>` of the text (the inbound listing keeps them as numbers). `photo`
attaches a generated PNG. A `user` like `ana@other.example` is a remote account.

Faults: `{"status": 429|500|503, "count": N, "retry_after"?: S}` fails the next N
API calls (not media files or streams); 429 carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining: 0` and an ISO 8601 `X-RateLimit-Reset`, with
`{"error": "Too many requests"}`. `{"status": "drop_response", "count": N}` makes
the next N `POST /api/v1/statuses` post the status and then close the
connection without answering.

Ids: numeric strings. Status, media and notification ids are snowflakes
(milliseconds << 16, kept strictly increasing), so a restarted sandbox never
reuses one and a datetime-derived `min_id` works as on a real instance. Account
ids are stable per acct. Thread-safe: one lock, with a Condition for streams.
"""

from __future__ import annotations

import functools
import html
import json
import re
import threading
import time
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from channels.sandbox.admin import AdminError, Fault, InboundPost
from channels.sandbox.admin import ContractAdmin
from channels.sandbox.images import make_png, png_size
from channels.sandbox.web import BadInput, Request, Response, Upload

BOT_ACCT = "villajun"
BOT_DISPLAY_NAME = "Ayuntamiento de Villajún"
DEFAULT_HASHTAG = "JunIncidencias"
MAX_CHARACTERS = 500
MAX_MEDIA = 4
URL_LENGTH = 23  # every URL counts this many characters, as on Mastodon
NOTIFICATION_LIMITS = (40, 80)  # (default, max)
STATUS_LIMITS = (20, 40)
IDEMPOTENCY_SECONDS = 3600
RATE_LIMIT, RATE_WINDOW = 300, 300
VISIBILITIES = ("public", "unlisted", "private", "direct")
FAULT_ERRORS = {
    500: "Internal Server Error",
    503: "There was a temporary problem serving your request, please try again",
}
PHOTO_SIZE = (320, 240)

_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'»]")
_MENTION = re.compile(r"(?<![\w/@])@(\w+(?:[.-]\w+)*)(?:@([\w-]+(?:\.[\w-]+)+))?", re.UNICODE)
_HASHTAG = re.compile(r"(?<![\w/&#])#(\w*[^\W\d_]\w*)", re.UNICODE)
_TOKENS = re.compile(
    rf"(?P<url>{_URL.pattern})"
    r"|(?<![\w/@])@(?P<user>\w+(?:[.-]\w+)*)(?:@(?P<domain>[\w-]+(?:\.[\w-]+)+))?"
    r"|(?<![\w/&#])#(?P<tag>\w*[^\W\d_]\w*)"
)


def account_id_for(acct: str) -> str:
    """A stable numeric account id for an acct (case-insensitive)."""
    return str(109_000_000_000_000_000 + zlib.crc32(acct.lower().encode("utf-8")))


def create_fake() -> MastodonFake:
    """The registry hook used by `channels.sandbox.server.default_fakes`."""
    return MastodonFake()


def normalize_tag(tag: str) -> str:
    """How Mastodon compares hashtags: NFKC, case- and accent-insensitive."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", tag.lstrip("#")))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def status_length(text: str) -> int:
    """Mastodon's count: URLs are 23 characters, `@user@domain` counts as `@user`."""
    text = _URL.sub("x" * URL_LENGTH, text)
    text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    return len(text)


def _iso(moment: datetime) -> str:
    """Mastodon's timestamp format: 2025-05-01T12:34:56.789Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=64)
def _cached_png(seed: int) -> bytes:
    return make_png(*PHOTO_SIZE, seed)


# -- responses ---------------------------------------------------------------------


@dataclass
class StreamResponse(Response):
    """A long-lived body (SSE): the server writes `stream` chunk by chunk."""

    stream: Iterator[bytes] | None = None


@dataclass
class DroppedResponse(Response):
    """No answer at all: the server closes the connection without writing."""

    drop: bool = True


class ApiError(Exception):
    """A Mastodon API error answer: HTTP `status` with `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _not_found() -> ApiError:
    return ApiError(404, "Record not found")


# -- stored objects ------------------------------------------------------------------


@dataclass
class Media:
    id: int
    data: bytes
    content_type: str
    width: int
    height: int
    description: str | None = None


@dataclass
class Status:
    id: int
    acct: str
    text: str  # the plain text the author wrote; `content` is rendered from it
    visibility: str
    created_at: datetime
    in_reply_to_id: int | None = None
    language: str | None = None
    media_ids: list[int] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # accts, in order of appearance
    tags: list[str] = field(default_factory=list)  # as written, without '#'
    application: str | None = "Web"


@dataclass
class Notification:
    id: int
    status_id: int | None
    created_at: datetime
    raw: dict[str, Any] | None = None  # set for notifications stored with POST raw


def _mentioned_accts(text: str) -> list[str]:
    """The accts mentioned in `text`, in order, without duplicates (case-insensitive)."""
    seen: dict[str, str] = {}
    for match in _MENTION.finditer(text):
        acct = match.group(1) if not match.group(2) else f"{match.group(1)}@{match.group(2)}"
        seen.setdefault(acct.lower(), acct)
    return list(seen.values())


def _hashtags(text: str) -> list[str]:
    seen: dict[str, str] = {}
    for match in _HASHTAG.finditer(text):
        seen.setdefault(normalize_tag(match.group(1)), match.group(1))
    return list(seen.values())


class MastodonFake(ContractAdmin):
    """The Mastodon platform fake. See the module docstring for what it serves."""

    name = "mastodon"
    prefixes = ("/api/v1/", "/api/v2/", "/system/media_attachments/")

    def __init__(
        self,
        bot_acct: str = BOT_ACCT,
        *,
        max_characters: int = MAX_CHARACTERS,
        default_hashtag: str = DEFAULT_HASHTAG,
        heartbeat: float = 15.0,
        idempotency_seconds: float = IDEMPOTENCY_SECONDS,
    ) -> None:
        self.bot_acct = bot_acct
        self.max_characters = max_characters
        self.default_hashtag = default_hashtag.lstrip("#")
        self.heartbeat = heartbeat
        self.idempotency_seconds = idempotency_seconds
        self._cond = threading.Condition(threading.Lock())
        self._records_lock = self._cond
        self._last_id = 0
        self._closed = False
        self._epoch = 0  # bumped by reset: open streams end
        self._stream_generation = 0  # bumped when streams are cut
        self._streams_up = True
        self._stream_clients = 0
        self._clear()

    def _clear(self) -> None:
        self._statuses: dict[int, Status] = {}
        self._notifications: list[Notification] = []
        self._media: dict[int, Media] = {}
        self._idempotency: dict[tuple[str, str], tuple[int, float]] = {}
        self._inbound: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._fault: Fault | None = None
        self._drops = 0
        self._rate = (0.0, 0)  # (window start, calls in it)

    # -- lifecycle (PlatformFake) ---------------------------------------------

    def reset(self) -> None:
        """Forget statuses, notifications, media, sent, faults; end open streams. Ids keep growing."""
        with self._cond:
            self._clear()
            self._epoch += 1
            self._streams_up = True
            self._cond.notify_all()

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _new_id(self) -> int:
        """A snowflake id: milliseconds << 16, strictly increasing (caller holds the lock)."""
        self._last_id = max(self._last_id + 1, int(time.time() * 1000) << 16)
        return self._last_id

    # -- API dispatch -------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve a Mastodon API call, a media file or a stream."""
        base = _base_url(request)
        path = request.path
        if path.startswith("/system/media_attachments/"):
            return self._file(path)
        if path == "/api/v1/streaming/health":
            return Response(200, b"OK", "text/plain; charset=utf-8")
        if path.startswith("/api/v1/streaming"):
            return self._stream(request, base)
        fault = self._take_fault()
        if fault is not None:
            return fault
        try:
            response = self._route(request, base)
        except ApiError as exc:
            response = Response.error(exc.status, exc.message)
        except BadInput as exc:
            response = Response.error(400, str(exc))
        if not isinstance(response, DroppedResponse):
            response.headers.update(self._rate_headers())
        return response

    def _route(self, request: Request, base: str) -> Response:
        method, path = request.method, request.path.rstrip("/")
        if path == "/api/v1/instance" and method == "GET":
            return Response.json(self._instance(request, base))
        if path.startswith("/api/v2/instance"):
            raise _not_found()
        self._authorize(request)
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/api/v1/accounts/verify_credentials", self._verify_credentials),
            ("GET", r"/api/v1/notifications", self._list_notifications),
            ("GET", r"/api/v1/notifications/(\d+)", self._get_notification),
            ("GET", r"/api/v1/timelines/tag/([^/]+)", self._tag_timeline),
            ("POST", r"/api/v1/statuses", self._post_status),
            ("GET", r"/api/v1/statuses/(\d+)", self._get_status),
            ("GET", r"/api/v1/statuses/(\d+)/context", self._context),
            ("POST", r"/api/v[12]/media", self._post_media),
            ("GET", r"/api/v1/media/(\d+)", self._get_media),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(request, base, *match.groups())
        raise ApiError(404, "Not Found")

    def _authorize(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        if not re.fullmatch(r"Bearer \S+", auth.strip()):
            raise ApiError(401, "The access token is invalid")

    def _take_fault(self) -> Response | None:
        with self._cond:
            fault = self._fault
            if fault is None or not fault.take():
                return None
        if fault.status == 429:
            reset = datetime.now(UTC) + timedelta(seconds=fault.retry_after)
            response = Response.error(429, "Too many requests")
            response.headers.update({
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            })
            return response
        return Response.error(fault.status, FAULT_ERRORS[fault.status])

    def _rate_headers(self) -> dict[str, str]:
        """Mastodon's rate-limit headers on every API answer (counted, never enforced)."""
        now = time.time()
        with self._cond:
            start, calls = self._rate
            if now - start >= RATE_WINDOW:
                start, calls = now - now % RATE_WINDOW, 0
            self._rate = (start, calls + 1)
        reset = datetime.fromtimestamp(start + RATE_WINDOW, UTC)
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - calls - 1)),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    # -- JSON shapes (caller holds the lock) --------------------------------------

    def _account(self, acct: str, base: str) -> dict[str, Any]:
        username, _, domain = acct.partition("@")
        home = f"https://{domain}" if domain else base
        is_bot = acct.lower() == self.bot_acct.lower()
        return {
            "id": account_id_for(acct),
            "username": username,
            "acct": acct,
            "display_name": BOT_DISPLAY_NAME if is_bot else username[:1].upper() + username[1:],
            "locked": False,
            "bot": is_bot,
            "discoverable": True,
            "group": False,
            "created_at": "2024-01-15T00:00:00.000Z",
            "note": "<p>Servicio de incidencias del Ayuntamiento</p>" if is_bot else "",
            "url": f"{home}/@{username}",
            "uri": f"{home}/users/{username}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": sum(1 for s in self._statuses.values() if s.acct == acct),
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }

    def _media_json(self, media: Media, base: str) -> dict[str, Any]:
        ext = ".png" if media.content_type == "image/png" else ".jpg"
        folder = f"{base}/system/media_attachments/files/{media.id}"
        aspect = round(media.width / media.height, 3) if media.height else 1
        return {
            "id": str(media.id),
            "type": "image",
            "url": f"{folder}/original{ext}",
            "preview_url": f"{folder}/small{ext}",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {
                "original": {"width": media.width, "height": media.height,
                             "size": f"{media.width}x{media.height}", "aspect": aspect},
                "small": {"width": media.width, "height": media.height,
                          "size": f"{media.width}x{media.height}", "aspect": aspect},
            },
            "description": media.description,
            "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
        }

    def _status(self, status: Status, base: str) -> dict[str, Any]:
        username, _, domain = status.acct.partition("@")
        home = f"https://{domain}" if domain else base
        parent = self._statuses.get(status.in_reply_to_id) if status.in_reply_to_id else None
        return {
            "id": str(status.id),
            "created_at": _iso(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": account_id_for(parent.acct) if parent else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"{home}/users/{username}/statuses/{status.id}",
            "url": f"{home}/@{username}/{status.id}",
            "replies_count": sum(1 for s in self._statuses.values()
                                 if s.in_reply_to_id == status.id),
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "content": render_content(status.text, base),
            "filtered": [],
            "reblog": None,
            "application": {"name": status.application, "website": None}
            if status.application and not domain else None,
            "account": self._account(status.acct, base),
            "media_attachments": [self._media_json(self._media[m], base)
                                  for m in status.media_ids if m in self._media],
            "mentions": [
                {"id": account_id_for(a), "username": a.partition("@")[0],
                 "url": self._account(a, base)["url"], "acct": a}
                for a in status.mentions
            ],
            "tags": [{"name": normalize_tag(t), "url": f"{base}/tags/{quote(normalize_tag(t))}"}
                     for t in status.tags],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _notification(self, note: Notification, base: str) -> dict[str, Any]:
        if note.raw is not None:
            return {**note.raw, "id": str(note.id)}
        status = self._statuses[note.status_id]  # type: ignore[index]
        return {
            "id": str(note.id),
            "type": "mention",
            "created_at": _iso(note.created_at),
            "group_key": f"ungrouped-{note.id}",
            "account": self._account(status.acct, base),
            "status": self._status(status, base),
        }

    def _instance(self, request: Request, base: str) -> dict[str, Any]:
        host = urlsplit(base).netloc
        with self._cond:
            contact = self._account(self.bot_acct, base)
            counts = {"user_count": len({s.acct for s in self._statuses.values()}) or 1,
                      "status_count": len(self._statuses), "domain_count": 1}
        return {
            "uri": host,
            "title": "Villajún (sandbox)",
            "short_description": "A loopback Mastodon for trying citybot",
            "description": "A loopback Mastodon for trying citybot",
            "email": "admin@villajun.example",
            "version": "4.2.10",
            "urls": {"streaming_api": f"ws://{host}"},
            "stats": counts,
            "thumbnail": None,
            "languages": ["es", "en", "fr"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": {
                "accounts": {"max_featured_tags": 10},
                "statuses": {"max_characters": self.max_characters,
                             "max_media_attachments": MAX_MEDIA,
                             "characters_reserved_per_url": URL_LENGTH},
                "media_attachments": {
                    "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
                    "image_size_limit": 16_777_216, "image_matrix_limit": 33_177_600,
                    "video_size_limit": 103_809_024, "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8_294_400},
                "polls": {"max_options": 4, "max_characters_per_option": 50,
                          "min_expiration": 300, "max_expiration": 2_629_746},
            },
            "contact_account": contact,
            "rules": [],
        }

    # -- read endpoints ---------------------------------------------------------------

    def _verify_credentials(self, request: Request, base: str) -> Response:
        with self._cond:
            account = self._account(self.bot_acct, base)
        account["source"] = {"privacy": "public", "sensitive": False, "language": "es",
                             "note": "Servicio de incidencias", "fields": [],
                             "follow_requests_count": 0}
        return Response.json(account)

    def _visible(self, status: Status) -> bool:
        """What the bot may see: public and unlisted statuses, its own, and those mentioning it."""
        bot = self.bot_acct.lower()
        return (status.visibility in ("public", "unlisted") or status.acct.lower() == bot
                or bot in (a.lower() for a in status.mentions))

    def _list_notifications(self, request: Request, base: str) -> Response:
        types = request.query.get("types[]") or request.query.get("types") or []
        excluded = request.query.get("exclude_types[]") or request.query.get("exclude_types") or []
        limit = _limit(request, NOTIFICATION_LIMITS)
        min_id, max_id, since_id = (_id_param(request, k) for k in ("min_id", "max_id", "since_id"))
        with self._cond:
            wanted = [n for n in self._notifications
                      if _note_type(n) not in excluded and (not types or _note_type(n) in types)]
            page = _paginate(wanted, min_id, max_id, since_id, limit)
            body = [self._notification(n, base) for n in page]
        keep = {"limit": request.query.get("limit", [None])[-1], "types[]": types,
                "exclude_types[]": excluded}
        return _page_response(body, f"{base}/api/v1/notifications", keep, page)

    def _get_notification(self, request: Request, base: str, note_id: str) -> Response:
        with self._cond:
            for note in self._notifications:
                if note.id == int(note_id):
                    return Response.json(self._notification(note, base))
        raise _not_found()

    def _tag_timeline(self, request: Request, base: str, tag: str) -> Response:
        wanted_tag = normalize_tag(unquote(tag))
        limit = _limit(request, STATUS_LIMITS)
        min_id, max_id, since_id = (_id_param(request, k) for k in ("min_id", "max_id", "since_id"))
        with self._cond:
            tagged = [s for s in self._statuses.values()
                      if s.visibility == "public" and wanted_tag in map(normalize_tag, s.tags)]
            page = _paginate(sorted(tagged, key=lambda s: s.id), min_id, max_id, since_id, limit)
            body = [self._status(s, base) for s in page]
        keep = {k: request.query[k][-1] for k in ("limit", "local", "only_media")
                if k in request.query}
        return _page_response(body, f"{base}/api/v1/timelines/tag/{quote(unquote(tag))}", keep, page)

    def _get_status(self, request: Request, base: str, status_id: str) -> Response:
        with self._cond:
            status = self._statuses.get(int(status_id))
            if status is None or not self._visible(status):
                raise _not_found()
            return Response.json(self._status(status, base))

    def _context(self, request: Request, base: str, status_id: str) -> Response:
        with self._cond:
            status = self._statuses.get(int(status_id))
            if status is None or not self._visible(status):
                raise _not_found()
            ancestors, parent_id = [], status.in_reply_to_id
            while parent_id and parent_id in self._statuses and len(ancestors) < 1000:
                parent = self._statuses[parent_id]
                ancestors.insert(0, parent)
                parent_id = parent.in_reply_to_id
            descendants = [s for s in sorted(self._statuses.values(), key=lambda s: s.id)
                           if self._descends_from(s, status.id)]
            return Response.json({
                "ancestors": [self._status(s, base) for s in ancestors if self._visible(s)],
                "descendants": [self._status(s, base) for s in descendants if self._visible(s)],
            })

    def _descends_from(self, status: Status, root_id: int) -> bool:
        parent_id, hops = status.in_reply_to_id, 0
        while parent_id and hops < 1000:
            if parent_id == root_id:
                return True
            parent = self._statuses.get(parent_id)
            parent_id, hops = (parent.in_reply_to_id if parent else None), hops + 1
        return False

    def _get_media(self, request: Request, base: str, media_id: str) -> Response:
        with self._cond:
            media = self._media.get(int(media_id))
            if media is None:
                raise _not_found()
            return Response.json(self._media_json(media, base))

    def _file(self, path: str) -> Response:
        match = re.fullmatch(r"/system/media_attachments/files/(\d+)/(original|small)\.\w+", path)
        with self._cond:
            media = self._media.get(int(match.group(1))) if match else None
        if media is None:
            return Response.error(404, "Not Found")
        return Response.binary(media.data, media.content_type)

    # -- write endpoints -------------------------------------------------------------

    def _post_media(self, request: Request, base: str) -> Response:
        params = request.params()
        upload = params.get("file")
        if not isinstance(upload, Upload) or not upload.data:
            raise ApiError(422, "Validation failed: File can't be blank")
        size = png_size(upload.data)
        ctype = "image/png" if size else (upload.content_type or "image/jpeg")
        if not ctype.startswith("image/"):
            raise ApiError(422, "Validation failed: File content type is invalid")
        width, height = size or (640, 480)
        description = params.get("description")
        with self._cond:
            media = Media(self._new_id(), upload.data, ctype, width, height,
                          description if isinstance(description, str) and description else None)
            self._media[media.id] = media
            return Response.json(self._media_json(media, base))

    def _post_status(self, request: Request, base: str) -> Response:
        form = _form(request)
        text = str(_first(form, "status") or "")
        key = request.headers.get("idempotency-key", "").strip()
        with self._cond:
            if key:  # Mastodon answers a repeated key before validating anything
                self._forget_old_keys()
                seen = self._idempotency.get((self.bot_acct, key))
                if seen is not None and seen[0] in self._statuses:
                    return Response.json(self._status(self._statuses[seen[0]], base))
            status = self._validated_status(form, text)
            self._store_status(status)
            if key:
                self._idempotency[(self.bot_acct, key)] = (status.id, time.monotonic())
            self._record_sent(status)
            answer = self._status(status, base)
            dropped = self._drops > 0
            if dropped:
                self._drops -= 1
        if dropped:
            return DroppedResponse(0, b"", "application/json")
        return Response.json(answer)

    def _forget_old_keys(self) -> None:
        cutoff = time.monotonic() - self.idempotency_seconds
        self._idempotency = {k: v for k, v in self._idempotency.items() if v[1] >= cutoff}

    def _validated_status(self, form: dict[str, list[Any]], text: str) -> Status:
        """A new bot Status from the form, or ApiError as Mastodon answers (caller holds the lock)."""
        visibility = str(_first(form, "visibility") or "public").lower()
        if visibility not in VISIBILITIES:
            raise ApiError(422, f"Validation failed: Visibility '{visibility}' is not a valid visibility")
        media_ids = []
        for raw in form.get("media_ids[]", []) + form.get("media_ids", []):
            for value in raw if isinstance(raw, list) else [raw]:
                media_id = _int_or_none(value)
                if media_id is None or media_id not in self._media:
                    raise ApiError(422, "Validation failed: Media attachments are invalid")
                media_ids.append(media_id)
        if len(media_ids) > MAX_MEDIA:
            raise ApiError(422, "Validation failed: Cannot attach more than 4 files")
        if not text.strip() and not media_ids:
            raise ApiError(422, "Validation failed: Text can't be blank")
        if status_length(text) > self.max_characters:
            raise ApiError(422, "Validation failed: Text character limit of "
                                f"{self.max_characters} exceeded")
        reply_to = _first(form, "in_reply_to_id")
        parent_id = None
        if reply_to not in (None, ""):
            parent_id = _int_or_none(reply_to)
            parent = self._statuses.get(parent_id) if parent_id else None
            if parent is None or not self._visible(parent):
                raise _not_found()
        language = _first(form, "language")
        return Status(
            id=self._new_id(), acct=self.bot_acct, text=text, visibility=visibility,
            created_at=datetime.now(UTC), in_reply_to_id=parent_id,
            language=str(language) if language else None, media_ids=media_ids,
            mentions=_mentioned_accts(text), tags=_hashtags(text), application="citybot",
        )

    def _store_status(self, status: Status) -> None:
        """Keep a status; notify the bot when someone else mentions it (caller holds the lock)."""
        self._statuses[status.id] = status
        bot = self.bot_acct.lower()
        if status.acct.lower() != bot and bot in (a.lower() for a in status.mentions):
            self._notifications.append(Notification(self._new_id(), status.id, status.created_at))
            self._cond.notify_all()

    def _record_sent(self, status: Status) -> None:
        parent = self._statuses.get(status.in_reply_to_id) if status.in_reply_to_id else None
        # Whom the bot addressed: its leading @acct, else the author it answers, or in the bot's
        # own thread whom its parent addressed (nobody, for a public post).
        to_user = status.mentions[0] if status.mentions else (parent.acct if parent else None)
        if not status.mentions and parent is not None and parent.acct == self.bot_acct:
            to_user = next((s["to_user"] for s in self._sent if s["id"] == str(parent.id)), None)
        self._sent.append({
            "id": str(status.id),
            "text": status.text,
            "in_reply_to": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "to_user": to_user,
            "media": ["photo" for _ in status.media_ids],
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "visibility": status.visibility,
        })

    # -- streaming ------------------------------------------------------------------

    def _stream(self, request: Request, base: str) -> Response:
        path = request.path.rstrip("/")
        stream = request.query.get("stream", [""])[-1]
        if path not in ("/api/v1/streaming/user", "/api/v1/streaming/user/notification") and not (
                path == "/api/v1/streaming" and stream in ("user", "user:notification")):
            return Response.error(404, "Unknown stream type")
        token = request.query.get("access_token", [""])[-1]
        if not token:
            try:
                self._authorize(request)
            except ApiError as exc:
                return Response.error(exc.status, exc.message)
        with self._cond:
            if not self._streams_up:
                return Response.error(503, "Streaming is unavailable")
            generation, epoch = self._stream_generation, self._epoch
        return StreamResponse(200, b"", "text/event-stream; charset=utf-8",
                              stream=self._events(base, generation, epoch))

    def _events(self, base: str, generation: int, epoch: int) -> Iterator[bytes]:
        """SSE lines: new mention notifications as they are stored, heartbeats between."""
        with self._cond:
            seen = len(self._notifications)  # the list only grows until a reset ends the stream
            self._stream_clients += 1
        try:
            yield b":)\n"
            next_beat = time.monotonic() + self.heartbeat
            while True:
                with self._cond:
                    while True:
                        if (self._closed or generation != self._stream_generation
                                or epoch != self._epoch):
                            return
                        fresh = self._notifications[seen:]
                        remaining = next_beat - time.monotonic()
                        if fresh or remaining <= 0:
                            break
                        self._cond.wait(remaining)
                    seen += len(fresh)
                    events = [json.dumps(self._notification(n, base), ensure_ascii=False)
                              for n in fresh]
                for event in events:
                    yield f"event: notification\ndata: {event}\n\n".encode()
                if time.monotonic() >= next_beat:
                    yield b":thump\n"
                    next_beat = time.monotonic() + self.heartbeat
        finally:
            with self._cond:
                self._stream_clients -= 1

    # -- admin API ------------------------------------------------------------------

    def _extra_admin_routes(self):
        return {("GET", "stream"): lambda r: self._stream_state(), ("POST", "stream"): self._admin_stream}

    def _admin_inbound(self, request: Request) -> dict[str, Any]:
        post = InboundPost.from_json(request.json())
        with self._cond:
            status = self._citizen_status(post)
            self._store_status(status)
            kind = "dm" if status.visibility == "direct" else post.kind
            self._inbound.append({
                "id": str(status.id), "user": post.user, "text": post.text, "kind": kind,
                "reply_to": str(status.in_reply_to_id) if status.in_reply_to_id else None,
                "lat": post.lat, "lon": post.lon, "photo": post.photo,
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            })
        return {"id": str(status.id)}

    def _citizen_status(self, post: InboundPost) -> Status:
        """The status a citizen's Mastodon client would publish for `post` (caller holds the lock)."""
        if post.user.lower() == self.bot_acct.lower():
            raise AdminError(400, "'user' must not be the bot's account")
        parent = None
        if post.reply_to is not None:
            parent = self._statuses.get(_int_or_none(post.reply_to.rsplit(":", 1)[-1]) or -1)
            if parent is None:
                raise AdminError(404, f"reply_to: no mastodon status with id {post.reply_to}")
        text = post.text.strip()
        written = {a.lower() for a in _mentioned_accts(text)}
        prefix = []
        if post.kind != "public" and self.bot_acct.lower() not in written:
            prefix.append(f"@{self.bot_acct}")
        if parent is not None and parent.acct.lower() not in written | {
                post.user.lower(), self.bot_acct.lower()}:
            prefix.append(f"@{parent.acct}")  # the composer pre-fills the author
        text = " ".join([*prefix, text]).strip()
        if post.kind == "public" and not _hashtags(text) and self.default_hashtag:
            text = f"{text} #{self.default_hashtag}".strip()
        if post.lat is not None:
            text = f"{text}\n📍 {post.lat},{post.lon}".strip()
        direct = post.kind == "dm" or (parent is not None and parent.visibility == "direct")
        status_id = self._new_id()
        media_ids = []
        if post.photo:
            media = Media(self._new_id(), _cached_png(status_id % 40), "image/png", *PHOTO_SIZE)
            self._media[media.id] = media
            media_ids.append(media.id)
        return Status(
            id=status_id, acct=post.user, text=text,
            visibility="direct" if direct else "public", created_at=datetime.now(UTC),
            in_reply_to_id=parent.id if parent else None, language=post.lang,
            media_ids=media_ids, mentions=_mentioned_accts(text), tags=_hashtags(text),
            application=None if "@" in post.user else "Web",
        )

    def _admin_faults(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if isinstance(body, dict) and body.get("status") == "drop_response":
            count = body.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise AdminError(400, "'count' must be a non-negative integer")
            with self._cond:
                self._drops = count
            return {"ok": True, "status": "drop_response", "count": count}
        try:
            fault = Fault.from_json(body)
        except AdminError as exc:
            if "'status'" in str(exc):
                raise AdminError(400, "'status' must be 429, 500, 503 or \"drop_response\"") from None
            raise
        with self._cond:
            self._fault = fault
        return {"ok": True, **fault.as_json()}

    def _admin_raw(self, request: Request) -> dict[str, Any]:
        """Store any JSON object as the bot's next notification (to test odd payloads)."""
        body = request.json()
        if not isinstance(body, dict):
            raise AdminError(400, "raw notification must be a JSON object")
        with self._cond:
            note = Notification(self._new_id(), None, datetime.now(UTC), raw=body)
            self._notifications.append(note)
            self._cond.notify_all()
        return {"id": str(note.id)}

    def _stream_state(self) -> dict[str, Any]:
        with self._cond:
            return {"up": self._streams_up, "connections": self._stream_clients}

    def _admin_stream(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("up"), bool):
            raise AdminError(400, "stream body must be {\"up\": true|false}")
        with self._cond:
            self._streams_up = body["up"]
            if not self._streams_up:
                self._stream_generation += 1  # open streams end now
                self._cond.notify_all()
        return self._stream_state()


# -- helpers -------------------------------------------------------------------------


def _base_url(request: Request) -> str:
    host = request.headers.get("host", "").strip() or "127.0.0.1"
    if not re.fullmatch(r"[\w.\-:\[\]]+", host):
        host = "127.0.0.1"
    return f"http://{host}"


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _id_param(request: Request, key: str) -> int | None:
    values = request.query.get(key)
    if not values or values[-1] == "":
        return None
    number = _int_or_none(values[-1])
    if number is None:
        raise BadInput(f"{key} must be a numeric id")
    return number


def _limit(request: Request, limits: tuple[int, int]) -> int:
    default, most = limits
    value = _int_or_none((request.query.get("limit") or [""])[-1])
    return max(1, min(value, most)) if value else default


def _note_type(note: Notification) -> str:
    return str(note.raw.get("type", "")) if note.raw is not None else "mention"


def _paginate(items: list, min_id: int | None, max_id: int | None, since_id: int | None,
              limit: int) -> list:
    """Mastodon's paging over `items` sorted by ascending id; the page is newest first.

    `min_id` gives the `limit` items immediately after it; otherwise the newest
    `limit` items below `max_id` and above `since_id`.
    """
    if min_id is not None:
        chosen = [i for i in items if i.id > min_id and (max_id is None or i.id < max_id)]
        return list(reversed(chosen[:limit]))
    chosen = [i for i in items if (max_id is None or i.id < max_id)
              and (since_id is None or i.id > since_id)]
    return list(reversed(chosen[-limit:])) if chosen else []


def _page_response(body: list, url: str, keep: dict[str, Any], page: list) -> Response:
    """The JSON page with Mastodon's Link header (none for an empty page)."""
    response = Response.json(body)
    if page:
        def link(extra: dict[str, Any]) -> str:
            pairs = []
            for key, value in sorted({**keep, **extra}.items()):
                for item in value if isinstance(value, list) else [value]:
                    if item not in (None, ""):
                        pairs.append((key, item))
            return f"{url}?{urlencode(pairs)}"
        response.headers["Link"] = (f'<{link({"max_id": page[-1].id})}>; rel="next", '
                                    f'<{link({"min_id": page[0].id})}>; rel="prev"')
    return response


def _form(request: Request) -> dict[str, list[Any]]:
    """Body fields with every value kept (for `media_ids[]`): form, multipart or JSON."""
    ctype = request.content_type
    if ctype == "application/x-www-form-urlencoded" or (not ctype and b"=" in request.body):
        return parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    if ctype == "application/json" or request.body.lstrip()[:1] == b"{":
        data = request.json()
        if not isinstance(data, dict):
            raise BadInput("JSON body must be an object")
        return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
    return {k: [v] for k, v in request.params().items()}


def _first(form: dict[str, list[Any]], key: str) -> Any:
    values = form.get(key)
    return values[-1] if values else None


# -- rendering status text as an instance does ------------------------------------------


def _escape(text: str) -> str:
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")


def _render_line(line: str, base: str) -> str:
    out, position = [], 0
    for match in _TOKENS.finditer(line):
        out.append(_escape(line[position:match.start()]))
        position = match.end()
        if match.group("url"):
            url = match.group("url")
            scheme, _, rest = url.partition("://")
            shown = (f'<span class="ellipsis">{_escape(rest[:30])}</span>'
                     f'<span class="invisible">{_escape(rest[30:])}</span>' if len(rest) > 30
                     else f'<span class="">{_escape(rest)}</span><span class="invisible"></span>')
            out.append(f'<a href="{_escape(url)}" target="_blank" rel="nofollow noopener '
                       f'noreferrer" translate="no"><span class="invisible">{_escape(scheme)}://'
                       f'</span>{shown}</a>')
        elif match.group("user"):
            username, domain = match.group("user"), match.group("domain")
            home = f"https://{domain}" if domain else base
            out.append(f'<span class="h-card" translate="no"><a href="{_escape(home)}/@'
                       f'{_escape(username)}" class="u-url mention">@<span>{_escape(username)}'
                       f"</span></a></span>")
        else:
            tag = match.group("tag")
            out.append(f'<a href="{_escape(base)}/tags/{quote(normalize_tag(tag))}" '
                       f'class="mention hashtag" rel="tag">#<span>{_escape(tag)}</span></a>')
    out.append(_escape(line[position:]))
    return "".join(out)


def render_content(text: str, base: str) -> str:
    """Status HTML for plain `text`: paragraphs, line breaks, mentions, hashtags, links."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p.strip()]
    return "".join(
        "<p>" + "<br />".join(_render_line(line, base) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
