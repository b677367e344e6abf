"""Text normalisation shared by the classifiers: lower case, accents folded, words split."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[a-z0-9ñ']+")  # a word of a folded text
RUN = re.compile(r"[a-z0-9ñ]+")  # a run of letters and digits of a folded text (apostrophes split)
_FOLD_TABLE_LIMIT = 20_000  # distinct characters remembered (a post in any script adds a few)


class _FoldTable(dict):
    """`str.translate` table: a character to itself without its accents, filled on first sight.

    NFKD decomposes each character on its own, and canonical reordering only moves combining
    marks, which are all dropped; so folding character by character equals folding the string.
    """

    def __missing__(self, code: int) -> str:
        folded = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        if len(self) < _FOLD_TABLE_LIMIT:
            self[code] = folded
        return folded


_FOLD = _FoldTable({ord("ñ"): "ñ"})


def fold(text: str) -> str:
    """Lower-case `text` and strip accents (keeps ñ apart from n)."""
    text = text.lower()
    return text if text.isascii() else text.translate(_FOLD)


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))
