"""parse_status, parse_notification, the cursor, splitting and error mapping (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mastodon.errors import (
    MastodonAPIError,
    MastodonFileNotFoundError,
    MastodonGatewayTimeoutError,
    MastodonInternalServerError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonReadTimeout,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)
from mastodon.return_types import Notification
from mastodon.types_base import try_cast_recurse

from channels.base import PermanentError, RateLimited, TransientError
from channels.mastodon import (
    Cursor,
    clean_text,
    map_error,
    mentions_bot,
    parse_notification,
    parse_status,
    plain,
    split_status,
    status_length,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mastodon"
BOT = "villajun"
BOT_ID = "109876543210000001"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def mention(name: str, **overrides):
    return parse_notification(load(name), **{"bot_username": BOT, **overrides})


def public(name: str, **overrides):
    return parse_status(load(name), **{"bot_username": BOT, "kind": "public", **overrides})


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("notification_mention", "mention", "Hay un bache enorme en la calle Mayor 12"),
        ("notification_mention_midtext", "mention", "Otra farola apagada en la plaza, @villajun 🙏"),
        ("notification_dm", "dm",
         "Hola, el contenedor de la calle Real lleva tres días sin recogerse"),
        ("notification_remote_reply", "mention", "@ana C'est devant le n° 12 & ça empire"),
        ("notification_photo_pin", "mention", "Árbol caído"),
        ("notification_spoiler", "mention",
         "Contenido desagradable\n\nhay una rata muerta en el parque"),
        ("notification_nasty_html", "mention", "<b>no</b> negrita &amp;\n\nمرحبا 👋🏽 שלום"),
    ],
)
def test_kinds_and_plain_text(name, kind, text):
    message = mention(name)
    assert message is not None
    assert (message.kind, message.text) == (kind, text)
    assert message.raw == load(name)["status"]
    assert message.channel == "mastodon"


def test_ids_author_language_and_time():
    message = mention("notification_mention")
    assert message.external_id == "113520001234567890"
    assert message.conversation_id == message.external_id and message.in_reply_to is None
    assert (message.author_id, message.author_handle) == ("109876543210000101", "ana")
    assert message.lang_hint == "es"
    assert message.created_at == datetime(2026, 11, 20, 9, 15, 42, 120000, tzinfo=UTC)
    assert message.media == () and message.lat is None


def test_remote_reply_keeps_thread_ids_and_full_acct():
    message = mention("notification_remote_reply")
    assert message.in_reply_to == "113520001234560000"
    assert message.conversation_id == "113520001234560000"  # fetch replaces it with the root
    assert message.author_handle == "luc@mastodon.example" and message.lang_hint == "fr"
    rooted = parse_status(load("notification_remote_reply")["status"], bot_username=BOT,
                          kind="mention", conversation_id="113520001234550000")
    assert rooted.conversation_id == "113520001234550000"


def test_photo_and_pin():
    message = mention("notification_photo_pin")
    photo, video = message.media
    assert (photo.kind, photo.remote_id, photo.path) == ("photo", "113520000000000555", None)
    assert video.kind == "video"
    assert (message.lat, message.lon) == (37.18817, -3.60667)


def test_html_never_leaks():
    message = mention("notification_nasty_html")
    assert "alert" not in message.text and "<script" not in message.text
    assert "<p>" not in message.text and "p{}" not in message.text
    assert message.lang_hint is None


@pytest.mark.parametrize(
    "name",
    ["notification_follow"],
)
def test_other_notification_types_are_ignored(name):
    assert mention(name) is None


def test_public_hashtag_post():
    message = public("status_public_hashtag")
    assert message.kind == "public"
    assert message.text == "Contenedor desbordado en la plaza #JunIncidencias"
    assert message.author_handle == "bob"


@pytest.mark.parametrize("name", ["status_reblog", "status_own", "status_only_mention"])
def test_ignored_statuses(name):
    assert public(name, bot_id=BOT_ID) is None


def test_own_status_is_recognised_by_id_or_username():
    assert public("status_own", bot_username=None, bot_id=BOT_ID) is None
    assert public("status_own", bot_username="VillaJun") is None
    assert public("status_own", bot_username=None) is not None


def test_mentions_bot():
    assert mentions_bot(load("status_public_mentions_bot"), BOT)
    assert mentions_bot(load("status_public_mentions_bot"), None, BOT_ID)
    assert not mentions_bot(load("status_public_hashtag"), BOT, BOT_ID)
    assert not mentions_bot({"mentions": [{"acct": "villajun@elsewhere.example", "id": "9"}]}, BOT)


@pytest.mark.parametrize("name", ["malformed_no_account", "malformed_bad_id", "malformed_content"])
def test_malformed_statuses_raise(name):
    with pytest.raises((KeyError, TypeError, ValueError)):
        public(name)


def test_mention_without_status_raises():
    with pytest.raises(ValueError):
        mention("notification_mention_no_status")


def test_parses_what_mastodon_py_returns():
    """Mastodon.py casts ids and datetimes; parsing and `raw` must not care."""
    cast = try_cast_recurse(Notification, load("notification_photo_pin"))
    message = parse_notification(cast, bot_username=BOT)
    assert message.external_id == "113520001234567894" and type(message.external_id) is str
    assert message.created_at.tzinfo is not None
    json.dumps(message.raw)  # JSON-ready for the database
    assert message.raw["created_at"] == "2026-11-20T09:15:42.120Z"
    assert plain(cast)["status"]["id"] == "113520001234567894"


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("@villajun hola", "hola"),
        ("@VillaJun, hola", "hola"),
        ("@villajun@villajun.social hola", "hola"),
        ("@bob @villajun hola", "@bob hola"),
        ("hola @villajun", "hola @villajun"),
        ("@villajunio hola", "@villajunio hola"),
        ("@villajun", ""),
    ],
)
def test_clean_text(text, cleaned):
    assert clean_text(text, BOT) == cleaned


def test_pin_out_of_range_stays_text():
    status = load("status_public_hashtag")
    status["content"] = "<p>coordenadas raras 📍 99.5,10</p>"
    message = parse_status(status, bot_username=BOT, kind="public")
    assert message.lat is None and "99.5,10" in message.text


# -- cursor --------------------------------------------------------------------------


def test_cursor_round_trip_and_errors():
    cursor = Cursor("41230009", {"junincidencias": "113520001234567897"})
    text = cursor.dumps()
    assert json.loads(text) == {"v": 1, "mentions": "41230009",
                                "tags": {"junincidencias": "113520001234567897"}}
    assert Cursor.loads(text) == cursor
    assert Cursor.loads(None) == Cursor()
    for bad in ("nope", "[]", '{"v": 2}', '{"v": 1, "mentions": "abc"}',
                '{"v": 1, "tags": {"x": 5.5}}'):
        with pytest.raises(ValueError):
            Cursor.loads(bad)


# -- length and splitting ---------------------------------------------------------------


def test_status_length_is_an_upper_bound_of_mastodons_count():
    assert status_length("hola") == 4
    assert status_length("ver http://a.es") == 4 + 23  # short URLs count 23
    long_url = "https://example.com/" + "x" * 100
    assert status_length(long_url) == len(long_url)


def test_split_prefers_paragraphs_lines_then_words_and_keeps_urls_whole():
    text = "uno dos tres\n\ncuatro cinco\nseis siete ocho"
    assert split_status(text, 100) == [text]
    assert split_status(text, 30) == ["uno dos tres", "cuatro cinco\nseis siete ocho"]
    assert split_status(text, 20) == ["uno dos tres", "cuatro cinco", "seis siete ocho"]
    assert split_status("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    url = "https://maps.example.com/calle-mayor"
    parts = split_status(f"mira aqui {url} gracias", 40)
    assert url in parts[1] and all(status_length(p) <= 40 for p in parts)
    assert split_status("   ", 10) == []
    assert "".join(split_status("😀" * 30, 7)) == "😀" * 30
    with pytest.raises(ValueError):
        split_status("x", 0)


# -- errors ------------------------------------------------------------------------------


def api_error(cls, code, reason="Error", message="oops"):
    return cls("Mastodon API returned error", code, reason, message)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (MastodonNetworkError("Could not complete request"), TransientError),
        (MastodonReadTimeout("slow"), TransientError),
        (api_error(MastodonInternalServerError, 500), TransientError),
        (api_error(MastodonServiceUnavailableError, 503), TransientError),
        (api_error(MastodonGatewayTimeoutError, 504), TransientError),
        (api_error(MastodonAPIError, 408), TransientError),
        (api_error(MastodonNotFoundError, 404), PermanentError),
        (api_error(MastodonUnauthorizedError, 401), PermanentError),
        (api_error(MastodonAPIError, 422, "Unprocessable", "Validation failed"), PermanentError),
        (api_error(MastodonAPIError, 403), PermanentError),
        (MastodonFileNotFoundError("no file"), PermanentError),
        (FileNotFoundError("gone"), PermanentError),
    ],
)
def test_error_mapping(exc, expected):
    assert type(map_error(exc)) is expected


def test_rate_limit_waits_until_the_reset():
    now = datetime.now(UTC).timestamp()
    assert 29 <= map_error(MastodonRatelimitError("Hit rate limit."), reset=now + 30).retry_after <= 30
    assert map_error(MastodonRatelimitError("x"), reset=now - 5).retry_after == 1.0
    assert map_error(MastodonRatelimitError("x")).retry_after == 60.0
    assert isinstance(map_error(MastodonRatelimitError("x")), RateLimited)


def test_token_is_scrubbed():
    error = map_error(MastodonNetworkError("failed with token SECRET-123"), "SECRET-123")
    assert "SECRET-123" not in str(error) and "***" in str(error)
