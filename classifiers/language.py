"""Language identification for es/en/fr (and any language lingua knows), with a fallback.

First the classifier's own language textcat (`guesses`: character n-grams of the same features
the category model reads, trained on our corpus), when it covers the city's languages and is
sure; else lingua-language-detector, which costs more than tokenizing the post. For very short
or ambiguous posts ("ok", "merci") marker words, the platform's hint, then the city's default
language decide.

A post in no language the city reads is `UNDETERMINED` ("und"): one with no letters at all
(emoji, digits, a link) unless the hint names a city language; one written mostly in a script
none of the city's languages uses (Arabic or Cyrillic for es/en/fr); and one the textcat is
unsure of that lingua, weighing `OTHER_LANGUAGES` too, places in one of those.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Sequence

from lingua import IsoCode639_1, LanguageDetectorBuilder

from classifiers.text import WORD, fold, words

UNDETERMINED = "und"  # BCP 47: no language the city reads could be told
MIN_CONFIDENCE = 0.6
# Latin-script languages a city hears but citybot does not read. Lingua weighs them with the city's
# own for the posts the textcat is unsure of; one of them on top with OTHER_CONFIDENCE or more makes
# a post of OTHER_MIN_WORDS words or more (links left out), with no marker word that only the city's
# languages use, "und". Measured with bench/language_id.py: at 0.95, 1 of the 8,074 corpus posts
# with letters (5-fold) and none of the 2,711 DC reports, against 7 and 1 at 0.7; German, Italian
# and Dutch posts: 23 of the 24 it was chosen on, 20 of 24 written after. Portuguese and Catalan are
# mostly taken for Spanish. Basque is left out: lingua's low-accuracy mode put short English slang
# in it ("pls fix the lite on main st": 0.99).
OTHER_LANGUAGES = ("ca", "de", "it", "nl", "pl", "pt", "ro")
OTHER_CONFIDENCE = 0.95
OTHER_MIN_WORDS = 4  # fewer words ("yep", "ok merci") say too little to call a post foreign
# The scripts of languages not written in Latin letters (the first word of a letter's Unicode name).
SCRIPTS = {"ar": {"ARABIC"}, "fa": {"ARABIC"}, "ur": {"ARABIC"}, "he": {"HEBREW"}, "el": {"GREEK"},
           "ru": {"CYRILLIC"}, "uk": {"CYRILLIC"}, "bg": {"CYRILLIC"}, "sr": {"CYRILLIC", "LATIN"},
           "mk": {"CYRILLIC"}, "be": {"CYRILLIC"}, "kk": {"CYRILLIC"}, "mn": {"CYRILLIC"}, "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"},
           "ko": {"HANGUL"}, "hi": {"DEVANAGARI"}, "mr": {"DEVANAGARI"}, "bn": {"BENGALI"}, "th": {"THAI"},
           "ka": {"GEORGIAN"}, "hy": {"ARMENIAN"}, "ta": {"TAMIL"}, "te": {"TELUGU"}, "gu": {"GUJARATI"},
           "pa": {"GURMUKHI"}}
_LINK_MARKS = ("://", "www.", "WWW.", "Www.")  # a cheap test before the link pattern
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
_OTHER_CHARACTER = re.compile(r"[^\x00-\u024f\u1e00-\u1eff]")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_HINT_END = re.compile(r"[-_]")  # "es-ES", "es_ES" -> "es"
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
# Marker words that are everyday words of OTHER_LANGUAGES too (Dutch "is", German "des", Italian
# "del", "però", Portuguese and Catalan "que", "está", "três", Catalan "hi", "hola", folded): they
# do not keep a post from being foreign.
SHARED_MARKERS = frozenset("is des del que esta hi pero tres hola".split())


@lru_cache(maxsize=8)
def _detector(candidates: tuple[str, ...]):
    """Lingua for `candidates` and the `OTHER_LANGUAGES` they do not include."""
    languages = [IsoCode639_1.from_str(code) for code in sorted({*candidates, *OTHER_LANGUAGES})]
    # Low-accuracy mode (trigrams only): 99.4% vs 99.8% on the corpus's 4,511 posts, 5x faster, and
    # about 11 MB instead of 130 MB of language models for three languages (measured; see
    # bench/memory.py). The seven OTHER_LANGUAGES add about 9 MB (bench/classify_speed.py).
    return LanguageDetectorBuilder.from_iso_codes_639_1(*languages).with_low_accuracy_mode().build()


def detect_language(text: str, candidates: list[str], hint: str | None = None, default: str = "en") -> str:
    """The most likely of `candidates` for `text`; when unsure, `hint` (if a candidate), then
    `default`; `UNDETERMINED` when the text is in none of them (see the module's docstring)."""
    return detect_languages([text], candidates, [hint], default)[0]


def detect_languages(texts: Sequence[str], candidates: list[str], hints: Sequence[str | None],
                     default: str = "en", guesses: Sequence[dict[str, float] | None] | None = None,
                     folded: Sequence[str] | None = None, scripts: Sequence[str | None] | None = None) -> list[str]:
    """`detect_language` of each text with its hint; lingua sees the whole batch in one call.
    `guesses[i]`, when given, is the language textcat's probabilities for `texts[i]`;
    `folded[i]`, when given, is `fold(texts[i])`; `scripts[i]`, `main_script(fold(texts[i]))`."""
    answers: list[str | None] = []
    pending: list[tuple[int, str | None, str, list[str], bool]] = []  # (index, hint, fallback, marked, vetoed)
    for number, (text, hint) in enumerate(zip(texts, hints)):
        hint = _HINT_END.split(hint or "", maxsplit=1)[0].lower() or None
        fallback = hint if hint in candidates else default
        script = scripts[number] if scripts is not None else main_script(folded[number] if folded is not None else fold(text))
        if script is None:  # nothing written to read a language from
            answers.append(hint if hint in candidates else UNDETERMINED)
            continue
        if not any(script in SCRIPTS.get(code, {"LATIN"}) for code in candidates):
            answers.append(UNDETERMINED)
            continue
        if len(candidates) < 2:
            answers.append(candidates[0])
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
        pending.append((number, hint, fallback, marked, bool(_marked(tokens - SHARED_MARKERS, candidates))))
    if pending:
        detector = _detector(tuple(sorted(candidates)))
        excerpts = [without_links(texts[number])[:MAX_CHARS] for number, *_ in pending]
        # The parallel call's values differ from one-by-one calls in the last bits, but so do two
        # one-by-one calls on the same text (lingua sums in hash-map order); the thresholds below
        # are far coarser, and 50,000 posts got the same languages both ways (bench/classify_speed.py).
        if len(excerpts) == 1:
            all_values = [detector.compute_language_confidence_values(excerpts[0])]
        else:
            all_values = detector.compute_language_confidence_values_in_parallel(excerpts)
        for (number, hint, fallback, marked, vetoed), excerpt, values in zip(pending, excerpts, all_values):
            foreign = not vetoed and len(_LETTER_WORD.findall(excerpt)) >= OTHER_MIN_WORDS
            answers[number] = _decide(values, candidates, hint, fallback, marked, foreign)
    return answers  # type: ignore[return-value]  # every None was filled in


def without_links(text: str) -> str:
    """`text` with its web links blanked."""
    return _LINK.sub(" ", text) if any(mark in text for mark in _LINK_MARKS) else text


def has_letters(text: str) -> bool:
    """Whether `text` has a letter to read, outside links, styled letters ("Ⓕ", "𝐂") included."""
    return main_script(fold(text)) is not None


def main_script(text: str) -> str | None:
    """The script most of `text`'s letters are written in ("LATIN", "ARABIC", "CYRILLIC", ...,
    the first word of their Unicode names), links left out; None when it has no letters. Give it
    the folded text (`classifiers.text.fold`): folding turns styled letters ("Ⓕ", "ᶠ", "🄵") into
    the plain letters the model reads."""
    text = without_links(text)
    if not text.isascii():
        others = [c for c in _OTHER_CHARACTER.findall(text) if c.isalpha()]
        if others:
            counts = Counter(map(_script, others))
            script, count = counts.most_common(1)[0]
            return script if count > len(_LATIN_LETTER.findall(text)) + counts["LATIN"] else "LATIN"
    return "LATIN" if _LATIN_LETTER.search(text) else None


def _script(letter: str) -> str:
    """The script of one letter outside the common Latin blocks; styled Latin ("𝐂", "Ｃ") is Latin."""
    name = unicodedata.name(letter, "?")
    if name.startswith(("LATIN", "MATHEMATICAL", "FULLWIDTH LATIN")):
        return "LATIN"
    return name.split(" ")[0]


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


def _decide(values, candidates: list[str], hint: str | None, fallback: str, marked: list[str], foreign: bool) -> str:
    """The language lingua's `values` point to; `foreign`: the post may be called "und" (long
    enough, no marker word only the city's languages use)."""
    ranked = [(v.language.iso_code_639_1.name.lower(), v.value) for v in values]  # best first
    if ranked and foreign and ranked[0][0] not in candidates and ranked[0][1] >= OTHER_CONFIDENCE:
        return UNDETERMINED
    # Then the city's languages among themselves, as if lingua knew no other.
    ranked = [(code, value) for code, value in ranked if code in candidates]
    total = sum(value for _, value in ranked)
    if total <= 0:
        return fallback
    code, best = ranked[0][0], ranked[0][1] / total
    if best >= MIN_CONFIDENCE:
        return code
    if len(marked) == 1:
        return marked[0]
    # Unsure: the hint wins if lingua ranks it at all close to the top.
    if hint in candidates and any(other == hint and value / total >= best - 0.3 for other, value in ranked):
        return hint
    return code if best >= 0.45 else fallback
