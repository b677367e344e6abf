"""What the text classifier sees: folded words plus crude prefix stems.

No lemmatizer works offline on a blank pipeline, so each word also contributes its
first STEM letters: "farolas", "farolillo" and "farola" share `farol`, and
misspellings that keep the start of a word still count.
"""

from __future__ import annotations

import re
import unicodedata

from classifiers.text import fold

STEM = 5
_TOKEN = re.compile(r"[a-z0-9ñ]+")


def feature_text(text: str) -> str:
    """Folded words, each followed by its stem when the word is longer than the stem."""
    out = [c for c in text if unicodedata.category(c) == "So"]  # emoji and symbols count too
    for word in _TOKEN.findall(fold(text)):
        if word.isdigit():
            out.append("<num>")
            continue
        out.append(word)
        if len(word) > STEM:
            out.append(word[:STEM] + "~")
    return " ".join(out) or "<empty>"
