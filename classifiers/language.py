"""A small language guesser for es/en/fr from function words.

The spaCy issue replaces it with a measured model; this one only has to be right on
ordinary sentences and to fall back to the hint or the city's language otherwise.
"""

from __future__ import annotations

from classifiers.text import words

FUNCTION_WORDS = {
    "es": set("el la los las de del que y en un una por para con no hay esta está es se lo al muy pero calle desde hace gracias hola ayuntamiento".split()),
    "en": set("the a an of and is are in on at to for with there this it not please street from near has have thanks thank hello outside".split()),
    "fr": set("le la les des du de et est une un dans sur pour avec il y a pas ce cette rue merci bonjour depuis près devant mairie".split()),
}


def detect_language(text: str, candidates: list[str], hint: str | None = None, default: str = "en") -> str:
    """The most likely of `candidates` for `text`; ties go to `hint`, then `default`."""
    tokens = words(text)
    scores = {lang: sum(t in FUNCTION_WORDS.get(lang, ()) for t in tokens) for lang in candidates}
    hint = (hint or "").split("-")[0].lower() or None
    best = max(scores.values(), default=0)
    if best == 0:
        return hint if hint in candidates else default
    leaders = [lang for lang, s in scores.items() if s == best]
    if hint in leaders:
        return hint
    return default if default in leaders else leaders[0]
