"""Which spaCy textcat architecture to ship: tf-idf BOW, BOW, CNN or the ensemble, side by side.

For each: training time on the shipped corpus, macro-F1 on a held-out fifth of the corpus
(all three languages), zero-shot macro-F1 on the DC reports, and classification speed.

Run: python bench/classifier_architectures.py [tfidf bow cnn ensemble]
"""

from __future__ import annotations

import sys
import time

from common import REPO, dc_examples, halves, score

from bot.config import load_config
from classifiers.corpus import shipped_corpus
from classifiers.loader import keyword_examples
from classifiers.model import TrainSettings, train
from classifiers.spacy_classifier import SpacyClassifier


def fifths(examples):
    """Every fifth example (by category) held out."""
    first, second = halves(examples)  # stratified shuffle
    ordered = first + second
    return [e for i, e in enumerate(ordered) if i % 5], [e for i, e in enumerate(ordered) if not i % 5]


def main() -> None:
    architectures = sys.argv[1:] or ["tfidf", "bow", "cnn", "ensemble"]
    cfg = load_config(REPO / "config.yaml")
    corpus = shipped_corpus({c.code for c in cfg.categories}) + keyword_examples(cfg)
    train_part, held_out = fifths(corpus)
    dc = dc_examples()
    print(f"corpus {len(corpus)} examples (train {len(train_part)}, held out {len(held_out)}); DC {len(dc)} reports")
    print(f"{'architecture':12s} {'train s':>8s} {'held-out F1':>12s} {'DC zero-shot F1':>16s} {'docs/s':>8s}")
    for architecture in architectures:
        settings = TrainSettings(architecture=architecture)
        started = time.perf_counter()
        nlp = train(train_part, settings)
        seconds = time.perf_counter() - started
        classifier = SpacyClassifier(nlp, cfg.city.languages, cfg.city.language, cfg.classification.is_request_threshold)
        held, _ = score(classifier, held_out)
        full = SpacyClassifier(train(corpus, settings), cfg.city.languages, cfg.city.language, cfg.classification.is_request_threshold)
        zero, speed = score(full, dc)
        print(f"{architecture:12s} {seconds:8.1f} {held.macro_f1:12.3f} {zero.macro_f1:16.3f} {speed:8.0f}")


if __name__ == "__main__":
    main()
