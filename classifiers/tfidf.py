"""A bag-of-words textcat whose words carry tf-idf weights, fitted to convergence instead of by Adam.

The architecture `citybot.TfIdfBOW.v1` is spaCy's TextCatBOW with one layer more:

    extract_ngrams (feature ids, counts) >> tfidf_weights >> SparseLinear >> softmax

`tfidf_weights` turns a document's counts c into c·idf, divided by sqrt(s + Σ c·idf²). The idf
table is hashed (`IDF_BUCKETS` rows, indexed by the low bits of the feature id) and stored in the
model like any weight; a feature no training document had gets idf 0, so words the model never
saw neither count nor dilute the rest. The norm takes Σ c·idf² rather than Σ (c·idf)², so a
document given as every occurrence with count 1 (`classifiers.bow.FeatureIds`) gets the same
values as the same document given as distinct ids with their counts (spaCy's extract_ngrams).
The smoothing s (`NORM_SMOOTHING`) keeps a post of one or two common words ("the", "de de de")
from reaching a full unit vector and a confident category: its values stay small and its scores
near the prior. A post of a dozen words has Σ c·idf² in the thousands and barely changes.

`fit` sets the idf table from the training documents and then the linear weights by
L2-regularised multinomial logistic regression (scikit-learn's SAG solver), on the exact hashed
input the SparseLinear layer reads, so the fitted model is an ordinary spaCy pipeline.
Measured in bench/classifier_architectures.py: minibatch Adam on the same layer stopped well
short of the regularised optimum. SAG reaches it in about a second on our corpus; L-BFGS took
15 s for the same macro-F1 (its update over 850,000 weights dominates).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from murmurhash.mrmr import hash_bytes
from spacy.attrs import ORTH
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.util import registry
from thinc.api import Model, SparseLinear_v2, chain, softmax_activation
from thinc.types import Floats2d

IDF_BUCKETS = 2 ** 20  # idf rows (4 MB); ids that share a row share their document frequency
# Measured with bench/classifier_quality.py and 18 content-free posts ("the", "lol", "de de de de"):
# s = 0 judged 5 of them requests, s = 100 two; DC zero-shot 0.751 -> 0.754, corpus + half 0.840 -> 0.839.
NORM_SMOOTHING = 100.0
NEVER_SEEN = -30.0  # bias of a label no training example had: never predicted

Ragged = tuple[np.ndarray, np.ndarray, np.ndarray]  # feature ids, their counts, ids per document


def tfidf_weights(buckets: int = IDF_BUCKETS, smoothing: float = NORM_SMOOTHING) -> Model[Ragged, Ragged]:
    """The layer that weighs each (id, count) by the id's idf and normalises each document."""
    if buckets & (buckets - 1):
        raise ValueError(f"idf buckets must be a power of two, not {buckets}")
    if not smoothing >= 0:
        raise ValueError(f"the norm smoothing must be 0 or more, not {smoothing}")
    return Model("tfidf_weights", _forward, init=_init, params={"idf": None}, dims={"buckets": buckets},
                 attrs={"smoothing": float(smoothing)})


def _init(model: Model, X=None, Y=None) -> Model:
    # Until `fit` sets the real table, every id weighs 1 (L2-normalised counts).
    model.set_param("idf", model.ops.alloc1f(model.get_dim("buckets")) + 1.0)
    return model


def smoothed_idf(df: np.ndarray, documents: int) -> np.ndarray:
    """Each feature's idf from its document frequency, as scikit-learn's TfidfTransformer:
    ln((1 + n) / (1 + df)) + 1; 0 where df = 0 (a feature no training document had)."""
    return np.where(df > 0, np.log((1.0 + documents) / (1.0 + df)) + 1.0, 0.0).astype("f")


def weigh(idf: np.ndarray, keys: np.ndarray, counts: np.ndarray, lengths: np.ndarray,
          smoothing: float = 0.0) -> np.ndarray:
    """Each id's value: count·idf / sqrt(smoothing + Σ count·idf²) over its document (0 in an
    all-unknown one)."""
    if not len(keys):
        return np.zeros(0, dtype="f")
    weights = idf[(keys & np.uint64(len(idf) - 1)).astype(np.int64)]
    values = counts * weights
    document = np.repeat(np.arange(len(lengths)), lengths)
    norms = np.sqrt(np.bincount(document, weights=values * weights, minlength=len(lengths)) + smoothing)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (values * scale[document]).astype("f")


def _forward(model: Model, X: Ragged, is_train: bool):
    keys, counts, lengths = X
    values = weigh(model.get_param("idf"), keys, counts, lengths, model.attrs["smoothing"])

    def backprop(dY: Ragged) -> Ragged:
        return dY  # the ids are not learned; nothing flows back through them

    return (keys, values, lengths), backprop


@registry.architectures("citybot.TfIdfBOW.v1")
def build_tfidf_bow(exclusive_classes: bool = True, length: int = 65536, idf_buckets: int = IDF_BUCKETS,
                    norm_smoothing: float = NORM_SMOOTHING, nO: int | None = None) -> Model[list, Floats2d]:
    """spaCy's unigram TextCatBOW with `tfidf_weights` between the ids and the linear layer."""
    if not exclusive_classes:
        raise ValueError("citybot.TfIdfBOW.v1 scores exclusive classes only")
    linear = SparseLinear_v2(nO=nO, length=length)
    model = chain(extract_ngrams(1, attr=ORTH), tfidf_weights(idf_buckets, norm_smoothing), linear, softmax_activation())
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", linear)
    model.attrs["multi_label"] = False
    return model


def _node(model: Model, name: str) -> Model:
    for node in model.walk():
        if node.name == name:
            return node
    raise ValueError(f"the model has no '{name}' layer: not a citybot.TfIdfBOW.v1 textcat")


def _columns(keys: np.ndarray, length: int) -> np.ndarray:
    """The two SparseLinear rows each id adds to (thinc hashes an id with MurmurHash3, seeds 0 and 1)."""
    out = np.empty((len(keys), 2), dtype=np.int64)
    seen: dict[int, tuple[int, int]] = {}
    for number, key in enumerate(keys.tolist()):
        pair = seen.get(key)
        if pair is None:
            raw = key.to_bytes(8, "little")
            pair = seen[key] = ((hash_bytes(raw, 0) & 0xFFFFFFFF) % length, (hash_bytes(raw, 1) & 0xFFFFFFFF) % length)
        out[number] = pair
    return out


def fit(model: Model, docs: Sequence, gold: Sequence[str], labels: Sequence[str],
        weights: Sequence[float] | None = None, c: float = 3.0, max_iter: int = 1000, tol: float = 1e-3) -> float:
    """Fit a citybot.TfIdfBOW.v1 model to `docs` and their `gold` labels (each one of `labels`, the
    textcat's column order). `weights` count examples more or less (default 1 each); `c` is the
    inverse strength of the L2 penalty. Seeded: the same input gives the same weights. Returns the
    weighted mean log-loss on the training data."""
    from scipy.sparse import csr_matrix  # training only: the bot scores without scikit-learn
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    if len(docs) != len(gold):
        raise ValueError(f"{len(docs)} documents but {len(gold)} labels")
    if weights is not None and (len(weights) != len(docs) or not all(0 < w < float("inf") for w in weights)):
        raise ValueError("example weights must be one positive, finite number per document")
    keys, counts, lengths = _node(model, "extract_ngrams").predict(list(docs))
    idf_layer, linear = _node(model, "tfidf_weights"), _node(model, "sparse_linear")
    buckets, length = idf_layer.get_dim("buckets"), linear.get_dim("length")
    document = np.repeat(np.arange(len(docs)), lengths)

    pairs = np.unique(document.astype(np.uint64) * np.uint64(buckets) + (keys & np.uint64(buckets - 1)))
    df = np.bincount((pairs % np.uint64(buckets)).astype(np.int64), minlength=buckets)
    idf = smoothed_idf(df, len(docs))
    idf_layer.set_param("idf", idf)

    values = weigh(idf, keys, counts, lengths, idf_layer.attrs["smoothing"])
    columns = _columns(keys, length)
    X = csr_matrix((np.concatenate([values, values]), (np.concatenate([document, document]), columns.T.ravel())),
                   shape=(len(docs), length), dtype=np.float64)
    index = {label: number for number, label in enumerate(labels)}
    y = np.asarray([index[label] for label in gold])
    present = sorted(set(y.tolist()))
    W = np.zeros((len(labels), length), dtype="f")
    b = np.full(len(labels), NEVER_SEEN, dtype="f")
    if len(present) == 1:  # one class only: nothing to fit, it is always the answer
        b[present[0]] = 0.0
        loss = 0.0
    else:
        regression = LogisticRegression(C=c, max_iter=max_iter, tol=tol, solver="sag", random_state=0)
        regression.fit(X, y, sample_weight=weights)
        coef, intercept = regression.coef_, regression.intercept_
        if len(present) == 2:  # scikit-learn keeps one vector for two classes: softmax needs ±half of it
            coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-1, 1]) * intercept / 2
        W[regression.classes_], b[regression.classes_] = coef, intercept
        loss = float(log_loss(y, regression.predict_proba(X), sample_weight=weights, labels=regression.classes_))
    linear.set_param("W", W.ravel())
    linear.set_param("b", b)
    return loss
