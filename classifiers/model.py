"""The spaCy text classifier: built from `spacy.blank`, trained on our examples, seeded.

One exclusive `textcat` over the service codes plus `none` (not a request), so a single
model answers both "is this a request?" and "which service?".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import spacy
from spacy.language import Language
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed, minibatch

from classifiers.corpus import NOT_A_REQUEST, Example
from classifiers.features import feature_text

ARCHITECTURES = {
    "bow": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 1, "no_output_layer": False, "length": 65536},
    "cnn": {
        "@architectures": "spacy.TextCatCNN.v2", "exclusive_classes": True,
        "tok2vec": {"@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, "width": 96, "depth": 2,
                    "embed_size": 2000, "window_size": 1, "maxout_pieces": 3, "subword_features": True},
    },
    "ensemble": {
        "@architectures": "spacy.TextCatEnsemble.v2",
        "tok2vec": {
            "@architectures": "spacy.Tok2Vec.v2",
            "embed": {"@architectures": "spacy.MultiHashEmbed.v2", "width": 64, "rows": [2000, 2000, 500, 1000, 500],
                      "attrs": ["NORM", "LOWER", "PREFIX", "SUFFIX", "SHAPE"], "include_static_vectors": False},
            "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 64, "window_size": 1, "maxout_pieces": 3, "depth": 2},
        },
        "linear_model": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "length": 262144, "ngram_size": 2, "no_output_layer": False},
    },
}
DEFAULT_ARCHITECTURE = "bow"


@dataclass(frozen=True)
class TrainSettings:
    architecture: str = DEFAULT_ARCHITECTURE
    epochs: int = 8
    dropout: float = 0.2
    batch_size: int = 64
    seed: int = 13


def build_pipeline(labels: Iterable[str], architecture: str = DEFAULT_ARCHITECTURE) -> Language:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{architecture}' (use one of: {', '.join(ARCHITECTURES)})")
    nlp = spacy.blank("xx")
    textcat = nlp.add_pipe("textcat", config={"model": ARCHITECTURES[architecture]})
    for label in sorted(set(labels)):
        textcat.add_label(label)
    return nlp


def _examples(nlp: Language, data: list[Example]) -> list[SpacyExample]:
    labels = nlp.get_pipe("textcat").labels
    out = []
    for item in data:
        doc = nlp.make_doc(feature_text(item.text))
        out.append(SpacyExample.from_dict(doc, {"cats": {label: float(label == item.category) for label in labels}}))
    return out


def train(data: list[Example], settings: TrainSettings = TrainSettings(), progress: Callable[[int, float], None] | None = None) -> Language:
    """A trained pipeline. The same data and settings give the same model (seeded)."""
    if not data:
        raise ValueError("no training examples")
    fix_random_seed(settings.seed)
    rng = random.Random(settings.seed)
    nlp = build_pipeline({e.category for e in data} | {NOT_A_REQUEST}, settings.architecture)
    examples = _examples(nlp, data)
    optimizer = nlp.initialize(lambda: examples)
    for epoch in range(settings.epochs):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=settings.batch_size):
            nlp.update(batch, sgd=optimizer, drop=settings.dropout, losses=losses)
        if progress:
            progress(epoch + 1, losses.get("textcat", 0.0))
    return nlp


def scores(nlp: Language, texts: list[str]) -> list[dict[str, float]]:
    """Label probabilities for each text."""
    return [dict(doc.cats) for doc in nlp.pipe(feature_text(t) for t in texts)]


def save(nlp: Language, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)


def load(path: Path) -> Language:
    return spacy.load(path)
