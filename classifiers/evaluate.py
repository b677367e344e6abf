"""Classifier quality: per-category precision/recall/F1, macro-F1 and a confusion table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from classifiers.base import classify_all
from classifiers.corpus import NOT_A_REQUEST, Example


@dataclass
class Report:
    macro_f1: float
    accuracy: float
    per_category: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    support: int
    labels: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"macro_f1": round(self.macro_f1, 4), "accuracy": round(self.accuracy, 4), "support": self.support,
                "per_category": self.per_category, "confusion": self.confusion}


def evaluate(gold: list[str], predicted: list[str]) -> Report:
    """Macro-F1 is averaged over the categories present in `gold`; wrong guesses of any label still cost precision."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    labels = sorted(set(gold))
    pairs = Counter(zip(gold, predicted))
    predicted_count = Counter(predicted)
    per: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = pairs[(label, label)]
        support = sum(1 for g in gold if g == label)
        precision = tp / predicted_count[label] if predicted_count[label] else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": support}
    columns = sorted(set(gold) | set(predicted))
    confusion = {g: {p: pairs[(g, p)] for p in columns if pairs[(g, p)]} for g in labels}
    macro = sum(v["f1"] for v in per.values()) / len(per) if per else 0.0
    accuracy = sum(pairs[(label, label)] for label in labels) / len(gold) if gold else 0.0
    return Report(macro, accuracy, per, confusion, len(gold), labels)


def predicted_categories(classifier, examples: Sequence[Example], batch_size: int = 1024) -> list[str]:
    """What `classifier` makes of each example, as evaluated: its category, or "none" when it
    judges the post not a request. Classified a batch at a time (`classify_many` where there is one)."""
    predicted = []
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        results = classify_all(classifier, [e.text for e in batch], [e.lang for e in batch])
        predicted += [r.category if r.is_request and r.category else NOT_A_REQUEST for r in results]
    return predicted
