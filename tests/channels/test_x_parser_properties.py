"""Property: X pages parse into clean messages, None, or MalformedPayload per item.

10,000 generated API pages (the recorded shapes of mentions, search and DM answers,
then broken) go through the fetch's own assembly (`_data`, `_index`) and the parsers.
Also at the fetch level, through the sandbox: poison items never hold back the good
ones or the cursor.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.base import MalformedPayload, TransientError
from channels.x import XChannel, _data, _index, parse_dm_event, parse_tweet
from tests.channels.garbage import MANY, SOME, broken, check_clean, odd_text, some_text
from tests.channels.helpers import SandboxAdmin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x"
BOT, BOT_ID = "AytoVillajun", "2481128665"
PAGES = [json.loads(p.read_text("utf-8")) for p in sorted(FIXTURES.glob("*.json"))
         if not p.stem.startswith("malformed")]
DM_PAGES = [p for p in PAGES if p["data"] and "event_type" in p["data"][0]]
TWEET_PAGES = [p for p in PAGES if p["data"] and "event_type" not in p["data"][0]]
text = st.one_of(some_text, st.builds(lambda t: f"@{BOT} {t}", some_text),
                 st.builds(lambda t: f"&lt;{t}&amp; #JunIncidencias", odd_text))


def _with_text(page: dict, value: str) -> dict:
    """A recorded page whose first item says something else."""
    page = copy.deepcopy(page)
    page["data"][0]["text"] = value
    return page


def pages(recorded: list[dict]) -> st.SearchStrategy[dict]:
    return st.one_of(st.sampled_from(recorded), st.builds(_with_text, st.sampled_from(recorded), text))


def outcomes(page, dms: bool) -> list:
    """What the fetch makes of one page: per item a clean message, None or MalformedPayload.

    A page that is not an API answer at all raises TransientError (the fetch retries).
    """
    try:
        items = _data(page)
    except TransientError:
        return []
    users, media = _index(page, "users", "id"), _index(page, "media", "media_key")
    results = []
    for item in items:
        try:
            if dms:
                result = parse_dm_event(item, users, media, bot_username=BOT, bot_id=BOT_ID)
            else:
                result = parse_tweet(item, users, media, bot_username=BOT, kind="mention", bot_id=BOT_ID)
        except MalformedPayload as exc:
            assert str(exc)
            results.append(exc)
            continue
        if result is not None:
            check_clean(result, "x")
        results.append(result)
    return results


@MANY
@given(st.one_of(st.tuples(broken(pages(TWEET_PAGES)), st.just(False)),
                 st.tuples(broken(pages(DM_PAGES)), st.just(True))))
def test_any_page_parses_clean_or_is_rejected(case):
    outcomes(*case)


@SOME
@given(st.one_of(st.tuples(pages(TWEET_PAGES), st.just(False)), st.tuples(pages(DM_PAGES), st.just(True))))
def test_a_recorded_page_is_never_rejected(case):
    assert not any(isinstance(r, MalformedPayload) for r in outcomes(*case))


@pytest.mark.parametrize("tweet", [
    {"id": "١٢٣", "author_id": "1", "text": "x"},
    {"id": "1" * 200, "author_id": "1", "text": "x"},
    {"id": "1", "author_id": "1", "text": "x", "created_at": "2026-13-45T99:99:99Z"},
    {"id": "1", "author_id": "1", "text": "x", "referenced_tweets": 5},
    {"id": "1", "author_id": "1", "text": "x", "geo": {"coordinates": {"coordinates": [1]}}},
    {"id": "1", "author_id": "1", "text": "x", "geo": {"coordinates": "37,-3"}},
    {"id": "1", "author_id": "1", "text": "x", "geo": {"coordinates": {"coordinates": [-3.6, 137.2]}}},
    {"id": "1", "author_id": "1", "text": "x", "attachments": {"media_keys": 7}},
])
def test_known_poison_is_rejected_with_a_reason(tweet):
    with pytest.raises(MalformedPayload):
        parse_tweet(tweet, {}, {}, bot_username=BOT, kind="mention", bot_id=BOT_ID)


def test_odd_includes_do_not_break_the_page():
    page = {"data": [{"id": "5", "author_id": "9", "text": "bache"}],
            "includes": {"users": [{"id": 9, "username": "x"}, "junk", {"id": "9", "username": "ana\x00"}],
                         "media": 3}}
    (message,) = outcomes(page, dms=False)
    assert message.author_handle == "ana" and message.text == "bache"


# -- fetch level, through the sandbox --------------------------------------------

admin = SandboxAdmin("x")
POISON = [
    {"tweet": {"id": 12345, "text": f"@{BOT} id numérico"}},
    {"tweet": {"text": f"@{BOT} sin id"}},
    {"tweet": {"id": "991", "author_id": "77", "text": ["lista"]}},
    {"tweet": {"id": "992", "author_id": "77", "text": f"@{BOT} geo", "geo": {"coordinates": "mal"}}},
    {"dm_event": {"id": "993", "event_type": "MessageCreate", "text": "sin remitente"}},
]


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = XChannel(bearer_token="bearer-token", consumer_key="consumer-key",
                       consumer_secret="consumer-secret", access_token="access-token",
                       access_token_secret="access-secret", base_url=sandbox.url,
                       bot_username=BOT, media_dir=tmp_path)
    yield adapter
    adapter.close()


def test_poison_in_a_batch_keeps_the_good_posts_and_moves_the_cursor(channel, client):
    good = []
    for n, poison in enumerate(POISON):
        good.append(admin.post(client, user=f"vecina{n}", text=f"@{BOT} farola {n} apagada"))
        admin.raw(client, **poison)
    result = channel.fetch(None)
    assert [m.external_id for m in result.messages] == good
    assert sorted(json.dumps(r["raw"], sort_keys=True) for r in result.rejected) == sorted(
        json.dumps(next(iter(p.values())), sort_keys=True) for p in POISON)
    assert all(r["error"].startswith("MalformedPayload") for r in result.rejected)
    later = channel.fetch(result.next_cursor)
    assert later.messages == [] and later.rejected == []
