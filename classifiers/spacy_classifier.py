"""The production classifier: spaCy textcat for category and request-or-not, lingua for the
language, patterns and a gazetteer for the place, danger words for the priority."""

from __future__ import annotations

from typing import Sequence

from spacy.language import Language

from classifiers.base import Classification, Location
from classifiers.corpus import NOT_A_REQUEST
from classifiers.features import feature_text
from classifiers.language import detect_languages
from classifiers.location import Gazetteer, extract_location
from classifiers.priority import assess_priority_folded
from classifiers.text import fold

# spaCy's tokenizer caches 10,000 distinct chunks by default; the feature text has far more
# (50,000 posts: about 58,000 distinct features), so past the cap most features were tokenized
# from scratch: two thirds of the classify time. The cache only memoizes the same tokenization;
# it costs about 220 bytes a chunk (100,000: 22 MB at most).
TOKENIZER_CACHE = 100_000
PIPE_BATCH = 64  # docs alive at once in nlp.pipe: 256 cost 13 MB more, for no measurable gain


class SpacyClassifier:
    """Classifies posts with a trained pipeline. `is_request_threshold` is the least P(request)."""

    def __init__(self, nlp: Language, languages: list[str], default_language: str,
                 is_request_threshold: float = 0.5, gazetteer: Gazetteer | None = None) -> None:
        self.nlp = nlp
        self.languages = languages
        self.default_language = default_language
        self.is_request_threshold = is_request_threshold
        self.gazetteer = gazetteer
        nlp.tokenizer.max_cache_size = max(nlp.tokenizer.max_cache_size, TOKENIZER_CACHE)

    def classify(self, text: str, lang_hint: str | None = None) -> Classification:
        return self.classify_many([text], [lang_hint])[0]

    def classify_many(self, texts: Sequence[str], lang_hints: Sequence[str | None] | None = None,
                      batch_size: int = PIPE_BATCH) -> list[Classification]:
        """`[classify(t, h) for t, h in zip(texts, lang_hints)]`, the same results, faster: the
        language of the whole batch at once, the textcat through `nlp.pipe`, one folding per post
        for the priority and the gazetteer."""
        texts = [text or "" for text in texts]
        hints = list(lang_hints) if lang_hints is not None else [None] * len(texts)
        if len(hints) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(hints)} language hints")
        langs = detect_languages(texts, self.languages, hints, default=self.default_language)
        nonblank = [number for number, text in enumerate(texts) if text.strip()]
        cats: list[dict[str, float]] = [{NOT_A_REQUEST: 1.0}] * len(texts)
        features = [feature_text(texts[number]) for number in nonblank]
        # nlp.pipe's batching costs more than it saves for the bot's one post at a time
        docs = self.nlp.pipe(features, batch_size=batch_size) if len(features) > 1 else map(self.nlp, features)
        for number, doc in zip(nonblank, docs):
            cats[number] = doc.cats
        results = []
        for text, lang, scores in zip(texts, langs, cats):
            folded = fold(text)
            priority, reason = assess_priority_folded(folded)
            location = (self.gazetteer.find_folded(folded) if self.gazetteer else None) or extract_location(text)
            results.append(self._decide(scores, lang, priority, reason, location))
        return results

    def _decide(self, cats: dict[str, float], lang: str, priority: str, reason: str | None,
                location: Location | None) -> Classification:
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
