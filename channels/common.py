"""Small helpers shared by the channel adapters (and, for X's length, its sandbox fake).

Pure text measuring and splitting helpers, and the bounded, atomic media download
steps. Nothing here knows about a platform's API client.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

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
