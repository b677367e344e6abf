"""The X adapter (real tweepy.Client over a rewriting requests Session) against the sandbox."""

from __future__ import annotations

import json
import logging
import time
import traceback
from datetime import UTC

import pytest

from channels.base import OutboundMessage, PermanentError, RateLimited, TransientError
from channels.sandbox.x import BOT_USERNAME, snowflake, user_id_for, weighted_length
from channels.x import POLL_INTERVAL_HINT, XChannel
from tests.channels.helpers import SandboxAdmin, free_port, only

BOT, BOT_ID = BOT_USERNAME, user_id_for(BOT_USERNAME)
SECRETS = {
    "bearer_token": "SECRET-bearer-0123456789",
    "consumer_key": "SECRET-consumer-key-abcdef",
    "consumer_secret": "SECRET-consumer-secret-ghijkl",
    "access_token": f"{BOT_ID}-SECRET-access-token-mnop",
    "access_token_secret": "SECRET-access-secret-qrstuv",
}

_admin = SandboxAdmin("x")
post, raw, sent, fault = _admin.post, _admin.raw, _admin.sent, _admin.fault


def make(url: str, tmp_path, **overrides) -> XChannel:
    settings = {"base_url": url, "bot_username": BOT, "hashtags": ["#JunIncidencias"],
                "keywords": ['"ayuntamiento" farola'], "media_dir": tmp_path / "media",
                **SECRETS, **overrides}
    return XChannel(**settings)


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = make(sandbox.url, tmp_path)
    yield adapter
    adapter.close()


def reply(message, text: str, **extra) -> OutboundMessage:
    return OutboundMessage(channel="x", recipient_id=message.author_id, text=text,
                           conversation_id=message.conversation_id,
                           recipient_handle=message.author_handle,
                           in_reply_to=message.external_id, **extra)


# -- fetch ----------------------------------------------------------------------


def test_mention(channel, client):
    ident = post(client, user="ana", text="Hay un bache en la calle Mayor", lang="es")
    message = only(channel)
    assert (message.channel, message.kind, message.external_id) == ("x", "mention", ident)
    assert message.text == "Hay un bache en la calle Mayor"
    assert message.author_id == user_id_for("ana") and message.author_handle == "ana"
    assert message.conversation_id == ident and message.in_reply_to is None
    assert message.lang_hint == "es" and message.created_at.tzinfo == UTC
    assert message.raw["id"] == ident


def test_public_hashtag_and_keyword_posts(channel, client):
    tagged = post(client, user="bob", text="Contenedor desbordado #junincidencias", kind="public")
    phrase = post(client, user="eva", text="Que el Ayuntamiento cambie la farola", kind="public")
    post(client, user="eva", text="Hoy hace sol", kind="public")
    messages = channel.fetch(None).messages
    assert [(m.external_id, m.kind) for m in messages] == [(tagged, "public"), (phrase, "public")]


def test_a_post_found_by_mentions_and_search_comes_once_as_a_mention(channel, client):
    ident = post(client, user="ana", text="Grafiti en el colegio #JunIncidencias")
    message = only(channel)
    assert (message.external_id, message.kind) == (ident, "mention")


def test_dm(channel, client):
    ident = post(client, user="luc", text="Lampadaire éteint rue Haute", kind="dm")
    message = only(channel)
    assert message.kind == "dm" and message.external_id == f"dm:{ident}"
    assert message.conversation_id == "-".join(sorted([user_id_for("luc"), BOT_ID], key=int))
    assert message.author_handle == "luc" and message.text == "Lampadaire éteint rue Haute"


def test_messages_come_oldest_first_across_sources(channel, client):
    ids = [post(client, user="ana", text="uno"), post(client, user="luc", text="dos", kind="dm"),
           post(client, user="bob", text="tres #JunIncidencias", kind="public")]
    assert [m.external_id for m in channel.fetch(None).messages] == [ids[0], f"dm:{ids[1]}", ids[2]]


def test_retweets_and_own_posts_are_skipped_but_passed(channel, client):
    ana = user_id_for("ana")
    raw(client, tweet={"id": "1", "text": "RT @ana: @AytoVillajun bache", "author_id": ana,
                       "referenced_tweets": [{"type": "retweeted", "id": "2"}]})
    raw(client, tweet={"id": "3", "text": "@AytoVillajun nota interna", "author_id": BOT_ID})
    raw(client, tweet={"id": "4", "text": "#JunIncidencias aviso", "author_id": BOT_ID},
        where="search")
    result = channel.fetch(None)
    assert result.messages == [] and result.rejected == []
    assert channel.fetch(result.next_cursor).messages == []


def test_geo_and_photo_are_downloaded(channel, client, tmp_path):
    ident = post(client, user="ana", text="Farola apagada", lat=37.2, lon=-3.61, photo=True)
    message = only(channel)
    assert (message.lat, message.lon) == (37.2, -3.61)
    (media,) = message.media
    assert media.kind == "photo" and media.remote_id == f"3_{ident}"
    path = tmp_path / "media" / "x" / f"3_{ident}.png"
    assert media.path == str(path) and path.read_bytes().startswith(b"\x89PNG")


def test_failed_download_keeps_the_media_ref(sandbox, client, tmp_path):
    (tmp_path / "blocked").write_text("not a folder")
    adapter = make(sandbox.url, tmp_path, media_dir=tmp_path / "blocked")
    try:
        post(client, user="ana", text="foto", photo=True)
        (media,) = only(adapter).media
    finally:
        adapter.close()
    assert media.path is None and media.remote_id


def test_reply_to_becomes_in_reply_to(channel, client):
    root = post(client, user="ana", text="bache")
    first = channel.fetch(None)
    citizen = first.messages[0]
    answer = channel.send(reply(citizen, "¿En qué número?"))
    again = post(client, user="ana", text="el 12", reply_to=answer.external_id)
    message = only(channel, first.next_cursor)
    assert message.external_id == again and message.text == "el 12"
    assert message.in_reply_to == answer.external_id and message.conversation_id == root


def test_250_mentions_arrive_once_across_pages(channel, client):
    ids = [post(client, user=f"vecino{n}", text=f"aviso {n}") for n in range(250)]
    result = channel.fetch(None)
    assert [m.external_id for m in result.messages] == ids  # all, oldest first, none twice
    assert json.loads(result.next_cursor)["mentions"] == ids[-1]
    assert channel.fetch(result.next_cursor).messages == []


def test_cursor_semantics(channel, client):
    post(client, user="ana", text="uno")
    post(client, user="luc", text="hola", kind="dm")
    first = channel.fetch(None)
    assert len(first.messages) == 2
    again = channel.fetch(first.next_cursor)
    assert again.messages == [] and again.next_cursor == first.next_cursor
    ident = post(client, user="ana", text="dos")
    later = channel.fetch(first.next_cursor)
    assert [m.external_id for m in later.messages] == [ident]
    assert int(json.loads(later.next_cursor)["mentions"]) > int(
        json.loads(first.next_cursor)["mentions"])


def test_nothing_yet_keeps_the_cursor(channel):
    assert channel.fetch(None).next_cursor is None
    assert channel.fetch('{"mentions":"5"}').next_cursor == '{"mentions":"5"}'


def test_a_restarted_adapter_resumes_from_the_stored_cursor(channel, client, sandbox, tmp_path):
    post(client, user="ana", text="uno")
    cursor = channel.fetch(None).next_cursor
    channel.close()
    restarted = make(sandbox.url, tmp_path, bot_username=None)
    try:
        assert restarted.fetch(cursor).messages == []
        assert restarted.bot_username == BOT  # learned from users/me
    finally:
        restarted.close()


def test_malformed_items_are_rejected_and_passed(channel, client):
    bad = raw(client, tweet={"id": 12345, "text": "@AytoVillajun id numérico"})
    raw(client, dm_event={"id": "77", "event_type": "MessageCreate", "text": "sin remitente"})
    ident = post(client, user="ana", text="sigo aquí")
    result = channel.fetch(None)
    assert [m.external_id for m in result.messages] == [ident]
    assert sorted(r["source"] for r in result.rejected) == ["dms", "mentions"]
    tweet_error = next(r for r in result.rejected if r["source"] == "mentions")
    assert tweet_error["raw"] == {"id": 12345, "text": "@AytoVillajun id numérico"}
    assert "id" in tweet_error["error"]
    assert int(json.loads(result.next_cursor)["mentions"]) >= int(bad)
    assert channel.fetch(result.next_cursor).rejected == []


def test_a_refused_search_is_switched_off_and_mentions_go_on(sandbox, client, tmp_path, caplog):
    adapter = make(sandbox.url, tmp_path, keywords=["foo:bar"])  # X rejects the operator
    try:
        ident = post(client, user="ana", text="bache")
        with caplog.at_level(logging.ERROR, logger="channels.x"):
            assert [m.external_id for m in adapter.fetch(None).messages] == [ident]
            adapter.fetch(None)
        assert len([r for r in caplog.records if "search" in r.getMessage()]) == 1
    finally:
        adapter.close()


def test_a_search_cursor_older_than_7_days_searches_the_whole_window(channel, client):
    stale = str(snowflake(int((time.time() - 8 * 24 * 3600) * 1000)))
    ident = post(client, user="bob", text="#JunIncidencias farola", kind="public")
    result = channel.fetch(json.dumps({"search": stale}))
    assert [m.external_id for m in result.messages] == [ident]
    assert json.loads(result.next_cursor)["search"] == ident
    post(client, user="bob", text="#JunIncidencias otra", kind="public")
    assert len(channel.fetch(result.next_cursor).messages) == 1  # search still on


def test_reads_use_the_bearer_token_and_the_rest_oauth1(channel, client):
    seen: list[tuple[str, str]] = []

    def record(response, *args, **kwargs):
        scheme = response.request.headers["Authorization"].split()[0]
        seen.append((response.request.path_url.split("?")[0], scheme))

    for session in (channel._reader.session, channel._writer.session):
        session.hooks["response"].append(record)
    post(client, user="ana", text="bache")
    citizen = only(channel)
    channel.send(reply(citizen, "Gracias"))
    assert dict(seen) == {
        "/2/users/me": "OAuth", f"/2/users/{BOT_ID}/mentions": "Bearer",
        "/2/tweets/search/recent": "Bearer", "/2/dm_events": "OAuth", "/2/tweets": "OAuth"}


# -- send -----------------------------------------------------------------------


def test_send_is_threaded_under_the_citizen_post(channel, client):
    root = post(client, user="ana", text="bache")
    result = channel.send(reply(only(channel), "Gracias, Ana. Ticket JUN-1."))
    (record,) = sent(client)
    assert result.external_id == record["id"] and result.extra_ids == ()
    assert record["in_reply_to"] == root and record["to_user"] == "ana"
    assert record["text"] == "Gracias, Ana. Ticket JUN-1."


def test_long_text_becomes_a_numbered_thread(channel, client):
    root = post(client, user="ana", text="bache")
    text = " ".join(f"Paso {n}: revisamos la farola y el bordillo." for n in range(20))
    result = channel.send(reply(only(channel), text))
    records = sent(client)
    assert len(records) >= 3 and result.extra_ids == tuple(r["id"] for r in records[1:])
    assert result.external_id == records[0]["id"]
    assert [r["in_reply_to"] for r in records] == [root] + [r["id"] for r in records[:-1]]
    assert all(r["text"].startswith(f"{n}/{len(records)} ") for n, r in enumerate(records, 1))
    assert all(weighted_length(r["text"]) <= 280 for r in records)
    assert all(r["to_user"] == "ana" for r in records)


def test_a_reply_that_may_have_been_posted_is_looked_up_not_posted_again(channel, client):
    post(client, user="ana", text="bache")
    message = only(channel)
    first = channel.send(reply(message, "Gracias, Ana. Ticket JUN-1 & co."))
    # The process died before recording `first`; the retry is flagged and finds it on the timeline.
    again = channel.send(reply(message, "Gracias, Ana. Ticket JUN-1 & co.", maybe_sent=True))
    assert again.external_id == first.external_id and len(sent(client)) == 1


def test_a_flagged_reply_that_never_went_out_is_posted(channel, client):
    root = post(client, user="ana", text="bache")
    message = only(channel)
    channel.send(reply(message, "Otra respuesta anterior"))
    result = channel.send(reply(message, "Gracias, Ana. Ticket JUN-1.", maybe_sent=True))
    records = sent(client)
    assert len(records) == 2 and result.external_id == records[1]["id"] and records[1]["in_reply_to"] == root


def test_a_flagged_thread_posts_only_the_parts_that_are_missing(channel, client):
    post(client, user="ana", text="bache")
    message = only(channel)
    text = " ".join(f"Paso {n}: revisamos la farola y el bordillo." for n in range(20))
    whole = channel.send(reply(message, text))
    parts = [whole.external_id, *whole.extra_ids]
    again = channel.send(reply(message, text, maybe_sent=True))
    assert [again.external_id, *again.extra_ids] == parts and len(sent(client)) == len(parts)


def test_send_dm(channel, client):
    ident = post(client, user="luc", text="salut", kind="dm")
    citizen = only(channel)
    result = channel.send(reply(citizen, "Bonjour Luc, ticket JUN-2"))
    (record,) = sent(client)
    assert result.external_id == f"dm:{record['id']}"
    assert record["to_user"] == "luc" and record["in_reply_to"] == ident
    # The bot's own DM moves the cursor but never comes back as a message.
    assert channel.fetch(channel.fetch(None).next_cursor).messages == []


def test_a_new_post_without_thread(channel, client):
    result = channel.send(OutboundMessage(channel="x", recipient_id="", text="Resumen semanal"))
    (record,) = sent(client)
    assert record["id"] == result.external_id and record["in_reply_to"] is None


def test_without_in_reply_to_the_reply_goes_under_the_conversation(channel, client):
    root = post(client, user="ana", text="bache")
    citizen = only(channel)
    channel.send(OutboundMessage(channel="x", recipient_id=citizen.author_id, text="Gracias",
                                 conversation_id=citizen.conversation_id))
    assert sent(client)[0]["in_reply_to"] == root


def test_photos_are_skipped_with_one_log_line(channel, client, tmp_path, caplog):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    with caplog.at_level(logging.INFO, logger="channels.x"):
        channel.send(reply(citizen, "Arreglado", media_paths=(str(tmp_path / "fixed.png"),)))
    assert [r["media"] for r in sent(client)] == [[]]
    assert len([r for r in caplog.records if "photo" in r.getMessage()]) == 1


@pytest.mark.parametrize("bad", [OutboundMessage(channel="x", recipient_id="1", text=" "),
                                 OutboundMessage(channel="x", recipient_id="1", text="hola",
                                                 in_reply_to="abc")])
def test_bad_outbound_is_permanent(channel, bad):
    with pytest.raises(PermanentError):
        channel.send(bad)


def test_reply_to_a_missing_tweet_is_permanent(channel):
    with pytest.raises(PermanentError) as caught:
        channel.send(OutboundMessage(channel="x", recipient_id="1", text="hola",
                                     in_reply_to="123"))
    assert "403" in str(caught.value)


# -- errors ---------------------------------------------------------------------


def test_429_is_rate_limited_until_the_reset(channel, client):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    fault(client, status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        channel.send(reply(citizen, "Gracias"))
    assert 6 <= caught.value.retry_after <= 8
    assert caught.value.delivered == ()
    channel.send(reply(citizen, "Gracias"))  # the fault was used up
    assert len(sent(client)) == 1


def test_rate_limit_in_fetch_loses_nothing(channel, client):
    channel.fetch(None)
    ids = [post(client, user=f"v{n}", text=f"aviso {n}") for n in range(120)]
    fault(client, status=429, count=1, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        channel.fetch(None)
    assert 2 <= caught.value.retry_after <= 4
    assert [m.external_id for m in channel.fetch(None).messages] == ids


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient_in_send_and_fetch(channel, client, status):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    fault(client, status=status, count=2)
    with pytest.raises(TransientError):
        channel.send(reply(citizen, "Gracias"))
    with pytest.raises(TransientError):
        channel.fetch(None)
    assert len(channel.fetch(None).messages) == 1  # nothing lost


def test_unreachable_server_is_transient_and_construction_is_offline(tmp_path):
    adapter = make(f"http://127.0.0.1:{free_port()}", tmp_path)
    try:
        with pytest.raises(TransientError):
            adapter.fetch(None)
        with pytest.raises(TransientError):
            adapter.send(OutboundMessage(channel="x", recipient_id="1", text="hola"))
    finally:
        adapter.close()
        adapter.close()  # idempotent


def test_secrets_never_show(sandbox, client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    adapter = make(sandbox.url, tmp_path)
    wrong = make(f"{sandbox.url}/nowhere", tmp_path)
    try:
        post(client, user="ana", text="bache")
        adapter.send(reply(only(adapter), "Gracias"))
        with pytest.raises(PermanentError) as caught:
            wrong.fetch(None)
    finally:
        adapter.close()
        wrong.close()
    shown = [repr(adapter), str(caught.value),
             "".join(traceback.format_exception(caught.value)),
             *(r.getMessage() for r in caplog.records)]
    assert any("Bearer ***" in line for line in shown)  # tweepy did log its headers
    for secret in SECRETS.values():
        assert not any(secret in line for line in shown)


def test_poll_interval_hint_stays_within_x_limits():
    requests_per_window = 3 * (15 * 60 / POLL_INTERVAL_HINT)
    assert requests_per_window <= 180 and POLL_INTERVAL_HINT >= 15


def test_fetch_is_fast(channel, client):
    post(client, user="ana", text="bache")
    started = time.monotonic()
    channel.fetch(None)
    assert time.monotonic() - started < 2


# -- public posts (digests) -------------------------------------------------------


def public(text: str, **extra) -> OutboundMessage:
    return OutboundMessage(channel="x", recipient_id="", text=text, public=True, **extra)


DIGEST = " ".join(f"Semana {n}: 12 avisos recibidos, 9 resueltos, 3 en curso." for n in range(12))


@pytest.mark.parametrize("thread", [
    {"in_reply_to": "TWEET"}, {"conversation_id": "TWEET"}, {"conversation_id": "DMS"}])
def test_public_post_is_a_plain_tweet_whatever_the_thread_fields_say(channel, client, thread):
    post(client, user="ana", text="bache")
    post(client, user="luc", text="salut", kind="dm")
    dm, tweet = sorted(channel.fetch(None).messages, key=lambda m: m.kind)
    targets = {"TWEET": tweet.external_id, "DMS": dm.conversation_id}
    assert "-" in dm.conversation_id and tweet.external_id.isdigit()
    result = channel.send(public("Resumen semanal: 12 avisos",
                                 **{k: targets[v] for k, v in thread.items()}))
    (record,) = sent(client)
    assert record["id"] == result.external_id and record["text"] == "Resumen semanal: 12 avisos"
    assert record["in_reply_to"] is None and record["to_user"] is None


def test_long_public_post_is_a_numbered_self_thread_naming_no_one(channel, client):
    result = channel.send(public(DIGEST))
    records = sent(client)
    assert len(records) >= 3 and result.extra_ids == tuple(r["id"] for r in records[1:])
    assert [r["in_reply_to"] for r in records] == [None] + [r["id"] for r in records[:-1]]
    assert all(r["to_user"] is None and "@" not in r["text"] for r in records)
    assert all(r["text"].startswith(f"{n}/{len(records)} ") for n, r in enumerate(records, 1))
    assert all(weighted_length(r["text"]) <= 280 for r in records)


def test_a_resumed_public_thread_goes_on_under_its_last_part(channel, client):
    first = channel.send(public(DIGEST, idempotency_key="k")).external_id
    parts = sent(client)
    client.post("/_sandbox/reset")
    channel.send(public("Resumen semanal", conversation_id=first))  # a fresh tweet to reply to
    last = sent(client)[0]["id"]
    result = channel.send(public(DIGEST, in_reply_to=last, skip_parts=1))
    resumed = sent(client)[1:]
    assert [r["text"] for r in resumed] == [r["text"] for r in parts[1:]]
    assert resumed[0]["in_reply_to"] == last == sent(client)[0]["id"]
    assert result.external_id == resumed[0]["id"]


def test_a_public_photo_is_skipped_as_for_replies(channel, client, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="channels.x"):
        channel.send(public("Resumen", media_paths=(str(tmp_path / "weekly.png"),)))
    assert [r["media"] for r in sent(client)] == [[]]
    assert any("photo" in r.getMessage() for r in caplog.records)
