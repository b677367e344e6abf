"""Text normalisation shared by the classifiers: lower case, accents folded, words split."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9ñ']+")


def fold(text: str) -> str:
    """Lower-case `text` and strip accents (keeps ñ apart from n)."""
    text = text.lower().replace("ñ", "\0")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.replace("\0", "ñ")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))

