"""Hypothesis strategies for the parser property tests: real payload shapes, then broken.

`broken(valid)` takes a strategy of well-formed payloads and damages a few of their
fields (deleted, null, wrong type, odd or huge text, nested garbage), or replaces the
whole payload. `check_clean` states what a parsed message must look like.
"""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from channels.base import InboundMessage, MediaRef

# 10,000 payloads per parser; no example database in the repo, no timing flakes.
MANY = settings(max_examples=10_000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SOME = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# What JSON can carry and trips parsers: controls, bidi and zero-width marks, emoji
# (with ZWJ and skin tones), combining marks, non-ASCII digits, markup.
ODD = [
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9b",
    "\t", "\n", "\r", "\u2028", "\u2029",
    "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069", "\u061c",
    "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060",
    "😀", "🚧", "👍🏽", "🏳️‍🌈", "👨‍👩‍👧", "\ufe0f", "\u20e3", "📍",
    "\u0301", "\u0308", "\u0338", "e\u0301",
    "١", "٢", "²", "߀", "１",
    "@", "#", "/", ":", ",", " ", "&amp;", "&lt;", "&#0;", "&#x1F600;", "<", ">",
    "<script>alert(1)</script>", "<p>", "</p>", "<br>", "<a href=\"javascript:x\">", "<!--", "<![CDATA[",
    "ق", "ש", "ß", "İ", "ﬁ", "Ⅻ", "𝔘", "\U000e0041",
]
_CHARS = st.one_of(st.sampled_from([c for c in ODD if len(c) == 1]), st.characters(exclude_categories=("Cs",)))
_PIECES = st.sampled_from([c for c in ODD if len(c) > 1])
odd_text = st.one_of(st.text(alphabet=_CHARS, max_size=8), _PIECES,
                     st.tuples(st.text(alphabet=_CHARS, max_size=4), _PIECES).map("".join))
# Up to 100k characters, built by repetition (cheap to generate).
huge_text = st.builds(lambda piece, size: (piece or "x") * (size // max(1, len(piece or "x"))),
                      odd_text, st.integers(1_000, 100_000))
some_text = st.one_of(odd_text, odd_text, odd_text, huge_text)
leaf = st.one_of(
    st.sampled_from([None, True, False, 0, 1, -1, 2**63, -(2**64), 10**40, 1.5, -0.0, 1e308, 91.0]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), odd_text,
    st.sampled_from(["", "0", "-1", "12345", "١٢٣", "1e3", "null", "true", "private", "mention",
                     "MessageCreate", "direct", "2026-11-23T09:00:00Z", "2026-13-45T99:99:99Z"]),
)
json_keys = st.one_of(st.sampled_from(["id", "text", "type", "from", "chat", "status", "account",
                                       "coordinates", "content", "media_keys", "username"]), odd_text)
garbage = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(json_keys, inner, max_size=3), max_leaves=4)

_NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False))
ACTIONS = ("delete", "null", "garbage", "text", "huge", "wrap", "empty", "number", "bool")


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree, parents before children."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((node, key))
        found.extend(_slots(value))
    return found


@st.composite
def _damaged(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    payload = copy.deepcopy(draw(valid))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(payload)
        if not slots:
            break
        pick = draw(st.integers(0, 2**16))  # one draw picks the field and what happens to it
        container, key = slots[pick % len(slots)]
        action = ACTIONS[pick // len(slots) % len(ACTIONS)]
        if action == "delete":
            container.pop(key)
            continue
        container[key] = {
            "null": lambda: None,
            "garbage": lambda: draw(garbage),
            "text": lambda: draw(odd_text),
            "huge": lambda: draw(huge_text),
            "wrap": lambda: [container[key]],
            "empty": lambda: type(container[key])() if isinstance(container[key], list | dict | str) else "",
            "number": lambda: draw(_NUMBERS),
            "bool": lambda: pick % 2 == 0,
        }[action]()
    return payload


def broken(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `valid` payloads with 1-3 damaged fields; sometimes whole-payload garbage."""
    return st.one_of(_damaged(valid), _damaged(valid), _damaged(valid), _damaged(valid), garbage)


_UNCLEAN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _clean_str(value: Any, name: str, limit: int | None = None, optional: bool = False) -> None:
    if value is None and optional:
        return
    assert isinstance(value, str), f"{name} is {type(value).__name__}"
    assert not _UNCLEAN.search(value), f"{name} holds a control character or surrogate"
    value.encode("utf-8")
    if limit is not None:
        assert 1 <= len(value) <= limit, f"{name} has {len(value)} characters"


def check_clean(message: InboundMessage, channel: str) -> None:
    """A parsed message has the types the core relies on, and text a database can store."""
    assert isinstance(message, InboundMessage)
    assert message.channel == channel
    _clean_str(message.external_id, "external_id", 128)
    _clean_str(message.author_id, "author_id", 128)
    _clean_str(message.author_handle, "author_handle", 200, optional=True)
    _clean_str(message.text, "text")
    _clean_str(message.conversation_id, "conversation_id", 128, optional=True)
    _clean_str(message.in_reply_to, "in_reply_to", 128, optional=True)
    _clean_str(message.lang_hint, "lang_hint", 16, optional=True)
    assert message.kind in ("mention", "dm", "public")
    assert message.created_at is None or (isinstance(message.created_at, datetime)
                                          and message.created_at.tzinfo is not None)
    assert (message.lat is None) == (message.lon is None)
    if message.lat is not None:
        assert isinstance(message.lat, float) and isinstance(message.lon, float)
        assert math.isfinite(message.lat) and abs(message.lat) <= 90
        assert math.isfinite(message.lon) and abs(message.lon) <= 180
    assert isinstance(message.media, tuple)
    for ref in message.media:
        assert isinstance(ref, MediaRef) and isinstance(ref.kind, str) and ref.kind
        _clean_str(ref.remote_id, "media remote_id", 128)
    assert isinstance(message.raw, dict)
    json.dumps(message.raw)  # storable as the Message's JSON column
