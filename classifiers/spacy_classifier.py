"""The production classifier: spaCy textcat for category and request-or-not, a second textcat
(lingua when it is unsure) for the language, patterns and a gazetteer for the place, danger
words for the priority."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from spacy.language import Language

from classifiers.base import Classification
from classifiers.bow import BowHead, FeatureIds
from classifiers.corpus import NOT_A_REQUEST
from classifiers.language import detect_languages, main_script
from classifiers.location import Gazetteer, scan_places
from classifiers.model import LANGUAGE_PIPE, feature_doc
from classifiers.priority import assess_priority_folded
from classifiers.text import RUN, fold

PIPE_BATCH = 64  # docs alive at once in nlp.pipe (models other than the bag of words)


def _well_formed(text: str) -> str:
    """`text` with any lone surrogate (from a JSON "\\udcff" or undecodable bytes) as "?": lingua
    and spaCy cannot take one, and one odd post must not stop a batch."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


class SpacyClassifier:
    """Classifies posts with a trained pipeline. `is_request_threshold` is the least P(request)."""

    def __init__(self, nlp: Language, languages: list[str], default_language: str,
                 is_request_threshold: float = 0.5, gazetteer: Gazetteer | None = None) -> None:
        self.nlp = nlp
        self.languages = languages
        self.default_language = default_language
        self.is_request_threshold = is_request_threshold
        self.gazetteer = gazetteer
        self.feature_ids = FeatureIds()
        self.category_head = BowHead.of(nlp)
        self.language_head = BowHead.of(nlp, LANGUAGE_PIPE)
        self.labels = list(nlp.get_pipe("textcat").labels)
        self._services = [number for number, label in enumerate(self.labels) if label != NOT_A_REQUEST]
        self._none = self.labels.index(NOT_A_REQUEST) if NOT_A_REQUEST in self.labels else None

    def classify(self, text: str, lang_hint: str | None = None) -> Classification:
        return self.classify_many([text], [lang_hint])[0]

    def classify_many(self, texts: Sequence[str], lang_hints: Sequence[str | None] | None = None,
                      batch_size: int = PIPE_BATCH) -> list[Classification]:
        """`[classify(t, h) for t, h in zip(texts, lang_hints)]`, the same results, faster: the
        textcats on the whole batch (bag-of-words models straight from feature ids,
        `classifiers.bow`; others through `nlp.pipe`), lingua on the batch's unsure posts at
        once, each pattern run once per post for both the features and the place."""
        texts = [_well_formed(text or "") for text in texts]
        hints = list(lang_hints) if lang_hints is not None else [None] * len(texts)
        if len(hints) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(hints)} language hints")
        nonblank = [number for number, text in enumerate(texts) if text.strip()]
        places = [scan_places(text) for text in texts]  # (text without places, the place named)
        probabilities, languages = self._scores([texts[number] for number in nonblank], batch_size,
                                                [places[number][0] for number in nonblank])
        guesses: list[dict[str, float] | None] = [None] * len(texts)
        if languages is not None:
            codes = self.language_head.labels
            for row, number in zip(languages.tolist(), nonblank):
                guesses[number] = dict(zip(codes, row))
        folded = [fold(text) for text in texts]
        scripts = [main_script(lowered) for lowered in folded]
        langs = detect_languages(texts, self.languages, hints, self.default_language, guesses, folded, scripts)
        decisions = self._decisions(probabilities, len(texts), nonblank)
        results = []
        for lowered, lang, script, (category, score, confidence), (_, named) in zip(folded, langs, scripts, decisions, places):
            runs = RUN.findall(lowered)
            priority, reason = assess_priority_folded(lowered, runs)
            location = (self.gazetteer.find_folded(lowered, runs) if self.gazetteer else None) or named
            if script is None:  # no letters (emoji, digits, a link): surely nothing to act on
                category, score = None, 0.0
            if category is not None and (score >= self.is_request_threshold or priority == "urgent"):
                results.append(Classification(category, round(min(confidence, 1.0), 4), True, lang, priority, reason, location))
            else:
                results.append(Classification(None, round(1.0 - score, 4), False, lang, priority, reason, location))
        return results

    def _scores(self, texts: list[str], batch_size: int, blanked: list[str] | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """Category probabilities (a row per text, a column per label of `textcat`) and language
        probabilities (columns: `language_head.labels`; None without a language textcat).
        `blanked`, if given, holds `without_places` of each text."""
        batch = self.feature_ids.batch(texts, blanked) if self.category_head or self.language_head else None
        languages = self.language_head.probabilities(batch) if self.language_head else None
        if self.category_head is not None:
            return self.category_head.probabilities(batch), languages
        docs = (feature_doc(self.nlp, text) for text in texts)
        disabled = [LANGUAGE_PIPE] if LANGUAGE_PIPE in self.nlp.pipe_names else []
        rows = [[doc.cats[label] for label in self.labels]
                for doc in self.nlp.pipe(docs, batch_size=batch_size, disable=disabled)]
        return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(self.labels)), languages

    def _decisions(self, probabilities: np.ndarray, count: int, rows: list[int]
                   ) -> list[tuple[str | None, float, float]]:
        """(best service, P(request), confidence) per post; (None, 0, 0) for a blank post.

        P(request) is the best service against "not a request", head to head: many weak service
        guesses must not add up to a request. The confidence is the best service's share of all
        services.
        """
        decisions: list[tuple[str | None, float, float]] = [(None, 0.0, 0.0)] * count
        if not self._services or not len(rows):
            return decisions
        services = probabilities[:, self._services]
        p_none = probabilities[:, self._none] if self._none is not None else np.zeros(len(rows))
        best = services.argmax(axis=1)
        p_best = services[np.arange(len(rows)), best]
        total = p_best + p_none
        score = np.divide(p_best, total, out=np.zeros_like(p_best), where=total > 0)
        confidence = p_best / np.maximum(1.0 - p_none, 1e-9)
        for number, column, request, sure in zip(rows, best.tolist(), score.tolist(), confidence.tolist()):
            decisions[number] = (self.labels[self._services[column]], request, sure)
        return decisions
