"""The Mastodon adapter (real Mastodon.py) against the loopback sandbox."""

from __future__ import annotations

import json
import time
import traceback
from datetime import timedelta

import httpx
import pytest
from mastodon.errors import MastodonNetworkError

from channels.base import OutboundMessage, PermanentError, RateLimited, TransientError
from channels.sandbox.images import make_png
from channels.sandbox.mastodon import MastodonFake, account_id_for
from channels.sandbox.server import SandboxServer
from channels.mastodon import MastodonChannel
from tests.channels.helpers import SandboxAdmin, free_port, only

TOKEN = "SECRET-mastodon-adapter-token"
BOT = "villajun"
TAG = "#JunIncidencias"

_admin = SandboxAdmin("mastodon")
post, sent, fault = _admin.post, _admin.sent, _admin.fault


def make_channel(url: str, tmp_path, **overrides) -> MastodonChannel:
    settings = {"access_token": TOKEN, "base_url": url, "bot_username": BOT, "hashtags": [TAG],
                "keywords": ["ayuntamiento"], "media_dir": tmp_path / "media",
                "request_timeout": 10.0}
    return MastodonChannel(**{**settings, **overrides})


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = make_channel(sandbox.url, tmp_path)
    yield adapter
    adapter.close()


def reply(message, text: str, key: str | None = "citybot-outbox-1", **extra) -> OutboundMessage:
    return OutboundMessage(channel="mastodon", recipient_id=message.author_id,
                           recipient_handle=message.author_handle, text=text,
                           conversation_id=message.conversation_id,
                           in_reply_to=message.external_id, idempotency_key=key, **extra)


def wait_until(predicate, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


# -- fetch ----------------------------------------------------------------------


def test_mention(channel, client):
    status_id = post(client, user="ana", text="Hay un bache en la calle Mayor", lang="es")
    message = only(channel)
    assert message.channel == "mastodon" and message.kind == "mention"
    assert message.external_id == message.conversation_id == status_id
    assert message.text == "Hay un bache en la calle Mayor"
    assert message.author_id == account_id_for("ana") and message.author_handle == "ana"
    assert message.lang_hint == "es" and message.in_reply_to is None
    assert message.created_at.tzinfo is not None
    assert message.raw["id"] == status_id and message.raw["visibility"] == "public"
    json.dumps(message.raw)
    assert channel.capabilities.max_length == 500 and channel.capabilities.idempotency


def test_dm(channel, client):
    post(client, user="luc", text="Lampadaire éteint rue Haute", kind="dm", lang="fr")
    message = only(channel)
    assert message.kind == "dm" and message.text == "Lampadaire éteint rue Haute"
    assert message.raw["visibility"] == "direct"


def test_public_hashtag_post_and_no_duplicate_for_a_mention_with_the_tag(channel, client):
    public_id = post(client, user="bob", text="Sin luz otra vez #junincidencias", kind="public")
    both_id = post(client, user="eva", text=f"Fuga de agua {TAG}")  # a mention with the tag
    post(client, user="eva", text="Otra cosa #OtroTema", kind="public")
    messages = channel.fetch(None).messages
    assert [(m.external_id, m.kind) for m in messages] == [(both_id, "mention"),
                                                          (public_id, "public")]
    assert messages[1].text == "Sin luz otra vez #junincidencias"


def test_own_posts_and_reblog_free_timeline(sandbox, client, tmp_path):
    post(client, user="ana", text="bache")
    public_bot = make_channel(sandbox.url, tmp_path, visibility="public")
    try:
        citizen = only(public_bot)
        public_bot.send(reply(citizen, f"Gracias, lo vemos {TAG}"))
        assert sent(client)[0]["visibility"] == "public"
        later = public_bot.fetch(None)
        assert [m.external_id for m in later.messages] == [citizen.external_id]  # not our post
    finally:
        public_bot.close()


def test_reply_to_and_thread_root(channel, client):
    root = post(client, user="ana", text="Bache enorme")
    first = channel.fetch(None)
    answer = channel.send(reply(first.messages[0], "¿En qué número?"))
    follow = post(client, user="ana", text="El 12", reply_to=answer.external_id)
    message = only(channel, first.next_cursor)
    assert message.external_id == follow and message.in_reply_to == answer.external_id
    assert message.conversation_id == root  # the thread's root
    assert message.text == "El 12"
    # A fresh adapter (no cache) finds the root through /context.
    other = make_channel(channel.base_url, channel.media_dir.parent)
    try:
        assert only(other, first.next_cursor).conversation_id == root
    finally:
        other.close()


def test_photo_is_downloaded_to_the_media_dir(channel, client, tmp_path):
    post(client, user="ana", text="Mirad este bache", photo=True)
    message = only(channel)
    (media,) = message.media
    assert media.kind == "photo" and media.remote_id
    path = tmp_path / "media" / "mastodon" / f"{media.remote_id}.png"
    assert media.path == str(path) and path.read_bytes().startswith(b"\x89PNG")
    assert message.text == "Mirad este bache"


def test_failed_download_keeps_the_message(channel, client, sandbox):
    post(client, user="ana", text="foto", photo=True)
    status = channel.fetch(None).messages[0].raw
    client.post("/_sandbox/reset")
    broken = {**status, "id": "1" + status["id"], "media_attachments": [
        {**status["media_attachments"][0], "id": "77", "url": f"{sandbox.url}/system/media_attachments/files/1/original.png"}]}
    client.post("/_sandbox/mastodon/raw", json={"type": "mention", "created_at": status["created_at"],
                                                "account": status["account"], "status": broken})
    message = only(channel)
    assert message.text == "foto" and message.media[0].path is None
    assert message.media[0].remote_id == "77"


def test_location_pin(channel, client):
    post(client, user="ana", text="Farola apagada", lat=37.2, lon=-3.61)
    message = only(channel)
    assert (message.lat, message.lon) == (37.2, -3.61) and message.text == "Farola apagada"


def test_html_never_leaks_into_text(channel, client):
    text = 'Tres <b>baches</b> & "farolas" <script>alert(1)</script>\nsegunda línea\n\nmás'
    post(client, user="ana", text=text)
    assert only(channel).text == text


def test_250_mentions_posted_at_once_all_arrive_exactly_once(channel, client):
    first = post(client, user="ana", text="primero")
    start = channel.fetch(None)
    assert [m.external_id for m in start.messages] == [first]
    ids = [post(client, user=f"vecino{i % 7}", text=f"aviso {i}") for i in range(250)]
    result = channel.fetch(start.next_cursor)  # min_id steps forward, page by page
    assert [m.external_id for m in result.messages] == ids
    assert [m.text for m in result.messages] == [f"aviso {i}" for i in range(250)]
    assert channel.fetch(result.next_cursor).messages == []
    more = [post(client, user="ana", text=f"más {i}") for i in range(3)]
    assert [m.external_id for m in channel.fetch(result.next_cursor).messages] == more


def test_a_first_run_walks_back_through_every_page(channel, client):
    ids = [post(client, user="ana", text=f"aviso {i}") for i in range(170)]
    result = channel.fetch(None)  # newest page, then Link rel="next" pages back
    assert [m.external_id for m in result.messages] == ids
    assert channel.fetch(result.next_cursor).messages == []


def test_without_backfill_a_first_run_reads_everything_forward(sandbox, client, tmp_path):
    ids = [post(client, user="ana", text=f"aviso {i}") for i in range(90)]
    adapter = make_channel(sandbox.url, tmp_path, backfill=None)
    try:
        assert [m.external_id for m in adapter.fetch(None).messages] == ids
    finally:
        adapter.close()


def test_cursor_semantics(channel, client):
    post(client, user="ana", text="uno")
    post(client, user="bob", text=f"dos {TAG}", kind="public")
    first = channel.fetch(None)
    assert len(first.messages) == 2
    state = json.loads(first.next_cursor)
    assert state["v"] == 1 and set(state["tags"]) == {"junincidencias"}
    again = channel.fetch(first.next_cursor)
    assert again.messages == [] and again.next_cursor == first.next_cursor
    post(client, user="ana", text="tres")
    later = channel.fetch(first.next_cursor)
    assert [m.text for m in later.messages] == ["tres"]
    assert int(json.loads(later.next_cursor)["mentions"]) > int(state["mentions"])
    # The core re-fetching from an older cursor (e.g. after a crash) gets the same posts.
    assert [m.text for m in channel.fetch(first.next_cursor).messages] == ["tres"]


def test_a_restarted_adapter_resumes_from_the_stored_cursor(channel, client, sandbox, tmp_path):
    post(client, user="ana", text="uno")
    cursor = channel.fetch(None).next_cursor
    channel.close()
    post(client, user="ana", text="dos")
    restarted = make_channel(sandbox.url, tmp_path, bot_username=None)
    try:
        assert [m.text for m in restarted.fetch(cursor).messages] == ["dos"]
        assert restarted.bot_username == BOT  # learned from verify_credentials
    finally:
        restarted.close()


def test_first_run_backfill_skips_old_posts_but_moves_on(sandbox, client, tmp_path):
    post(client, user="ana", text="viejo")
    post(client, user="bob", text=f"viejo {TAG}", kind="public")
    time.sleep(0.01)
    adapter = make_channel(sandbox.url, tmp_path, backfill=timedelta(0))
    try:
        first = adapter.fetch(None)
        assert first.messages == []
        post(client, user="ana", text="nuevo")
        post(client, user="bob", text=f"nuevo {TAG}", kind="public")
        assert [m.text for m in adapter.fetch(first.next_cursor).messages] == [
            "nuevo", f"nuevo {TAG}"]
    finally:
        adapter.close()


def test_malformed_notification_is_rejected_not_fatal(channel, client):
    client.post("/_sandbox/mastodon/raw", json={"type": "mention", "oops": True})
    post(client, user="ana", text="sigo aquí")
    result = channel.fetch(None)
    assert [m.text for m in result.messages] == ["sigo aquí"]
    (bad,) = result.rejected
    assert bad["raw"]["oops"] is True and "status" in bad["error"]
    assert channel.fetch(result.next_cursor).rejected == []  # the cursor moved past it


def test_a_failure_after_the_first_page_returns_what_was_read(channel, client, monkeypatch):
    post(client, user="ana", text="cero")
    cursor = channel.fetch(None).next_cursor
    ids = [post(client, user="ana", text=f"n{i}") for i in range(100)]
    real = channel._api.fetch_previous

    def broken(page):
        raise MastodonNetworkError("connection reset")

    monkeypatch.setattr(channel._api, "fetch_previous", broken)
    partial = channel.fetch(cursor)
    assert [m.external_id for m in partial.messages] == ids[:80]  # one full page
    monkeypatch.setattr(channel._api, "fetch_previous", real)
    rest = channel.fetch(partial.next_cursor)
    assert [m.external_id for m in rest.messages] == ids[80:]


def test_unreadable_cursor_starts_afresh(channel, client):
    post(client, user="ana", text="uno")
    assert [m.text for m in channel.fetch("not json").messages] == ["uno"]


def test_polling_ignores_timeout(channel):
    started = time.monotonic()
    channel.fetch(None, timeout=5)
    assert time.monotonic() - started < 3


# -- send -----------------------------------------------------------------------


def test_send_is_threaded_with_the_acct_prefix_and_configured_visibility(channel, client):
    citizen_id = post(client, user="ana", text="bache")
    citizen = only(channel)
    result = channel.send(reply(citizen, "Gracias, Ana. Ticket JUN-1."))
    (record,) = sent(client)
    assert result.external_id == record["id"] and result.extra_ids == ()
    assert record["text"] == "@ana Gracias, Ana. Ticket JUN-1."
    assert record["in_reply_to"] == citizen_id and record["to_user"] == "ana"
    assert record["visibility"] == "unlisted"


def test_a_reply_to_a_direct_message_is_direct(channel, client):
    post(client, user="luc", text="salut", kind="dm")
    channel.send(reply(only(channel), "Bonjour Luc"))
    assert sent(client)[0]["visibility"] == "direct"


def test_a_fresh_adapter_learns_the_parent_visibility(channel, client, sandbox, tmp_path):
    dm = post(client, user="luc", text="salut", kind="dm")
    fresh = make_channel(sandbox.url, tmp_path)
    try:
        fresh.send(OutboundMessage(channel="mastodon", recipient_id="1", recipient_handle="luc",
                                   text="Bonjour", in_reply_to=dm, idempotency_key="k"))
    finally:
        fresh.close()
    assert sent(client)[0]["visibility"] == "direct"


def test_reply_to_a_vanished_post_goes_direct_unthreaded(channel, client):
    channel.send(OutboundMessage(channel="mastodon", recipient_id="1", recipient_handle="ana",
                                 text="Su incidencia JUN-9 está resuelta",
                                 in_reply_to="123456789", idempotency_key="k"))
    (record,) = sent(client)
    assert record["in_reply_to"] is None and record["visibility"] == "direct"
    assert record["text"].startswith("@ana ")


def test_remote_citizen_gets_the_full_acct(channel, client):
    post(client, user="luc@other.example", text="bonjour")
    citizen = only(channel)
    channel.send(reply(citizen, "Merci"))
    assert sent(client)[0]["text"] == "@luc@other.example Merci"


def test_long_text_is_split_to_the_instance_limit(tmp_path):
    with SandboxServer(fakes=[MastodonFake(max_characters=100)]) as server, \
            httpx.Client(base_url=server.url) as client:
        citizen_id = post(client, user="ana", text="bache")
        adapter = make_channel(server.url, tmp_path)
        try:
            citizen = only(adapter)
            assert adapter.capabilities.max_length == 100
            text = " ".join(f"palabra{n}" for n in range(40))  # ~400 characters
            result = adapter.send(reply(citizen, text, key="citybot-outbox-5"))
            records = sent(client)
            assert len(records) >= 4 and len(result.extra_ids) == len(records) - 1
            assert all(len(r["text"]) <= 100 and r["text"].startswith("@ana ") for r in records)
            assert [r["in_reply_to"] for r in records] == [citizen_id] + [
                r["id"] for r in records[:-1]]
            assert " ".join(r["text"][len("@ana "):] for r in records) == text
            # A retry of the whole delivery re-finds every part by its key.
            again = adapter.send(reply(citizen, text, key="citybot-outbox-5"))
            assert again == result and len(sent(client)) == len(records)
        finally:
            adapter.close()


def test_send_photo(channel, client, tmp_path):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    photo = tmp_path / "fixed.png"
    photo.write_bytes(make_png(20, 10))
    channel.send(reply(citizen, "Arreglado", media_paths=(str(photo),)))
    (record,) = sent(client)
    assert record["media"] == ["photo"] and record["text"] == "@ana Arreglado"


def test_missing_media_file_is_permanent(channel, client, tmp_path):
    post(client, user="ana", text="bache")
    with pytest.raises(PermanentError):
        channel.send(reply(only(channel), "Arreglado",
                           media_paths=(str(tmp_path / "nope.png"),)))


def test_empty_reply_is_permanent(channel, client):
    post(client, user="ana", text="bache")
    with pytest.raises(PermanentError):
        channel.send(reply(only(channel), "   "))


# -- errors ---------------------------------------------------------------------


def test_429_is_rate_limited_until_the_reset(channel, client):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    fault(client, status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        channel.send(reply(citizen, "Gracias"))
    assert 6 <= caught.value.retry_after <= 8.5
    assert caught.value.delivered == ()
    channel.send(reply(citizen, "Gracias"))  # the fault was used up
    assert len(sent(client)) == 1


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
    assert sent(client) == []


def test_rate_limit_in_fetch(channel, client):
    channel.fetch(None)
    fault(client, status=429, count=1, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        channel.fetch(None)
    assert 2 <= caught.value.retry_after <= 4.5


def test_a_dropped_answer_retried_with_the_same_key_posts_once(channel, client):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    fault(client, status="drop_response", count=1)
    with pytest.raises(TransientError):
        channel.send(reply(citizen, "Gracias, JUN-1", key="citybot-outbox-42"))
    (record,) = sent(client)  # the server did post it
    result = channel.send(reply(citizen, "Gracias, JUN-1", key="citybot-outbox-42"))
    assert result.external_id == record["id"]
    assert len(sent(client)) == 1


def test_rejected_token_is_permanent_and_never_shown(sandbox, tmp_path):
    adapter = make_channel(sandbox.url, tmp_path, access_token="")
    try:
        with pytest.raises(PermanentError) as caught:
            adapter.fetch(None)
    finally:
        adapter.close()
    secret = make_channel(sandbox.url, tmp_path)
    assert TOKEN not in repr(secret) and "401" in str(caught.value)
    secret.close()


def test_unreachable_server_is_transient_and_construction_is_offline(tmp_path):
    adapter = make_channel(f"http://127.0.0.1:{free_port()}", tmp_path)
    try:
        with pytest.raises(TransientError) as caught:
            adapter.fetch(None)
        assert TOKEN not in "".join(traceback.format_exception(caught.value))
    finally:
        adapter.close()
        adapter.close()  # idempotent
    with pytest.raises(PermanentError):
        adapter.fetch(None)


def test_token_never_reaches_logs(channel, client, caplog):
    caplog.set_level("DEBUG")
    post(client, user="ana", text="bache", photo=True)
    channel.send(reply(only(channel), "Gracias"))
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)


# -- streaming ------------------------------------------------------------------


@pytest.fixture
def streaming(sandbox, tmp_path):
    sandbox.fakes["mastodon"].heartbeat = 0.2
    adapter = make_channel(sandbox.url, tmp_path, hashtags=[], streaming=True,
                           stream_reconnect_wait=0.5)
    yield adapter
    adapter.close()
    sandbox.fakes["mastodon"].heartbeat = 15.0


def test_streaming_delivers_without_polling_and_falls_back_when_the_stream_drops(
        streaming, client):
    post(client, user="ana", text="antes del stream")
    first = streaming.fetch(None)  # polls, and starts the stream
    assert [m.text for m in first.messages] == ["antes del stream"]
    wait_until(lambda: streaming.stream_up)
    cursor = streaming.fetch(first.next_cursor).next_cursor  # the gap-filling poll after connecting

    # Every API call now fails: only the stream can deliver.
    fault(client, status=500, count=1000)
    dm_id = post(client, user="luc", text="par le flux", kind="dm")
    started = time.monotonic()
    streamed = streaming.fetch(cursor, timeout=5)
    assert [(m.external_id, m.kind) for m in streamed.messages] == [(dm_id, "dm")]
    assert time.monotonic() - started < 4
    fault(client, status=500, count=0)

    # The stream drops: polling takes over.
    client.post("/_sandbox/mastodon/stream", json={"up": False})
    wait_until(lambda: not streaming.stream_up)
    polled_id = post(client, user="ana", text="sin stream")
    polled = streaming.fetch(streamed.next_cursor)
    assert [m.external_id for m in polled.messages] == [polled_id]

    # The stream comes back: one gap-filling poll, then streaming again, nothing twice.
    gap_id = post(client, user="ana", text="mientras reconecta")
    client.post("/_sandbox/mastodon/stream", json={"up": True})
    wait_until(lambda: streaming.stream_up)
    refilled = streaming.fetch(polled.next_cursor)
    assert [m.external_id for m in refilled.messages] == [gap_id]
    late_id = post(client, user="ana", text="otra vez por el flujo")
    fault(client, status=500, count=1000)
    assert [m.external_id for m in streaming.fetch(refilled.next_cursor, timeout=5).messages] \
        == [late_id]
    fault(client, status=500, count=0)


def test_streaming_without_a_stream_endpoint_still_polls(sandbox, client, tmp_path):
    client.post("/_sandbox/mastodon/stream", json={"up": False})
    adapter = make_channel(sandbox.url, tmp_path, hashtags=[], streaming=True,
                           stream_reconnect_wait=0.5)
    try:
        post(client, user="ana", text="uno")
        cursor = adapter.fetch(None).next_cursor
        post(client, user="ana", text="dos")
        assert [m.text for m in adapter.fetch(cursor, timeout=0.2).messages] == ["dos"]
        assert not adapter.stream_up
    finally:
        adapter.close()


# -- public posts (digests) -------------------------------------------------------


def public(text: str, key: str | None = "citybot-outbox-9", **extra) -> OutboundMessage:
    return OutboundMessage(channel="mastodon", recipient_id="", text=text, public=True,
                           idempotency_key=key, **extra)


@pytest.mark.parametrize(("configured", "expected"), [
    ("public", "public"), ("unlisted", "unlisted"), ("private", "private"), ("direct", "unlisted")])
def test_public_post_has_no_mention_no_parent_and_the_configured_visibility(
        sandbox, client, tmp_path, configured, expected):
    post(client, user="ana", text="bache")
    adapter = make_channel(sandbox.url, tmp_path, visibility=configured)
    try:
        citizen = only(adapter)
        adapter.send(public("Resumen semanal: 12 avisos", in_reply_to=citizen.external_id,
                            recipient_handle="ana", conversation_id=citizen.conversation_id))
    finally:
        adapter.close()
    (record,) = sent(client)
    assert record["text"] == "Resumen semanal: 12 avisos" and record["visibility"] == expected
    assert record["in_reply_to"] is None and record["to_user"] is None


def test_long_public_post_is_split_at_the_instance_limit_with_the_chart_once(tmp_path):
    chart = tmp_path / "weekly.png"
    chart.write_bytes(make_png(40, 20))
    with SandboxServer(fakes=[MastodonFake(max_characters=100)]) as server, \
            httpx.Client(base_url=server.url) as client:
        adapter = make_channel(server.url, tmp_path)
        try:
            text = " ".join(f"dato{n}" for n in range(60))  # ~400 characters
            message = public(text, media_paths=(str(chart),))
            result = adapter.send(message)
            records = sent(client)
            assert len(records) >= 4 and len(result.extra_ids) == len(records) - 1
            assert all(len(r["text"]) <= 100 and "@" not in r["text"] for r in records)
            assert " ".join(r["text"] for r in records) == text
            assert [r["in_reply_to"] for r in records] == [None] + [r["id"] for r in records[:-1]]
            assert all(r["to_user"] is None for r in records)
            assert [r["media"] for r in records] == [["photo"]] + [[]] * (len(records) - 1)
            media = client.get(f"/api/v1/statuses/{records[0]['id']}",
                               headers={"Authorization": f"Bearer {TOKEN}"}).json()
            attachment = media["media_attachments"][0]
            assert client.get(attachment["url"]).content == chart.read_bytes()
            # The same delivery again (same Idempotency-Key) posts nothing new.
            assert adapter.send(message) == result and len(sent(client)) == len(records)
        finally:
            adapter.close()
