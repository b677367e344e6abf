"""parse_update and split_text on recorded Telegram payloads (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram import Update

from channels.telegram import parse_update, split_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
GROUP = "-1001000000001"
SETTINGS = {
    "bot_username": "citybot_demo_bot",
    "hashtags": ["#JunIncidencias", "#Villajun"],
    "keywords": ["ayuntamiento", "incidencia"],
}


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def parse(name: str, **overrides):
    return parse_update(load(name), **{**SETTINGS, **overrides})


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_fixtures_are_real_telegram_shapes(path):
    data = json.loads(path.read_text("utf-8"))
    if path.stem.startswith("malformed"):
        return
    assert Update.de_json(data, None).update_id == data["update_id"]
    message = data.get("message") or {}
    text = message.get("text") or message.get("caption") or ""
    units = text.encode("utf-16-le")
    for entity in message.get("entities") or message.get("caption_entities") or []:
        start, end = entity["offset"] * 2, (entity["offset"] + entity["length"]) * 2
        marked = units[start:end].decode("utf-16-le")
        assert marked[0] == {"mention": "@", "hashtag": "#", "bot_command": "/"}[entity["type"]]


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("group_mention", "mention", "hay un bache enorme en la calle Mayor 12"),
        ("group_mention_midtext", "mention", "Otra farola apagada, @CityBot_Demo_Bot 🙏"),
        ("private_text", "dm", "Bonjour, le lampadaire devant l'école est éteint"),
        ("group_hashtag", "public", "Contenedor desbordado en la plaza #VillaJÚN"),
        ("group_keyword", "public", "Que alguien avise al AYUNTAMIENTO de la fuga de agua"),
        ("group_command_ours", "mention", "/status JUN-3"),
        ("private_command", "dm", "/start"),
        ("group_photo_caption_location", "mention", "árbol caído"),
        ("group_reply_to_bot", "mention", "Está delante del número 12"),
        ("private_location_only", "dm", ""),
    ],
)
def test_kinds_and_clean_text(name, kind, text):
    message = parse(name)
    assert message is not None
    assert (message.kind, message.text) == (kind, text)
    assert message.raw == load(name)


@pytest.mark.parametrize(
    "name",
    [
        "group_chatter",  # #villajunio is not #Villajun
        "group_command_other_bot",
        "group_reply_to_citizen",  # a reply between citizens, no mention or keyword
        "private_sticker",
        "group_from_bot",
        "group_anonymous_admin",
        "edited_message",
        "channel_post",
    ],
)
def test_ignored(name):
    assert parse(name) is None


@pytest.mark.parametrize("name", ["malformed_no_chat", "malformed_string_id"])
def test_malformed_payloads_raise(name):
    with pytest.raises((KeyError, TypeError, ValueError)):
        parse(name)


def test_ids_author_and_time():
    message = parse("group_mention")
    assert message.channel == "telegram"
    assert message.external_id == f"{GROUP}:1201" and message.conversation_id == GROUP
    assert message.author_id == "523481902" and message.author_handle == "ana_vj"
    assert message.lang_hint == "es"
    assert message.created_at == datetime.fromtimestamp(1795700000, tz=UTC)
    assert message.in_reply_to is None and message.media == ()


def test_private_chat_without_username_uses_first_name():
    message = parse("private_text")
    assert message.author_handle == "Luc" and message.conversation_id == "611300245"
    assert message.external_id == "611300245:88" and message.lang_hint == "fr"


def test_photo_and_location():
    message = parse("group_photo_caption_location")
    (photo,) = message.media
    assert photo.kind == "photo" and photo.path is None
    assert photo.remote_id == "AgACAgQAAxkBAAIBSmV0bGFyZ2U"  # the largest size
    assert (message.lat, message.lon) == (37.18817, -3.60667)


def test_reply_ids():
    assert parse("group_reply_to_bot").in_reply_to == f"{GROUP}:1209"
    assert parse("group_reply_to_citizen", keywords=["visto"]).in_reply_to == f"{GROUP}:1201"


def test_without_a_bot_username_only_dms_commands_and_matches_count():
    assert parse("group_mention", bot_username=None) is None
    assert parse("group_mention", bot_username=None, keywords=["bache"]).kind == "public"
    assert parse("private_text", bot_username=None).kind == "dm"
    assert parse("group_reply_to_bot", bot_username=None).kind == "mention"


def test_another_bots_mention_is_not_ours():
    assert parse("group_mention", bot_username="other_bot") is None


# -- split_text -----------------------------------------------------------------


def test_split_prefers_paragraphs_then_lines_then_words():
    text = "uno dos tres\n\ncuatro cinco\nseis siete ocho"
    assert split_text(text, 100) == [text]
    assert split_text(text, 30) == ["uno dos tres", "cuatro cinco\nseis siete ocho"]
    assert split_text(text, 20) == ["uno dos tres", "cuatro cinco", "seis siete ocho"]
    assert split_text("aaaa bbbb cccc", 9) == ["aaaa bbbb", "cccc"]


def test_split_cuts_hard_only_without_spaces_and_counts_utf16():
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    parts = split_text("😀" * 6, 4)  # each emoji is two UTF-16 units
    assert parts == ["😀😀", "😀😀", "😀😀"]
    assert split_text("   ", 10) == []


def test_split_never_makes_tiny_first_parts_from_early_paragraphs():
    text = "Hola.\n\n" + "palabra " * 30
    parts = split_text(text, 100)
    assert parts[0].startswith("Hola.\n\npalabra")
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


# -- callback queries (inline keyboard button presses) ---------------------------


def callback(chat: dict, **query) -> dict:
    """A callback_query update for a press on bot message 77 in `chat`."""
    bot = {"id": 555, "is_bot": True, "first_name": "Citybot", "username": "citybot_demo_bot"}
    message = {"message_id": 77, "from": bot, "chat": chat, "date": 1795000000, "text": "¿Arreglado?",
               "reply_markup": {"inline_keyboard": [[{"text": "Sí", "callback_data": "fixed:JUN-7"}]]}}
    body = {"id": "4382bfdwdsb323b2d9", "chat_instance": "-123",
            "from": {"id": 1234, "is_bot": False, "first_name": "Ana", "username": "ana",
                     "language_code": "es"},
            "message": message, "data": "fixed:JUN-7", **query}
    return {"update_id": 9001, "callback_query": {k: v for k, v in body.items() if v is not None}}


PRIVATE = {"id": 1234, "type": "private", "first_name": "Ana", "username": "ana"}
SUPERGROUP = {"id": int(GROUP), "type": "supergroup", "title": "Vecinos"}


def test_a_press_in_a_private_chat():
    data = callback(PRIVATE)
    assert Update.de_json(data, None).callback_query.data == "fixed:JUN-7"  # a real shape
    message = parse_update(data, **SETTINGS)
    assert message.external_id == "cb:4382bfdwdsb323b2d9"
    assert (message.author_id, message.author_handle, message.lang_hint) == ("1234", "ana", "es")
    assert message.kind == "dm" and message.conversation_id == "1234"
    assert message.in_reply_to == "1234:77" and message.text == "fixed:JUN-7"
    assert message.raw is data and message.created_at is None


def test_a_press_in_a_group_is_a_mention_and_keeps_the_data_exactly():
    message = parse_update(callback(SUPERGROUP, data="  open:JUN-7 "), **SETTINGS)
    assert message.kind == "mention" and message.conversation_id == GROUP
    assert message.in_reply_to == f"{GROUP}:77" and message.text == "  open:JUN-7 "


@pytest.mark.parametrize("query", [
    {"message": None},  # inline mode: no message
    {"data": None, "game_short_name": "g"},  # a game button
    {"from": {"id": 9, "is_bot": True, "first_name": "Other"}},
])
def test_presses_without_a_message_or_data_or_by_bots_are_ignored(query):
    assert parse_update(callback(PRIVATE, **query), **SETTINGS) is None


@pytest.mark.parametrize("query", [{"id": 5}, {"id": ""}, {"data": 7}, {"from": None},
                                   {"message": {"message_id": 77, "chat": {"id": "x"}}}])
def test_malformed_presses_raise(query):  # a None value drops the key
    with pytest.raises((KeyError, TypeError, ValueError)):
        parse_update(callback(PRIVATE, **query), **SETTINGS)
