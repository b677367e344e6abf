"""Property: Mastodon notifications and statuses parse clean, to None, or raise MalformedPayload.

10,000 generated payloads (the recorded shapes, trimmed to what the parser reads, with
HTML content full of markup, <script>, entities and odd text, then broken). Also at the
fetch level, through the sandbox: poison notifications never hold back the good ones
or the cursor.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.base import MalformedPayload
from channels.mastodon import MastodonChannel, mentions_bot, parse_notification, parse_status
from tests.channels.garbage import MANY, SOME, broken, check_clean, odd_text, some_text
from tests.channels.helpers import SandboxAdmin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mastodon"
BOT, BOT_ID = "villajun", "109876543210000001"
STATUS_KEYS = {"id", "created_at", "in_reply_to_id", "spoiler_text", "visibility", "language", "content",
               "reblog", "account", "media_attachments", "mentions"}
ACCOUNT_KEYS = {"id", "username", "acct"}


def _trim(status: dict) -> dict:
    """A recorded status with only the fields the parser reads (so damage lands on them)."""
    trimmed = {k: v for k, v in status.items() if k in STATUS_KEYS}
    trimmed["account"] = {k: v for k, v in status["account"].items() if k in ACCOUNT_KEYS}
    trimmed["media_attachments"] = [{k: m.get(k) for k in ("id", "type", "url")}
                                    for m in status.get("media_attachments") or []]
    return trimmed


def _recorded() -> tuple[list[dict], list[dict]]:
    notes, statuses = [], []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        if path.stem.startswith("malformed") or path.stem.endswith("no_status"):
            continue  # recorded poison: the parse tests check those are rejected
        if path.stem.startswith("notification"):
            note = {k: data[k] for k in ("id", "type") if k in data}
            if isinstance(data.get("status"), dict):
                note["status"] = _trim(data["status"])
            notes.append(note)
        else:
            statuses.append(_trim(data))
    return notes, statuses


NOTES, STATUSES = _recorded()
tag = st.sampled_from(["p", "br", "span", "a", "script", "style", "b", "li", "ul", "pre", "div", "x-y", "img"])
html_piece = st.one_of(
    odd_text,
    st.builds(lambda t, body: f"<{t}>{body}</{t}>", tag, odd_text),
    st.builds(lambda t, body: f"<{t} class=\"h-card\" href=\"javascript:alert(1)\">{body}", tag, odd_text),
    st.sampled_from(["<script>alert('x')</script>", "<style>p{}</style>", "&lt;b&gt;", "&amp;amp;", "&#0;",
                     "&#xD800;", "&#1114112;", "<!-- hidden -->", "<p", "</", "📍 37.2,-3.6", "geo:91,0",
                     f"<span class=\"h-card\"><a href=\"https://x/@{BOT}\">@<span>{BOT}</span></a></span>"]),
)
content = st.one_of(st.lists(html_piece, max_size=6).map("".join), some_text)


def _with_content(status: dict, html: str, spoiler: str) -> dict:
    status = copy.deepcopy(status)
    status["content"], status["spoiler_text"] = html, spoiler
    return status


statuses = st.one_of(st.sampled_from(STATUSES),
                     st.builds(_with_content, st.sampled_from(STATUSES), content, st.sampled_from(["", "CW"])))
notes = st.one_of(st.sampled_from(NOTES), st.builds(
    lambda note, status: {**copy.deepcopy(note), "status": status}, st.sampled_from(NOTES), statuses))


def outcome(payload, as_note: bool):
    """What the fetch makes of one payload: a clean message, None, or MalformedPayload."""
    try:
        if as_note:
            result = parse_notification(payload, bot_username=BOT, bot_id=BOT_ID)
        elif isinstance(payload, dict) and mentions_bot(payload, BOT, BOT_ID):
            result = None  # a hashtag post that mentions the bot comes as a notification
        else:
            result = parse_status(payload, bot_username=BOT, kind="public", bot_id=BOT_ID)
    except MalformedPayload as exc:
        assert str(exc)
        return exc
    if result is not None:
        check_clean(result, "mastodon")
        assert "<script" not in result.text.lower() or "&lt;script" in str(payload)
    return result


@MANY
@given(st.one_of(st.tuples(broken(notes), st.just(True)), st.tuples(broken(statuses), st.just(False))))
def test_any_payload_parses_clean_or_is_rejected(case):
    outcome(*case)


@SOME
@given(st.one_of(st.tuples(notes, st.just(True)), st.tuples(statuses, st.just(False))))
def test_a_recorded_shape_is_never_rejected(case):
    assert not isinstance(outcome(*case), MalformedPayload)


def _status(**fields) -> dict:
    return {"id": "5", "created_at": "2026-11-20T09:15:42Z", "content": "<p>bache</p>",
            "account": {"id": "7", "acct": "ana"}, **fields}


@pytest.mark.parametrize("status", [
    _status(id="１２"),
    _status(id=10**200),
    _status(created_at="0001-01-01T00:00:00+01:00"),
    _status(created_at=5),
    _status(content=None),
    _status(account=["ana"]),
    _status(visibility="secret"),
    _status(media_attachments="photo.jpg"),
])
def test_known_poison_is_rejected_with_a_reason(status):
    with pytest.raises(MalformedPayload):
        parse_status(status, bot_username=BOT, kind="public", bot_id=BOT_ID)


def test_script_and_control_characters_never_reach_the_text():
    message = parse_status(_status(content="<p>farola\x00 <script>steal()</script>apagada\x1b</p>",
                                   mentions=5), bot_username=BOT, kind="public", bot_id=BOT_ID)
    assert message.text == "farola apagada"


# -- fetch level, through the sandbox --------------------------------------------

admin = SandboxAdmin("mastodon")
POISON = [
    {"type": "mention", "oops": True},
    {"type": "mention", "status": "texto"},
    {"type": "mention", "status": _status(id="99x")},
    {"type": "mention", "status": _status(account={"id": "7"})},
    {"type": "mention", "status": _status(created_at="ayer")},
]


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = MastodonChannel(access_token="mastodon-token", base_url=sandbox.url, bot_username=BOT,
                              media_dir=tmp_path, request_timeout=10.0)
    yield adapter
    adapter.close()


def test_poison_in_a_batch_keeps_the_good_posts_and_moves_the_cursor(channel, client):
    poison_ids = []
    for n, poison in enumerate(POISON):
        admin.post(client, user=f"vecina{n}", text=f"farola {n} apagada")
        poison_ids.append(admin.raw(client, **poison))
    result = channel.fetch(None)
    assert [m.text for m in result.messages] == [f"farola {n} apagada" for n in range(len(POISON))]
    # The raw payload as Mastodon.py handed it over (it fills absent fields with null).
    assert [r["raw"]["id"] for r in result.rejected] == [r["id"] for r in result.rejected] == poison_ids
    assert result.rejected[0]["raw"]["oops"] is True and result.rejected[2]["raw"]["status"]["id"] == "99x"
    assert all(r["error"].startswith("MalformedPayload") for r in result.rejected)
    later = channel.fetch(result.next_cursor)
    assert later.messages == [] and later.rejected == []
