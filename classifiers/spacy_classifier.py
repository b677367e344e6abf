"""The production classifier: spaCy textcat for category and request-or-not, lingua for the
language, patterns and a gazetteer for the place, danger words for the priority."""

from __future__ import annotations

from spacy.language import Language

from classifiers.base import Classification
from classifiers.corpus import NOT_A_REQUEST
from classifiers.features import feature_text
from classifiers.language import detect_language
from classifiers.location import Gazetteer, extract_location
from classifiers.priority import assess_priority


class SpacyClassifier:
    """Classifies posts with a trained pipeline. `is_request_threshold` is the least P(request)."""

    def __init__(self, nlp: Language, languages: list[str], default_language: str,
                 is_request_threshold: float = 0.5, gazetteer: Gazetteer | None = None) -> None:
        self.nlp = nlp
        self.languages = languages
        self.default_language = default_language
        self.is_request_threshold = is_request_threshold
        self.gazetteer = gazetteer

    def classify(self, text: str, lang_hint: str | None = None) -> Classification:
        text = text or ""
        lang = detect_language(text, self.languages, hint=lang_hint, default=self.default_language)
        priority, reason = assess_priority(text)
        location = (self.gazetteer.find(text) if self.gazetteer else None) or extract_location(text)
        cats = self.nlp(feature_text(text)).cats if text.strip() else {NOT_A_REQUEST: 1.0}
        p_none = cats.get(NOT_A_REQUEST, 0.0)
        services = {label: p for label, p in cats.items() if label != NOT_A_REQUEST}
        best = max(services, key=services.get) if services else None
        # Best service against "not a request", head to head: many weak service guesses
        # must not add up to a request.
        score = services[best] / (services[best] + p_none) if best and services[best] + p_none > 0 else 0.0
        is_request = score >= self.is_request_threshold or priority == "urgent"
        if not is_request or best is None:
            return Classification(None, round(1.0 - score, 4), False, lang, priority, reason, location)
        confidence = services[best] / max(1.0 - p_none, 1e-9)
        return Classification(best, round(min(confidence, 1.0), 4), True, lang, priority, reason, location)
