"""Small helpers shared by the channel adapters (and, for X's length, its sandbox fake).

Pure text measuring and splitting helpers, and the bounded, atomic media download
steps. Nothing here knows about a platform's API client.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from channels.base import MalformedPayload

# -- text -------------------------------------------------------------------------


def fitting_prefix(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The longest prefix length whose `measure` is within `limit` (binary search)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


# X's weighted length (twitter-text v3), used by the X adapter and the X sandbox.

X_URL_WEIGHT = 23
X_URL = re.compile(
    r"https?://\S+|(?<![\w@.])(?:[a-z0-9-]+\.)+(?:com|org|net|es|fr|eu|gov|gob|info|io|cat|gal|eus)"
    r"(?:/\S*)?(?!\w)",
    re.IGNORECASE,
)
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_JOINERS = {0x200D, 0xFE0F, 0x20E3}


def x_weighted_length(text: str) -> int:
    """An approximation of X's weighted length (twitter-text v3).

    After NFC, a URL (or a bare domain with a common TLD) counts 23; Latin and most
    punctuation count 1; CJK, other scripts and emoji count 2; an emoji sequence
    (ZWJ, variation selector, skin tone, tags) counts once.
    """
    text = unicodedata.normalize("NFC", text)
    total, last = 0, 0
    for match in X_URL.finditer(text):
        total += _plain_weight(text[last:match.start()]) + X_URL_WEIGHT
        last = match.end()
    return total + _plain_weight(text[last:])


def _plain_weight(text: str) -> int:
    total, in_emoji, joined = 0, False, False
    for char in text:
        cp = ord(char)
        modifier = 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F
        if in_emoji and (cp in _JOINERS or modifier or joined):
            joined = cp == 0x200D  # the next emoji joins this one
            continue
        in_emoji = cp >= 0x1F000 or 0x2600 <= cp <= 0x27BF
        joined = False
        total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT) else 2
    return total


# -- payload checks (the adapters' pure parsers) -----------------------------------

MAX_ID_LENGTH = 128  # ids, conversation ids (the database columns' width)
MAX_HANDLE_LENGTH = 200
MAX_LANG_LENGTH = 16
# NUL and other C0 controls (tab, newline, carriage return stay), DEL, and lone surrogates
# (JSON's "\\ud800" escape decodes to one; UTF-8 cannot encode it).
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def brief(value: object, limit: int = 60) -> str:
    """A short repr of `value` for an error message (payloads may hold huge strings)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"
    return text if len(text) <= limit else text[:limit] + "…"


def sanitize_text(text: str) -> str:
    """`text` without NULs, control characters (but tab and newlines) or lone surrogates."""
    return _UNSAFE_TEXT.sub("", text)


def need_object(value: object, name: str) -> dict:
    """`value` if it is a JSON object, else MalformedPayload naming `name`."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} must be an object, got {type(value).__name__}")
    return value


def need(data: dict, key: str, name: str) -> object:
    """`data[key]`, present and not null, else MalformedPayload naming `name`."""
    value = data.get(key)
    if value is None:
        raise MalformedPayload(f"{name} is missing")
    return value


def need_list(value: object, name: str) -> list:
    """`value` as a list (null is empty), else MalformedPayload naming `name`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{name} must be a list, got {type(value).__name__}")
    return value


def need_str(value: object, name: str) -> str:
    """`value` if it is a string (sanitized), else MalformedPayload naming `name`."""
    if not isinstance(value, str):
        raise MalformedPayload(f"{name} must be a string, got {type(value).__name__}")
    return sanitize_text(value)


def optional_str(value: object, name: str, limit: int) -> str | None:
    """A sanitized string cut to `limit` characters, None for null or blank; else MalformedPayload."""
    if value is None:
        return None
    text = need_str(value, name).strip()[:limit]
    return text or None


def check_id(text: str, name: str) -> str:
    """`text` if it is a usable id (1 to MAX_ID_LENGTH characters), else MalformedPayload."""
    if not text or len(text) > MAX_ID_LENGTH:
        raise MalformedPayload(f"{name} must be 1 to {MAX_ID_LENGTH} characters, got {len(text)}")
    return text


def coordinates(lat: object, lon: object, name: str) -> tuple[float, float]:
    """(lat, lon) as floats when both are finite numbers in range, else MalformedPayload."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        raise MalformedPayload(f"{name} must be numbers, got {brief(lat)}, {brief(lon)}")
    try:
        point = float(lat), float(lon)  # type: ignore[arg-type]
    except OverflowError:
        raise MalformedPayload(f"{name} out of range") from None
    if not (abs(point[0]) <= 90 and abs(point[1]) <= 180):  # also false for NaN
        raise MalformedPayload(f"{name} out of range: {point[0]!r}, {point[1]!r}")
    return point


# -- media download ---------------------------------------------------------------


def read_limited(chunks: Iterable[bytes], max_bytes: int, too_large: str) -> bytes:
    """Join `chunks`, raising ValueError(too_large) once they pass `max_bytes`."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > max_bytes:
            raise ValueError(too_large)
    return bytes(data)


def write_atomically(target: Path, data: bytes) -> Path:
    """Write `data` to `target` through a `.part` file, creating its folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target
