"""The Telegram adapter's public posts, staff DMs, inline keyboards and button presses (sandbox)."""

from __future__ import annotations

import httpx
import pytest

from channels.base import OutboundMessage, PermanentError
from channels.sandbox.images import make_png
from channels.sandbox.telegram import GROUP_CHAT_ID, channel_id_for, user_id_for
from channels.telegram import TelegramChannel
from tests.channels.helpers import SandboxAdmin, only

TOKEN = "123456:SECRET-keyboard-token"
BOT = "citybot_demo_bot"
GROUP = str(GROUP_CHAT_ID)
DIGEST_CHAT = "@villajun_avisos"

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

_admin = SandboxAdmin("telegram")
post, sent = _admin.post, _admin.sent


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = TelegramChannel(TOKEN, sandbox.url, bot_username=BOT, media_dir=tmp_path / "media")
    yield adapter
    adapter.close()


def public(text: str, target: str = DIGEST_CHAT, **extra) -> OutboundMessage:
    return OutboundMessage(channel="telegram", recipient_id=target, text=text, public=True, **extra)


def staff_dm(user_id: str, text: str, **extra) -> OutboundMessage:
    return OutboundMessage(channel="telegram", recipient_id=user_id, conversation_id=user_id,
                           text=text, **extra)


def press(client: httpx.Client, user: str, data: str, reply_to: str) -> httpx.Response:
    return client.post("/_sandbox/telegram/inbound",
                       json={"user": user, "callback": data, "reply_to": reply_to})


def callbacks(client: httpx.Client) -> list[dict]:
    return client.get("/_sandbox/telegram/callbacks").json()


BUTTONS = (("Sí, arreglado", "fixed:JUN-7"), ("No", "open:JUN-7"))


# -- public posts -----------------------------------------------------------------


def test_public_post_goes_to_the_channel_unthreaded_and_names_no_citizen(channel, client):
    post(client, user="ana", text="bache")
    citizen = only(channel)
    message = public("Resumen del día: 3 avisos, 2 resueltos",
                     in_reply_to=citizen.external_id, conversation_id=GROUP)
    result = channel.send(message)
    (record,) = sent(client)
    assert record["text"] == "Resumen del día: 3 avisos, 2 resueltos"
    assert record["in_reply_to"] is None and record["to_user"] == "villajun_avisos"
    assert result.external_id == f"{channel_id_for('villajun_avisos')}:{record['id']}"
    assert "ana" not in record["text"] and record["buttons"] == []


def test_long_public_post_is_split_and_not_chained(channel, client):
    paragraphs = [("a" * 3000) + "\n\n", ("b" * 3000) + "\n\n", "c" * 3000]
    result = channel.send(public("".join(paragraphs)))
    records = sent(client)
    assert [r["text"] for r in records] == [p.strip() for p in paragraphs]
    assert all(r["in_reply_to"] is None for r in records)
    assert len(result.extra_ids) == 2


def test_public_post_with_the_chart_as_a_photo(channel, client, sandbox, tmp_path):
    chart = tmp_path / "weekly.png"
    chart.write_bytes(make_png(64, 32))
    channel.send(public("Resumen semanal", media_paths=(str(chart),)))
    (record,) = sent(client)
    assert record["media"] == ["photo"] and record["text"] == "Resumen semanal"
    assert record["in_reply_to"] is None
    # The photo the channel shows is the PNG we sent.
    stored = sandbox.fakes["telegram"]._messages[int(record["id"])]["photo"][-1]
    assert (stored["width"], stored["height"]) == (64, 32)
    path = client.post(f"/bot{TOKEN}/getFile", data={"file_id": stored["file_id"]}).json()
    assert client.get(f"/file/bot{TOKEN}/{path['result']['file_path']}").content == \
        chart.read_bytes()


def test_public_post_without_a_target_chat_is_permanent(channel, client):
    with pytest.raises(PermanentError, match="digest_chat"):
        channel.send(public("Resumen", target=""))
    assert sent(client) == []


# -- staff DMs ----------------------------------------------------------------------


def test_staff_dm_goes_to_the_user_id(channel, client):
    result = channel.send(staff_dm("100001", "Tienes 2 avisos abiertos: JUN-3, JUN-7"))
    (record,) = sent(client)
    assert result.external_id == f"100001:{record['id']}"
    assert record["in_reply_to"] is None and record["to_user"] == "100001"


# -- inline keyboards ---------------------------------------------------------------


def test_buttons_go_on_the_last_part_only(channel, client):
    text = ("a" * 3000) + "\n\n" + ("b" * 3000)
    channel.send(staff_dm("100001", text, buttons=BUTTONS))
    first, last = sent(client)
    assert first["buttons"] == []
    assert last["buttons"] == [{"label": "Sí, arreglado", "data": "fixed:JUN-7"},
                               {"label": "No", "data": "open:JUN-7"}]


def test_buttons_on_a_photo_with_caption(channel, client, tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(make_png(8, 8))
    channel.send(staff_dm("100001", "¿Arreglado?", media_paths=(str(photo),), buttons=BUTTONS))
    (record,) = sent(client)
    assert record["media"] == ["photo"] and [b["data"] for b in record["buttons"]] == [
        "fixed:JUN-7", "open:JUN-7"]


@pytest.mark.parametrize("buttons", [(("", "x"),), (("Ok", ""),), (("Ok", "é" * 33),)])
def test_bad_buttons_are_permanent_and_nothing_is_sent(channel, client, buttons):
    with pytest.raises(PermanentError, match="button"):
        channel.send(staff_dm("100001", "hola", buttons=buttons))
    assert sent(client) == []


# -- button presses -------------------------------------------------------------------


def test_a_button_press_round_trip(channel, client):
    post(client, user="ana", text="hola", kind="dm")
    cursor = channel.fetch(None).next_cursor  # Ana's private chat exists now
    ana = str(user_id_for("ana"))
    result = channel.send(staff_dm(ana, "¿Está arreglado JUN-7?", buttons=BUTTONS))
    bot_message = sent(client)[-1]["id"]
    query_id = press(client, "ana", "fixed:JUN-7", bot_message).json()["id"]
    assert callbacks(client)[0]["answered"] is False

    message = only(channel, cursor)
    assert message.external_id == f"cb:{query_id}"
    assert (message.author_id, message.author_handle) == (ana, "ana")
    assert message.kind == "dm" and message.conversation_id == ana
    assert message.in_reply_to == result.external_id == f"{ana}:{bot_message}"
    assert message.text == "fixed:JUN-7"
    assert message.raw["callback_query"]["id"] == query_id
    assert callbacks(client)[0]["answered"] is True


def test_a_press_in_the_group_is_a_mention(channel, client):
    post(client, user="ana", text="farola apagada")
    first = channel.fetch(None)
    (citizen,) = first.messages
    channel.send(OutboundMessage(channel="telegram", recipient_id=citizen.author_id,
                                 conversation_id=GROUP, in_reply_to=citizen.external_id,
                                 text="¿Sigue apagada?", buttons=(("Sí", "still:JUN-1"),)))
    bot_message = sent(client)[-1]["id"]
    press(client, "bob", "still:JUN-1", f"{GROUP}:{bot_message}")
    message = only(channel, first.next_cursor)
    assert message.kind == "mention" and message.conversation_id == GROUP
    assert message.author_handle == "bob" and message.in_reply_to == f"{GROUP}:{bot_message}"


def test_answering_is_best_effort(channel, client):
    channel.send(staff_dm("100001", "¿Arreglado?", buttons=BUTTONS))
    press(client, "100001", "open:JUN-7", sent(client)[0]["id"])  # a user id: the staff member
    first = channel.fetch(None)
    # Fetching again from the same cursor re-reads the press; answering twice fails on
    # Telegram's side, and the fetch still succeeds.
    again = channel.fetch(None)
    assert [m.external_id for m in again.messages] == [m.external_id for m in first.messages]
    assert again.next_cursor == first.next_cursor and callbacks(client)[0]["answered"] is True
