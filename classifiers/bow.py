"""Scoring with trained bag-of-words textcats straight from feature ids, without spaCy docs.

spaCy's TextCatBOW reads each doc's ORTH ids, counts the distinct ones (`extract_ngrams`), sums
their hashed weights (`SparseLinear`) and applies softmax; citybot.TfIdfBOW.v1 weighs the ids
by tf-idf in between (`classifiers.tfidf`). Building a doc means tokenizing the
feature text, which has about 14 times the tokens of the post; here a word's feature ids are
computed once and cached, and the same trained layers are called on the ids, so the scores
equal `doc.cats` of the pipeline up to float rounding. The arrays of a batch are made once and
read by every head (category and language).
It also adds nothing to the vocabulary, which a long-running bot would otherwise grow for ever.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from spacy.language import Language
from spacy.strings import get_string_id

from classifiers.features import EMPTY, blanked_feature_words, symbols, word_features
from classifiers.location import without_places

# Words whose feature ids are kept, cleared when full: about 300 bytes a word, 10 MB at most
# (the 50,000 posts of bench/classify_speed.py have 11,250 distinct words).
WORD_CACHE = 32_768
_EMPTY_KEYS = np.asarray([get_string_id(EMPTY)], dtype=np.uint64)

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # feature ids, their counts, ids per doc


class FeatureIds:
    """The textcat input of posts: every feature id of each post, and how many each post has.
    A word's ids are computed once and kept (`WORD_CACHE`); safe to share between threads."""

    def __init__(self) -> None:
        self._words: dict[str, np.ndarray] = {}

    def ids(self, text: str) -> np.ndarray:
        """The ORTH ids of `features(text)`, in order (the ids spaCy gives those tokens)."""
        return self.batch([text])[0]

    def batch(self, texts: Sequence[str], blanked: Sequence[str] | None = None) -> Batch:
        """The textcat input for `texts`: every feature id of each text with count 1, and the ids
        per text. `blanked`, if given, holds `without_places` of each text.

        spaCy's `extract_ngrams` first merges repeated ids into one with their count; the sparse
        linear layer adds weight x count per id, so the sums are the same up to float rounding
        (at most 1e-5 in a probability over 8,361 posts), without sorting 30,000 ids per batch.
        """
        parts: list[np.ndarray] = []
        lengths = np.zeros(len(texts), dtype="int32")
        cached = self._words
        for number, text in enumerate(texts):
            size = 0
            marks = symbols(text)
            if marks:
                parts.append(np.asarray([get_string_id(mark) for mark in marks], dtype=np.uint64))
                size += len(marks)
            for word in blanked_feature_words(without_places(text) if blanked is None else blanked[number]):
                ids = cached.get(word)
                if ids is None:
                    ids = self._word_ids(word)
                parts.append(ids)
                size += len(ids)
            if not size:
                parts.append(_EMPTY_KEYS)
                size = 1
            lengths[number] = size
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        return ids, np.ones(len(ids), dtype="f"), lengths

    def _word_ids(self, word: str) -> np.ndarray:
        if len(self._words) >= WORD_CACHE:
            self._words.clear()
        ids = self._words[word] = np.asarray([get_string_id(f) for f in word_features(word)], dtype=np.uint64)
        return ids


class BowHead:
    """One trained textcat whose model is spaCy.TextCatBOW over unigrams, applied to a `Batch`."""

    def __init__(self, nlp: Language, pipe: str = "textcat") -> None:
        textcat = nlp.get_pipe(pipe)
        nodes = {node.name: node for node in textcat.model.walk()}
        extract = nodes.get("extract_ngrams")
        if extract is None or extract.attrs.get("ngram_size") != 1 or "sparse_linear" not in nodes:
            raise ValueError(f"'{pipe}' is not a unigram bag-of-words textcat")
        self.labels = list(textcat.labels)
        self._weights = nodes.get("tfidf_weights")  # classifiers.tfidf: takes repeated ids as they come
        self._linear = nodes["sparse_linear"]
        self._output = nodes.get("softmax_activation") or nodes.get("logistic")

    @classmethod
    def of(cls, nlp: Language, pipe: str = "textcat") -> BowHead | None:
        """The head for `pipe`, or None when there is no such pipe or it is not a bag of words."""
        if pipe not in nlp.pipe_names:
            return None
        try:
            return cls(nlp, pipe)
        except ValueError:
            return None

    def probabilities(self, batch: Batch) -> np.ndarray:
        """A row per post of the batch, a column per label (`labels`): `doc.cats` as the pipeline
        gives them (up to float rounding)."""
        if len(batch[2]) == 0:
            return np.zeros((0, len(self.labels)))
        if self._weights is not None:
            batch = self._weights.predict(batch)
        values = self._linear.predict(batch)
        if self._output is not None:
            values = self._output.predict(values)
        return np.asarray(values, dtype=np.float64)

    def scores(self, batch: Batch) -> list[dict[str, float]]:
        """`probabilities` as one {label: probability} per post."""
        return [dict(zip(self.labels, row)) for row in self.probabilities(batch).tolist()]
