"""Language identification measured: the language textcat (with lingua for the posts it is unsure
of), against lingua alone, on our corpus (5-fold: trained on four fifths, scored on the fifth)
and on the DC reports (all English; the model trained on the whole corpus).

Run: .venv/bin/python bench/language_id.py [--folds 5]
"""

from __future__ import annotations

import argparse
import time

from common import REPO, dc_examples

from bot.config import load_config
from classifiers.corpus import Example, shipped_corpus
from classifiers.language import GUESS_CONFIDENCE, detect_languages
from classifiers.loader import keyword_examples
from classifiers.model import TrainSettings, train
from classifiers.spacy_classifier import SpacyClassifier

LANGUAGES = ["en", "es", "fr"]


def measure(classifier: SpacyClassifier, examples: list[Example]) -> tuple[int, int, int, float, float]:
    """(textcat+lingua right, lingua alone right, posts the textcat was sure of, seconds of each way)."""
    texts = [e.text for e in examples]
    hints = [None] * len(texts)
    started = time.perf_counter()
    ours = [r.lang for i in range(0, len(texts), 256) for r in classifier.classify_many(texts[i:i + 256], hints[i:i + 256])]
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    lingua = [lang for i in range(0, len(texts), 256)
              for lang in detect_languages(texts[i:i + 256], LANGUAGES, hints[i:i + 256], "es")]
    lingua_seconds = time.perf_counter() - started
    _, languages = classifier._scores(texts, 64)
    sure = int((languages.max(axis=1) >= GUESS_CONFIDENCE).sum()) if languages is not None else 0
    gold = [e.lang for e in examples]
    return (sum(a == b for a, b in zip(ours, gold)), sum(a == b for a, b in zip(lingua, gold)), sure,
            ours_seconds, lingua_seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    cfg = load_config(REPO / "config.yaml")
    corpus = [e for e in shipped_corpus({c.code for c in cfg.categories}) if e.lang in LANGUAGES]
    keywords = keyword_examples(cfg)

    def classifier(examples: list[Example]) -> SpacyClassifier:
        return SpacyClassifier(train(examples + keywords, TrainSettings()), LANGUAGES, "es", cfg.classification.is_request_threshold)

    totals = [0, 0, 0, 0.0, 0.0]
    for fold in range(args.folds):
        held_out = corpus[fold::args.folds]
        rest = [e for number, e in enumerate(corpus) if number % args.folds != fold]
        for position, value in enumerate(measure(classifier(rest), held_out)):
            totals[position] += value
    n = len(corpus)
    print(f"corpus, {args.folds}-fold, {n} posts in en/es/fr:")
    print(f"  textcat (+ lingua when unsure): {totals[0] / n:.4f} right; the textcat was sure of {totals[2] / n:.1%}")
    print(f"  lingua alone:                   {totals[1] / n:.4f} right")
    print(f"  whole classify_many {n / totals[3]:,.0f} posts/s; lingua alone {n / totals[4]:,.0f} posts/s")

    dc = [Example(e.text, e.category, "en") for e in dc_examples()]
    right, lingua, sure, _, _ = measure(classifier(corpus), dc)
    print(f"DC reports ({len(dc)}, English): textcat (+ lingua) {right / len(dc):.4f}, lingua alone {lingua / len(dc):.4f}; "
          f"sure of {sure / len(dc):.1%}")


if __name__ == "__main__":
    main()
