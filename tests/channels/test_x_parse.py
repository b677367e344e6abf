"""parse_tweet, parse_dm_event, build_query, weighted_length and split_thread (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tweepy

from channels.base import MediaRef
from channels.sandbox.x import parse_query, weighted_length as fake_weighted_length, TweetView
from channels.x import (
    Cursor,
    build_query,
    clean_text,
    parse_dm_event,
    parse_tweet,
    split_thread,
    weighted_length,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x"
BOT, BOT_ID = "AytoVillajun", "2481128665"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def indexes(page: dict) -> tuple[dict, dict]:
    includes = page.get("includes", {})
    return ({u["id"]: u for u in includes.get("users", [])},
            {m["media_key"]: m for m in includes.get("media", [])})


def parse(name: str, kind: str = "mention", **overrides):
    page = load(name)
    users, media = indexes(page)
    return parse_tweet(page["data"][0], users, media,
                       **{"bot_username": BOT, "kind": kind, "bot_id": BOT_ID, **overrides})


def parse_dm(name: str):
    page = load(name)
    users, media = indexes(page)
    return parse_dm_event(page["data"][0], users, media, bot_username=BOT, bot_id=BOT_ID)


TWEET_FILES = sorted(p for p in FIXTURES.glob("*.json") if not p.stem.startswith(("dm_", "malformed")))
DM_FILES = sorted(FIXTURES.glob("dm_*.json"))


@pytest.mark.parametrize("path", TWEET_FILES + DM_FILES, ids=lambda p: p.stem)
def test_fixtures_are_real_x_shapes(path):
    page = json.loads(path.read_text("utf-8"))
    assert set(page) <= {"data", "includes", "meta", "errors"}
    assert page["meta"]["result_count"] == len(page["data"])
    model = tweepy.DirectMessageEvent if path.stem.startswith("dm_") else tweepy.Tweet
    for item in page["data"]:
        assert isinstance(item["id"], str) and item["id"].isdigit()
        assert model(item).id == int(item["id"])
    for user in page["includes"]["users"]:
        assert tweepy.User(user).username == user["username"]
    for media in page["includes"].get("media", []):
        assert tweepy.Media(media).media_key == media["media_key"]


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("mention_simple", "mention", "Hay un bache enorme en la calle Mayor 12"),
        ("mention_midtext", "mention", "Otra farola apagada en la plaza, avisad @aytovillajun 🙏"),
        ("mention_escaped", "mention", "Calle Sol & Luna: contenedores <rotos> otra vez"),
        ("reply_to_bot", "mention", "Está delante del número 12"),
        ("reply_chain_mentions", "mention", "a mí también me pasa en el portal 3"),
        ("mention_then_other", "mention",
         "@PoliciaVillajun coche abandonado en la calle Río desde hace un mes"),
        ("quote_tweet", "mention", "esto sigue igual una semana después"),
        ("lang_fr", "mention", "Bonjour, le lampadaire devant l'école est éteint"),
        ("photo_geo", "mention", "árbol caído https://t.co/AbCdEf1234"),
    ],
)
def test_mentions_and_clean_text(name, kind, text):
    message = parse(name)
    tweet = load(name)["data"][0]
    assert message is not None
    assert (message.kind, message.text) == (kind, text)
    assert message.channel == "x" and message.external_id == tweet["id"]
    assert message.author_id == tweet["author_id"]
    assert message.conversation_id == tweet["conversation_id"]
    assert message.raw == tweet
    assert message.created_at == datetime(2026, 11, 23, 8, 41, 7, tzinfo=UTC)


def test_public_post_from_search():
    message = parse("public_hashtag", kind="public")
    assert (message.kind, message.text) == ("public", "Contenedor desbordado en la plaza #JunIncidencias")
    assert message.author_handle == "bob_jun"


def test_a_searched_post_that_mentions_the_bot_is_a_mention():
    message = parse("public_mentions_bot", kind="public")
    assert (message.kind, message.text) == ("mention", "grafiti nuevo en el colegio #JunIncidencias")


def test_reply_ids():
    message = parse("reply_to_bot")
    assert message.in_reply_to == "1860230580000000001"
    assert message.conversation_id == "1860230512783917057"
    assert parse("quote_tweet").in_reply_to is None  # a quote is not a reply


def test_geo_point_is_lon_lat_and_photo_is_a_ref():
    message = parse("photo_geo")
    assert (message.lat, message.lon) == (37.1882, -3.6016)
    assert message.media == (MediaRef(kind="photo", remote_id="3_1860230509000000001"),)


def test_place_only_geo_gives_no_point():
    message = parse("place_only_geo")
    assert message.lat is None and message.lon is None
    assert message.text == "ruido toda la noche en la plaza"


def test_video_is_kept_as_a_video_ref():
    (ref,) = parse("video").media
    assert ref == MediaRef(kind="video", remote_id="7_1860230509000000002")


def test_lang_hint():
    assert parse("mention_simple").lang_hint == "es"
    assert parse("lang_fr").lang_hint == "fr"
    assert parse("mention_midtext").lang_hint is None  # "und"


def test_long_post_uses_the_note_tweet_text():
    message = parse("long_note_tweet")
    assert message.text.startswith("Llevamos tres semanas")
    assert message.text.endswith("¿Podéis mirarlo, por favor?") and "…" not in message.text


@pytest.mark.parametrize("name", ["retweet", "own_post", "bare_mention"])
def test_ignored(name):
    assert parse(name) is None


def test_own_post_is_recognised_by_username_without_the_bot_id():
    assert parse("own_post", bot_id=None) is None


@pytest.mark.parametrize(
    ("name", "error"),
    [("malformed_int_id", "id"), ("malformed_no_author", "author_id"),
     ("malformed_geo", "coordinates"), ("malformed_text", "text")],
)
def test_malformed_tweets_raise(name, error):
    with pytest.raises((KeyError, TypeError, ValueError), match=error):
        parse(name)


# -- DMs --


def test_dm():
    message = parse_dm("dm_text")
    event = load("dm_text")["data"][0]
    assert message.kind == "dm" and message.external_id == f"dm:{event['id']}"
    assert message.conversation_id == "1947869191-2481128665"
    assert message.author_id == "1947869191" and message.author_handle == "luc_m"
    assert message.text == "Bonjour, il y a une fuite d'eau rue Haute"
    assert message.in_reply_to is None and message.raw == event


def test_dm_drops_a_leading_bot_mention_and_keeps_photo_only_messages():
    assert parse_dm("dm_mention_prefix").text == "hola, ¿cómo va lo mío? JUN-3"
    photo = parse_dm("dm_photo")
    assert photo.text == "" and photo.media[0].kind == "photo"


def test_dm_with_a_shared_tweet_is_a_plain_dm():
    message = parse_dm("dm_shared_tweet")
    assert message.text == "mirad esto https://t.co/Qw1Er2Ty3U" and message.in_reply_to is None


@pytest.mark.parametrize("name", ["dm_from_bot", "dm_participants_join"])
def test_ignored_dm_events(name):
    assert parse_dm(name) is None


def test_malformed_dm_raises():
    with pytest.raises(ValueError, match="sender_id"):
        parse_dm("malformed_dm_no_sender")


# -- clean_text --


@pytest.mark.parametrize(
    ("text", "is_reply", "expected"),
    [
        ("@AytoVillajun, hola", False, "hola"),
        ("@aytovillajun: hola", False, "hola"),
        ("@AytoVillajunX hola", False, "@AytoVillajunX hola"),
        ("hola @AytoVillajun", False, "hola @AytoVillajun"),
        ("@ana @bob gracias", True, "gracias"),
        ("@ana @bob gracias", False, "@ana @bob gracias"),
    ],
)
def test_clean_text(text, is_reply, expected):
    assert clean_text(text, BOT, is_reply=is_reply) == expected


# -- search query --


def test_build_query():
    query = build_query(["#JunIncidencias", "Villajun"], ['"ayuntamiento" farola', "bache"], BOT)
    assert query == ('(@AytoVillajun OR #JunIncidencias OR #Villajun OR ("ayuntamiento" farola) OR bache)'
                     " -is:retweet -from:AytoVillajun")
    assert build_query(["#JunIncidencias"], [], None) == "#JunIncidencias -is:retweet"
    assert build_query([], [" "], BOT) == "@AytoVillajun -is:retweet -from:AytoVillajun"  # mentions beyond 800
    assert build_query([], [" "], None) is None


@pytest.mark.parametrize(
    ("text", "author", "matches"),
    [
        ("Contenedor desbordado #junincidencias", "ana", True),
        ("Farola rota, que lo arregle el Ayuntamiento", "ana", True),
        ("Farola rota", "ana", False),  # the phrase needs both words
        ("Un bache enorme", "ana", True),
        ("Recordad #JunIncidencias", "AytoVillajun", False),
        ("#JunIncidenciasX no cuenta", "ana", False),
        ("@AytoVillajun farola rota", "ana", True),  # a mention, also found by search
    ],
)
def test_our_query_in_the_fakes_evaluator(text, author, matches):
    query = build_query(["#JunIncidencias"], ['"ayuntamiento" farola', "bache"], BOT)
    assert parse_query(query)(TweetView(text=text, author=author)) is matches


def test_retweets_are_excluded_by_the_query():
    query = build_query(["#JunIncidencias"], [], BOT)
    assert parse_query(query)(TweetView(text="RT #JunIncidencias", author="b", retweet=True)) is False


# -- weighted length and threads --


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hola", 4),
        ("árbol caído", 11),
        ("https://www.villajun.es/incidencias/seguimiento?ref=JUN-42", 23),
        ("mira villajun.es ya", 5 + 23 + 3),
        ("東京", 4),
        ("🙏", 2),
        ("👩‍👩‍👧‍👦", 2),  # one ZWJ sequence
        ("👍🏽", 2),  # skin tone
        ("Cafe\u0301", 4),  # NFC: é counts once
    ],
)
def test_weighted_length(text, length):
    assert weighted_length(text) == length
    assert fake_weighted_length(text) == length  # the sandbox enforces the same rule


def test_short_text_is_one_tweet():
    assert split_thread("  Gracias, Ana.  ") == ["Gracias, Ana."]
    assert split_thread(" ") == []
    assert split_thread("x" * 280) == ["x" * 280]


def test_long_text_becomes_a_numbered_thread_within_the_limit():
    text = " ".join(f"palabra{n}" for n in range(120))
    parts = split_thread(text)
    assert len(parts) >= 3
    assert [p.split(" ", 1)[0] for p in parts] == [f"{n}/{len(parts)}" for n in
                                                  range(1, len(parts) + 1)]
    assert all(weighted_length(p) <= 280 for p in parts)
    assert " ".join(p.split(" ", 1)[1] for p in parts) == text


def test_thread_prefers_paragraph_breaks_and_keeps_urls_whole():
    first = "Primer párrafo bastante largo. " * 4
    parts = split_thread(first + "\n\n" + "b " * 120)
    assert parts == [f"1/2 {first.strip()}", "2/2 " + ("b " * 120).strip()]
    url = "https://www.villajun.es/incidencias/" + "a" * 200
    parts = split_thread("b " * 135 + url + " fin")
    assert parts[1] == f"2/2 {url} fin"  # 23 weight: a URL is never cut
    assert all(weighted_length(p) <= 280 for p in parts)


def test_thread_counts_cjk_and_emoji_double():
    parts = split_thread("東" * 300)
    assert len(parts) == 3 and all(weighted_length(p) <= 280 for p in parts)
    assert "".join(p.split(" ", 1)[1] for p in parts) == "東" * 300


def test_many_parts_widen_the_prefix():
    parts = split_thread("palabra " * 400)
    assert len(parts) >= 10 and parts[-1].startswith(f"{len(parts)}/{len(parts)} ")
    assert all(weighted_length(p) <= 280 for p in parts)


# -- cursor --


def test_cursor_round_trip_and_bad_cursors():
    cursor = Cursor(mentions="5", search=None, dms="7")
    assert Cursor.parse(cursor.dump()) == cursor
    assert cursor.dump() == '{"dms":"7","mentions":"5"}'
    assert Cursor().dump() is None and Cursor.parse(None) == Cursor()
    assert Cursor.parse("42") == Cursor(mentions="42")
    assert Cursor.parse("{not json") == Cursor()
    assert Cursor.parse('{"mentions": 5}') == Cursor()  # ids are strings
