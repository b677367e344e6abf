"""A loopback fake of the Telegram Bot API, plus its half of the sandbox admin API.

Bot API: `/bot<TOKEN>/<method>` (any token), form, multipart, JSON or query
parameters, answers `{"ok": true, "result": ...}`. Methods: getMe, deleteWebhook,
getUpdates (offset, limit, long-poll timeout, allowed_updates: kept until changed,
as on Telegram; an update of a type not allowed is dropped), sendMessage, sendPhoto
(both with an optional inline keyboard `reply_markup`), answerCallbackQuery, getFile,
close, logOut; files at `GET /file/bot<TOKEN>/<file_path>`.

Chats: the group, each citizen's private chat, "@name" (a public channel the bot
may post to, created on first use, e.g. the digest chat) and any other positive id
(a user who has started the bot, e.g. a staff member).

Admin (`/_sandbox/telegram/...`): POST inbound, GET inbound, GET sent, POST faults,
POST reset, and sandbox-only extras: POST raw (queue any JSON object as an update)
and GET callbacks (every button press with `answered`, and the answer's `text`).
- POST inbound also takes a button press: `{"user": "ana", "callback": "<data>",
  "reply_to": "<id of a bot message as listed in sent>", "lang"?: "es"}` queues a
  `callback_query` update and answers `{"id": "<callback query id>"}`. The message
  must carry an inline button with exactly that data (400 otherwise); in a private
  chat only that chat's user can press. A `user` of digits is that user id (a staff
  member), without a username.
- GET sent items carry, besides the contract's fields, `buttons`: the message's
  inline keyboard as `[{"label", "data"}]` (`[]` without one). `to_user` is whom a
  reply answers, the user of a private chat (username, else id), a channel's name
  (without "@") for a post there, and null for a group post that answers no one.

Ids: update and message ids start at the current time in milliseconds and only
grow, so a restarted sandbox never reuses an id a bot has stored. User ids are
stable per username. A private chat's id is the user's id; group posts go to one
supergroup. Thread-safe: one lock, and a Condition on it for long polling.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.sandbox.admin import AdminError, Fault, InboundPost
from channels.sandbox.admin import ContractAdmin
from channels.sandbox.images import make_png, png_size
from channels.sandbox.web import BadInput, Request, Response, Upload

GROUP_CHAT_ID = -1001000000001
GROUP_TITLE = "Vecinos de Villajún"
PHOTO_SIZES = ((90, 68), (320, 240))
MAX_TEXT, MAX_CAPTION, MAX_POLL = 4096, 1024, 50
MAX_CALLBACK_DATA = 64  # bytes
UPDATE_TYPES = frozenset({
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages",
    "message_reaction", "message_reaction_count", "inline_query", "chosen_inline_result",
    "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll",
    "poll_answer", "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
    "removed_chat_boost",
})
FAULT_TEXT = {500: "Internal Server Error", 503: "Service Unavailable"}


def user_id_for(username: str) -> int:
    """A stable positive user id for a username (case-insensitive)."""
    return 100_000_000 + zlib.crc32(username.lower().encode("utf-8")) % 900_000_000


def channel_id_for(name: str) -> int:
    """A stable channel chat id ("-100..." as Telegram's) for "@name" (case-insensitive)."""
    return -1_002_000_000_000 - zlib.crc32(name.lower().encode("utf-8")) % 1_000_000_000


def create_fake() -> TelegramFake:
    """The registry hook used by `channels.sandbox.server.default_fakes`."""
    return TelegramFake()


class ApiError(Exception):
    """A Bot API error answer: HTTP `code` with `{"ok": false, ...}`."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    content_type: str


@functools.lru_cache(maxsize=64)
def _cached_png(width: int, height: int, seed: int) -> bytes:
    return make_png(width, height, seed)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _utf16_len(text: str) -> int:
    """Telegram entity offsets and lengths count UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> list[dict[str, Any]]:
    """mention, hashtag and bot_command entities as Telegram would mark them."""
    found = []
    for match in re.finditer(r"(?<![\w/@#])(@\w{3,}|#\w+|/\w+(?:@\w+)?)", text):
        token = match.group(1)
        kind = {"@": "mention", "#": "hashtag", "/": "bot_command"}[token[0]]
        if kind == "bot_command" and match.start() != 0:
            continue  # only a leading command counts
        offset = _utf16_len(text[: match.start()])
        found.append({"type": kind, "offset": offset, "length": _utf16_len(token)})
    return found


def _ok(result: Any) -> Response:
    return Response.json({"ok": True, "result": result})


def _api_error(code: int, description: str, **parameters: Any) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response.json(body, code)


def _int_param(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: field \"{key}\" must be an integer") from None


def _json_param(params: dict[str, Any], key: str, expected: type = dict) -> Any:
    """Nested values arrive JSON-encoded inside forms, or as themselves in JSON bodies; None if absent."""
    value = params.get(key)
    if value is None or value == "":
        return None
    what = "object" if expected is dict else "array"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(400, f"Bad Request: can't parse {key} JSON {what}") from None
    if not isinstance(value, expected):
        raise ApiError(400, f"Bad Request: {key} must be an {what}")
    return value


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class TelegramFake(ContractAdmin):
    """The Telegram platform fake. `bot_username` is what getMe reports."""

    name = "telegram"
    prefixes = ("/bot", "/file/bot")

    def __init__(
        self,
        bot_username: str = "citybot_demo_bot",
        *,
        bot_first_name: str = "Citybot",
        group_title: str = GROUP_TITLE,
    ) -> None:
        self.bot_username = bot_username
        self.bot_user = {
            "id": user_id_for(bot_username),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.group_chat = {"id": GROUP_CHAT_ID, "type": "supergroup", "title": group_title}
        self._cond = threading.Condition(threading.Lock())
        self._records_lock = self._cond
        self._next_update_id = self._next_message_id = int(time.time() * 1000)
        self._closed = False
        self._chats: dict[int, dict[str, Any]] = {GROUP_CHAT_ID: self.group_chat}
        self._clear()
        self._methods = {
            "getme": self._get_me,
            "deletewebhook": lambda p: True,
            "close": lambda p: True,
            "logout": lambda p: True,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "answercallbackquery": self._answer_callback_query,
            "getfile": self._get_file,
        }

    def _clear(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._messages: dict[int, dict[str, Any]] = {}
        self._files: dict[str, StoredFile] = {}
        self._paths: dict[str, str] = {}
        self._inbound: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._callbacks: dict[str, dict[str, Any]] = {}
        self._allowed: frozenset[str] | None = None  # None: every update type
        self._fault: Fault | None = None

    # -- lifecycle (PlatformFake) ------------------------------------------

    def reset(self) -> None:
        """Forget messages, updates, files, sent and faults. Ids and chats stay."""
        with self._cond:
            self._clear()
            self._cond.notify_all()

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- Bot API -------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve a Bot API call or a file download."""
        if request.path.startswith("/file/bot"):
            return self._download(request.path)
        match = re.fullmatch(r"/bot[^/]+/(\w+)", request.path)
        if not match:
            return _api_error(404, "Not Found")
        fault = self._take_fault()
        if fault is not None:
            return fault
        method = self._methods.get(match.group(1).lower())
        if method is None:
            return _api_error(404, "Not Found")
        try:
            return _ok(method(request.params()))
        except ApiError as exc:
            return _api_error(exc.code, exc.description)
        except BadInput as exc:
            return _api_error(400, f"Bad Request: {exc}")

    def _take_fault(self) -> Response | None:
        with self._cond:
            fault = self._fault
            if fault is None or not fault.take():
                return None
        status = fault.status
        if status == 429:
            seconds = fault.retry_after
            response = _api_error(
                429, f"Too Many Requests: retry after {seconds}", retry_after=seconds
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        return _api_error(status, FAULT_TEXT[status])

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int_param(params, "offset")
        limit = min(max(_int_param(params, "limit", 100) or 100, 1), 100)
        try:
            timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_POLL)
        except ValueError:
            raise ApiError(400, 'Bad Request: field "timeout" must be a number') from None
        allowed = _allowed_updates(params)
        deadline = time.monotonic() + timeout
        with self._cond:
            if allowed is not None:
                self._allowed = allowed or None
            self._confirm(offset)
            while not self._updates and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    break
                self._confirm(offset)
            return list(self._updates[:limit])

    def _confirm(self, offset: int | None) -> None:
        """Drop updates the offset confirms, and those of types not allowed (caller holds the lock)."""
        if self._allowed is not None:
            self._updates = [u for u in self._updates if _update_type(u) in self._allowed | {None}]
        if offset is None or offset == 0:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """The chat `chat_id` names: a known chat, "@channel" or a user who started the bot."""
        given = str(params.get("chat_id") or "").strip()
        if re.fullmatch(r"@[A-Za-z]\w{3,31}", given):
            name = given[1:]
            return self._chats.setdefault(channel_id_for(name), {
                "id": channel_id_for(name), "type": "channel", "title": name, "username": name})
        chat = self._chats.get(int(given)) if re.fullmatch(r"-?\d+", given) else None
        if chat is None and given.isdigit() and int(given) > 0:
            chat = self._chats.setdefault(int(given), {
                "id": int(given), "type": "private", "first_name": f"User {given}"})
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _reply_target(self, params: dict[str, Any], chat: dict[str, Any]) -> dict | None:
        """The message a bot call replies to, from reply_parameters or the legacy fields."""
        reply = _json_param(params, "reply_parameters")
        if reply is not None:
            message_id, allow = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            message_id = _int_param(params, "reply_to_message_id")
            allow = params.get("allow_sending_without_reply")
        if message_id is None:
            return None
        target = self._messages.get(int(message_id))
        if target is None or target["chat"]["id"] != chat["id"]:
            if _truthy(allow):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        with self._cond:
            chat = self._chat(params)
            target = self._reply_target(params, chat)
            content = {"text": text, **_keyboard(params)}
            message = self._new_message(chat, self.bot_user, target, content)
            self._record_sent(message, target, text, [])
        return message

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption") or ""
        if len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo[len("attach://") :])
        with self._cond:
            chat = self._chat(params)
            target = self._reply_target(params, chat)
            message_id = self._next_message_id
            if isinstance(photo, Upload):
                sizes = [self._store_upload(photo, message_id)]
            elif isinstance(photo, str) and photo in self._files:
                sizes = [self._photo_size(self._files[photo])]
            else:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            content: dict[str, Any] = {"photo": sizes, **_keyboard(params)}
            if caption:
                content["caption"] = caption
            message = self._new_message(chat, self.bot_user, target, content)
            self._record_sent(message, target, caption, ["photo"])
        return message

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _download(self, path: str) -> Response:
        match = re.fullmatch(r"/file/bot[^/]+/(.+)", path)
        with self._cond:
            file_id = self._paths.get(match.group(1)) if match else None
            stored = self._files.get(file_id) if file_id else None
        if stored is None:
            return _api_error(404, "Not Found")
        return Response.binary(stored.data, stored.content_type)

    # -- state helpers (caller holds the lock) -------------------------------

    def _new_message(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any],
        target: dict[str, Any] | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        message_id = self._next_message_id
        self._next_message_id += 1
        message = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time())}
        if target is not None:
            message["reply_to_message"] = {
                k: v for k, v in target.items() if k != "reply_to_message"
            }
        message.update(content)
        self._messages[message_id] = message
        return message

    def _record_sent(self, message: dict, target: dict | None, text: str, media: list) -> None:
        chat = message["chat"]
        if target is not None:
            to_user = target["from"].get("username")
        elif chat["type"] == "private":
            to_user = chat.get("username") or str(chat["id"])
        else:
            to_user = chat.get("username")  # a channel's name; None in the group
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        self._sent.append(
            {
                "id": str(message["message_id"]),
                "text": text,
                "in_reply_to": str(target["message_id"]) if target else None,
                "to_user": to_user,
                "media": media,
                "buttons": [{"label": b["text"], "data": b.get("callback_data")}
                            for row in rows for b in row],
                "at": _now_iso(),
            }
        )

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        with self._cond:
            record = self._callbacks.get(query_id)
            if record is None or record["answered"]:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                    "or query ID is invalid")
            record["answered"] = True
            record["answer_text"] = params.get("text") or None
        return True

    def _store(self, file_id: str, unique: str, path: str, data: bytes, ctype: str) -> StoredFile:
        stored = StoredFile(file_id, unique, path, data, ctype)
        self._files[file_id] = stored
        self._paths[path] = file_id
        return stored

    def _photo_size(self, stored: StoredFile) -> dict[str, Any]:
        width, height = png_size(stored.data) or (320, 240)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "file_size": len(stored.data),
        }

    def _store_upload(self, upload: Upload, message_id: int) -> dict[str, Any]:
        is_png = png_size(upload.data) is not None
        ext = ".png" if is_png else ".jpg"
        stored = self._store(
            f"AgACsbx{message_id}",
            f"AQADsbx{message_id}",
            f"photos/file_{message_id}{ext}",
            upload.data,
            "image/png" if is_png else "image/jpeg",
        )
        return self._photo_size(stored)

    def _citizen_photo(self, message_id: int) -> list[dict[str, Any]]:
        """Two sizes of a generated PNG, smallest first, as Telegram lists them."""
        sizes = []
        for width, height in PHOTO_SIZES:
            stored = self._store(
                f"AgACsbx{message_id}w{width}",
                f"AQADsbx{message_id}w{width}",
                f"photos/file_{message_id}_{width}.png",
                _cached_png(width, height, message_id % 40),
                "image/png",
            )
            sizes.append(self._photo_size(stored))
        return sizes

    # -- admin API -------------------------------------------------------------

    def _extra_admin_routes(self):
        return {("GET", "callbacks"): lambda r: self.callbacks()}

    def callbacks(self) -> list[dict[str, Any]]:
        """Every button press made through the admin API, oldest first, with `answered`."""
        with self._cond:
            return [dict(r) for r in self._callbacks.values()]

    def _admin_inbound(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if isinstance(body, dict) and "callback" in body:
            press = ButtonPress.from_json(body)
            with self._cond:
                query_id = self._press_button(press)
                self._cond.notify_all()
            return {"id": query_id}
        post = InboundPost.from_json(body)
        with self._cond:
            message = self._post_citizen_message(post)
            self._cond.notify_all()
        return {"id": str(message["message_id"])}

    def _press_button(self, press: ButtonPress) -> str:
        """Queue a callback_query update for a press on a bot message's button (caller holds the lock)."""
        user = _citizen(press.user, press.lang)
        if press.user.isdigit():  # a bare user id, e.g. a staff member's
            user = {"id": int(press.user), "is_bot": False, "first_name": f"User {press.user}"}
        message_id = _message_ref(press.reply_to)
        target = self._messages.get(message_id)  # type: ignore[arg-type]
        if target is None:
            raise AdminError(404, f"reply_to: no telegram message with id {message_id}")
        rows = (target.get("reply_markup") or {}).get("inline_keyboard") or []
        if press.data not in [b.get("callback_data") for row in rows for b in row]:
            raise AdminError(400, f"callback: message {message_id} has no button with data "
                                  f"{press.data!r}")
        chat = target["chat"]
        if chat["type"] == "private" and chat["id"] != user["id"]:
            raise AdminError(400, "reply_to: that message is in another user's private chat")
        query_id = str(self._next_update_id * 1000 + 7)  # opaque and growing, as Telegram's
        query = {"id": query_id, "from": user, "message": dict(target),
                 "chat_instance": str(zlib.crc32(str(chat["id"]).encode("ascii"))),
                 "data": press.data}
        self._queue_update({"callback_query": query})
        self._callbacks[query_id] = {"id": query_id, "user": press.user, "callback": press.data,
                                     "reply_to": str(message_id), "answered": False,
                                     "answer_text": None, "at": _now_iso()}
        return query_id

    def _post_citizen_message(self, post: InboundPost) -> dict[str, Any]:
        user = _citizen(post.user, post.lang)
        target, reply_to = None, _message_ref(post.reply_to)
        if reply_to is not None:
            target = self._messages.get(reply_to)
            if target is None:
                raise AdminError(404, f"reply_to: no telegram message with id {reply_to}")
            chat = target["chat"]
            if chat["type"] == "private" and chat["id"] != user["id"]:
                raise AdminError(400, "reply_to: that message is in another user's private chat")
        elif post.kind == "dm":
            chat = self._chats.setdefault(
                user["id"],
                {"id": user["id"], "type": "private", "first_name": user["first_name"],
                 "username": post.user},
            )
        else:
            chat = self.group_chat
        text = post.text.strip()
        replying_to_bot = target is not None and target["from"].get("is_bot")
        if chat["type"] != "private" and post.kind == "mention" and not replying_to_bot:
            if text.startswith("/"):  # a group command is addressed as /cmd@bot
                command, _, rest = text.partition(" ")
                text = f"{command}@{self.bot_username} {rest}".strip()
            else:
                text = f"@{self.bot_username} {text}".strip()
        content: dict[str, Any] = {}
        if post.photo:
            content["photo"] = self._citizen_photo(self._next_message_id)
        if text:
            text_key = "caption" if post.photo else "text"
            content[text_key] = text
            if entities := _entities(text):
                content["caption_entities" if post.photo else "entities"] = entities
        if post.lat is not None:
            content["location"] = {"latitude": post.lat, "longitude": post.lon}
        message = self._new_message(chat, user, target, content)
        self._queue_update({"message": message})
        kind = "dm" if chat["type"] == "private" else post.kind
        self._inbound.append(
            {
                "id": str(message["message_id"]),
                "user": post.user,
                "text": post.text,
                "kind": kind,
                "reply_to": str(reply_to) if reply_to is not None else None,
                "lat": post.lat,
                "lon": post.lon,
                "photo": post.photo,
                "at": _now_iso(),
            }
        )
        return message

    def _queue_update(self, body: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, **body})
        return update_id

    def _admin_faults(self, request: Request) -> dict[str, Any]:
        fault = Fault.from_json(request.json())
        with self._cond:
            self._fault = fault
        return {"ok": True, **fault.as_json()}

    def _admin_raw(self, request: Request) -> dict[str, Any]:
        """Queue any JSON object as an update (to test how a bot copes with odd payloads)."""
        body = request.json()
        if not isinstance(body, dict):
            raise AdminError(400, "raw update must be a JSON object")
        body.pop("update_id", None)
        with self._cond:
            update_id = self._queue_update(body)
            self._cond.notify_all()
        return {"update_id": update_id}


def _message_ref(value: str | None) -> int | None:
    """A message id given as "123" or "chat:123" (the adapter's external id)."""
    if value is None:
        return None
    text = value.rsplit(":", 1)[-1]
    if not text.lstrip("-").isdigit():
        raise AdminError(400, "'reply_to' must be a Telegram message id")
    return int(text)


@dataclass(frozen=True)
class ButtonPress:
    """A validated inbound body for a button press: `{"user", "callback", "reply_to", "lang"?}`."""

    user: str
    data: str
    reply_to: str
    lang: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ButtonPress:
        """Validate; raise AdminError(400) naming the first problem."""
        user, data, reply_to = body.get("user"), body.get("callback"), body.get("reply_to")
        if not isinstance(user, str) or not user.strip().lstrip("@"):
            raise AdminError(400, "'user' is required: a non-empty string")
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise AdminError(400, f"'callback' must be a string of 1-{MAX_CALLBACK_DATA} bytes")
        if isinstance(reply_to, bool) or not isinstance(reply_to, str | int) or reply_to == "":
            raise AdminError(400, "'reply_to' is required with 'callback': the id of a bot "
                                  "message with buttons")
        lang = body.get("lang")
        if lang is not None and not isinstance(lang, str):
            raise AdminError(400, "'lang' must be a string such as \"es\"")
        return cls(user.strip().lstrip("@"), data, str(reply_to), lang or None)


def _citizen(username: str, lang: str | None) -> dict[str, Any]:
    """The Telegram user object of a citizen the sandbox plays."""
    user: dict[str, Any] = {
        "id": user_id_for(username),
        "is_bot": False,
        "first_name": username[:1].upper() + username[1:],
        "username": username,
    }
    if lang:
        user["language_code"] = lang
    return user


def _keyboard(params: dict[str, Any]) -> dict[str, Any]:
    """`{"reply_markup": ...}` for an inline keyboard in the call, else {}; ApiError when invalid."""
    markup = _json_param(params, "reply_markup")
    if markup is None or "inline_keyboard" not in markup:
        return {}
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, "Bad Request: field \"inline_keyboard\" must be an Array of Array")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not str(button.get("text") or "").strip():
            raise ApiError(400, "Bad Request: inline keyboard button text must be non-empty")
        data = button.get("callback_data")
        if data is not None and not (isinstance(data, str)
                                     and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA):
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"reply_markup": {"inline_keyboard": rows}}


def _allowed_updates(params: dict[str, Any]) -> frozenset[str] | None:
    """The update types a getUpdates call asks for; None when it does not say."""
    value = _json_param(params, "allowed_updates", list)
    if value is None:
        return None
    if not all(isinstance(v, str) for v in value):
        raise ApiError(400, "Bad Request: allowed_updates must be an array of strings")
    return frozenset(value)


def _update_type(update: dict[str, Any]) -> str | None:
    """The update's type (its known payload key), None for an odd raw update."""
    return next((key for key in update if key in UPDATE_TYPES), None)
