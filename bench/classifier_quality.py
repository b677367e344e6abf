"""Classifier quality on the real DC reports (../shared/data), printed, not asserted.

1. zero-shot: the model trained only on the project's corpus, evaluated on all 2,711 DC reports;
2. learning: trained on the corpus + one half of DC (weighted as a city's own file, as
   `classifier train --data` does), evaluated on the other half;
(Language identification: bench/language_id.py.)

Run: python bench/classifier_quality.py [--architecture tfidf|bow|cnn|ensemble] [--splits N]

--splits N repeats (2) over N different halves (split seeds 7, 8, ...) and prints each, their mean
and range: the halves of the small categories (17 graffiti reports on a side) move the figure a lot.
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
    parser.add_argument("--splits", type=int, default=1, help="halves to try (split seeds 7, 8, ...)")
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

    figures = []
    for seed in range(7, 7 + max(args.splits, 1)):
        train_half, test_half = halves(dc, seed=seed)
        learned, seconds = classifier_for(cfg, corpus + own(train_half), settings)
        report, _ = score(learned, test_half)
        figures.append(report.macro_f1)
        print(f"corpus + half of DC (split seed {seed}), on the other half: macro-F1 {report.macro_f1:.3f}"
              f" (target >= 0.85; trained in {seconds:.1f}s)")
    if len(figures) > 1:
        print(f"over {len(figures)} splits: mean {sum(figures) / len(figures):.3f}, from {min(figures):.3f} to {max(figures):.3f}")

if __name__ == "__main__":
    main()
