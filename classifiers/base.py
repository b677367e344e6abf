"""The classifier interface the pipeline depends on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class Location:
    text: str | None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Classification:
    """What one post is about. `category` is None when `is_request` is False or nothing matched."""

    category: str | None
    confidence: float
    is_request: bool
    lang: str
    priority: str = "normal"
    priority_reason: str | None = None
    location: Location | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's `citybot classify` line."""
        return {
            "category": self.category if self.is_request else None,
            "confidence": round(self.confidence, 4),
            "is_request": self.is_request,
            "lang": self.lang,
            "priority": self.priority,
            "location": {"text": self.location.text, "lat": self.location.lat, "lon": self.location.lon}
            if self.location else None,
        }


class Classifier(Protocol):
    def classify(self, text: str, lang_hint: str | None = None) -> Classification:
        """Classify one post. Never raises on odd text."""
        ...


def classify_all(classifier: Classifier, texts: Sequence[str],
                 lang_hints: Sequence[str | None] | None = None) -> list[Classification]:
    """`classify` of each text, through the classifier's `classify_many` when it has one."""
    if hasattr(classifier, "classify_many"):
        return classifier.classify_many(texts, lang_hints)
    hints = lang_hints if lang_hints is not None else [None] * len(texts)
    return [classifier.classify(text, lang_hint=hint) for text, hint in zip(texts, hints)]
