"""The Telegram adapter, on python-telegram-bot 22.

Ids: a message's external id is "<chat_id>:<message_id>" (Telegram message ids
are per chat); `conversation_id` is the chat id; the fetch cursor is the next
getUpdates offset as a string. A button press (callback query) is "cb:<query id>",
its `in_reply_to` the "<chat_id>:<message_id>" of the bot message with the keyboard.

The `Channel` interface is synchronous, PTB is asyncio: the adapter runs one
private event loop in a daemon thread and submits the Bot's coroutines to it,
so `fetch` (long polling) and `send` may be called from different threads.
The bot token never appears in logs or error messages.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
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
    MAX_LANG_LENGTH,
    brief,
    check_id,
    coordinates,
    need,
    need_list,
    need_object,
    need_str,
    optional_str,
    sanitize_text,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes of UTF-8, as Telegram counts callback_data
ALLOWED_UPDATES = ["message", "callback_query"]
T = TypeVar("T")


# -- parsing (pure) -------------------------------------------------------------


def parse_update(
    data: dict[str, Any],
    *,
    bot_username: str | None,
    hashtags: Sequence[str] = (),
    keywords: Sequence[str] = (),
) -> InboundMessage | None:
    """Turn one getUpdates item into an InboundMessage, or None if the bot should ignore it.

    A `callback_query` (an inline keyboard button press) goes to
    `parse_callback_query`. Ignored: updates with neither (edits...), posts by bots or
    without a sender, posts with no text, photo or location, and group posts that
    neither address the bot (mention, reply to the bot, command) nor carry a
    configured hashtag or keyword. Raises MalformedPayload (naming the field) on a
    malformed payload, and nothing else; `fetch` turns that into a rejected entry.
    """
    data = need_object(data, "update")
    if "callback_query" in data:
        return parse_callback_query(data)
    message = data.get("message")
    if message is None:
        return None
    message = need_object(message, "message")
    message_id = _int(need(message, "message_id", "message.message_id"), "message.message_id")
    chat = need_object(need(message, "chat", "message.chat"), "message.chat")
    chat_id = _int(need(chat, "id", "message.chat.id"), "message.chat.id")
    chat_type = need_str(need(chat, "type", "message.chat.type"), "message.chat.type")
    created_at = _timestamp(need(message, "date", "message.date"), "message.date")
    sender = message.get("from")
    if not sender:
        return None
    sender = need_object(sender, "message.from")
    if sender.get("is_bot"):
        return None

    raw_text = message.get("text") or message.get("caption") or ""
    raw_text = need_str(raw_text, "message.text")
    location = message.get("location")
    point = None
    if location is not None:
        location = need_object(location, "message.location")
        point = coordinates(location.get("latitude"), location.get("longitude"), "message.location")
    photos = [need_object(p, "message.photo[]") for p in need_list(message.get("photo"), "message.photo")]
    if not raw_text.strip() and point is None and not photos:
        return None

    reply = message.get("reply_to_message")
    reply = need_object(reply, "message.reply_to_message") if reply is not None else None
    kind = _kind(chat_type, raw_text, reply, bot_username, hashtags, keywords)
    if kind is None:
        return None

    media: tuple[MediaRef, ...] = ()
    if photos:
        largest = max(photos, key=_photo_area)
        file_id = check_id(need_str(need(largest, "file_id", "message.photo[].file_id"),
                                    "message.photo[].file_id"), "message.photo[].file_id")
        media = (MediaRef(kind="photo", remote_id=file_id),)
    in_reply_to = None
    if reply is not None:
        reply_id = _int(need(reply, "message_id", "reply.message_id"), "reply.message_id")
        in_reply_to = f"{chat_id}:{reply_id}"
    return InboundMessage(
        channel="telegram",
        external_id=f"{chat_id}:{message_id}",
        author_id=str(_int(need(sender, "id", "from.id"), "from.id")),
        author_handle=_handle(sender, "from"),
        text=_clean_text(raw_text, bot_username),
        kind=kind,
        conversation_id=str(chat_id),
        in_reply_to=in_reply_to,
        lang_hint=optional_str(sender.get("language_code"), "from.language_code", MAX_LANG_LENGTH),
        created_at=created_at,
        lat=point[0] if point else None,
        lon=point[1] if point else None,
        media=media,
        raw=data,
    )


def parse_callback_query(data: dict[str, Any]) -> InboundMessage | None:
    """A button press (a `callback_query` update) as an InboundMessage, or None to ignore it.

    external_id "cb:<query id>"; the author is the user who pressed; kind "dm" when the
    keyboard's message is in a private chat, else "mention"; conversation_id is that chat;
    in_reply_to is "<chat>:<message_id>" of the bot message that carried the keyboard;
    text is the callback data (sanitized). Ignored: presses by bots, presses on inline-mode
    messages (no `message`) and presses without data (game buttons). Raises
    MalformedPayload on a malformed payload.
    """
    query = need_object(need_object(data, "update").get("callback_query"), "callback_query")
    query_id = query.get("id")
    if not isinstance(query_id, str) or not query_id:
        raise MalformedPayload(f"callback_query.id must be a non-empty string, got {brief(query_id)}")
    query_id = check_id(sanitize_text(query_id), "callback_query.id")
    sender = need_object(query.get("from"), "callback_query.from")
    payload, message = query.get("data"), query.get("message")
    if sender.get("is_bot") or message is None or payload is None:
        return None
    payload = need_str(payload, "callback_query.data")
    message = need_object(message, "callback_query.message")
    chat = need_object(message.get("chat"), "callback_query.message.chat")
    chat_id = _int(need(chat, "id", "callback_query.message.chat.id"), "callback_query.message.chat.id")
    message_id = _int(need(message, "message_id", "callback_query.message.message_id"),
                      "callback_query.message.message_id")
    return InboundMessage(
        channel="telegram",
        external_id=f"cb:{query_id}",
        author_id=str(_int(need(sender, "id", "callback_query.from.id"), "callback_query.from.id")),
        author_handle=_handle(sender, "callback_query.from"),
        text=payload,
        kind="dm" if chat.get("type") == "private" else "mention",
        conversation_id=str(chat_id),
        in_reply_to=f"{chat_id}:{message_id}",
        lang_hint=optional_str(sender.get("language_code"), "callback_query.from.language_code",
                               MAX_LANG_LENGTH),
        raw=data,
    )


def _handle(user: dict[str, Any], name: str) -> str | None:
    """The user's @username, else first name (sanitized, bounded), else None."""
    handle = optional_str(user.get("username"), f"{name}.username", MAX_HANDLE_LENGTH)
    return handle or optional_str(user.get("first_name"), f"{name}.first_name", MAX_HANDLE_LENGTH)


def _photo_area(size: dict[str, Any]) -> tuple[int, int]:
    """Sort key for photo sizes: width x height, then file size (odd values count 0)."""
    width, height, file_size = (size.get(k) for k in ("width", "height", "file_size"))
    number = [v if isinstance(v, int) and not isinstance(v, bool) else 0 for v in (width, height, file_size)]
    return (number[0] * number[1], number[2])


_INT_LIMIT = 2**63  # Telegram ids fit in 64-bit signed integers


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -_INT_LIMIT < value < _INT_LIMIT:
        shown = "an out-of-range integer" if isinstance(value, int) else brief(value)
        raise MalformedPayload(f"{name} must be a 64-bit integer, got {shown}")
    return value


def _timestamp(value: Any, name: str) -> datetime:
    """A Unix time (seconds) as an aware datetime."""
    seconds = _int(value, name)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload(f"{name} is out of range: {seconds}") from None


_COMMAND = re.compile(r"^/(\w+)(?:@(\w+))?(?=\s|$)")


def _kind(
    chat_type: str,
    text: str,
    reply: dict[str, Any] | None,
    bot_username: str | None,
    hashtags: Sequence[str],
    keywords: Sequence[str],
) -> MessageKind | None:
    """dm for private chats; mention when a group post addresses the bot; public on a match."""
    if chat_type == "private":
        return "dm"
    bot = (bot_username or "").casefold()
    command = _COMMAND.match(text.strip())
    if command and command.group(2) and command.group(2).casefold() != bot:
        return None  # a command for another bot in the group
    if command or (bot and _mention_pattern(bot_username).search(text)):
        return "mention"
    replied_by = (reply or {}).get("from")
    replied_by = replied_by if isinstance(replied_by, dict) else {}
    if replied_by.get("is_bot") and (
        not bot or str(replied_by.get("username", "")).casefold() == bot
    ):
        return "mention"
    if _matches(text, hashtags, keywords):
        return "public"
    return None


def _mention_pattern(bot_username: str | None) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@{re.escape(bot_username or '')}(?!\w)", re.IGNORECASE)


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Villajún' -> 'villajun'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _matches(text: str, hashtags: Sequence[str], keywords: Sequence[str]) -> bool:
    folded = _fold(text)
    for tag in hashtags:
        tag = _fold(tag.strip().lstrip("#"))
        if tag and re.search(rf"#{re.escape(tag)}(?!\w)", folded):
            return True
    for word in keywords:
        word = _fold(word.strip())
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
            return True
    return False


def _clean_text(text: str, bot_username: str | None) -> str:
    """Drop a leading @bot mention; '/status@bot JUN-3' becomes '/status JUN-3'."""
    text = text.strip()
    if bot_username:
        lead = re.compile(rf"^@{re.escape(bot_username)}(?!\w)[\s,:;]*", re.IGNORECASE)
        text = lead.sub("", text, count=1).strip()
    command = _COMMAND.match(text)
    if command and command.group(2):
        text = f"/{command.group(1)}{text[command.end():]}"
    return text


# -- splitting (pure) -----------------------------------------------------------


def _utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split `text` into parts of at most `limit` UTF-16 units.

    Cuts at the last paragraph break that keeps a part at least a quarter full,
    else at a line break, else at a space, else hard. Parts are stripped; an
    empty or blank text gives [].
    """
    parts: list[str] = []
    text = text.strip()
    while text:
        fit = _fitting_prefix(text, limit)
        if fit == len(text):
            parts.append(text)
            break
        cut = 0
        for separator in ("\n\n", "\n", " "):
            found = text.rfind(separator, 0, fit + 1)
            if found >= max(1, limit // 4) or (separator == " " and found > 0):
                cut = found
                break
        cut = cut or fit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts


# -- errors ---------------------------------------------------------------------


def _retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta in PTB 22.x (and warns when read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def map_error(exc: BaseException, secret: str = "") -> ChannelError:
    """The ChannelError for a PTB exception (or an OSError reading media).

    RetryAfter -> RateLimited; BadRequest, Forbidden, InvalidToken, Conflict,
    ChatMigrated -> PermanentError; OSError -> PermanentError; anything else
    (TimedOut, NetworkError, unreadable answers) -> TransientError. Order
    matters: BadRequest and TimedOut both subclass NetworkError. `secret` (the
    token) is scrubbed from the message.
    """
    if isinstance(exc, ChannelError):
        return exc
    text = f"telegram: {exc}"
    if secret:
        text = text.replace(secret, "***")
    if isinstance(exc, RetryAfter):
        return RateLimited(_retry_seconds(exc), "telegram: too many requests")
    if isinstance(exc, BadRequest | Forbidden | InvalidToken | Conflict | ChatMigrated
                  | EndPointNotFound):
        return PermanentError(text)
    if isinstance(exc, OSError):  # a media file we cannot read
        return PermanentError(text)
    return TransientError(text)  # TimedOut, NetworkError, unreadable answers


class _RedactTokens(logging.Filter):
    """Scrub '/bot<token>/' from log lines (httpx logs every request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg, record.args = re.sub(r"/bot[^/\s\"]+/", "/bot***/", message), None
        return True


# httpx logs on the "httpx" logger itself (logger filters do not reach child loggers).
if not any(isinstance(f, _RedactTokens) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactTokens())


# -- the adapter ----------------------------------------------------------------


class _Bot(telegram.Bot):
    """A Bot that can return getUpdates unparsed, so one odd update cannot sink a batch."""

    async def get_updates_raw(
        self, *, offset: int | None, limit: int, timeout: int, allowed_updates: list[str]
    ) -> list[Any]:
        """The same request as `get_updates`, answering the raw JSON list."""
        read_timeout = (self._request[0].read_timeout or 0) + timeout
        result = await self._post(
            "getUpdates",
            {"offset": offset, "limit": limit, "timeout": timeout,
             "allowed_updates": allowed_updates},
            read_timeout=read_timeout,
        )
        return list(result) if isinstance(result, list) else []


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _keyboard(buttons: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """One row of inline buttons, or None; PermanentError naming a bad label or data."""
    if not buttons:
        return None
    row = []
    for label, data in buttons:
        if not isinstance(label, str) or not label.strip():
            raise PermanentError(f"telegram: button with callback data {data!r} has an empty label")
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise PermanentError(f"telegram: button {label!r}: callback data {data!r} must be "
                                 f"1-{CALLBACK_DATA_LIMIT} bytes")
        row.append(InlineKeyboardButton(text=label, callback_data=data))
    return InlineKeyboardMarkup([row])


def _message_id(external_id: str | None) -> int | None:
    """'chat:msg' (or a bare 'msg') -> msg."""
    if not external_id:
        return None
    return int(external_id.rsplit(":", 1)[-1])


def _chat_id(value: str) -> int | str:
    return int(value) if re.fullmatch(r"-?\d+", value) else value


class TelegramChannel:
    """The Telegram `Channel`. Construction makes no network call."""

    name = "telegram"
    capabilities = Capabilities(max_length=TEXT_LIMIT, threads=True, media=True, idempotency=False)

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.telegram.org",
        *,
        bot_username: str | None = None,
        hashtags: Sequence[str] = (),
        keywords: Sequence[str] = (),
        media_dir: Path,
        poll_limit: int = 100,
    ) -> None:
        base_url = base_url.rstrip("/")
        self._token = token
        self._bot = _Bot(token, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot")
        self.bot_username = bot_username.lstrip("@") if bot_username else None
        self.hashtags = tuple(hashtags)
        self.keywords = tuple(keywords)
        self.media_dir = Path(media_dir)
        self.poll_limit = max(1, min(int(poll_limit), 100))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._ready_lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:  # never show the token
        return f"TelegramChannel(bot_username={self.bot_username!r})"

    # -- event loop plumbing --

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the private loop and map PTB errors to ChannelErrors."""
        with self._start_lock:
            if self._closed:
                coro.close()
                raise PermanentError("telegram channel is closed")
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="telegram-channel", daemon=True
                )
                self._thread.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except (TelegramError, OSError) as exc:
            raise map_error(exc, self._token) from None

    async def _ready(self) -> None:
        """Initialize the bot once (getMe), learning its username if not configured."""
        async with self._ready_lock:
            await self._bot.initialize()
            if not self.bot_username:
                self.bot_username = self._bot.username

    def close(self) -> None:
        """Shut the bot's HTTP clients down and stop the private loop. Idempotent."""
        with self._start_lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._bot.shutdown(), loop).result(timeout=10)
        except Exception:  # closing must not raise
            log.warning("telegram: error while shutting the bot down", exc_info=False)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        loop.close()

    # -- fetch --

    def fetch(self, cursor: str | None, timeout: float = 0) -> FetchResult:
        """The updates after `cursor` (a getUpdates offset), long-polling up to `timeout` s.

        Photos are downloaded to `media_dir/telegram/<file_unique_id>.<ext>`; a
        failed download keeps the message with `path=None`. Button presses come as
        "cb:<id>" messages (`parse_callback_query`) and are answered, best effort. A payload that cannot
        be parsed lands in `rejected`; the cursor still moves past it.
        """
        offset = int(cursor) if cursor else None
        return self._run(self._fetch(offset, max(0, int(timeout)), cursor))

    async def _fetch(self, offset: int | None, timeout: int, cursor: str | None) -> FetchResult:
        await self._ready()
        updates = await self._bot.get_updates_raw(
            offset=offset, limit=self.poll_limit, timeout=timeout, allowed_updates=ALLOWED_UPDATES
        )
        messages: list[InboundMessage] = []
        rejected: list[dict[str, Any]] = []
        next_offset = offset
        for data in updates:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                next_offset = max(next_offset or 0, update_id + 1)
            try:
                if not isinstance(data, dict):
                    raise TypeError(f"update must be an object, got {type(data).__name__}")
                message = parse_update(
                    data,
                    bot_username=self.bot_username,
                    hashtags=self.hashtags,
                    keywords=self.keywords,
                )
            except Exception as exc:  # one bad payload must not block the queue
                log.warning("telegram: rejected update %s: %s", update_id, exc)
                rejected.append({"update_id": update_id, "error": f"{type(exc).__name__}: {exc}",
                                 "raw": data})
                continue
            if message is not None:
                messages.append(await self._with_media(message))
            if message is not None and message.external_id.startswith("cb:"):
                await self._answer_callback(message.external_id.removeprefix("cb:"))
        next_cursor = str(next_offset) if next_offset is not None else cursor
        return FetchResult(messages=messages, next_cursor=next_cursor, rejected=rejected)

    async def _answer_callback(self, query_id: str) -> None:
        """answerCallbackQuery, so the user's button stops spinning. Best effort: never raises."""
        try:
            await self._bot.answer_callback_query(query_id)
        except (TelegramError, OSError) as exc:
            log.info("telegram: could not answer callback query %s: %s", query_id,
                     map_error(exc, self._token))

    async def _with_media(self, message: InboundMessage) -> InboundMessage:
        """Download each media item; keep the ref (path None) if a download fails."""
        media = []
        for ref in message.media:
            try:
                media.append(await self._download(ref))
            except (TelegramError, OSError) as exc:
                log.warning("telegram: could not download %s of %s: %s", ref.kind,
                            message.external_id, map_error(exc, self._token))
                media.append(ref)
        return replace(message, media=tuple(media))

    async def _download(self, ref: MediaRef) -> MediaRef:
        file = await self._bot.get_file(ref.remote_id)
        suffix = Path(urlsplit(file.file_path or "").path).suffix.lower()
        if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
            suffix = ".jpg"
        target = self.media_dir / "telegram" / f"{file.file_unique_id}{suffix}"
        if not target.exists() or target.stat().st_size == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
            await file.download_to_drive(target)
        return replace(ref, path=str(target))

    # -- send --

    def send(self, message: OutboundMessage) -> SendResult:
        """Post a reply in `conversation_id` (or `recipient_id`), threaded under `in_reply_to`.

        Text over 4096 units is split into a chain of replies; photos go first
        with the text as caption when it fits 1024 units. `public`: a post to the
        chat `recipient_id` (a chat id or "@channel"), neither a reply nor a chain.
        `buttons` become an inline keyboard (one row) on the last part sent. If a
        later part fails, the error carries `delivered`: the external ids already posted.
        """
        if message.public:
            if not message.recipient_id.strip():
                raise PermanentError("telegram: a public post needs a target chat "
                                     "(channels.telegram.digest_chat)")
            chat, reply_to = _chat_id(message.recipient_id.strip()), None
        else:
            chat = _chat_id(message.conversation_id or message.recipient_id)
            try:
                reply_to = _message_id(message.in_reply_to)
            except ValueError:
                raise PermanentError(f"telegram: bad in_reply_to {message.in_reply_to!r}") from None
        if not message.text.strip() and not message.media_paths:
            raise PermanentError("telegram: nothing to send (empty text, no media)")
        markup = _keyboard(message.buttons)
        return self._run(self._send(chat, reply_to, message.text, message.media_paths,
                                    message.skip_parts, markup, chain=not message.public))

    async def _send(
        self, chat: int | str, reply_to: int | None, text: str, media_paths: Sequence[str],
        skip: int = 0, markup: InlineKeyboardMarkup | None = None, chain: bool = True,
    ) -> SendResult:
        """Photos, then text chunks; part n replies to part n-1 when `chain`; `skip` parts were sent."""
        await self._ready()
        caption = None
        chunks = split_text(text)
        if media_paths and _utf16_len(text.strip()) <= CAPTION_LIMIT:
            caption, chunks = text.strip() or None, []
        parts = [(path, caption if index == 0 else None) for index, path in enumerate(media_paths)]
        parts += [(None, chunk) for chunk in chunks]
        delivered: list[str] = []
        previous = reply_to
        try:
            for index, (path, body) in enumerate(parts):
                if index < skip:  # posted by an earlier attempt
                    continue
                options = {"reply_parameters": _reply_to(previous),
                           "reply_markup": markup if index == len(parts) - 1 else None}
                if path is not None:
                    sent = await self._bot.send_photo(chat, photo=Path(path).read_bytes(),
                                                      filename=Path(path).name, caption=body,
                                                      **options)
                else:
                    sent = await self._bot.send_message(chat, body, **options)
                delivered.append(f"{sent.chat.id}:{sent.message_id}")
                previous = sent.message_id if chain else None
        except (TelegramError, OSError) as exc:
            error = map_error(exc, self._token)
            error.delivered = tuple(delivered)  # type: ignore[attr-defined]
            raise error from None
        return SendResult(external_id=delivered[0], extra_ids=tuple(delivered[1:]))
