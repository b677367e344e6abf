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
from classifiers.text import RUN, fold

# Bump on any change to what `features` produces: models trained on other features are not reused.
FEATURES_VERSION = 5  # 5: one token per feature (classifiers.model.feature_doc), no tokenizer
STEM = 5
CHAR_NGRAMS = (4, 5)
EMPTY = "^empty^"
NUMBER = "^num^"
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def symbols(text: str) -> list[str]:
    """The emoji and other symbols of `text` (Unicode category So), in order."""
    if text.isascii():
        return []
    return [c for c in _NOT_ASCII.findall(text) if unicodedata.category(c) == "So"]


def feature_words(text: str) -> list[str]:
    """The folded words of `text` the model reads, street names and house numbers left out."""
    return blanked_feature_words(without_places(text))


def blanked_feature_words(blanked: str) -> list[str]:
    """`feature_words` of a text whose places are already blanked (`without_places`)."""
    return RUN.findall(fold(blanked))


def word_features(word: str) -> tuple[str, ...]:
    """The features one word (from `feature_words`) contributes, in order."""
    if word.isdigit():
        return (NUMBER,)
    out = [word]
    if len(word) > STEM:
        out.append(word[:STEM] + "~")
    padded = f"^{word}^"
    for n in CHAR_NGRAMS:
        if len(padded) > n:
            out.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return tuple(out)


def features(text: str) -> list[str]:
    """The model's features for `text`, in order; never empty."""
    out = symbols(text)
    for word in feature_words(text):
        out.extend(word_features(word))
    return out or [EMPTY]


def feature_text(text: str) -> str:
    """`features(text)` as one space-separated string (each feature stays one spaCy token)."""
    return " ".join(features(text))
