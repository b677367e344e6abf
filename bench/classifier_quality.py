"""Classifier quality on the real DC reports (../shared/data), printed, not asserted.

1. zero-shot: the model trained only on the project's corpus, evaluated on all 2,711 DC reports;
2. learning: trained on the corpus + one half of DC (weighted as a city's own file, as
   `classifier train --data` does), evaluated on the other half;
(Language identification: bench/language_id.py.)

Run: python bench/classifier_quality.py [--architecture tfidf|bow|cnn|ensemble]
"""

from __future__ import annotations

import argparse
import time

from common import REPO, dc_examples, halves, score

from bot.config import load_config
from classifiers.loader import keyword_examples, own
from classifiers.corpus import shipped_corpus
from classifiers.location import Gazetteer
from classifiers.model import TrainSettings, train
from classifiers.spacy_classifier import SpacyClassifier


def classifier_for(cfg, examples, settings):
    started = time.perf_counter()
    nlp = train(examples, settings)
    seconds = time.perf_counter() - started
    return SpacyClassifier(nlp, cfg.city.languages, cfg.city.language, cfg.classification.is_request_threshold,
                           Gazetteer(cfg.city.streets)), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--architecture", default=TrainSettings().architecture)
    args = parser.parse_args()
    cfg = load_config(REPO / "config.yaml")
    settings = TrainSettings(architecture=args.architecture)
    known = {c.code for c in cfg.categories}
    corpus = shipped_corpus(known) + keyword_examples(cfg)
    dc = dc_examples()

    zero, seconds = classifier_for(cfg, corpus, settings)
    report, speed = score(zero, dc)
    print(f"[{args.architecture}] trained on {len(corpus)} corpus examples in {seconds:.1f}s")
    print(f"zero-shot DC macro-F1: {report.macro_f1:.3f}  (accuracy {report.accuracy:.3f}, {speed:,.0f} docs/s, target >= 0.75)")
    for label, row in report.per_category.items():
        print(f"    {label:18s} P {row['precision']:.2f} R {row['recall']:.2f} F1 {row['f1']:.2f}  n={row['support']}")
    not_request = sum(n for row in report.confusion.values() for p, n in row.items() if p == "none")
    print(f"    DC reports judged not-a-request: {not_request}")

    train_half, test_half = halves(dc)
    learned, seconds = classifier_for(cfg, corpus + own(train_half), settings)
    report, _ = score(learned, test_half)
    print(f"corpus + half of DC, on the other half: macro-F1 {report.macro_f1:.3f} (target >= 0.85; trained in {seconds:.1f}s)")


if __name__ == "__main__":
    main()
