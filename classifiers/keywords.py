"""The keyword classifier: categories from the keywords in config.yaml.

A stand-in behind the `Classifier` interface until the spaCy model lands.
"""

from __future__ import annotations

from classifiers.base import Classification
from classifiers.language import detect_language
from classifiers.location import extract_location
from classifiers.priority import assess_priority
from classifiers.text import contains_phrase, fold

NON_REQUEST_WORDS = [
    "gracias", "muchas gracias", "hola", "buenos días", "buenas tardes", "enhorabuena", "felicidades", "saludos",
    "thanks", "thank you", "hello", "hi", "good morning", "congrats", "great job", "cheers",
    "merci", "bonjour", "bonsoir", "bravo", "félicitations", "salut",
]
PROBLEM_WORDS = [
    "roto", "rota", "averiado", "averiada", "avería", "no funciona", "problema", "arreglar", "arreglen", "peligro", "hay un", "hay una",
    "broken", "not working", "problem", "fix", "please repair", "damaged", "dangerous", "there is a",
    "cassé", "cassée", "en panne", "ne marche pas", "ne fonctionne pas", "problème", "réparer", "il y a un", "il y a une",
]


class KeywordClassifier:
    """Scores each category by how many of its keywords (any language) the text contains."""

    def __init__(self, keywords: dict[str, list[str]], languages: list[str], default_language: str) -> None:
        self.keywords = keywords
        self.languages = languages
        self.default_language = default_language

    @classmethod
    def from_config(cls, cfg) -> "KeywordClassifier":
        keywords = {c.code: [k for ks in c.keywords.values() for k in ks] for c in cfg.categories}
        return cls(keywords, cfg.city.languages, cfg.city.language)

    def classify(self, text: str, lang_hint: str | None = None) -> Classification:
        text = text or ""
        folded = fold(text)
        lang = detect_language(text, self.languages, hint=lang_hint, default=self.default_language)
        scores = {
            code: sum(len(fold(k).split()) for k in kws if contains_phrase(folded, k))
            for code, kws in self.keywords.items()
        }
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        (best, top), second = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0)
        priority, reason = assess_priority(text)
        location = extract_location(text)
        if top == 0:
            looks_like_problem = priority != "normal" or any(contains_phrase(folded, w) for w in PROBLEM_WORDS)
            chatter = any(contains_phrase(folded, w) for w in NON_REQUEST_WORDS)
            is_request = priority != "normal" or (not chatter and (looks_like_problem or location is not None))
            return Classification(None, 0.0, is_request, lang, priority, reason, location)
        confidence = (top / (top + second)) * (1 - 0.5 ** top)
        return Classification(best, confidence, True, lang, priority, reason, location)
