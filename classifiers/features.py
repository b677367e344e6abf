"""What the text classifier sees: folded words, crude prefix stems and character n-grams,
with street names blanked out first (`classifiers.location.without_places`).

No lemmatizer works offline on a blank pipeline, and citizens misspell. So each word also
contributes its first STEM letters ("farolas", "farolillo" → `farol~`) and its character
4- and 5-grams with word boundaries (`^far`, `faro`, ..., `olas^`), which the bag-of-words
model weighs like words. Measured in bench/classifier_quality.py: 3-grams as well scored a
little lower on DC and on our own held-out corpus, and cost time.
"""

from __future__ import annotations

import re
import unicodedata

from classifiers.location import without_places
from classifiers.text import fold

# Bump on any change to what `feature_text` produces: models trained on other features are not reused.
FEATURES_VERSION = 4
STEM = 5
CHAR_NGRAMS = (4, 5)
_TOKEN = re.compile(r"[a-z0-9ñ]+")


def feature_text(text: str) -> str:
    """Space-separated features for `text`; never empty."""
    out = [c for c in text if unicodedata.category(c) == "So"]  # emoji and symbols count too
    for word in _TOKEN.findall(fold(without_places(text))):
        if word.isdigit():
            out.append("^num^")
            continue
        out.append(word)
        if len(word) > STEM:
            out.append(word[:STEM] + "~")
        padded = f"^{word}^"
        for n in CHAR_NGRAMS:
            if len(padded) > n:
                out.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return " ".join(out) or "^empty^"
