"""The Telegram adapter (real python-telegram-bot) against the loopback sandbox."""

from __future__ import annotations

import threading
import time
import traceback
from datetime import UTC

import httpx
import pytest

from channels.base import (
    OutboundMessage,
    PermanentError,
    RateLimited,
    TransientError,
)
from channels.sandbox.images import make_png
from channels.sandbox.telegram import GROUP_CHAT_ID, user_id_for
from channels.telegram import TelegramChannel
from tests.channels.helpers import SandboxAdmin, free_port, only

TOKEN = "123456:SECRET-adapter-token"
BOT = "citybot_demo_bot"
GROUP = str(GROUP_CHAT_ID)

# PTB 22.x's own RetryAfter constructor warns about int vs timedelta; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

_admin = SandboxAdmin("telegram")
post, sent, fault = _admin.post, _admin.sent, _admin.fault


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = TelegramChannel(
        TOKEN,
        sandbox.url,
        bot_username=BOT,
        hashtags=["#JunIncidencias", "#Villajun"],
        keywords=["ayuntamiento", "incidencia"],
        media_dir=tmp_path / "media",
    )
    yield adapter
    adapter.close()


def reply(message, text: str, **extra) -> OutboundMessage:
    return OutboundMessage(channel="telegram", recipient_id=message.author_id, text=text,
                           conversation_id=message.conversation_id,
                           in_reply_to=message.external_id, **extra)


# -- fetch ----------------------------------------------------------------------


def test_mention_in_the_group(channel, client):
    message_id = post(client, user="ana", text="Hay un bache en la calle Mayor", lang="es")
    message = only(channel)
    assert message.channel == "telegram" and message.kind == "mention"
    assert message.external_id == f"{GROUP}:{message_id}"
    assert message.conversation_id == GROUP
    assert message.text == "Hay un bache en la calle Mayor"
    assert message.author_id == str(user_id_for("ana")) and message.author_handle == "ana"
    assert message.lang_hint == "es"
    assert message.created_at.tzinfo is UTC
    assert message.raw["message"]["message_id"] == int(message_id)


def test_dm_goes_to_the_private_chat(channel, client):
    post(client, user="luc", text="Lampadaire éteint rue Haute", kind="dm", lang="fr")
    message = only(channel)
    assert message.kind == "dm"
    assert message.conversation_id == message.author_id == str(user_id_for("luc"))


@pytest.mark.parametrize("text", ["Sin luz otra vez #VILLAJÚN", "Llamad al Ayuntamiento ya"])
def test_public_posts_match_hashtags_and_keywords_ignoring_case_and_accents(channel, client,
                                                                           text):
    post(client, user="bob", text=text, kind="public")
    message = only(channel)
    assert message.kind == "public" and message.text == text


def test_group_chatter_is_ignored_but_the_cursor_moves(channel, client):
    post(client, user="bob", text="¿Alguien sabe a qué hora abre el mercado?", kind="public")
    result = channel.fetch(None)
    assert result.messages == [] and result.rejected == []
    assert result.next_cursor is not None
    assert channel.fetch(result.next_cursor).messages == []


def test_photo_is_downloaded_to_the_media_dir(channel, client, tmp_path):
    post(client, user="ana", text="Mirad este bache", photo=True)
    message = only(channel)
    assert message.text == "Mirad este bache"
    (media,) = message.media
    assert media.kind == "photo" and media.remote_id
    path = tmp_path / "media" / "telegram" / media.path.rsplit("/", 1)[-1]
    assert media.path == str(path) and path.suffix == ".png"
    assert path.read_bytes().startswith(b"\x89PNG")
    largest = message.raw["message"]["photo"][-1]
    assert path.stem == largest["file_unique_id"] and path.stat().st_size == largest["file_size"]


def test_failed_download_keeps_the_message(channel, client):
    client.post("/_sandbox/telegram/raw", json={"message": {
        "message_id": 5, "date": 1767000000, "text": "foto perdida",
        "chat": {"id": 77, "type": "private", "first_name": "Eva"},
        "from": {"id": 77, "is_bot": False, "first_name": "Eva"},
        "photo": [{"file_id": "gone", "file_unique_id": "g", "width": 9, "height": 9}]}})
    message = only(channel)
    assert message.text == "foto perdida" and message.author_handle == "Eva"
    assert message.media[0].path is None and message.media[0].remote_id == "gone"


def test_location(channel, client):
    post(client, user="ana", text="Farola apagada", lat=37.2, lon=-3.61)
    message = only(channel)
    assert (message.lat, message.lon) == (37.2, -3.61)
    assert message.text == "Farola apagada"


def test_reply_to_becomes_in_reply_to(channel, client):
    first = post(client, user="ana", text="hola", kind="dm")
    second = post(client, user="ana", text="¿novedades?", reply_to=first)
    messages = channel.fetch(None).messages
    chat = str(user_id_for("ana"))
    assert [m.external_id for m in messages] == [f"{chat}:{first}", f"{chat}:{second}"]
    assert messages[1].in_reply_to == f"{chat}:{first}" and messages[0].in_reply_to is None


def test_reply_to_the_bot_in_the_group_counts_as_a_mention(channel, client):
    post(client, user="ana", text="bache")
    first = channel.fetch(None)
    citizen = first.messages[0]
    result = channel.send(reply(citizen, "¿En qué calle?"))
    post(client, user="ana", text="calle Mayor 3", reply_to=result.external_id)
    post(client, user="bob", text="calle Mayor 5", reply_to=citizen.external_id, kind="public")
    messages = channel.fetch(first.next_cursor).messages
    assert [(m.text, m.kind) for m in messages] == [("calle Mayor 3", "mention")]
    assert messages[0].in_reply_to == result.external_id


def test_commands_are_normalised(channel, client):
    post(client, user="ana", text="/status JUN-3")  # in the group: /status@citybot_demo_bot
    post(client, user="ana", text="/status JUN-4", kind="dm")
    assert [(m.text, m.kind) for m in channel.fetch(None).messages] == [
        ("/status JUN-3", "mention"), ("/status JUN-4", "dm")]


def test_cursor_semantics(channel, client):
    post(client, user="ana", text="uno")
    first = channel.fetch(None)
    assert len(first.messages) == 1
    again = channel.fetch(first.next_cursor)
    assert again.messages == [] and again.next_cursor == first.next_cursor
    post(client, user="ana", text="dos")
    later = channel.fetch(first.next_cursor)
    assert [m.text for m in later.messages] == ["dos"]
    assert int(later.next_cursor) > int(first.next_cursor)


def test_a_restarted_adapter_resumes_from_the_stored_cursor(channel, client, sandbox, tmp_path):
    post(client, user="ana", text="uno")
    cursor = channel.fetch(None).next_cursor
    channel.fetch(cursor)  # confirms "uno" on the server
    channel.close()
    restarted = TelegramChannel(TOKEN, sandbox.url, media_dir=tmp_path)
    try:
        assert restarted.fetch(cursor).messages == []
        assert restarted.fetch(None).messages == []
        assert restarted.bot_username == BOT  # learned from getMe
    finally:
        restarted.close()


def test_long_poll_returns_as_soon_as_a_post_arrives(channel, client, sandbox):
    cursor = channel.fetch(None).next_cursor
    threading.Timer(0.3, lambda: httpx.post(f"{sandbox.url}/_sandbox/telegram/inbound",
                                            json={"user": "ana", "text": "ya"})).start()
    started = time.monotonic()
    result = channel.fetch(cursor, timeout=10)
    assert [m.text for m in result.messages] == ["ya"]
    assert time.monotonic() - started < 5


def test_malformed_update_is_rejected_not_fatal(channel, client):
    client.post("/_sandbox/telegram/raw", json={"message": {"oops": True}})
    post(client, user="ana", text="sigo aquí")
    result = channel.fetch(None)
    assert [m.text for m in result.messages] == ["sigo aquí"]
    (bad,) = result.rejected
    assert bad["raw"]["message"] == {"oops": True}
    assert "message_id" in bad["error"] and isinstance(bad["update_id"], int)
    assert int(result.next_cursor) > bad["update_id"]


# -- send -----------------------------------------------------------------------


def test_send_is_threaded_under_the_citizen_post(channel, client):
    citizen_id = post(client, user="ana", text="bache")
    citizen = only(channel)
    result = channel.send(reply(citizen, "Gracias, Ana. Ticket JUN-1."))
    (record,) = sent(client)
    assert result.external_id == f"{GROUP}:{record['id']}" and result.extra_ids == ()
    assert record["in_reply_to"] == citizen_id and record["to_user"] == "ana"
    assert record["text"] == "Gracias, Ana. Ticket JUN-1."


def test_send_to_a_dm_without_thread(channel, client):
    post(client, user="luc", text="salut", kind="dm")
    citizen = only(channel)
    channel.send(OutboundMessage(channel="telegram", recipient_id=citizen.author_id,
                                 text="Bonjour Luc"))
    (record,) = sent(client)
    assert record["in_reply_to"] is None and record["to_user"] == "luc"


def test_long_text_is_split_into_a_chain(channel, client):
    citizen_id = post(client, user="ana", text="bache")
    citizen = only(channel)
    paragraphs = [f"Párrafo {n}: " + "palabra " * 450 for n in range(3)]  # ~3.6k chars each
    text = "\n\n".join(p.strip() for p in paragraphs)
    result = channel.send(reply(citizen, text))
    records = sent(client)
    assert len(records) == 3 and len(result.extra_ids) == 2
    assert [r["in_reply_to"] for r in records] == [citizen_id, records[0]["id"],
                                                   records[1]["id"]]
    assert all(len(r["text"]) <= 4096 for r in records)
    assert [r["text"] for r in records] == [p.strip() for p in paragraphs]
    assert result.extra_ids == tuple(f"{GROUP}:{r['id']}" for r in records[1:])


def test_send_photo_with_caption(channel, client, tmp_path):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    photo = tmp_path / "fixed.png"
    photo.write_bytes(make_png(20, 10))
    channel.send(reply(citizen, "Arreglado", media_paths=(str(photo),)))
    (record,) = sent(client)
    assert record["media"] == ["photo"] and record["text"] == "Arreglado"


def test_send_photo_then_text_when_the_caption_is_too_long(channel, client, tmp_path):
    citizen_id = post(client, user="ana", text="bache")
    citizen = only(channel)
    photo = tmp_path / "fixed.png"
    photo.write_bytes(make_png(20, 10))
    result = channel.send(reply(citizen, "x " * 700, media_paths=(str(photo),)))
    first, second = sent(client)
    assert first["media"] == ["photo"] and first["text"] == ""
    assert first["in_reply_to"] == citizen_id and second["in_reply_to"] == first["id"]
    assert second["text"] == ("x " * 700).strip() and len(result.extra_ids) == 1


def test_missing_media_file_is_permanent(channel, client, tmp_path):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    with pytest.raises(PermanentError):
        channel.send(reply(citizen, "Arreglado", media_paths=(str(tmp_path / "nope.png"),)))


# -- errors ---------------------------------------------------------------------


def test_429_is_rate_limited_with_the_retry_after(channel, client):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    fault(client, status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        channel.send(reply(citizen, "Gracias"))
    assert caught.value.retry_after == 7.0
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


def test_rate_limit_in_fetch(channel, client):
    channel.fetch(None)
    fault(client, status=429, count=1, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        channel.fetch(None)
    assert caught.value.retry_after == 3.0


def test_bad_request_is_permanent(channel):
    with pytest.raises(PermanentError) as caught:
        channel.send(OutboundMessage(channel="telegram", recipient_id="-424242", text="hola"))
    assert "chat not found" in str(caught.value).lower()


def test_rejected_token_is_permanent_and_never_shown(sandbox, tmp_path):
    adapter = TelegramChannel(TOKEN, f"{sandbox.url}/nowhere", media_dir=tmp_path)
    try:
        with pytest.raises(PermanentError) as caught:
            adapter.fetch(None)
    finally:
        adapter.close()
    assert TOKEN not in str(caught.value) and TOKEN not in repr(adapter)
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


def test_unreachable_server_is_transient_and_construction_is_offline(tmp_path):
    adapter = TelegramChannel(TOKEN, f"http://127.0.0.1:{free_port()}", media_dir=tmp_path)
    try:
        with pytest.raises(TransientError):
            adapter.fetch(None)
    finally:
        adapter.close()
        adapter.close()  # idempotent
    with pytest.raises(PermanentError):
        adapter.fetch(None)


def test_token_is_scrubbed_from_httpx_logs(channel, client, caplog):
    caplog.set_level("INFO", logger="httpx")
    channel.fetch(None)
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)
