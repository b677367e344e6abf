"""The X adapter, on tweepy 4.17 (`tweepy.Client`, API v2).

Sources, read on every `fetch`: mentions of the bot (`get_users_mentions`), a recent
search for the configured hashtags and keywords (`search_recent_tweets`, only when
some are configured) and direct messages (`get_direct_message_events`). Mentions
and search use the bearer token; users/me, DMs and posting use OAuth 1.0a user
context. Every page of every source is read in one fetch.

Ids: a tweet's external id is its id ("1790000000000000000"); a DM's is
"dm:<event id>". `conversation_id` is the tweet's conversation id, or for a DM the
dm_conversation_id ("<user id>-<user id>"). `in_reply_to` is the replied-to tweet
id. Sending answers the same forms: tweet ids, or "dm:<event id>".

The cursor is opaque JSON: `{"mentions": "<since_id>", "search": "<since_id>",
"dms": "<newest event id>"}`, each key present once that source has seen something.
No cursor means "everything X still serves" (800 mentions, 7 days of search,
30 days of DMs); the core dedupes by external id.

POLL_INTERVAL_HINT: each fetch costs up to 3 requests (plus one per extra page),
and X allows about 180 requests per 15 minutes per user on the tightest of these
endpoints, so poll no more often than every 15 s; 20 s leaves room for sends.

Reaching a sandbox: tweepy hard-codes https://api.twitter.com, so the client's
session rewrites that host (and upload.twitter.com) to `base_url`; OAuth signing,
error mapping and pagination stay tweepy's own. Secrets never reach a message,
a repr or a log line (tweepy logs request headers at DEBUG; a filter scrubs them).
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy

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
from channels.common import X_URL as _URL
from channels.common import (
    MAX_HANDLE_LENGTH,
    MAX_LANG_LENGTH,
    brief,
    check_id,
    coordinates,
    fitting_prefix,
    need_list,
    need_object,
    need_str,
    optional_str,
    read_limited,
    sanitize_text,
    write_atomically,
)
from channels.common import x_weighted_length as weighted_length

log = logging.getLogger(__name__)

POLL_INTERVAL_HINT = 20.0  # seconds between fetches; see the module docstring
API_HOST = "https://api.twitter.com"
UPLOAD_HOST = "https://upload.twitter.com"
TWEET_LIMIT, URL_WEIGHT, DM_LIMIT = 280, 23, 10_000
QUERY_LIMIT = 512
MAX_PAGES = 100  # a safety stop per source and fetch
MEDIA_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_RATE_WAIT = 60.0  # seconds, when a 429 carries no reset header
TIMEOUT = (10, 30)  # connect, read (tweepy sets none)

TWEET_FIELDS = ["id", "text", "author_id", "conversation_id", "created_at", "lang",
                "in_reply_to_user_id", "referenced_tweets", "geo", "attachments", "entities",
                "note_tweet"]
TWEET_EXPANSIONS = ["author_id", "attachments.media_keys", "geo.place_id"]
USER_FIELDS = ["id", "name", "username"]
MEDIA_FIELDS = ["media_key", "type", "url", "preview_image_url", "width", "height"]
DM_FIELDS = ["id", "event_type", "text", "sender_id", "dm_conversation_id", "created_at",
             "attachments", "referenced_tweets"]
DM_EXPANSIONS = ["sender_id", "attachments.media_keys"]


# -- parsing (pure) -------------------------------------------------------------


def _id(value: Any, name: str) -> str:
    """An X id: a string of ASCII digits (at most MAX_ID_LENGTH)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise MalformedPayload(f"{name} must be a numeric string, got {brief(value)}")
    return check_id(value, name)


def _text(value: Any, name: str) -> str:
    return need_str(value, name)


def _created_at(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(_text(value, "created_at").replace("Z", "+00:00"))
    except MalformedPayload:
        raise
    except ValueError:
        raise MalformedPayload(f"created_at must be an ISO 8601 time, got {brief(value)}") from None


_LEADING_MENTIONS = re.compile(r"^(?:@\w{1,15}[\s,:;]*)+")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)")


def mentions_bot(text: str, bot_username: str | None) -> bool:
    """Does `text` mention @bot_username (case-insensitive)?"""
    bot = (bot_username or "").casefold()
    return bool(bot) and any(m.casefold() == bot for m in _MENTION.findall(text))


def clean_text(text: str, bot_username: str | None, *, is_reply: bool = False) -> str:
    """Drop the leading run of @mentions X puts on replies, through the last @bot in it.

    In a reply the whole leading run goes (X prefixes the replied-to users). Else
    only as far as the last @bot: "@bot @policia bache" keeps "@policia bache".
    """
    text = text.strip()
    run = _LEADING_MENTIONS.match(text)
    if not run:
        return text
    if is_reply:
        return text[run.end():].strip()
    handles = list(re.finditer(r"@(\w{1,15})[\s,:;]*", run.group(0)))
    bot = (bot_username or "").casefold()
    ours = [m for m in handles if m.group(1).casefold() == bot]
    return text[ours[-1].end():].strip() if ours else text


def _media_refs(item: dict[str, Any], media: dict[str, dict[str, Any]]) -> tuple[MediaRef, ...]:
    attachments = item.get("attachments") or {}
    if not isinstance(attachments, dict):
        raise MalformedPayload("attachments must be an object")
    refs = []
    for key in need_list(attachments.get("media_keys"), "attachments.media_keys"):
        if not isinstance(key, str) or not key:
            raise MalformedPayload(f"media key must be a string, got {brief(key)}")
        key = check_id(sanitize_text(key), "media key")
        info = media.get(key)
        kind = info.get("type") if isinstance(info, dict) else None
        kind = sanitize_text(kind)[:16] if isinstance(kind, str) and kind.strip() else "photo"
        refs.append(MediaRef(kind=kind, remote_id=key))
    return tuple(refs)


def _coordinates(tweet: dict[str, Any]) -> tuple[float | None, float | None]:
    """(lat, lon) from geo.coordinates (a GeoJSON Point: [lon, lat]); place-only -> None."""
    geo = tweet.get("geo") or {}
    point = geo.get("coordinates") if isinstance(geo, dict) else None
    if not point:
        return None, None
    pair = need_object(point, "geo.coordinates").get("coordinates")
    if not isinstance(pair, list) or len(pair) != 2:
        raise MalformedPayload(f"geo.coordinates.coordinates must be [lon, lat], got {brief(pair)}")
    lat, lon = coordinates(pair[1], pair[0], "geo coordinates")
    return lat, lon


def _references(tweet: dict[str, Any]) -> list[dict[str, Any]]:
    """referenced_tweets, keeping only the objects in it."""
    refs = need_list(tweet.get("referenced_tweets"), "referenced_tweets")
    return [r for r in refs if isinstance(r, dict)]


def _is_retweet(tweet: dict[str, Any]) -> bool:
    return any(r.get("type") == "retweeted" for r in _references(tweet))


def _replied_to(tweet: dict[str, Any]) -> str | None:
    for ref in _references(tweet):
        if ref.get("type") == "replied_to":
            return _id(ref.get("id"), "referenced_tweets.id")
    return None


def _author(users: dict[str, dict[str, Any]], user_id: str) -> str | None:
    """The @username of `user_id` from the page's includes (sanitized), or None."""
    user = users.get(user_id)
    value = user.get("username") if isinstance(user, dict) else None
    return optional_str(value, "users.username", MAX_HANDLE_LENGTH)


def _is_bot(user_id: str, handle: str | None, bot_id: str | None, bot_username: str | None) -> bool:
    return user_id == bot_id or bool(handle and bot_username
                                     and handle.casefold() == bot_username.casefold())


_LANG_NONE = {"und", "zxx", "qme", "qht", "qam", "qst", "art"}


def _full_text(tweet: dict) -> Any:
    """A tweet's whole text: the long-post `note_tweet` text when there is one, else `text`."""
    note = tweet.get("note_tweet")
    return note["text"] if isinstance(note, dict) and "text" in note else tweet.get("text")


def parse_tweet(
    tweet: dict[str, Any],
    users: dict[str, dict[str, Any]],
    media: dict[str, dict[str, Any]],
    *,
    bot_username: str | None,
    kind: MessageKind,
    bot_id: str | None = None,
) -> InboundMessage | None:
    """Turn one API v2 tweet into an InboundMessage, or None if the bot should ignore it.

    `users` and `media` are the page's includes keyed by id / media_key. Ignored:
    retweets, the bot's own posts and posts with nothing left once the leading
    mentions are gone (no text, media or location). A `public` tweet that mentions
    the bot counts as a `mention`. Text is X's (HTML entities decoded; the full
    `note_tweet` text for long posts). Raises MalformedPayload (naming the field) on
    a malformed payload, and nothing else; `fetch` turns that into a rejected entry.
    """
    tweet = need_object(tweet, "tweet")
    tweet_id = _id(tweet.get("id"), "id")
    author_id = _id(tweet.get("author_id"), "author_id")
    handle = _author(users, author_id)
    if _is_retweet(tweet):
        return None
    if _is_bot(author_id, handle, bot_id, bot_username):
        return None
    raw_text = _text(_full_text(tweet), "text")
    raw_text = sanitize_text(html.unescape(raw_text))
    in_reply_to = _replied_to(tweet)
    is_reply = in_reply_to is not None or tweet.get("in_reply_to_user_id") is not None
    if kind == "public" and mentions_bot(raw_text, bot_username):
        kind = "mention"
    text = clean_text(raw_text, bot_username, is_reply=is_reply)
    lat, lon = _coordinates(tweet)
    refs = _media_refs(tweet, media)
    if not text and not refs and lat is None:
        return None
    conversation = tweet.get("conversation_id")
    return InboundMessage(
        channel="x",
        external_id=tweet_id,
        author_id=author_id,
        author_handle=handle,
        text=text,
        kind=kind,
        conversation_id=_id(conversation, "conversation_id") if conversation else tweet_id,
        in_reply_to=in_reply_to,
        lang_hint=_lang(tweet.get("lang")),
        created_at=_created_at(tweet.get("created_at")),
        lat=lat,
        lon=lon,
        media=refs,
        raw=tweet,
    )


def _lang(value: Any) -> str | None:
    """X's language code, None for its "undetermined" codes or an odd value."""
    if not isinstance(value, str) or value in _LANG_NONE:
        return None
    return optional_str(value, "lang", MAX_LANG_LENGTH)


def parse_dm_event(
    event: dict[str, Any],
    users: dict[str, dict[str, Any]],
    media: dict[str, dict[str, Any]],
    *,
    bot_username: str | None,
    bot_id: str | None = None,
) -> InboundMessage | None:
    """Turn one DM event into an InboundMessage (kind "dm"), or None to ignore it.

    Ignored: events other than MessageCreate, messages the bot sent, and empty
    messages without media. external_id is "dm:<event id>"; conversation_id is the
    dm_conversation_id. Raises MalformedPayload on a malformed payload, like `parse_tweet`.
    """
    event = need_object(event, "DM event")
    event_id = _id(event.get("id"), "id")
    if event.get("event_type") != "MessageCreate":
        return None
    sender_id = _id(event.get("sender_id"), "sender_id")
    handle = _author(users, sender_id)
    if _is_bot(sender_id, handle, bot_id, bot_username):
        return None
    conversation = check_id(_text(event.get("dm_conversation_id"), "dm_conversation_id"),
                            "dm_conversation_id")
    text = clean_text(_text(event.get("text", ""), "text"), bot_username)
    refs = _media_refs(event, media)
    if not text and not refs:
        return None
    return InboundMessage(
        channel="x",
        external_id=f"dm:{event_id}",
        author_id=sender_id,
        author_handle=handle,
        text=text,
        kind="dm",
        conversation_id=conversation,
        created_at=_created_at(event.get("created_at")),
        media=refs,
        raw=event,
    )


def build_query(hashtags: Sequence[str], keywords: Sequence[str],
                bot_username: str | None) -> str | None:
    """The recent-search query for the configured terms, or None when there are none.

    Hashtags become `#tag`; a keyword is used as written (a quoted phrase or several
    words stay together in parentheses). Retweets and the bot's own posts are left out.
    With the bot's username the query also asks for `@bot`: the mentions timeline only
    reaches the newest 800 mentions, so a larger backlog (a storm, a viral post, a long
    outage) is read through search, which covers the last 7 days.
    """
    terms = [f"#{t.strip().lstrip('#')}" for t in hashtags if t.strip().lstrip("#")]
    if bot_username:
        terms.insert(0, f"@{bot_username.lstrip('@')}")
    for word in keywords:
        word = word.strip()
        if word:
            terms.append(f"({word})" if re.search(r"\s", word) else word)
    if not terms:
        return None
    query = terms[0] if len(terms) == 1 else f"({' OR '.join(terms)})"
    query += " -is:retweet"
    if bot_username:
        query += f" -from:{bot_username}"
    return query


# -- length and splitting (pure) ------------------------------------------------


def _chunks(text: str, limit: int, measure: Callable[[str], int] = weighted_length) -> list[str]:
    """Cut `text` into pieces within `limit`, at a paragraph, line or word break if possible."""
    parts: list[str] = []
    text = text.strip()
    while text:
        if measure(text) <= limit:
            parts.append(text)
            break
        fit = fitting_prefix(text, limit, measure)
        cut = 0
        for separator in ("\n\n", "\n", " "):
            found = text.rfind(separator, 0, fit + 1)
            if found >= max(1, fit // 3) or (separator == " " and found > 0):
                cut = found
                break
        if not cut:  # no break: cut hard, but never inside a URL
            cut = fit
            for match in _URL.finditer(text[: fit + 1]):
                if match.start() < fit < match.end() and match.start() > 0:
                    cut = match.start()
        cut = max(cut, 1)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [p for p in parts if p]


def split_thread(text: str, limit: int = TWEET_LIMIT) -> list[str]:
    """`text` as one tweet, or as a numbered thread ("1/3 …") whose parts each fit `limit`.

    The prefix width depends on the part count, so splitting repeats until the
    count is stable. A blank text gives [].
    """
    text = text.strip()
    if not text:
        return []
    if weighted_length(text) <= limit:
        return [text]
    count = 2
    while True:
        prefix = weighted_length(f"{count}/{count} ")
        parts = _chunks(text, limit - prefix)
        if len(parts) <= count:
            total = len(parts)
            return [f"{n}/{total} {part}" for n, part in enumerate(parts, 1)]
        count = len(parts)


# -- errors ---------------------------------------------------------------------


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = re.sub(r"(Bearer\s+)[^\s'\",}]+", r"\1***", text)
    return re.sub(r'(oauth_(?:token|consumer_key|signature)=")[^"]*"', r'\1***"', text)


def map_error(exc: BaseException, secrets: Sequence[str] = (), *,
              now: Callable[[], float] = time.time) -> ChannelError:
    """The ChannelError for a tweepy or requests exception.

    TooManyRequests -> RateLimited(seconds until x-rate-limit-reset, at least 1);
    TwitterServerError, connection errors, timeouts and unreadable answers ->
    TransientError; BadRequest, Unauthorized, Forbidden, NotFound and other 4xx ->
    PermanentError (408/409/425 are transient). `secrets` are scrubbed.
    """
    if isinstance(exc, ChannelError):
        return exc
    text = _scrub(f"x: {exc}".replace("\n", "; "), secrets)
    if isinstance(exc, tweepy.TooManyRequests):
        reset = exc.reset_time
        wait = reset - now() if reset is not None else DEFAULT_RATE_WAIT
        return RateLimited(max(1.0, float(wait)), "x: too many requests")
    if isinstance(exc, tweepy.TwitterServerError):
        return TransientError(text)
    if isinstance(exc, tweepy.HTTPException):
        status = getattr(exc.response, "status_code", None)
        return TransientError(text) if status in (408, 409, 425) else PermanentError(text)
    if isinstance(exc, requests.exceptions.JSONDecodeError | ValueError):
        return TransientError(_scrub(f"x: unreadable answer: {exc}", secrets))
    if isinstance(exc, requests.ConnectionError | requests.Timeout
                  | requests.exceptions.ChunkedEncodingError):
        return TransientError(text)
    if isinstance(exc, requests.RequestException | tweepy.TweepyException | TypeError):
        return PermanentError(text)
    return TransientError(text)


_SECRETS: set[str] = set()  # every XChannel's credentials, for the log filter


class _RedactSecrets(logging.Filter):
    """Scrub credentials from tweepy's and oauthlib's DEBUG lines (they log headers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _scrub(message, sorted(_SECRETS, key=len, reverse=True))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


for _name in ("tweepy.client", "requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849",
              "oauthlib.oauth1.rfc5849.signature"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactSecrets) for f in _logger.filters):
        _logger.addFilter(_RedactSecrets())


# -- transport ------------------------------------------------------------------


class RewritingSession(requests.Session):
    """A requests Session that sends X's hard-coded hosts to `base_url`, with timeouts."""

    def __init__(self, base_url: str, timeout: tuple[float, float] = TIMEOUT) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        for host in (API_HOST, UPLOAD_HOST):
            if url.startswith(host) and self.base_url != host:
                url = self.base_url + url[len(host):]
                break
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


# -- cursor ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where each source stopped: the newest ids seen (None = never read)."""

    mentions: str | None = None
    search: str | None = None
    dms: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """Read a stored cursor. An unreadable one restarts every source (with a warning)."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if isinstance(data, int | str) and str(data).isdigit():  # a bare since_id
                return cls(mentions=str(data))
            values = {k: data.get(k) for k in ("mentions", "search", "dms")}
            for value in values.values():
                if value is not None:
                    _id(value, "cursor id")
            return cls(**values)
        except (ValueError, AttributeError, TypeError):
            log.warning("x: unreadable cursor %r; reading every source from the start", text[:80])
            return cls()

    def dump(self) -> str | None:
        data = {k: v for k, v in (("mentions", self.mentions), ("search", self.search),
                                  ("dms", self.dms)) if v is not None}
        return json.dumps(data, separators=(",", ":"), sort_keys=True) if data else None


def _seen(ident: Any, since: str | None) -> bool:
    """Is `ident` an id at or before `since`?"""
    return (since is not None and isinstance(ident, str) and ident.isascii() and ident.isdigit()
            and int(ident) <= int(since))


def _newest(current: str | None, candidate: Any) -> str | None:
    """The larger of two ids (numeric strings); ignores a non-id candidate."""
    if not isinstance(candidate, str) or not candidate.isascii() or not candidate.isdigit():
        return current
    if current is None or int(candidate) > int(current):
        return candidate
    return current


@dataclass
class _Batch:
    """What one fetch collects: messages by external id, rejected items, media URLs."""

    messages: dict[str, InboundMessage]
    rejected: list[dict[str, Any]]
    media: dict[str, dict[str, Any]]

    def add(self, message: InboundMessage | None) -> None:
        if message is not None and message.external_id not in self.messages:
            self.messages[message.external_id] = message

    def reject(self, source: str, item: Any, exc: Exception) -> None:
        ident = item.get("id") if isinstance(item, dict) else None
        log.warning("x: rejected %s item %s: %s", source, ident, exc)
        self.rejected.append({"source": source, "id": ident,
                              "error": f"{type(exc).__name__}: {exc}", "raw": item})


def _index(page: dict[str, Any], kind: str, key: str) -> dict[str, dict[str, Any]]:
    """includes.<kind> keyed by `key`, skipping odd entries."""
    includes = page.get("includes") or {}
    items = includes.get(kind) if isinstance(includes, dict) else None
    return {i[key]: i for i in items if isinstance(i, dict) and isinstance(i.get(key), str)
            } if isinstance(items, list) else {}


def _answer_id(answer: Any, key: str) -> str:
    """`data.<key>` of an answer, an id; TransientError if the answer is unreadable."""
    data = answer.get("data") if isinstance(answer, dict) else None
    try:
        return _id(data.get(key) if isinstance(data, dict) else None, f"data.{key}")
    except ValueError as exc:
        raise TransientError(f"x: unreadable answer: {exc}") from None


def _data(page: Any) -> list[Any]:
    if not isinstance(page, dict):
        raise TransientError(f"x: unreadable answer (a {type(page).__name__}, not an object)")
    data = page.get("data") or []
    if not isinstance(data, list):
        raise TransientError("x: unreadable answer (data is not a list)")
    return data


# -- the adapter ----------------------------------------------------------------


class XChannel:
    """The X `Channel`. Construction makes no network call."""

    name = "x"
    capabilities = Capabilities(max_length=TWEET_LIMIT, threads=True, media=False,
                                idempotency=False)

    def __init__(
        self,
        *,
        bearer_token: str,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        base_url: str = API_HOST,
        bot_username: str | None = None,
        hashtags: Sequence[str] = (),
        keywords: Sequence[str] = (),
        media_dir: Path,
        max_results: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.bot_username = bot_username.lstrip("@") if bot_username else None
        self.bot_id: str | None = None
        self.hashtags, self.keywords = tuple(hashtags), tuple(keywords)
        self.media_dir = Path(media_dir)
        self.max_results = max(10, min(int(max_results), 100))  # search's floor is 10
        # Scrubbed from messages and logs (too-short values would mangle ordinary words).
        self._secrets = tuple(s for s in (bearer_token, consumer_key, consumer_secret,
                                          access_token, access_token_secret) if len(s) >= 6)
        _SECRETS.update(self._secrets)
        # Separate clients so a fetch and a send may run in different threads.
        self._reader = self._client(bearer_token, consumer_key, consumer_secret, access_token,
                                    access_token_secret)
        self._writer = self._client(bearer_token, consumer_key, consumer_secret, access_token,
                                    access_token_secret)
        self._media_session = RewritingSession(self.base_url)
        self._me_lock = threading.Lock()
        self._disabled: dict[str, str] = {}  # source -> why (a permanent refusal)

    def _client(self, *credentials: str) -> tweepy.Client:
        client = tweepy.Client(*credentials, return_type=dict, wait_on_rate_limit=False)
        client.session = RewritingSession(self.base_url)
        return client

    def __repr__(self) -> str:  # never show a credential
        return f"XChannel(bot_username={self.bot_username!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP sessions. Idempotent."""
        for session in (self._reader.session, self._writer.session, self._media_session):
            session.close()

    def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one tweepy call, mapping its errors to ChannelErrors."""
        try:
            return func(*args, **kwargs)
        except (tweepy.TweepyException, requests.RequestException, ValueError, TypeError) as exc:
            raise map_error(exc, self._secrets) from None

    def _me(self) -> str:
        """The bot's user id (and username if not configured), from users/me once."""
        with self._me_lock:
            if self.bot_id is None:
                data = self._call(self._writer.get_me, user_fields=USER_FIELDS)
                self.bot_id = _answer_id(data, "id")
                self.bot_username = self.bot_username or data["data"].get("username")
            return self.bot_id

    # -- fetch --

    def fetch(self, cursor: str | None, timeout: float = 0) -> FetchResult:
        """The mentions, matching public posts and DMs after `cursor`, oldest first.

        `timeout` is ignored (X has no long polling). All pages are read; a tweet
        found by both mentions and search is returned once, as a mention. Retweets,
        the bot's own posts and DMs are skipped. Photos are downloaded to
        `media_dir/x/<media_key>.<ext>`; a failed download keeps the MediaRef with
        path None. Malformed items land in `rejected` and the cursor moves past
        them. A source X refuses for good (403/400, e.g. no search on the API tier)
        is switched off with one error line; the others go on.
        """
        state = Cursor.parse(cursor)
        bot_id = self._me()
        batch = _Batch({}, [], {})
        mentions = self._read_mentions(bot_id, state.mentions, batch)
        search = self._read_search(bot_id, state.search, batch)
        dms = self._read_dms(bot_id, state.dms, batch)
        ordered = sorted(batch.messages.values(),
                         key=lambda m: int(m.external_id.removeprefix("dm:")))  # ids are time-based
        messages = [self._with_media(m, batch.media) for m in ordered]
        next_cursor = Cursor(mentions, search, dms).dump() or cursor
        return FetchResult(messages=messages, next_cursor=next_cursor, rejected=batch.rejected)

    def _pages(self, method: Callable[..., Any], *args: Any, max_pages: int = MAX_PAGES, **kwargs: Any) -> Iterator[dict]:
        """Every page of a timeline (at most `max_pages`), through tweepy's Paginator."""
        tokens: set[str] = set()
        pages = iter(tweepy.Paginator(method, *args, **kwargs))
        for _ in range(max_pages):
            page = self._call(next, pages, None)
            if page is None:
                return
            _data(page)  # raises on an unreadable page
            yield page
            token = (page.get("meta") or {}).get("next_token")
            if token in tokens:
                log.warning("x: %s repeated a page token; stopping", method.__name__)
                return
            tokens.add(token)
        log.warning("x: %s has more than %d pages; older posts beyond them are skipped",
                    method.__name__, max_pages)

    def _read_tweets(self, source: str, kind: MessageKind, pages: Iterator[dict],
                     since: str | None, batch: _Batch) -> str | None:
        """Parse every tweet of every page into `batch`; return the new since_id."""
        newest = since
        for page in pages:
            newest = _newest(newest, (page.get("meta") or {}).get("newest_id"))
            users, media = _index(page, "users", "id"), _index(page, "media", "media_key")
            batch.media.update(media)
            for tweet in _data(page):
                try:
                    if not isinstance(tweet, dict):
                        raise TypeError(f"tweet must be an object, got {type(tweet).__name__}")
                    newest = _newest(newest, tweet.get("id"))
                    batch.add(parse_tweet(tweet, users, media, bot_username=self.bot_username,
                                          kind=kind, bot_id=self.bot_id))
                except Exception as exc:  # one bad tweet must not block the rest
                    batch.reject(source, tweet, exc)
        return newest

    def _read_mentions(self, bot_id: str, since: str | None, batch: _Batch) -> str | None:
        pages = self._pages(self._reader.get_users_mentions, bot_id, since_id=since,
                            max_results=self.max_results, expansions=TWEET_EXPANSIONS,
                            tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
                            media_fields=MEDIA_FIELDS)
        return self._read_tweets("mentions", "mention", pages, since, batch)

    def _read_search(self, bot_id: str, since: str | None, batch: _Batch) -> str | None:
        query = build_query(self.hashtags, self.keywords, self.bot_username)
        if query is None or "search" in self._disabled:
            return since
        if len(query) > QUERY_LIMIT:
            self._disable("search", f"the search query is longer than {QUERY_LIMIT} characters")
            return since
        try:
            return self._search_pages(query, since, batch)
        except PermanentError as exc:
            if since is None:
                self._disable("search", str(exc))
                return since
            # X refuses a since_id older than 7 days: search the whole window instead.
            log.warning("x: search refused since_id %s (%s); searching the last 7 days", since, exc)
        try:
            return self._search_pages(query, None, batch) or since
        except PermanentError as exc:
            self._disable("search", str(exc))
            return since

    def _search_pages(self, query: str, since: str | None, batch: _Batch) -> str | None:
        pages = self._pages(self._reader.search_recent_tweets, query, since_id=since,
                            max_results=self.max_results, expansions=TWEET_EXPANSIONS,
                            tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
                            media_fields=MEDIA_FIELDS)
        return self._read_tweets("search", "public", pages, since, batch)

    def _read_dms(self, bot_id: str, since: str | None, batch: _Batch) -> str | None:
        """DM events have no since_id: read newest first until an already-seen id."""
        if "dms" in self._disabled:
            return since
        pages = self._pages(self._reader.get_direct_message_events, event_types="MessageCreate",
                            dm_event_fields=DM_FIELDS, expansions=DM_EXPANSIONS,
                            user_fields=USER_FIELDS, media_fields=MEDIA_FIELDS,
                            max_results=100, user_auth=True)
        newest = since
        try:
            for page in pages:
                users, media = _index(page, "users", "id"), _index(page, "media", "media_key")
                batch.media.update(media)
                reached = False
                for event in _data(page):
                    ident = event.get("id") if isinstance(event, dict) else None
                    if _seen(ident, since):
                        reached = True  # already read: only older events follow
                        continue
                    try:
                        if not isinstance(event, dict):
                            raise TypeError(f"DM event must be an object, "
                                            f"got {type(event).__name__}")
                        newest = _newest(newest, ident)
                        batch.add(parse_dm_event(event, users, media,
                                                 bot_username=self.bot_username, bot_id=bot_id))
                    except Exception as exc:
                        batch.reject("dms", event, exc)
                if reached:
                    break
        except PermanentError as exc:
            self._disable("dms", str(exc))
            return since
        return newest

    def _disable(self, source: str, why: str) -> None:
        self._disabled[source] = why
        log.error("x: not reading %s any more: %s", source, why)

    # -- media --

    def _with_media(self, message: InboundMessage,
                    media: dict[str, dict[str, Any]]) -> InboundMessage:
        """Download each photo; keep the ref (path None) if a download fails."""
        if not message.media:
            return message
        refs = []
        for ref in message.media:
            info = media.get(ref.remote_id or "") or {}
            url = info.get("url") if ref.kind == "photo" else None
            if not url:
                refs.append(ref)
                continue
            try:
                refs.append(replace(ref, path=str(self._download(ref.remote_id or "", url))))
            except (requests.RequestException, OSError, ValueError) as exc:
                log.warning("x: could not download %s of %s: %s", ref.kind, message.external_id,
                            _scrub(str(exc), self._secrets))
                refs.append(ref)
        return replace(message, media=tuple(refs))

    def _download(self, key: str, url: str) -> Path:
        safe = re.sub(r"[^\w-]", "_", key) or "media"
        suffix = Path(urlsplit(url).path).suffix.lower()
        if not re.fullmatch(r"\.(jpe?g|png|gif|webp)", suffix):
            suffix = ".jpg"
        target = self.media_dir / "x" / f"{safe}{suffix}"
        if target.exists() and target.stat().st_size > 0:
            return target
        # DM media lives on ton.twitter.com and needs the user's OAuth signature.
        auth = self._oauth1() if urlsplit(url).hostname == "ton.twitter.com" else None
        with self._media_session.get(url, stream=True, auth=auth) as response:
            response.raise_for_status()
            data = read_limited(response.iter_content(64 * 1024), MEDIA_MAX_BYTES,
                                f"media larger than {MEDIA_MAX_BYTES} bytes")
        return write_atomically(target, data)

    def _oauth1(self) -> Any:
        client = self._writer
        return tweepy.OAuth1UserHandler(client.consumer_key, client.consumer_secret,
                                        client.access_token,
                                        client.access_token_secret).apply_auth()

    # -- send --

    def send(self, message: OutboundMessage) -> SendResult:
        """Post a reply under `in_reply_to`, or a DM when the thread is a DM conversation.

        Tweets: without `in_reply_to` the reply goes under the `conversation_id`
        tweet, and with neither it is a new post. `public` (a digest): a new post
        whatever the thread fields say, never a DM (a resumed one goes on under
        `in_reply_to`, its last part). Text over 280 weighted characters
        becomes a numbered thread, each part replying to the previous. DMs (a "dm:<id>"
        in_reply_to, or an "a-b" conversation id) go to `recipient_id`, split at 10,000
        characters, unnumbered. Photos are skipped with one log line
        (tweepy.Client cannot upload media). If a later part fails, the error carries
        `delivered`: the external ids already posted.
        """
        if message.media_paths:
            log.info("x: skipping %d photo(s): tweepy.Client has no media upload",
                     len(message.media_paths))
        if not message.text.strip():
            raise PermanentError("x: nothing to send (empty text)")
        reply_to = message.in_reply_to
        if message.public:
            reply_to = reply_to if message.skip_parts else None
        elif (reply_to or "").startswith("dm:") or (
                not reply_to and "-" in (message.conversation_id or "")):
            return self._send_dm(message)
        elif not reply_to and (message.conversation_id or "").isdigit():
            reply_to = message.conversation_id
        if reply_to is not None and not reply_to.isdigit():
            raise PermanentError(f"x: bad in_reply_to {reply_to!r}")
        delivered: list[str] = []
        try:
            posted = self._bot_replies(reply_to) if message.maybe_sent and reply_to else {}
            for part in split_thread(message.text)[message.skip_parts:]:  # skip: posted before
                earlier = next((tid for tid, text in posted.get(reply_to, ()) if text == part.strip()), None)
                if earlier is not None:
                    log.info("x: a reply to %s was already posted as %s before a restart; not posting it again",
                             reply_to, earlier)
                    reply_to = earlier
                else:
                    answer = self._call(self._writer.create_tweet, text=part,
                                        in_reply_to_tweet_id=reply_to, user_auth=True)
                    reply_to = _answer_id(answer, "id")
                delivered.append(reply_to)
        except ChannelError as exc:
            exc.delivered = tuple(delivered)  # type: ignore[attr-defined]
            raise
        return SendResult(external_id=delivered[0], extra_ids=tuple(delivered[1:]))

    def _bot_replies(self, since_id: str) -> dict[str, list[tuple[str, str]]]:
        """The bot's tweets newer than `since_id`, as {replied-to id: [(id, text), ...]}.

        One request per 100 tweets (users/:id/tweets allows 900 per 15 minutes), 10 pages at most;
        it runs only for a reply whose earlier attempt may have been accepted unrecorded.
        """
        replies: dict[str, list[tuple[str, str]]] = {}
        pages = self._pages(self._writer.get_users_tweets, self._me(), since_id=since_id, max_results=100,
                            tweet_fields=["referenced_tweets", "note_tweet"], user_auth=True, max_pages=10)
        for page in pages:
            for tweet in _data(page):
                if not isinstance(tweet, dict):
                    continue
                text = _full_text(tweet)
                for ref in tweet.get("referenced_tweets") or []:
                    if isinstance(ref, dict) and ref.get("type") == "replied_to" and isinstance(text, str):
                        replies.setdefault(str(ref.get("id")), []).append(
                            (str(tweet.get("id")), html.unescape(text).strip()))
        return replies

    def _send_dm(self, message: OutboundMessage) -> SendResult:
        recipient = message.recipient_id
        if not recipient.isdigit() and not message.conversation_id:
            raise PermanentError(f"x: no DM recipient for {recipient!r}")
        target = ({"participant_id": recipient} if recipient.isdigit()
                  else {"dm_conversation_id": message.conversation_id})
        delivered: list[str] = []
        try:
            for part in _chunks(message.text, DM_LIMIT, len)[message.skip_parts:]:  # DMs count characters
                answer = self._call(self._writer.create_direct_message, text=part,
                                    user_auth=True, **target)
                delivered.append(f"dm:{_answer_id(answer, 'dm_event_id')}")
        except ChannelError as exc:
            exc.delivered = tuple(delivered)  # type: ignore[attr-defined]
            raise
        return SendResult(external_id=delivered[0], extra_ids=tuple(delivered[1:]))
