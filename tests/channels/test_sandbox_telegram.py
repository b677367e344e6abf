"""The sandbox's Telegram fake and admin API, over real loopback HTTP."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from telegram import Update

from channels.sandbox.images import make_png
from channels.sandbox.server import SandboxServer
from channels.sandbox.telegram import GROUP_CHAT_ID, TelegramFake, user_id_for
from tests.channels.helpers import SandboxAdmin

TOKEN = "123456:TEST-token"
BOT = "citybot_demo_bot"

_admin = SandboxAdmin("telegram")
post = _admin.post


def call(client: httpx.Client, method: str, **params) -> httpx.Response:
    """A Bot API call the way python-telegram-bot sends it: a form POST."""
    form = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
    return client.post(f"/bot{TOKEN}/{method}", data=form)


def result(client: httpx.Client, method: str, **params):
    response = call(client, method, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    return body["result"]


def updates(client: httpx.Client, **params) -> list[dict]:
    return result(client, "getUpdates", **params)


def message_of(client: httpx.Client) -> dict:
    (update,) = updates(client)
    assert Update.de_json(update, None) is not None  # a real Telegram shape
    return update["message"]


# -- Bot API basics -------------------------------------------------------------


def test_get_me_accepts_form_json_and_query(client):
    assert result(client, "getMe")["username"] == BOT
    assert client.post(f"/bot{TOKEN}/getMe", json={}).json()["result"]["is_bot"] is True
    assert client.get("/botany-token/getMe").json()["result"]["first_name"] == "Citybot"
    assert result(client, "deleteWebhook") is True
    assert result(client, "close") is True and result(client, "logOut") is True


def test_unknown_method_is_404_not_found(client):
    response = call(client, "sendDice", chat_id=1)
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_bot_username_is_configurable():
    with SandboxServer(fakes=[TelegramFake("villa_bot")]) as server:
        me = httpx.post(f"{server.url}/bot{TOKEN}/getMe").json()["result"]
    assert me["username"] == "villa_bot"


# -- inbound kinds --------------------------------------------------------------


def test_mention_is_a_group_message_with_a_mention_entity(client):
    message_id = post(client, user="ana", text="Hay un bache", lang="es")
    message = message_of(client)
    assert str(message["message_id"]) == message_id
    assert message["chat"] == {"id": GROUP_CHAT_ID, "type": "supergroup",
                               "title": "Vecinos de Villajún"}
    assert message["text"] == f"@{BOT} Hay un bache"
    assert message["entities"] == [{"type": "mention", "offset": 0, "length": len(BOT) + 1}]
    assert message["from"] == {"id": user_id_for("ana"), "is_bot": False, "first_name": "Ana",
                               "username": "ana", "language_code": "es"}


def test_dm_is_a_private_chat_whose_id_is_the_user_id(client):
    post(client, user="@luc", text="Lampadaire éteint", kind="dm", lang="fr")
    message = message_of(client)
    assert message["chat"]["type"] == "private"
    assert message["chat"]["id"] == message["from"]["id"] == user_id_for("luc")
    assert message["text"] == "Lampadaire éteint"
    assert user_id_for("luc") == user_id_for("LUC") > 0


def test_public_is_group_chatter_without_mention(client):
    post(client, user="bob", text="Otra vez sin luz #Villajún", kind="public")
    message = message_of(client)
    assert message["chat"]["id"] == GROUP_CHAT_ID
    assert message["text"] == "Otra vez sin luz #Villajún"
    assert message["entities"] == [{"type": "hashtag", "offset": 17, "length": 9}]


def test_group_command_is_addressed_to_the_bot(client):
    post(client, user="ana", text="/status JUN-3")
    message = message_of(client)
    assert message["text"] == f"/status@{BOT} JUN-3"
    assert message["entities"][0] == {"type": "bot_command", "offset": 0,
                                      "length": len(f"/status@{BOT}")}


def test_location_keeps_the_text(client):
    post(client, user="ana", text="Farola rota", lat=37.2, lon=-3.6)
    message = message_of(client)
    assert message["location"] == {"latitude": 37.2, "longitude": -3.6}
    assert message["text"].endswith("Farola rota")


def test_photo_has_two_sizes_a_caption_and_a_real_png(client):
    post(client, user="ana", text="Mirad esto", photo=True)
    message = message_of(client)
    assert "text" not in message and message["caption"] == f"@{BOT} Mirad esto"
    assert message["caption_entities"][0]["type"] == "mention"
    small, large = message["photo"]
    assert small["width"] < large["width"]
    info = result(client, "getFile", file_id=large["file_id"])
    assert info["file_unique_id"] == large["file_unique_id"]
    download = client.get(f"/file/bot{TOKEN}/{info['file_path']}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(download.content) == info["file_size"] == large["file_size"]


def test_reply_to_carries_the_full_message_in_its_chat(client):
    first = post(client, user="ana", text="hola", kind="dm")
    second = post(client, user="ana", text="¿alguna novedad?", reply_to=first)
    message = updates(client)[-1]["message"]
    assert message["message_id"] == int(second)
    assert message["chat"]["type"] == "private"  # the replied-to message's chat
    assert message["reply_to_message"]["message_id"] == int(first)
    assert message["reply_to_message"]["text"] == "hola"
    inbound = client.get("/_sandbox/telegram/inbound").json()
    assert inbound[-1]["kind"] == "dm" and inbound[-1]["reply_to"] == first


def test_reply_to_a_bot_message_in_the_group_needs_no_mention(client):
    post(client, user="ana", text="bache")
    chat_id = message_of(client)["chat"]["id"]
    bot_msg = result(client, "sendMessage", chat_id=chat_id, text="¿Dónde?")
    post(client, user="ana", text="calle Mayor", reply_to=f"{chat_id}:{bot_msg['message_id']}")
    message = updates(client)[-1]["message"]
    assert message["text"] == "calle Mayor"
    assert message["reply_to_message"]["from"]["is_bot"] is True


def test_inbound_listing(client):
    first = post(client, user="ana", text="uno", lat=1.5, lon=2.5)
    post(client, user="bob", text="dos", kind="public", photo=True, reply_to=first)
    listed = client.get("/_sandbox/telegram/inbound").json()
    assert [p["text"] for p in listed] == ["uno", "dos"]
    assert set(listed[0]) == {"id", "user", "text", "kind", "reply_to", "lat", "lon",
                              "photo", "at"}
    assert listed[0]["lat"] == 1.5 and listed[1]["photo"] is True
    assert listed[1]["reply_to"] == first and listed[1]["kind"] == "public"


# -- getUpdates -----------------------------------------------------------------


def test_offset_confirms_and_limit_caps(client):
    ids = [post(client, user="ana", text=f"n{i}") for i in range(3)]
    batch = updates(client, limit=2)
    assert [str(u["message"]["message_id"]) for u in batch] == ids[:2]
    assert len(updates(client)) == 3  # nothing confirmed yet
    rest = updates(client, offset=batch[-1]["update_id"] + 1)
    assert [str(u["message"]["message_id"]) for u in rest] == ids[2:]
    assert updates(client, offset=rest[-1]["update_id"] + 1) == []
    assert updates(client) == []  # confirmed ones are gone for good


def test_long_poll_returns_when_an_update_arrives(client, sandbox):
    threading.Timer(0.3, lambda: httpx.post(
        f"{sandbox.url}/_sandbox/telegram/inbound", json={"user": "ana", "text": "ya"})).start()
    started = time.monotonic()
    batch = updates(client, timeout=10)
    assert len(batch) == 1 and time.monotonic() - started < 5


def test_long_poll_times_out_empty(client):
    started = time.monotonic()
    assert updates(client, timeout=1) == []
    assert 0.8 < time.monotonic() - started < 5


def test_ids_only_increase_across_reset_and_restart(client, sandbox):
    first = int(post(client, user="ana", text="a"))
    update_id = updates(client)[0]["update_id"]
    client.post("/_sandbox/reset")
    assert int(post(client, user="ana", text="b")) > first
    assert updates(client)[0]["update_id"] > update_id
    with SandboxServer() as restarted:
        again = httpx.post(f"{restarted.url}/_sandbox/telegram/inbound",
                           json={"user": "ana", "text": "c"}).json()["id"]
    assert int(again) > first


# -- sending --------------------------------------------------------------------


def test_send_message_threaded_by_reply_parameters(client):
    citizen = post(client, user="ana", text="bache")
    chat_id = message_of(client)["chat"]["id"]
    sent = result(client, "sendMessage", chat_id=chat_id, text="Gracias, JUN-1",
                  reply_parameters={"message_id": int(citizen)})
    assert sent["reply_to_message"]["message_id"] == int(citizen)
    assert sent["from"]["username"] == BOT
    legacy = result(client, "sendMessage", chat_id=chat_id, text="Seguimos",
                    reply_to_message_id=sent["message_id"])
    log = client.get("/_sandbox/telegram/sent").json()
    assert [(r["id"], r["in_reply_to"], r["to_user"]) for r in log] == [
        (str(sent["message_id"]), citizen, "ana"),
        (str(legacy["message_id"]), str(sent["message_id"]), BOT),
    ]
    assert log[0]["text"] == "Gracias, JUN-1" and log[0]["media"] == []
    assert log[0]["at"].endswith("+00:00")


def test_send_in_private_chat_without_reply_names_the_chat_user(client):
    post(client, user="luc", text="salut", kind="dm")
    result(client, "sendMessage", chat_id=user_id_for("luc"), text="Bonjour")
    (record,) = client.get("/_sandbox/telegram/sent").json()
    assert record["in_reply_to"] is None and record["to_user"] == "luc"


def test_send_errors_look_like_telegram(client):
    assert call(client, "sendMessage", chat_id=-42, text="x").json()["description"] == \
        "Bad Request: chat not found"
    missing = call(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="x",
                   reply_parameters={"message_id": 1})
    assert missing.status_code == 400
    assert "replied not found" in missing.json()["description"]
    allowed = result(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="x",
                     reply_parameters={"message_id": 1, "allow_sending_without_reply": True})
    assert "reply_to_message" not in allowed
    too_long = call(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="x" * 4097)
    assert too_long.status_code == 400 and too_long.json()["error_code"] == 400
    assert call(client, "sendMessage", chat_id=GROUP_CHAT_ID, text=" ").status_code == 400


def test_send_photo_multipart(client):
    citizen = post(client, user="ana", text="bache")
    png = make_png(16, 8)
    response = client.post(
        f"/bot{TOKEN}/sendPhoto",
        data={"chat_id": str(GROUP_CHAT_ID), "caption": "Arreglado",
              "reply_parameters": json.dumps({"message_id": int(citizen)})},
        files={"photo": ("fixed.png", png, "image/png")},
    )
    assert response.status_code == 200, response.text
    photo = response.json()["result"]["photo"][-1]
    assert (photo["width"], photo["height"]) == (16, 8)
    (record,) = client.get("/_sandbox/telegram/sent").json()
    assert record["media"] == ["photo"] and record["text"] == "Arreglado"
    assert record["in_reply_to"] == citizen
    info = result(client, "getFile", file_id=photo["file_id"])
    assert client.get(f"/file/bot{TOKEN}/{info['file_path']}").content == png


# -- faults and reset -----------------------------------------------------------


def test_429_fault_hits_the_next_n_bot_calls_only(client):
    response = client.post("/_sandbox/telegram/faults",
                           json={"status": 429, "count": 2, "retry_after": 7})
    assert response.status_code == 200
    post(client, user="ana", text="admin calls are not affected", photo=True)
    first = call(client, "getUpdates")
    assert first.status_code == 429
    assert first.json() == {"ok": False, "error_code": 429,
                            "description": "Too Many Requests: retry after 7",
                            "parameters": {"retry_after": 7}}
    assert call(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="x").status_code == 429
    assert call(client, "getMe").status_code == 200


def test_file_downloads_ignore_faults(client):
    post(client, user="ana", text="foto", photo=True)
    file_id = message_of(client)["photo"][-1]["file_id"]
    path = result(client, "getFile", file_id=file_id)["file_path"]
    client.post("/_sandbox/telegram/faults", json={"status": 500, "count": 1})
    assert client.get(f"/file/bot{TOKEN}/{path}").status_code == 200
    assert call(client, "getMe").status_code == 500


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_faults(client, status):
    client.post("/_sandbox/telegram/faults", json={"status": status, "count": 1})
    response = call(client, "getMe")
    assert response.status_code == status
    assert response.json()["ok"] is False and response.json()["error_code"] == status
    assert call(client, "getMe").status_code == 200


def test_reset_clears_everything(client):
    post(client, user="ana", text="a")
    result(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="b")
    client.post("/_sandbox/telegram/faults", json={"status": 500, "count": 5})
    assert client.post("/_sandbox/reset").json() == {"ok": True}
    assert client.get("/_sandbox/telegram/inbound").json() == []
    assert client.get("/_sandbox/telegram/sent").json() == []
    assert updates(client) == []  # also proves the fault is gone


def test_raw_update_is_queued_as_is(client):
    queued = client.post("/_sandbox/telegram/raw", json={"message": {"oops": True}}).json()
    (update,) = updates(client)
    assert update == {"update_id": queued["update_id"], "message": {"oops": True}}


# -- bad admin input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/_sandbox/nope/inbound", {"user": "a", "text": "b"}, 404, "unknown platform 'nope'"),
        ("/_sandbox/telegram/inbound", {"text": "b"}, 400, "'user'"),
        ("/_sandbox/telegram/inbound", {"user": "a"}, 400, "'text'"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": ""}, 400, "'text' is empty"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": "b", "kind": "x"}, 400, "'kind'"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": "b", "lat": 1}, 400, "'lon'"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": "b", "lat": 99, "lon": 0}, 400,
         "'lat'"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": "b", "photo": "yes"}, 400,
         "'photo'"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": "b", "reply_to": "999"}, 404,
         "reply_to"),
        ("/_sandbox/telegram/inbound", {"user": "a", "text": "b", "reply_to": "x"}, 400,
         "reply_to"),
        ("/_sandbox/telegram/inbound", [1], 400, "JSON object"),
        ("/_sandbox/telegram/faults", {"status": 404, "count": 1}, 400, "'status'"),
        ("/_sandbox/telegram/faults", {"status": 500, "count": -1}, 400, "'count'"),
        ("/_sandbox/telegram/faults", {"status": 429, "retry_after": 0}, 400, "'retry_after'"),
        ("/_sandbox/telegram/frobnicate", {}, 404, "frobnicate"),
    ],
)
def test_bad_admin_input_is_named(client, path, body, status, needle):
    response = client.post(path, json=body)
    assert response.status_code == status
    assert needle in response.json()["error"]


def test_bad_json_and_platforms_still_to_come(client):
    response = client.post("/_sandbox/telegram/inbound", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    for platform in ("x", "mastodon"):
        response = client.post(f"/_sandbox/{platform}/inbound", json={"user": "a", "text": "b"})
        if response.status_code == 404:  # until that platform's fake lands
            assert "not in this sandbox yet" in response.json()["error"]
    assert client.delete("/_sandbox/telegram/faults").status_code == 405


# -- the web page ---------------------------------------------------------------


def test_web_page_and_platform_list(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/_sandbox/platforms" in page.text and "textContent" in page.text
    assert "innerHTML" not in page.text
    platforms = client.get("/_sandbox/platforms").json()
    assert [p["name"] for p in platforms][:3] == ["x", "telegram", "mastodon"]
    assert {"name": "telegram", "available": True} in platforms


# -- channels, keyboards and button presses -------------------------------------------

KEYBOARD = {"inline_keyboard": [[{"text": "Sí", "callback_data": "fixed:JUN-7"},
                                 {"text": "No", "callback_data": "open:JUN-7"}]]}


def bot_message_with_buttons(client, chat_id=GROUP_CHAT_ID) -> dict:
    return result(client, "sendMessage", chat_id=chat_id, text="¿Arreglado?", reply_markup=KEYBOARD)


def press(client, **body) -> httpx.Response:
    return client.post("/_sandbox/telegram/inbound", json=body)


def test_a_channel_by_name_takes_posts_and_names_no_citizen(client):
    message = result(client, "sendMessage", chat_id="@villajun_avisos", text="Resumen")
    assert message["chat"]["type"] == "channel" and message["chat"]["username"] == "villajun_avisos"
    again = result(client, "sendMessage", chat_id="@villajun_avisos", text="Otro")
    assert again["chat"]["id"] == message["chat"]["id"] < 0
    first, _ = client.get("/_sandbox/telegram/sent").json()
    assert first["in_reply_to"] is None and first["to_user"] == "villajun_avisos"
    assert first["buttons"] == []
    assert call(client, "sendMessage", chat_id="@x", text="y").json()["description"] == \
        "Bad Request: chat not found"


def test_a_user_who_started_the_bot_can_get_a_dm(client):
    message = result(client, "sendMessage", chat_id=100001, text="Tu cola: 2 avisos")
    assert message["chat"] == {"id": 100001, "type": "private", "first_name": "User 100001"}
    (record,) = client.get("/_sandbox/telegram/sent").json()
    assert record["to_user"] == "100001"


def test_inline_keyboard_is_kept_and_listed_as_buttons(client):
    message = bot_message_with_buttons(client)
    assert message["reply_markup"] == KEYBOARD
    assert Update.de_json({"update_id": 1, "message": message}, None).message.reply_markup
    (record,) = client.get("/_sandbox/telegram/sent").json()
    assert record["buttons"] == [{"label": "Sí", "data": "fixed:JUN-7"},
                                 {"label": "No", "data": "open:JUN-7"}]


@pytest.mark.parametrize("button", [{"text": "", "callback_data": "a"},
                                    {"text": "Ok", "callback_data": ""},
                                    {"text": "Ok", "callback_data": "x" * 65}])
def test_bad_buttons_are_refused_as_telegram_does(client, button):
    response = call(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="x",
                    reply_markup={"inline_keyboard": [[button]]})
    assert response.status_code == 400 and response.json()["ok"] is False
    assert client.get("/_sandbox/telegram/sent").json() == []


def test_a_button_press_becomes_a_callback_query_and_is_answered_once(client):
    message = bot_message_with_buttons(client)
    answer = press(client, user="ana", callback="open:JUN-7", reply_to=f"{GROUP_CHAT_ID}:"
                   f"{message['message_id']}", lang="es")
    assert answer.status_code == 200
    query_id = answer.json()["id"]
    (update,) = updates(client)
    query = Update.de_json(update, None).callback_query  # a real Telegram shape
    assert query.id == query_id and query.data == "open:JUN-7"
    assert query.from_user.username == "ana" and query.from_user.language_code == "es"
    assert query.message.message_id == message["message_id"]
    assert query.message.reply_markup.inline_keyboard[0][1].callback_data == "open:JUN-7"
    assert result(client, "answerCallbackQuery", callback_query_id=query_id) is True
    twice = call(client, "answerCallbackQuery", callback_query_id=query_id)
    assert twice.status_code == 400 and "query ID is invalid" in twice.json()["description"]
    (listed,) = client.get("/_sandbox/telegram/callbacks").json()
    assert listed["answered"] is True and listed["callback"] == "open:JUN-7"
    assert listed["reply_to"] == str(message["message_id"]) and listed["user"] == "ana"


def test_allowed_updates_drop_other_types_until_changed(client):
    message = bot_message_with_buttons(client)
    press(client, user="ana", callback="fixed:JUN-7", reply_to=str(message["message_id"]))
    post(client, user="ana", text="hola")
    only_messages = updates(client, allowed_updates=["message"])
    assert [list(u)[1] for u in only_messages] == ["message"]
    press(client, user="ana", callback="fixed:JUN-7", reply_to=str(message["message_id"]))
    assert updates(client, offset=only_messages[-1]["update_id"] + 1) == []  # still messages only
    press(client, user="ana", callback="fixed:JUN-7", reply_to=str(message["message_id"]))
    both = updates(client, allowed_updates=["message", "callback_query"])
    assert [list(u)[1] for u in both] == ["callback_query"]


def test_a_staff_member_presses_by_user_id_in_their_private_chat(client):
    message = bot_message_with_buttons(client, chat_id=100001)
    assert press(client, user="100001", callback="fixed:JUN-7",
                 reply_to=str(message["message_id"])).status_code == 200
    (update,) = updates(client)
    assert update["callback_query"]["from"]["id"] == 100001
    refused = press(client, user="ana", callback="fixed:JUN-7", reply_to=str(message["message_id"]))
    assert refused.status_code == 400 and "another user's private chat" in refused.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"callback": "fixed:JUN-7", "reply_to": "MSG"}, 400, "'user'"),
        ({"user": "ana", "callback": "", "reply_to": "MSG"}, 400, "'callback'"),
        ({"user": "ana", "callback": "x" * 65, "reply_to": "MSG"}, 400, "'callback'"),
        ({"user": "ana", "callback": "fixed:JUN-7"}, 400, "'reply_to'"),
        ({"user": "ana", "callback": "fixed:JUN-7", "reply_to": "1"}, 404, "reply_to"),
        ({"user": "ana", "callback": "other", "reply_to": "MSG"}, 400, "no button"),
        ({"user": "ana", "callback": "fixed:JUN-7", "reply_to": "PLAIN"}, 400, "no button"),
    ],
)
def test_bad_button_presses_are_named(client, body, status, needle):
    with_buttons = str(bot_message_with_buttons(client)["message_id"])
    plain = str(result(client, "sendMessage", chat_id=GROUP_CHAT_ID, text="hola")["message_id"])
    if "reply_to" in body:
        body["reply_to"] = {"MSG": with_buttons, "PLAIN": plain}.get(body["reply_to"], body["reply_to"])
    response = press(client, **body)
    assert response.status_code == status and needle in response.json()["error"]
    assert client.get("/_sandbox/telegram/callbacks").json() == []


def test_sent_after_n_leaves_out_the_first_n_records(client):
    post(client, user="luc", text="salut", kind="dm")
    for text in ("uno", "dos", "tres"):
        result(client, "sendMessage", chat_id=user_id_for("luc"), text=text)
    assert [r["text"] for r in client.get("/_sandbox/telegram/sent", params={"after": 1}).json()] == ["dos", "tres"]
    assert client.get("/_sandbox/telegram/sent", params={"after": 9}).json() == []
    refused = client.get("/_sandbox/telegram/sent", params={"after": "-1"})
    assert refused.status_code == 400 and "after" in refused.json()["error"]
