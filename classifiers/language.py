"""Language identification for es/en/fr (and any language lingua knows), with a fallback.

First the classifier's own language textcat (`guesses`: character n-grams of the same features
the category model reads, trained on our corpus), when it covers the city's languages and is
sure; else lingua-language-detector, which costs more than tokenizing the post. For very short
or ambiguous posts ("ok", "merci") marker words, the platform's hint, then the city's default
language decide.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from lingua import IsoCode639_1, LanguageDetectorBuilder

from classifiers.text import WORD, words

MIN_CONFIDENCE = 0.6
# Least probability of the language textcat's best language (among the city's) to skip lingua.
# bench/language_id.py: sure of 98% of our corpus (5-fold), 0.9972 right with lingua for the rest,
# against 0.9943 for lingua alone.
GUESS_CONFIDENCE = 0.9
MAX_CHARS = 240
SHORT_POST_WORDS = 3  # the start of a post tells its language; the rest only costs time
# Short words that settle a short post lingua is unsure about ("merci", "gracias", "thanks").
MARKERS = {
    "es": set("gracias hola buenas buenos porfa calle ayuntamiento que del esta está hay muy pero".split()),
    "en": set("thanks thank hello hi please pls street the is there outside near".split()),
    "fr": set("merci bonjour bonsoir svp stp rue mairie est une des dans avec très".split()),
}


@lru_cache(maxsize=8)
def _detector(candidates: tuple[str, ...]):
    languages = [IsoCode639_1.from_str(code) for code in candidates]
    # Low-accuracy mode (trigrams only): 99.4% vs 99.8% on the corpus's 4,511 posts, 5x faster,
    # and about 11 MB instead of 130 MB of language models (measured; see bench/memory.py).
    return LanguageDetectorBuilder.from_iso_codes_639_1(*languages).with_low_accuracy_mode().build()


def detect_language(text: str, candidates: list[str], hint: str | None = None, default: str = "en") -> str:
    """The most likely of `candidates` for `text`; when unsure, `hint` (if a candidate), then `default`."""
    return detect_languages([text], candidates, [hint], default)[0]


def detect_languages(texts: Sequence[str], candidates: list[str], hints: Sequence[str | None],
                     default: str = "en", guesses: Sequence[dict[str, float] | None] | None = None,
                     folded: Sequence[str] | None = None) -> list[str]:
    """`detect_language` of each text with its hint; lingua sees the whole batch in one call.
    `guesses[i]`, when given, is the language textcat's probabilities for `texts[i]`;
    `folded[i]`, when given, is `fold(texts[i])`."""
    answers: list[str | None] = []
    pending: list[tuple[int, str | None, str, list[str]]] = []  # (index, hint, fallback, marked)
    for number, (text, hint) in enumerate(zip(texts, hints)):
        hint = (hint or "").split("-")[0].lower() or None
        fallback = hint if hint in candidates else default
        if len(candidates) < 2 or not text.strip():
            answers.append(candidates[0] if len(candidates) == 1 else fallback)
            continue
        tokens = set(WORD.findall(folded[number]) if folded is not None else words(text))
        marked = None
        if len(tokens) <= SHORT_POST_WORDS:
            marked = _marked(tokens, candidates)
            if len(marked) == 1:
                answers.append(marked[0])  # n-grams say little about one or two words; a marker word says more
                continue
        sure = _sure_guess(guesses[number] if guesses is not None else None, candidates)
        if sure is not None:
            answers.append(sure)
            continue
        if marked is None:
            marked = _marked(tokens, candidates)
        answers.append(None)
        pending.append((number, hint, fallback, marked))
    if pending:
        detector = _detector(tuple(sorted(candidates)))
        excerpts = [texts[number][:MAX_CHARS] for number, *_ in pending]
        # The parallel call's values differ from one-by-one calls in the last bits, but so do two
        # one-by-one calls on the same text (lingua sums in hash-map order); the thresholds below
        # are far coarser, and 50,000 posts got the same languages both ways (bench/classify_speed.py).
        if len(excerpts) == 1:
            all_values = [detector.compute_language_confidence_values(excerpts[0])]
        else:
            all_values = detector.compute_language_confidence_values_in_parallel(excerpts)
        for (number, hint, fallback, marked), values in zip(pending, all_values):
            answers[number] = _decide(values, candidates, hint, fallback, marked)
    return answers  # type: ignore[return-value]  # every None was filled in


def _marked(tokens: set[str], candidates: list[str]) -> list[str]:
    """The candidates one of whose marker words is among `tokens`."""
    return [lang for lang in candidates if not tokens.isdisjoint(MARKERS.get(lang, ()))]


def _sure_guess(guess: dict[str, float] | None, candidates: list[str]) -> str | None:
    """The textcat's language if it knows every candidate and is sure among them, else None."""
    if not guess or any(code not in guess for code in candidates):
        return None
    total = sum(guess[code] for code in candidates)
    best = max(candidates, key=guess.__getitem__)
    return best if total > 0 and guess[best] / total >= GUESS_CONFIDENCE else None


def _decide(values, candidates: list[str], hint: str | None, fallback: str, marked: list[str]) -> str:
    if not values:
        return fallback
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    if best.value >= MIN_CONFIDENCE:
        return code
    if len(marked) == 1:
        return marked[0]
    # Unsure: the hint wins if lingua ranks it at all close to the top.
    if hint in candidates and any(v.language.iso_code_639_1.name.lower() == hint and v.value >= best.value - 0.3 for v in values):
        return hint
    return code if best.value >= 0.45 else fallback
