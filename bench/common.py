"""Shared bits of the benchmark scripts: finding the real data, splitting it, scoring a model."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers.corpus import Example, read_examples  # noqa: E402
from classifiers.evaluate import Report, evaluate, predicted_categories  # noqa: E402

DC_FILE = REPO.parent / "shared" / "data" / "dc_seeclickfix_reports.jsonl"


def dc_examples(path: Path = DC_FILE) -> list[Example]:
    if not path.exists():
        sys.exit(f"{path} is missing: these figures need the real reports in ../shared/data")
    return read_examples(path)


def halves(examples: list[Example], seed: int = 7) -> tuple[list[Example], list[Example]]:
    """A seeded split, stratified by category."""
    rng = random.Random(seed)
    first, second = [], []
    by_category: dict[str, list[Example]] = {}
    for example in examples:
        by_category.setdefault(example.category, []).append(example)
    for category in sorted(by_category):
        group = by_category[category][:]
        rng.shuffle(group)
        cut = len(group) // 2
        first += group[:cut]
        second += group[cut:]
    return first, second


def score(classifier, examples: list[Example]) -> tuple[Report, float]:
    """The report on `examples`, and the documents per second it took."""
    started = time.perf_counter()
    predicted = predicted_categories(classifier, examples)
    elapsed = time.perf_counter() - started
    return evaluate([e.category for e in examples], predicted), len(examples) / elapsed
