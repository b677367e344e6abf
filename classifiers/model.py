"""The spaCy text classifier: built from `spacy.blank`, trained on our examples, seeded.

One exclusive `textcat` over the service codes plus `none` (not a request), so a single
model answers both "is this a request?" and "which service?". A second, small bag-of-words
`textcat_lang` reads the same features and tells the language (en/es/fr: the languages of the
examples), so most posts need no separate language detector (`classifiers.language`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed, minibatch

from classifiers import tfidf
from classifiers.corpus import NOT_A_REQUEST, Example
from classifiers.features import features

ARCHITECTURES = {
    "tfidf": {"@architectures": "citybot.TfIdfBOW.v1", "exclusive_classes": True, "length": 65536,
              "idf_buckets": tfidf.IDF_BUCKETS, "norm_smoothing": tfidf.NORM_SMOOTHING},
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
DEFAULT_ARCHITECTURE = "tfidf"
FITTED = {"tfidf"}  # architectures fitted in one go (`classifiers.tfidf.fit`), not by epochs of Adam
LANGUAGE_PIPE = "textcat_lang"
LANGUAGE_MODEL = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 1,
                  "no_output_layer": False, "length": 65536}


@dataclass(frozen=True)
class TrainSettings:
    architecture: str = DEFAULT_ARCHITECTURE
    epochs: int = 8
    dropout: float = 0.2
    batch_size: int = 64
    seed: int = 13
    inverse_l2: float = 3.0  # C of the fitted architectures: larger, a weaker L2 penalty


def build_pipeline(labels: Iterable[str], architecture: str = DEFAULT_ARCHITECTURE,
                   languages: Iterable[str] = ()) -> Language:
    """A blank pipeline with the category textcat, and the language textcat when `languages`
    has two or more codes."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{architecture}' (use one of: {', '.join(ARCHITECTURES)})")
    nlp = spacy.blank("xx")
    textcat = nlp.add_pipe("textcat", config={"model": ARCHITECTURES[architecture]})
    for label in sorted(set(labels)):
        textcat.add_label(label)
    languages = sorted(set(languages))
    if len(languages) >= 2:
        language = nlp.add_pipe("textcat", name=LANGUAGE_PIPE, config={"model": LANGUAGE_MODEL})
        for code in languages:
            language.add_label(code)
    return nlp


def _examples(nlp: Language, data: list[Example], docs: list[Doc], pipe: str = "textcat") -> list[SpacyExample]:
    """Training examples for one textcat (category codes for `textcat`, languages for
    `textcat_lang`) over `docs`, the `feature_doc` of each item (a textcat reads them, never changes them)."""
    labels = nlp.get_pipe(pipe).labels
    out = []
    for item, doc in zip(data, docs):
        gold = item.category if pipe == "textcat" else item.lang
        out.append(SpacyExample.from_dict(doc, {"cats": {label: float(label == gold) for label in labels}}))
    return out


def train(data: list[Example], settings: TrainSettings = TrainSettings(), progress: Callable[[int, float], None] | None = None) -> Language:
    """A trained pipeline. The same data and settings give the same model (seeded)."""
    if not data:
        raise ValueError("no training examples")
    fix_random_seed(settings.seed)
    rng = random.Random(settings.seed)
    nlp = build_pipeline({e.category for e in data} | {NOT_A_REQUEST}, settings.architecture,
                         {e.lang for e in data if e.lang})
    docs = [feature_doc(nlp, item.text) for item in data]  # built once, read by both textcats
    examples = _examples(nlp, data, docs)
    # Each textcat keeps the labels it was given (left to itself, it would take every label it sees).
    nlp.config["initialize"]["components"] = {name: {"labels": list(nlp.get_pipe(name).labels)} for name in nlp.pipe_names}
    optimizer = nlp.initialize(lambda: examples)
    # The category textcat first, then the language one. Each is updated directly: nlp.update
    # would copy every example's doc first (two thirds of the training time), which a textcat,
    # changing no doc, does not need; the updates are the same.
    textcat = nlp.get_pipe("textcat")
    fitted_loss = None
    if settings.architecture in FITTED:  # one fit; the progress bar then follows the language epochs
        fitted_loss = tfidf.fit(textcat.model, docs,
                                [item.category for item in data], textcat.labels,
                                [item.weight for item in data], settings.inverse_l2)
    else:  # Adam has no per-example weight: an example of weight 2 is seen twice an epoch
        weighted = [example for example, item in zip(examples, data) for _ in range(max(1, round(item.weight)))]
        for epoch in range(settings.epochs):
            rng.shuffle(weighted)
            losses: dict[str, float] = {}
            for batch in minibatch(weighted, size=settings.batch_size):
                textcat.update(batch, sgd=optimizer, drop=settings.dropout, losses=losses)
            if progress:
                progress(epoch + 1, losses.get("textcat", 0.0))
    if LANGUAGE_PIPE in nlp.pipe_names:
        language = nlp.get_pipe(LANGUAGE_PIPE)
        known = set(language.labels)
        pairs = [(item, doc) for item, doc in zip(data, docs) if item.lang in known]
        language_examples = _examples(nlp, [item for item, _ in pairs], [doc for _, doc in pairs], LANGUAGE_PIPE)
        for epoch in range(settings.epochs):
            rng.shuffle(language_examples)
            for batch in minibatch(language_examples, size=settings.batch_size):
                language.update(batch, sgd=optimizer, drop=settings.dropout)
            if progress and fitted_loss is not None:
                progress(epoch + 1, fitted_loss)
    elif progress and fitted_loss is not None:
        progress(settings.epochs, fitted_loss)
    return nlp


def feature_doc(nlp: Language, text: str) -> Doc:
    """The doc the textcat reads: one token per feature of `text` (no tokenizer, which would
    split some features, say "^88t" into "^88" and "t")."""
    return Doc(nlp.vocab, words=features(text))


def save(nlp: Language, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)


def load(path: Path) -> Language:
    return spacy.load(path)
