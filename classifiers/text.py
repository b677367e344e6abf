"""Text normalisation shared by the classifiers: lower case, accents folded, words split."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[a-z0-9ñ']+")  # a word of a folded text
RUN = re.compile(r"[a-z0-9ñ]+")  # a run of letters and digits of a folded text (apostrophes split)
_FOLD_TABLE_LIMIT = 20_000  # distinct characters remembered (a post in any script adds a few)


class _FoldTable(dict):
    """`str.translate` table: a character to itself without its accents, lower-cased, filled on
    first sight.

    NFKD decomposes each character on its own, and canonical reordering only moves combining
    marks, which are all dropped; so folding character by character equals folding the string.
    Some letters have no lower case but decompose to one with a capital ("𝐂", "ℝ" become "C",
    "R"), hence the lower() after the decomposition.
    """

    def __missing__(self, code: int) -> str:
        folded = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c)).lower()
        if len(self) < _FOLD_TABLE_LIMIT:
            self[code] = folded
        return folded


_FOLD = _FoldTable({ord("ñ"): "ñ"})


def fold(text: str) -> str:
    """`text` lower-cased, without accents (ñ stays apart from n), in compatibility forms ("ﬁ" is "fi")."""
    text = text.lower()
    return text if text.isascii() else text.translate(_FOLD)


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))
