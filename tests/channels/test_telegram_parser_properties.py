"""Property: `parse_update` turns any payload into a clean message, None, or MalformedPayload.

10,000 generated updates (real shapes, then broken). Also at the fetch level, through
the sandbox: poison updates among good ones never hold the good ones or the cursor back.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.base import MalformedPayload
from channels.telegram import TelegramChannel, parse_update
from tests.channels.garbage import MANY, SOME, broken, check_clean, odd_text, some_text
from tests.channels.helpers import SandboxAdmin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
SAMPLES = [json.loads(p.read_text("utf-8")) for p in sorted(FIXTURES.glob("*.json"))
           if not p.stem.startswith("malformed")]
BOT = "citybot_demo_bot"
SETTINGS = {"bot_username": BOT, "hashtags": ["#JunIncidencias"], "keywords": ["ayuntamiento"]}

ids = st.integers(min_value=-(10**13), max_value=10**13)
user = st.fixed_dictionaries(
    {"id": st.integers(1, 10**10), "is_bot": st.just(False), "first_name": odd_text},
    optional={"username": odd_text, "language_code": st.sampled_from(["es", "en", "fr", "pt-BR", ""])})
chat = st.fixed_dictionaries({"id": ids, "type": st.sampled_from(["private", "group", "supergroup"])})
text = st.one_of(st.builds(lambda t: f"@{BOT} {t}", some_text), some_text,
                 st.builds(lambda t: f"/status {t}", odd_text), st.just("#JunIncidencias bache"))
# Telegram's file ids are URL-safe base64; any other text is garbage, tested elsewhere.
file_ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
photo = st.fixed_dictionaries({"file_id": file_ids, "file_unique_id": st.just("u"),
                               "width": st.integers(1, 2000), "height": st.integers(1, 2000)})
message = st.fixed_dictionaries(
    {"message_id": st.integers(1, 10**9), "date": st.integers(0, 2**31), "chat": chat, "from": user},
    optional={
        "text": text, "caption": text, "photo": st.lists(photo, max_size=3),
        "location": st.fixed_dictionaries({"latitude": st.floats(-90, 90), "longitude": st.floats(-180, 180)}),
        "reply_to_message": st.fixed_dictionaries(
            {"message_id": st.integers(1, 10**9), "date": st.integers(0, 2**31), "chat": chat},
            optional={"from": st.fixed_dictionaries({"id": st.integers(1, 10**10), "is_bot": st.booleans(),
                                                     "first_name": odd_text, "username": st.just(BOT)})}),
    })
press = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=20), "from": user, "chat_instance": st.just("1"),
     "data": odd_text, "message": st.fixed_dictionaries({"message_id": st.integers(1, 10**9), "chat": chat,
                                                         "date": st.integers(0, 2**31)})})


def _with_text(sample: dict, value: str) -> dict:
    """A recorded update carrying other text (its text or caption field)."""
    update = copy.deepcopy(sample)
    body = update.get("message") or {}
    body["caption" if "caption" in body else "text"] = value
    return update


valid = st.one_of(
    st.sampled_from(SAMPLES),
    st.builds(_with_text, st.sampled_from(SAMPLES), text),
    st.fixed_dictionaries({"update_id": st.integers(1, 10**9), "message": message}),
    st.fixed_dictionaries({"update_id": st.integers(1, 10**9), "callback_query": press}),
)


def outcome(payload):
    """The parsed message (checked clean), None, or the MalformedPayload raised."""
    try:
        result = parse_update(payload, **SETTINGS)
    except MalformedPayload as exc:
        assert str(exc)  # a rejection says what is wrong
        return exc
    if result is not None:
        check_clean(result, "telegram")
    return result


@MANY
@given(broken(valid))
def test_any_update_parses_clean_or_is_rejected(payload):
    outcome(payload)


@SOME
@given(st.fixed_dictionaries({"update_id": st.integers(1, 10**9), "message": message}))
def test_a_well_formed_update_is_never_rejected(payload):
    assert not isinstance(outcome(payload), MalformedPayload)


@pytest.mark.parametrize("payload", [
    {"message": {"message_id": 1, "date": 10**20, "chat": {"id": 1, "type": "private"}, "from": {"id": 2}}},
    {"message": {"message_id": 2**70, "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 2}}},
    {"message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "from": "ana", "text": "x"}},
    {"message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 2},
                 "location": {"latitude": 1e308 * 10, "longitude": 0}}},
    {"message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 2},
                 "text": "x", "photo": [{"width": "wide", "height": 3}]}},
    {"callback_query": {"id": "q", "from": {"id": 2}, "data": 5, "message": {"message_id": 1, "chat": {"id": 1}}}},
])
def test_known_poison_is_rejected_with_a_reason(payload):
    with pytest.raises(MalformedPayload):
        parse_update(payload, **SETTINGS)


def test_text_loses_nul_and_control_characters_but_keeps_the_rest():
    payload = {"message": {"message_id": 1, "date": 1, "chat": {"id": 7, "type": "private"},
                           "from": {"id": 2, "username": "a\x00na"}, "text": "ba\x00che\x1b[31m\u202e ok 🚧\nfin"}}
    message = parse_update(payload, **SETTINGS)
    assert message.text == "bache[31m\u202e ok 🚧\nfin" and message.author_handle == "ana"


# -- fetch level, through the sandbox --------------------------------------------

admin = SandboxAdmin("telegram")
POISON = [
    {"message": {"oops": True}},
    {"message": "not an object"},
    {"message": {"message_id": "7", "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 2}}},
    {"message": {"message_id": 8, "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 2},
                 "text": ["bache"]}},
    {"callback_query": {"id": "", "from": {"id": 2}}},
]


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = TelegramChannel("123:tok", sandbox.url, bot_username=BOT, media_dir=tmp_path)
    yield adapter
    adapter.close()


def test_poison_in_a_batch_keeps_the_good_posts_and_moves_the_cursor(channel, client):
    for n, poison in enumerate(POISON):
        admin.post(client, user=f"vecina{n}", text=f"farola {n} apagada", kind="dm")
        assert client.post("/_sandbox/telegram/raw", json=poison).status_code == 200
    result = channel.fetch(None)
    assert [m.text for m in result.messages] == [f"farola {n} apagada" for n in range(len(POISON))]
    assert [r["raw"] for r in result.rejected] == [{**p, "update_id": r["update_id"]}
                                                   for p, r in zip(POISON, result.rejected)]
    assert all(r["error"].startswith("MalformedPayload") for r in result.rejected)
    assert int(result.next_cursor) > max(r["update_id"] for r in result.rejected)
    later = channel.fetch(result.next_cursor)
    assert later.messages == [] and later.rejected == []
