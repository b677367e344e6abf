"""A loopback fake of the X API v2 (what tweepy.Client calls), plus its half of the admin API.

API (`/2/...`, JSON answers in X's shapes, X-style error bodies):
- `GET  /2/users/me`, `GET /2/users/by/username/{name}`;
- `GET  /2/users/{id}/mentions`: since_id (exclusive), until_id, pagination_token,
  max_results 5..100 (default 10), newest first, the newest 800 mentions only;
- `GET  /2/users/{id}/tweets`: the user's own tweets (the bot's replies included), same
  paging as mentions;
- `GET  /2/tweets/search/recent`: query (see `parse_query`), since_id (400 when
  older than the 7-day window, as on X), until_id, next_token, max_results 10..100
  (default 10);
- `POST /2/tweets`: `{"text", "reply": {"in_reply_to_tweet_id"}}` -> 201; text over
  280 weighted characters, an unknown reply target, unknown media ids and the same
  text twice in reply to the same tweet are refused as X refuses them;
- `GET  /2/dm_events` (also `/2/dm_conversations/{id}/dm_events` and
  `/2/dm_conversations/with/{user}/dm_events`): event_types, pagination_token,
  max_results 1..100 (default 100), newest first, sent and received;
- `POST /2/dm_conversations/with/{user}/messages` and `/2/dm_conversations/{id}/messages`
  -> 201 `{"data": {"dm_conversation_id", "dm_event_id"}}`;
- `GET  /x-media/<media_key>.png`: citizen photos (no auth).
`tweet.fields`, `user.fields`, `media.fields`, `place.fields`, `dm_event.fields` and
`expansions` select what is returned, as on X: ask for a field or it is absent.
Tweet text is HTML-escaped (`&amp; &lt; &gt;`) as X does; DM text is not.

Auth: every API call needs an `Authorization` header (401 otherwise). Reads accept
`Bearer ...` or `OAuth ...`; users/me, posting and DMs need OAuth 1.0a user context
(`OAuth ...` with a consumer key and signature; 403 "Unsupported Authentication"
otherwise). Signatures are not verified.

Admin (`/_sandbox/x/...`): POST inbound (kind mention | dm | public; a `reply_to`
naming a DM keeps the post in that DM conversation), GET inbound,
GET sent, POST faults, POST reset, and the sandbox-only POST raw (store any JSON
object as a tweet or DM event, to test odd payloads). A bot DM has no reply
reference on X; `sent` shows it `in_reply_to` the partner's latest DM.

Ids are snowflakes (numeric strings, time-based, always growing), so a restarted
sandbox never reuses an id. User ids are stable per username; a DM conversation
between users a < b is "a-b"; a photo's media key is "3_<tweet id>".
Normal answers carry `x-rate-limit-*` headers (counted, never enforced); faults
make the next N API calls fail with 429 (with a reset header), 500 or 503.
Thread-safe: one lock guards all state.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.common import X_URL as _URL
from channels.common import x_weighted_length as weighted_length
from channels.sandbox.admin import AdminError, Fault, InboundPost
from channels.sandbox.admin import ContractAdmin
from channels.sandbox.images import make_png
from channels.sandbox.web import BadInput, Request, Response

BOT_USERNAME = "AytoVillajun"
BOT_NAME = "Ayuntamiento de Villajún"
TWITTER_EPOCH_MS = 1288834974657
TWEET_LIMIT, URL_WEIGHT, DM_LIMIT = 280, 23, 10_000
MENTIONS_CAP = 800  # X serves only the newest 800 mentions
QUERY_LIMIT = 512  # recent search on the Basic tier
SEARCH_WINDOW = 7 * 24 * 3600  # recent search reaches back 7 days
PHOTO_SIZE = (320, 240)
WINDOW = 15 * 60  # rate-limit window, seconds
PLACE = {"id": "a1b2c3d4e5f60718", "full_name": "Villajún, España", "name": "Villajún",
         "country": "España", "country_code": "ES", "place_type": "city"}

# Rate limits per 15 minutes, by endpoint (X's published numbers).
LIMITS = {"me": 75, "user": 300, "mentions": 450, "search": 450, "tweet": 200,
          "dm_events": 300, "dm_post": 200, "user_tweets": 900}


def user_id_for(username: str) -> str:
    """A stable numeric user id (string) for a username, case-insensitive."""
    return str(1_000_000_000 + zlib.crc32(username.lower().encode("utf-8")))


def snowflake(ms: int | None = None) -> int:
    """The smallest X-style id for a moment (default: now)."""
    ms = int(time.time() * 1000) if ms is None else ms
    return (ms - TWITTER_EPOCH_MS) << 22


def dm_conversation_id(a: str, b: str) -> str:
    """X names a one-to-one conversation by its two user ids, smaller first."""
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


def create_fake() -> XFake:
    """The registry hook used by `channels.sandbox.server.default_fakes`."""
    return XFake()


# -- text helpers ---------------------------------------------------------------


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Villajún' -> 'villajun'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _escape(text: str) -> str:
    """X escapes &, < and > in tweet text (and only those)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_HASHTAG = re.compile(r"(?<![\w@#&])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)")


def _entities(text: str) -> dict[str, Any]:
    """Hashtag and mention entities; start/end count code points of the unescaped text."""
    found: dict[str, Any] = {}
    tags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in _HASHTAG.finditer(text)]
    mentions = [{"start": m.start(), "end": m.end(), "username": m.group(1)}
                for m in _MENTION.finditer(text)]
    if tags:
        found["hashtags"] = tags
    if mentions:
        found["mentions"] = mentions
    return found


def _iso(moment: float | None = None) -> str:
    value = datetime.fromtimestamp(time.time() if moment is None else moment, tz=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# -- search queries ---------------------------------------------------------------


class QueryError(ValueError):
    """A search query X would refuse."""


@dataclass(frozen=True)
class TweetView:
    """What a query can test about one tweet (text unescaped)."""

    text: str
    author: str
    retweet: bool = False
    reply: bool = False
    quote: bool = False
    media: bool = False
    geo: bool = False
    lang: str = "und"
    conversation_id: str = ""
    in_reply_to_user: str = ""
    in_reply_to_tweet: str = ""

    @functools.cached_property
    def folded(self) -> str:
        return _fold(self.text)


Matcher = Callable[[TweetView], bool]
_TOKEN = re.compile(r'\s*(?:(-?)(\()|(\))|(-?)"((?:[^"\\]|\\.)*)"|(-?)([^\s()"]+))')


def parse_query(query: str) -> Matcher:
    """Compile a recent-search query into a predicate, or raise QueryError.

    Supported: bare words, "quoted phrases", #hashtags, @mentions, OR, implicit AND
    (which binds tighter than OR), (groups), negation with a leading `-`, and the
    operators from:, to:, is:retweet|reply|quote, has:media|images|geo|mentions|
    hashtags|links, lang:, conversation_id:, in_reply_to_tweet_id:. Matching folds
    case and accents. At least one term must be positive, as on X.
    """
    if not query.strip():
        raise QueryError("query must not be empty")
    if len(query) > QUERY_LIMIT:
        raise QueryError(f"query is longer than {QUERY_LIMIT} characters")
    tokens = _tokenize(query)
    parser = _Parser(tokens)
    matcher, positive = parser.parse_or()
    if parser.pos != len(tokens):
        raise QueryError("unbalanced ')' in query")
    if not positive:
        raise QueryError("query needs at least one positive (non-negated) term")
    return matcher


def _tokenize(query: str) -> list[tuple[str, bool, str]]:
    """(kind, negated, value) with kind one of ( ) phrase word."""
    tokens, pos = [], 0
    while pos < len(query):
        if not query[pos:].strip():
            break
        match = _TOKEN.match(query, pos)
        if not match:
            raise QueryError(f"cannot read the query near {query[pos:pos + 20]!r}")
        pos = match.end()
        if match.group(2):
            tokens.append(("(", bool(match.group(1)), "("))
        elif match.group(3):
            tokens.append((")", False, ")"))
        elif match.group(5) is not None:
            tokens.append(("phrase", bool(match.group(4)), match.group(5).replace('\\"', '"')))
        else:
            tokens.append(("word", bool(match.group(6)), match.group(7)))
    return tokens


class _Parser:
    """Recursive descent: or := and ('OR' and)*; and := unary+; unary := '-'? atom."""

    def __init__(self, tokens: list[tuple[str, bool, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def _peek(self) -> tuple[str, bool, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self) -> tuple[Matcher, bool]:
        parts = [self.parse_and()]
        while (token := self._peek()) and token == ("word", False, "OR"):
            self.pos += 1
            parts.append(self.parse_and())
        matchers = [m for m, _ in parts]
        # An OR is positive only when every branch can match on its own.
        return (lambda t: any(m(t) for m in matchers)), all(p for _, p in parts)

    def parse_and(self) -> tuple[Matcher, bool]:
        parts = []
        while (token := self._peek()) and token[0] != ")" and token != ("word", False, "OR"):
            parts.append(self.parse_unary())
        if not parts:
            raise QueryError("empty group or dangling OR in query")
        matchers = [m for m, _ in parts]
        return (lambda t: all(m(t) for m in matchers)), any(p for _, p in parts)

    def parse_unary(self) -> tuple[Matcher, bool]:
        kind, negated, value = self.tokens[self.pos]
        self.pos += 1
        if kind == "(":
            matcher, positive = self.parse_or()
            if self._peek() is None or self._peek()[0] != ")":
                raise QueryError("unbalanced '(' in query")
            self.pos += 1
        elif kind == "phrase":
            matcher, positive = _phrase(value), True
        else:
            matcher, positive = _word(value), True
        if negated:
            return (lambda t: not matcher(t)), False
        return matcher, positive


def _phrase(value: str) -> Matcher:
    pattern = re.compile(rf"(?<!\w){re.escape(_fold(value))}(?!\w)")
    return lambda t: bool(pattern.search(t.folded))


_FLAGS: dict[str, dict[str, Callable[[TweetView], bool]]] = {
    "is": {"retweet": lambda t: t.retweet, "reply": lambda t: t.reply,
           "quote": lambda t: t.quote, "verified": lambda t: False},
    "has": {"media": lambda t: t.media, "images": lambda t: t.media, "geo": lambda t: t.geo,
            "mentions": lambda t: bool(_MENTION.search(t.text)),
            "hashtags": lambda t: bool(_HASHTAG.search(t.text)),
            "links": lambda t: bool(_URL.search(t.text))},
}


def _word(value: str) -> Matcher:
    operator = re.fullmatch(r"([a-z_]+):(.+)", value)
    if operator:
        name, arg = operator.group(1), operator.group(2)
        if name in _FLAGS:
            test = _FLAGS[name].get(arg.lower())
            if test is None:
                raise QueryError(f"unknown value for operator {name}: {arg!r}")
            return test
        fields = {"from": "author", "to": "in_reply_to_user", "lang": "lang",
                  "conversation_id": "conversation_id", "in_reply_to_tweet_id": "in_reply_to_tweet"}
        if name not in fields:
            raise QueryError(f"Reference to invalid operator '{name}'")
        attr, wanted = fields[name], arg.lstrip("@").casefold()
        return lambda t: str(getattr(t, attr)).casefold() == wanted
    if value.startswith("#"):
        tag = _fold(value[1:])
        return lambda t: any(_fold(m) == tag for m in _HASHTAG.findall(t.text))
    if value.startswith("@"):
        name = value[1:].casefold()
        return lambda t: any(m.casefold() == name for m in _MENTION.findall(t.text))
    return _phrase(value)


# -- errors -----------------------------------------------------------------------


class ApiError(Exception):
    """An X API error answer in the RFC 7807 problem shape X uses."""

    def __init__(self, status: int, title: str, detail: str, *, type_: str = "about:blank",
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.type, self.errors = (
            status, title, detail, type_, errors)

    def response(self) -> Response:
        body: dict[str, Any] = {}
        if self.errors:
            body["errors"] = self.errors
        body.update(title=self.title, detail=self.detail, type=self.type, status=self.status)
        return Response.json(body, self.status)


def _invalid(detail: str, parameter: str | None = None, value: Any = None) -> ApiError:
    """400 Invalid Request, the way X words a bad parameter."""
    error: dict[str, Any] = {"message": detail}
    if parameter is not None:
        error["parameters"] = {parameter: [str(value)]}
    return ApiError(400, "Invalid Request", "One or more parameters to your request was invalid.",
                    type_="https://api.twitter.com/2/problems/invalid-request", errors=[error])


def _forbidden(detail: str) -> ApiError:
    return ApiError(403, "Forbidden", detail)


def _fault_error(status: int) -> ApiError:
    if status == 429:
        return ApiError(429, "Too Many Requests", "Too Many Requests")
    if status == 503:
        return ApiError(503, "Service Unavailable", "Service Unavailable",
                        errors=[{"code": 130, "message": "Over capacity"}])
    return ApiError(500, "Internal Server Error", "Internal Server Error",
                    errors=[{"code": 131, "message": "Internal error"}])


# -- state ------------------------------------------------------------------------


@dataclass
class Item:
    """A stored tweet or DM event: the full object, plus what the fake needs to list it.

    `key` orders items (it is the id unless a raw payload lacks one). `where` is
    "auto" (decide from the content) or, for raw items, "mentions"/"search".
    """

    key: int
    obj: dict[str, Any]
    where: str = "auto"
    view: TweetView | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Window:
    """A rate-limit window: calls counted since `start`."""

    start: float
    used: int = 0


_DM_FIELDS = ("id", "event_type", "text", "created_at", "dm_conversation_id", "sender_id",
              "participant_ids", "attachments", "referenced_tweets")
_TWEET_DEFAULT = ("id", "text", "edit_history_tweet_ids")
_USER_DEFAULT = ("id", "name", "username")
_MEDIA_DEFAULT = ("media_key", "type")
_PLACE_DEFAULT = ("id", "full_name")
_DM_DEFAULT = ("id", "event_type", "text")


def _fields(params: dict[str, str], key: str, defaults: Iterable[str]) -> set[str]:
    extra = params.get(key) or ""
    return set(defaults) | {f.strip() for f in extra.split(",") if f.strip()}


def _select(obj: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in wanted}


def _int_param(params: dict[str, str], key: str, lo: int, hi: int, default: int) -> int:
    value = params.get(key)
    if value in (None, ""):
        return default
    if not str(value).isdigit() or not lo <= int(value) <= hi:
        raise _invalid(f"The `{key}` query parameter value [{value}] is not between {lo} and {hi}",
                       key, value)
    return int(value)


def _id_param(params: dict[str, str], key: str) -> int | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    if not str(value).isdigit():
        raise _invalid(f"The `{key}` query parameter value [{value}] is not valid", key, value)
    return int(value)


def _token(prefix: str, key: int) -> str:
    """An opaque page token: a prefix and the last key served, in base 36."""
    digits, number = "", key
    while True:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not number:
            break
    return f"{prefix}{digits}"


def _untoken(prefix: str, params: dict[str, str], key: str) -> int | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    if not value.startswith(prefix):
        raise _invalid(f"The `{key}` query parameter value [{value}] is not valid", key, value)
    try:
        return int(value[len(prefix):], 36)
    except ValueError:
        raise _invalid(f"The `{key}` query parameter value [{value}] is not valid",
                       key, value) from None


class XFake(ContractAdmin):
    """The X platform fake. `bot_username` is the account the bot's credentials act as."""

    name = "x"
    prefixes = ("/2/", "/x-media/")

    def __init__(self, bot_username: str = BOT_USERNAME, *, bot_name: str = BOT_NAME) -> None:
        self.bot_username = bot_username
        self.bot_id = user_id_for(bot_username)
        self.bot_user = {"id": self.bot_id, "name": bot_name, "username": bot_username,
                         "created_at": "2012-03-01T09:00:00.000Z", "verified": False,
                         "protected": False}
        self._lock = threading.Lock()
        self._records_lock = self._lock
        self._last_id = 0
        self._clear()
        self._routes: list[tuple[str, re.Pattern[str], str, bool, Callable[..., Any]]] = [
            ("GET", re.compile(r"/2/users/me"), "me", True, self._get_me),
            ("GET", re.compile(r"/2/users/by/username/(\w{1,15})"), "user", False,
             self._get_user_by_name),
            ("GET", re.compile(r"/2/users/(\d+)/mentions"), "mentions", False, self._mentions),
            ("GET", re.compile(r"/2/users/(\d+)/tweets"), "user_tweets", False, self._user_tweets),
            ("GET", re.compile(r"/2/tweets/search/recent"), "search", False, self._search),
            ("POST", re.compile(r"/2/tweets"), "tweet", True, self._create_tweet),
            ("GET", re.compile(r"/2/dm_events"), "dm_events", True, self._dm_events),
            ("GET", re.compile(r"/2/dm_conversations/with/(\d+)/dm_events"), "dm_events", True,
             lambda r, p: self._dm_events(r, participant=p)),
            ("GET", re.compile(r"/2/dm_conversations/([\d-]+)/dm_events"), "dm_events", True,
             lambda r, c: self._dm_events(r, conversation=c)),
            ("POST", re.compile(r"/2/dm_conversations/with/(\d+)/messages"), "dm_post", True,
             lambda r, p: self._create_dm(r, participant=p)),
            ("POST", re.compile(r"/2/dm_conversations/([\d-]+)/messages"), "dm_post", True,
             lambda r, c: self._create_dm(r, conversation=c)),
        ]

    def _clear(self) -> None:
        self._users: dict[str, dict[str, Any]] = {self.bot_id: dict(self.bot_user)}
        self._tweets: dict[int, Item] = {}
        self._dms: dict[int, Item] = {}
        self._media: dict[str, dict[str, Any]] = {}
        self._inbound: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._fault: Fault | None = None
        self._windows: dict[str, Window] = {}

    def _new_id(self) -> int:
        """The next snowflake: time-based, strictly growing (caller holds the lock)."""
        self._last_id = max(self._last_id + 1, snowflake())
        return self._last_id

    # -- lifecycle (PlatformFake) -----------------------------------------------

    def reset(self) -> None:
        """Forget tweets, DMs, users, media, sent and faults. Ids keep growing."""
        with self._lock:
            self._clear()

    def shutdown(self) -> None:
        """Nothing waits here: X has no long polling."""

    # -- API ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve one X API v2 call or a media download."""
        if request.path.startswith("/x-media/"):
            return self._download(request.path)
        for method, pattern, bucket, user_only, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if request.method != method:
                continue
            try:
                self._take_fault(bucket)
                self._check_auth(request, user_only)
                status, body = handler(request, *match.groups())
            except ApiError as exc:
                response = exc.response()
                if exc.status == 429:
                    response.headers.update(self._limit_headers(bucket, exhausted=True))
                return response
            except BadInput as exc:
                return _invalid(str(exc)).response()
            response = Response.json(body, status)
            response.headers.update(self._limit_headers(bucket))
            return response
        return Response.json({"errors": [{"message": "Sorry, that page does not exist",
                                          "code": 34}]}, 404)

    def _take_fault(self, bucket: str) -> None:
        with self._lock:
            fault = self._fault
            if fault is None or not fault.take():
                return
            if fault.status == 429:  # the window resets `retry_after` seconds from now
                window = self._window(bucket)
                window.start = time.time() + fault.retry_after - WINDOW
        raise _fault_error(fault.status)

    def _check_auth(self, request: Request, user_only: bool) -> None:
        auth = request.headers.get("authorization", "").strip()
        if not auth:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        scheme = auth.split(None, 1)[0].lower()
        if scheme == "oauth":
            if "oauth_consumer_key" not in auth or "oauth_signature" not in auth:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return
        if scheme != "bearer" or len(auth.split()) != 2:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if user_only:
            raise ApiError(
                403, "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."
                "  Supported authentication types are [OAuth 1.0a User Context,"
                " OAuth 2.0 User Context].",
                type_="https://api.twitter.com/2/problems/unsupported-authentication")

    def _window(self, bucket: str) -> Window:
        """The current window of a bucket (caller holds the lock)."""
        now = time.time()
        window = self._windows.get(bucket)
        if window is None or now >= window.start + WINDOW:
            window = self._windows[bucket] = Window(start=now)
        return window

    def _limit_headers(self, bucket: str, exhausted: bool = False) -> dict[str, str]:
        with self._lock:
            window = self._window(bucket)
            if not exhausted:
                window.used += 1
            limit = LIMITS[bucket]
            remaining = 0 if exhausted else max(limit - window.used, 0)
            reset = int(window.start + WINDOW + 0.999)
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
                "x-rate-limit-reset": str(reset)}

    # -- users --

    def _get_me(self, request: Request) -> tuple[int, dict[str, Any]]:
        params = request.params()
        with self._lock:
            return 200, {"data": _select(self.bot_user, _fields(params, "user.fields",
                                                                _USER_DEFAULT))}

    def _get_user_by_name(self, request: Request, username: str) -> tuple[int, dict[str, Any]]:
        params = request.params()
        with self._lock:
            user = self._users.get(user_id_for(username))
        if user is None:
            return 200, {"errors": [{"value": username, "detail":
                                     f"Could not find user with username: [{username}].",
                                     "title": "Not Found Error", "resource_type": "user",
                                     "parameter": "username", "resource_id": username,
                                     "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
        return 200, {"data": _select(user, _fields(params, "user.fields", _USER_DEFAULT))}

    # -- timelines --

    def _mentions(self, request: Request, user_id: str) -> tuple[int, dict[str, Any]]:
        return self._timeline(request, user_id, "m", lambda item, user: self._mentions_user(item, user["username"]))

    def _user_tweets(self, request: Request, user_id: str) -> tuple[int, dict[str, Any]]:
        return self._timeline(request, user_id, "u",
                              lambda item, user: item.where == "auto" and item.obj.get("author_id") == user["id"])

    def _timeline(self, request: Request, user_id: str, prefix: str,
                  belongs: Callable[[Item, dict[str, Any]], bool]) -> tuple[int, dict[str, Any]]:
        """A user's timeline (mentions of them, or their own tweets), newest first, the newest 800."""
        params = request.params()
        size = _int_param(params, "max_results", 5, 100, 10)
        below = _untoken(prefix, params, "pagination_token")
        with self._lock:
            if user_id not in self._users:
                raise ApiError(404, "Not Found Error", f"Could not find user with id: [{user_id}].")
            user = self._users[user_id]
            items = [i for i in self._newest_first(self._tweets) if belongs(i, user)][:MENTIONS_CAP]
            return 200, self._page(items, params, size, below, prefix, "pagination_token",
                                   _base(request))

    def _search(self, request: Request) -> tuple[int, dict[str, Any]]:
        params = request.params()
        size = _int_param(params, "max_results", 10, 100, 10)
        below = _untoken("s", params, "next_token")
        query = params.get("query") or ""
        try:
            matcher = parse_query(query)
        except QueryError as exc:
            raise _invalid(f"There were errors processing your request: {exc}",
                           "query", query) from None
        since = _id_param(params, "since_id")
        oldest = snowflake(int((time.time() - SEARCH_WINDOW) * 1000))
        if since is not None and since < oldest:
            raise _invalid(f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id "
                           f"created after the last 7 days.", "since_id", since)
        with self._lock:
            items = [i for i in self._newest_first(self._tweets) if i.where == "search"
                     or (i.where == "auto" and i.view is not None and matcher(i.view))]
            return 200, self._page(items, params, size, below, "s", "next_token",
                                   _base(request))

    def _mentions_user(self, item: Item, username: str) -> bool:
        if item.where != "auto":
            return item.where == "mentions"
        text = item.view.text if item.view else ""
        return any(m.casefold() == username.casefold() for m in _MENTION.findall(text))

    @staticmethod
    def _newest_first(store: dict[int, Item]) -> list[Item]:
        return [store[k] for k in sorted(store, reverse=True)]

    def _page(self, items: list[Item], params: dict[str, str], size: int, below: int | None,
              prefix: str, token_name: str, base: str) -> dict[str, Any]:
        """One page of newest-first tweets with includes and meta (caller holds the lock)."""
        since, until = _id_param(params, "since_id"), _id_param(params, "until_id")
        items = [i for i in items if (since is None or i.key > since)
                 and (until is None or i.key < until) and (below is None or i.key < below)]
        page, more = items[:size], len(items) > size
        if not page:
            return {"meta": {"result_count": 0}}
        tweet_fields = _fields(params, "tweet.fields", _TWEET_DEFAULT)
        data = [i.obj if i.where != "auto" else _select(i.obj, tweet_fields) for i in page]
        body: dict[str, Any] = {"data": data}
        if includes := self._includes(page, params, base):
            body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page), "newest_id": str(page[0].key),
                                "oldest_id": str(page[-1].key)}
        if more:
            meta["next_token"] = _token(prefix, page[-1].key)
        body["meta"] = meta
        return body

    def _includes(self, page: list[Item], params: dict[str, str], base: str) -> dict[str, Any]:
        """includes.users/media/places/tweets for the requested expansions."""
        expansions = _fields(params, "expansions", ())
        user_ids: list[str] = []
        media_keys: list[str] = []
        tweets: list[Item] = []
        places = False
        for item in page:
            obj = item.obj
            for expansion, key in (("author_id", "author_id"), ("sender_id", "sender_id"),
                                   ("in_reply_to_user_id", "in_reply_to_user_id")):
                if expansion in expansions and isinstance(obj.get(key), str):
                    user_ids.append(obj[key])
            if "participant_ids" in expansions:
                user_ids += [p for p in _list(obj.get("participant_ids")) if isinstance(p, str)]
            attachments = obj.get("attachments")
            if "attachments.media_keys" in expansions and isinstance(attachments, dict):
                media_keys += _list(attachments.get("media_keys"))
            if "referenced_tweets.id" in expansions:
                for ref in _list(obj.get("referenced_tweets")):
                    ident = str(ref.get("id")) if isinstance(ref, dict) else ""
                    if ident.isdigit() and int(ident) in self._tweets:
                        tweets.append(self._tweets[int(ident)])
            geo = obj.get("geo")
            places = places or ("geo.place_id" in expansions and isinstance(geo, dict)
                                and "place_id" in geo)
            user_ids += item.meta.get("users", [])
        includes: dict[str, Any] = {}
        user_fields = _fields(params, "user.fields", _USER_DEFAULT)
        users = [_select(self._users[u], user_fields) for u in dict.fromkeys(user_ids)
                 if u in self._users]
        if users:
            includes["users"] = users
        media_fields = _fields(params, "media.fields", _MEDIA_DEFAULT)
        media = [_media_view(self._media[k], media_fields, base) for k in dict.fromkeys(media_keys)
                 if isinstance(k, str) and k in self._media]
        if media:
            includes["media"] = media
        if places:
            includes["places"] = [_select(PLACE, _fields(params, "place.fields", _PLACE_DEFAULT))]
        if tweets:
            tweet_fields = _fields(params, "tweet.fields", _TWEET_DEFAULT)
            includes["tweets"] = [_select(t.obj, tweet_fields) for t in tweets]
        return includes

    # -- posting --

    def _create_tweet(self, request: Request) -> tuple[int, dict[str, Any]]:
        body = request.json()
        if not isinstance(body, dict):
            raise _invalid("the request body must be a JSON object")
        text = body.get("text")
        media = body.get("media")
        media_ids = media.get("media_ids") if isinstance(media, dict) else None
        if media_ids:
            raise _invalid("Your media IDs are invalid.", "media.media_ids", media_ids)
        if not isinstance(text, str) or not text.strip():
            raise _invalid("Tweet text must not be empty", "text", text)
        if weighted_length(text) > TWEET_LIMIT:
            raise _forbidden("Tweet needs to be a bit shorter.")
        reply = body.get("reply")
        target_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        with self._lock:
            target = None
            if target_id is not None:
                target = self._tweets.get(int(target_id)) if str(target_id).isdigit() else None
                if target is None or target.view is None:
                    raise _forbidden("You attempted to reply to a Tweet that is deleted or not "
                                     "visible to you.")
                if any(s["text"] == text and s["in_reply_to"] == str(target.key)
                       for s in self._sent):
                    raise _forbidden("You are not allowed to create a Tweet with duplicate "
                                     "content.")
            tweet = self._store_tweet(self.bot_user, text, target=target, lang=None)
            to_user = self._to_user(target) if target is not None else None
            self._record_sent(tweet["id"], text, str(target.key) if target else None, to_user)
        return 201, {"data": {"id": tweet["id"], "text": text,
                              "edit_history_tweet_ids": [tweet["id"]]}}

    def _to_user(self, target: Item) -> str | None:
        """Whom a reply answers: the target's author, or in a bot self-thread the citizen."""
        if target.obj.get("author_id") == self.bot_id:
            return target.meta.get("to_user")
        return self._users.get(target.obj.get("author_id"), {}).get("username")

    def _record_sent(self, ident: str, text: str, in_reply_to: str | None,
                     to_user: str | None) -> None:
        self._sent.append({"id": ident, "text": text, "in_reply_to": in_reply_to,
                           "to_user": to_user, "media": [], "at": _iso()})
        if ident.isdigit() and int(ident) in self._tweets:
            self._tweets[int(ident)].meta["to_user"] = to_user

    # -- direct messages --

    def _dm_events(self, request: Request, *, participant: str | None = None,
                   conversation: str | None = None) -> tuple[int, dict[str, Any]]:
        params = request.params()
        size = _int_param(params, "max_results", 1, 100, 100)
        below = _untoken("d", params, "pagination_token")
        types = {t for t in (params.get("event_types") or "").split(",") if t}
        unknown = types - {"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"}
        if unknown:
            raise _invalid(f"The `event_types` query parameter value [{','.join(unknown)}] is "
                           "not one of [MessageCreate,ParticipantsJoin,ParticipantsLeave]",
                           "event_types", ",".join(unknown))
        if participant is not None:
            conversation = dm_conversation_id(self.bot_id, participant)
        with self._lock:
            items = [i for i in self._newest_first(self._dms)
                     if (not types or i.obj.get("event_type") in types or i.where != "auto")
                     and (conversation is None or i.obj.get("dm_conversation_id") == conversation)
                     and (below is None or i.key < below)]
            page, more = items[:size], len(items) > size
            if not page:
                return 200, {"meta": {"result_count": 0}}
            wanted = _fields(params, "dm_event.fields", _DM_DEFAULT)
            data = [i.obj if i.where != "auto" else _select(i.obj, wanted) for i in page]
            body: dict[str, Any] = {"data": data}
            if includes := self._includes(page, params, _base(request)):
                body["includes"] = includes
            meta: dict[str, Any] = {"result_count": len(page)}
            if more:
                meta["next_token"] = _token("d", page[-1].key)
            body["meta"] = meta
            return 200, body

    def _create_dm(self, request: Request, *, participant: str | None = None,
                   conversation: str | None = None) -> tuple[int, dict[str, Any]]:
        body = request.json()
        if not isinstance(body, dict):
            raise _invalid("the request body must be a JSON object")
        text = body.get("text")
        if body.get("attachments"):
            raise _invalid("Your media IDs are invalid.", "attachments", body["attachments"])
        if not isinstance(text, str) or not text.strip():
            raise _invalid("text must not be empty", "text", text)
        if len(text) > DM_LIMIT:
            raise _invalid(f"text is longer than {DM_LIMIT} characters", "text", len(text))
        with self._lock:
            if conversation is not None:
                ids = conversation.split("-")
                if len(ids) != 2 or self.bot_id not in ids:
                    raise _forbidden("You are not a participant of this conversation.")
                participant = ids[0] if ids[1] == self.bot_id else ids[1]
            partner = self._users.get(participant or "")
            if partner is None:
                raise _forbidden("You cannot send messages to this user.")
            event = self._store_dm(self.bot_user, partner, text)
            latest = next((i for i in self._newest_first(self._dms)
                           if i.obj.get("sender_id") == partner["id"]
                           and i.obj.get("dm_conversation_id") == event["dm_conversation_id"]),
                          None)
            self._record_sent(event["id"], text, str(latest.key) if latest else None,
                              partner["username"])
        return 201, {"data": {"dm_conversation_id": event["dm_conversation_id"],
                              "dm_event_id": event["id"]}}

    # -- media --

    def _download(self, path: str) -> Response:
        match = re.fullmatch(r"/x-media/([\w-]+)\.png", path)
        with self._lock:
            stored = self._media.get(match.group(1)) if match else None
        if stored is None:
            return Response.json({"errors": [{"message": "Sorry, that page does not exist",
                                              "code": 34}]}, 404)
        return Response.binary(stored["data"], "image/png")

    # -- storing (caller holds the lock) ---------------------------------------------

    def _user(self, username: str) -> dict[str, Any]:
        ident = user_id_for(username)
        if ident == self.bot_id:
            return self._users[ident]
        return self._users.setdefault(ident, {
            "id": ident, "name": username[:1].upper() + username[1:], "username": username,
            "created_at": "2020-01-01T00:00:00.000Z", "verified": False, "protected": False})

    def _store_photo(self, key: str) -> None:
        width, height = PHOTO_SIZE
        self._media[key] = {"media_key": key, "type": "photo", "url": f"/x-media/{key}.png",
                            "width": width, "height": height,
                            "data": _cached_png(width, height, zlib.crc32(key.encode()) % 40)}

    def _store_tweet(self, author: dict[str, Any], text: str, *, target: Item | None,
                     lang: str | None, lat: float | None = None, lon: float | None = None,
                     photo: bool = False) -> dict[str, Any]:
        ident = self._new_id()
        tweet: dict[str, Any] = {
            "id": str(ident), "text": _escape(text), "author_id": author["id"],
            "conversation_id": str(ident), "created_at": _iso(), "lang": lang or "und",
            "edit_history_tweet_ids": [str(ident)], "possibly_sensitive": False,
            "reply_settings": "everyone", "source": "citybot sandbox",
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                               "quote_count": 0},
        }
        if weighted_length(text) > TWEET_LIMIT:  # a long post: X truncates `text`
            tweet["text"] = _escape(text[:270].rstrip() + "…")
            tweet["note_tweet"] = {"text": text}
        if entities := _entities(text):
            for mention in entities.get("mentions", []):
                known = self._users.get(user_id_for(mention["username"]))
                if known is not None:
                    mention["id"] = known["id"]
            tweet["entities"] = entities
        if target is not None:
            tweet["conversation_id"] = target.obj.get("conversation_id") or str(target.key)
            tweet["in_reply_to_user_id"] = target.obj.get("author_id")
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": str(target.key)}]
        if lat is not None:
            tweet["geo"] = {"coordinates": {"type": "Point", "coordinates": [lon, lat]},
                            "place_id": PLACE["id"]}
        if photo:
            key = f"3_{ident}"
            self._store_photo(key)
            tweet["attachments"] = {"media_keys": [key]}
        view = TweetView(
            text=text, author=author["username"], reply=target is not None, media=photo,
            geo=lat is not None, lang=lang or "und", conversation_id=tweet["conversation_id"],
            in_reply_to_user=self._users.get(tweet.get("in_reply_to_user_id"), {}).get(
                "username", ""),
            in_reply_to_tweet=str(target.key) if target else "")
        self._tweets[ident] = Item(ident, tweet, view=view)
        return tweet

    def _store_dm(self, sender: dict[str, Any], partner: dict[str, Any], text: str,
                  photo: bool = False) -> dict[str, Any]:
        ident = self._new_id()
        event: dict[str, Any] = {
            "id": str(ident), "event_type": "MessageCreate", "text": text,
            "sender_id": sender["id"], "created_at": _iso(),
            "dm_conversation_id": dm_conversation_id(sender["id"], partner["id"]),
            "participant_ids": sorted({sender["id"], partner["id"]}, key=int),
        }
        if photo:
            key = f"3_{ident}"
            self._store_photo(key)
            event["attachments"] = {"media_keys": [key]}
        self._dms[ident] = Item(ident, event)
        return event

    # -- admin API --------------------------------------------------------------------

    def _admin_inbound(self, request: Request) -> dict[str, Any]:
        post = InboundPost.from_json(request.json())
        if not re.fullmatch(r"\w{1,15}", post.user):
            raise AdminError(400, "'user' must be an X username: 1-15 letters, digits or _")
        with self._lock:
            # A reply to a DM stays in the DM conversation, whatever the kind says.
            replies_to_dm = post.reply_to is not None and int(_ref(post.reply_to)) in self._dms
            kind = "dm" if replies_to_dm else post.kind
            if kind == "dm":
                ident = self._inbound_dm(post)
            else:
                ident = self._inbound_tweet(post)
            self._inbound.append({
                "id": ident, "user": post.user, "text": post.text, "kind": kind,
                "reply_to": _ref(post.reply_to) if post.reply_to else None,
                "lat": post.lat, "lon": post.lon, "photo": post.photo, "at": _iso()})
        return {"id": ident}

    def _inbound_tweet(self, post: InboundPost) -> str:
        author = self._user(post.user)
        target = None
        if post.reply_to is not None:
            ref = _ref(post.reply_to)
            target = self._tweets.get(int(ref))
            if target is None or target.view is None:
                raise AdminError(404, f"reply_to: no x tweet with id {ref}")
        text = post.text.strip()
        mentioned = {m.casefold() for m in _MENTION.findall(text)}
        prefix = []
        if target is not None:  # X puts the replied-to author first
            replied = self._users.get(target.obj.get("author_id"), {}).get("username")
            if replied and replied.casefold() not in mentioned and replied != post.user:
                prefix.append(f"@{replied}")
                mentioned.add(replied.casefold())
        if post.kind == "mention" and self.bot_username.casefold() not in mentioned:
            prefix.append(f"@{self.bot_username}")
        text = " ".join([*prefix, text]).strip()
        tweet = self._store_tweet(author, text, target=target, lang=post.lang, lat=post.lat,
                                  lon=post.lon, photo=post.photo)
        return tweet["id"]

    def _inbound_dm(self, post: InboundPost) -> str:
        if post.lat is not None:
            raise AdminError(400, "X direct messages cannot carry a location; "
                                  "post a mention with lat/lon instead")
        author = self._user(post.user)
        if post.reply_to is not None:
            ref = int(_ref(post.reply_to))
            target = self._dms.get(ref)
            if target is None:
                raise AdminError(404, f"reply_to: no x direct message with id {ref}")
            if author["id"] not in target.obj.get("participant_ids", []):
                raise AdminError(400, "reply_to: that message is in another user's conversation")
        return self._store_dm(author, self.bot_user, post.text.strip(), photo=post.photo)["id"]

    def _admin_faults(self, request: Request) -> dict[str, Any]:
        fault = Fault.from_json(request.json())
        with self._lock:
            self._fault = fault
        return {"ok": True, **fault.as_json()}

    def _admin_raw(self, request: Request) -> dict[str, Any]:
        """Store any JSON object as a tweet or DM event, served exactly as given.

        Body: `{"tweet": {...}, "where"?: "mentions"|"search", "users"?: [...]}` or
        `{"dm_event": {...}, "users"?: [...]}`. The object keeps its own fields (even
        a missing or odd `id`); it is listed by a fresh key, which `since_id` and
        `meta.newest_id` use. `users` are added to includes with it.
        """
        body = request.json()
        if not isinstance(body, dict) or ("tweet" in body) == ("dm_event" in body):
            raise AdminError(400, "raw body must be {\"tweet\": {...}} or {\"dm_event\": {...}}")
        where = body.get("where", "mentions")
        if where not in ("mentions", "search"):
            raise AdminError(400, "'where' must be mentions or search")
        users = body.get("users") or []
        if not isinstance(users, list) or not all(
                isinstance(u, dict) and isinstance(u.get("id"), str) for u in users):
            raise AdminError(400, "'users' must be a list of objects with a string id")
        with self._lock:
            for user in users:
                self._users[user["id"]] = {**user}
            key = self._new_id()
            meta = {"users": [u["id"] for u in users]}
            if "tweet" in body:
                self._tweets[key] = Item(key, body["tweet"], where=where, meta=meta)
            else:
                self._dms[key] = Item(key, body["dm_event"], where="raw", meta=meta)
        return {"id": str(key)}


@functools.lru_cache(maxsize=64)
def _cached_png(width: int, height: int, seed: int) -> bytes:
    return make_png(width, height, seed)


def _ref(value: str) -> str:
    """A tweet or DM id given as "123" or as the adapter's "dm:123"."""
    text = value.removeprefix("dm:")
    if not text.isdigit():
        raise AdminError(400, "'reply_to' must be an X tweet or direct message id")
    return text


def _list(value: Any) -> list[Any]:
    """`value` if it is a list, else [] (raw payloads may hold anything)."""
    return value if isinstance(value, list) else []


def _base(request: Request) -> str:
    """The sandbox's own URL as the client reached it, for media links."""
    return f"http://{request.headers.get('host') or '127.0.0.1'}"


def _media_view(stored: dict[str, Any], wanted: set[str], base: str) -> dict[str, Any]:
    """A media object without its bytes, its `url` made absolute."""
    view = {k: v for k, v in stored.items() if k != "data"}
    view["url"] = base + view["url"]
    return _select(view, wanted)
