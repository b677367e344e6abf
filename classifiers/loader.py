"""From config to a ready classifier: training examples, the model store, the reloading wrapper."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

from classifiers.corpus import Example, read_examples, shipped_corpus
from classifiers.location import Gazetteer
from classifiers.model import TrainSettings
from classifiers.spacy_classifier import SpacyClassifier
from classifiers.store import ModelStore, ReloadingClassifier


def settings_for(cfg) -> TrainSettings:
    return TrainSettings(architecture=cfg.classification.architecture)


def keyword_examples(cfg) -> list[Example]:
    """Each keyword in config.yaml is a tiny labelled example, so a city can steer the model."""
    return [Example(word, c.code, lang) for c in cfg.categories for lang, words in c.keywords.items() for word in words]


# A city's own reports and its staff's corrections count twice as much as the shipped corpus:
# they are the town's words for the town's problems. Measured in bench/classifier_quality.py
# (corpus + half of DC, split seed 7): 1x 0.838, 2x 0.839, 3x 0.837 macro-F1; within the noise.
OWN_WEIGHT = 2.0


def own(examples: Iterable[Example]) -> list[Example]:
    """`examples` as the city's own: weighted `OWN_WEIGHT` in training."""
    return [replace(example, weight=OWN_WEIGHT) for example in examples]


def training_examples(cfg, files: Iterable[str | Path] = (), corrections: Iterable[Example] = ()) -> list[Example]:
    """The shipped corpus and the config's keywords, then the city's files and corrections (`own`)."""
    known = {c.code for c in cfg.categories}
    examples = shipped_corpus(known) + keyword_examples(cfg)
    for file in files:
        examples += own(read_examples(file, known))
    return examples + own(corrections)


def store_for(cfg) -> ModelStore:
    return ModelStore(cfg.base_dir / cfg.classification.models_dir)


def build_classifier(cfg, progress: Callable[[int, float], None] | None = None) -> ReloadingClassifier:
    """The active model (or the shipped corpus's, trained on first use) behind the Classifier interface."""
    store = store_for(cfg)
    gazetteer = Gazetteer(cfg.city.streets) if cfg.city.streets else None

    def build(nlp):
        return SpacyClassifier(nlp, cfg.city.languages, cfg.city.language, cfg.classification.is_request_threshold, gazetteer)

    def default() -> Path:
        return store.ensure(training_examples(cfg), settings_for(cfg), progress)

    return ReloadingClassifier(store, build, default)
