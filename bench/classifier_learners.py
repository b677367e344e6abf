"""Which learner does best at learning a city's own data? Printed, not asserted.

The learning figure of bench/classifier_quality.py (corpus + half of DC, scored on the other half)
for several learners over the same features (`classifiers.features`), the same tf-idf weighting
(`classifiers.tfidf`: smoothed idf, norm smoothed by NORM_SMOOTHING) and the same example weights
(`classifiers.loader.own`), over N halves (split seeds 7, 8, ...). Each feature gets its own column
here, where the shipped model hashes them into 65,536 rows; and each learner's answer is its best
label ("none" included), without the classifier's rule that a danger word makes any service guess
a request. So the first row can differ from bench/classifier_quality.py by about 0.005.

Run: python bench/classifier_learners.py [--splits N] [--mlp]   (--mlp adds a one-hidden-layer
network: about six minutes a split on python-svc)
"""

from __future__ import annotations

import argparse
import warnings
from collections import defaultdict
from typing import Callable

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from common import REPO, dc_examples, halves

from bot.config import load_config
from classifiers.corpus import shipped_corpus
from classifiers.evaluate import evaluate
from classifiers.features import features
from classifiers.loader import keyword_examples, own
from classifiers.model import TrainSettings
from classifiers.tfidf import NORM_SMOOTHING, smoothed_idf, weigh


def tfidf_rows(counts, idf: np.ndarray):
    """`counts` (a CSR matrix, a column per feature) weighed as the shipped model weighs them
    (`classifiers.tfidf.weigh`; `idf` has a power-of-two length of at least the columns)."""
    values = weigh(idf, counts.indices.astype(np.uint64), counts.data, np.diff(counts.indptr), NORM_SMOOTHING)
    return csr_matrix((values.astype(np.float64), counts.indices, counts.indptr), shape=counts.shape)


def logistic(c: float = TrainSettings().inverse_l2) -> LogisticRegression:
    return LogisticRegression(C=c, solver="sag", tol=1e-3, max_iter=1000, random_state=0)


def learners(args) -> dict[str, Callable]:
    """name -> f(X, y, w, n_corpus, X_test) giving the predicted labels of X_test."""
    def plain(make):
        return lambda X, y, w, n, T: make().fit(X, y, sample_weight=w).predict(T)

    def own_weight(weight):
        def run(X, y, w, n, T):
            w = w.copy()
            w[n:] = weight
            return logistic().fit(X, y, sample_weight=w).predict(T)
        return run

    def city_alone(X, y, w, n, T):
        return logistic().fit(X[n:], y[n:]).predict(T)

    def stacked(X, y, w, n, T):
        # The corpus model's scores as features of a second model fitted on the city's data only.
        first = logistic().fit(X[:n], y[:n])
        second = logistic().fit(hstack([X[n:], csr_matrix(first.decision_function(X[n:]))]).tocsr(), y[n:])
        return second.predict(hstack([T, csr_matrix(first.decision_function(T))]).tocsr())

    table = {
        "logistic regression, C=3 (shipped)": plain(logistic),
        "logistic regression, C=10": plain(lambda: logistic(10.0)),
        "linear SVM, C=0.3": plain(lambda: LinearSVC(C=0.3)),
        "ridge classifier": plain(lambda: RidgeClassifier(alpha=1.0)),
        "complement naive Bayes": plain(lambda: ComplementNB(alpha=0.1)),
        "logistic, city weighs 4x (not 2x)": own_weight(4.0),
        "corpus model stacked under a city model": stacked,
        "logistic, city's half alone": city_alone,
    }
    if args.mlp:
        from sklearn.neural_network import MLPClassifier

        def network(X, y, w, n, T):
            repeat = np.concatenate([np.arange(len(y)), np.flatnonzero(w > 1)])  # weight 2 = seen twice
            model = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=15, batch_size=128, random_state=0)
            return model.fit(X[repeat], y[repeat]).predict(T)
        table["network, one hidden layer of 256"] = network
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=5, help="halves to try (split seeds 7, 8, ...)")
    parser.add_argument("--mlp", action="store_true", help="also a one-hidden-layer network (slow)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    cfg = load_config(REPO / "config.yaml")
    corpus = shipped_corpus({c.code for c in cfg.categories}) + keyword_examples(cfg)
    dc = dc_examples()
    table = learners(args)
    figures: dict[str, list[float]] = defaultdict(list)
    for seed in range(7, 7 + max(args.splits, 1)):
        city, test = halves(dc, seed=seed)
        train = corpus + own(city)
        vectorizer = CountVectorizer(analyzer=features, dtype=np.float64)
        counts = vectorizer.fit_transform([e.text for e in train])
        frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
        padded = np.zeros(1 << (counts.shape[1] - 1).bit_length(), dtype=np.int64)  # weigh masks ids by the length
        padded[:len(frequency)] = frequency
        idf = smoothed_idf(padded, len(train))
        X, T = tfidf_rows(counts, idf), tfidf_rows(vectorizer.transform([e.text for e in test]), idf)
        y = np.array([e.category for e in train])
        w = np.array([e.weight for e in train])
        gold = [e.category for e in test]
        for name, run in table.items():
            figures[name].append(evaluate(gold, list(run(X, y, w, len(corpus), T))).macro_f1)
        print(f"split seed {seed}: " + ", ".join(f"{v[-1]:.3f}" for v in figures.values()), flush=True)
    print(f"\nmacro-F1 on the other half of DC over {len(next(iter(figures.values())))} splits (target >= 0.85):")
    for name, values in figures.items():
        print(f"  {name:42s} mean {np.mean(values):.3f}  ({min(values):.3f} to {max(values):.3f})")


if __name__ == "__main__":
    main()
