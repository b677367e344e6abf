"""The tf-idf bag of words: its weighting, its fit, and the pipeline it makes."""

import numpy as np
import pytest
import spacy

from classifiers.bow import BowHead, FeatureIds
from classifiers.corpus import Example
from classifiers.model import TrainSettings, feature_doc, load, save, train
from classifiers.tfidf import build_tfidf_bow, tfidf_weights, weigh

EXAMPLES = [
    Example("la farola está apagada", "streetlight", "es"), Example("farola fundida en mi calle", "streetlight", "es"),
    Example("hay un bache enorme", "roads", "es"), Example("bache en la calzada", "roads", "es"),
    Example("gracias por todo", "none", "es"), Example("the streetlight is out", "streetlight", "en"),
    Example("huge pothole on my street", "roads", "en"), Example("thanks a lot", "none", "en"),
]


def test_each_occurrence_or_distinct_ids_with_counts_weigh_the_same():
    idf = np.linspace(0.5, 3.0, 16).astype("f")
    occurrences = np.asarray([3, 5, 3, 3, 9, 2, 2], dtype=np.uint64)  # doc 1: 3 5 3 3 · doc 2: 9 2 2
    values = weigh(idf, occurrences, np.ones(7, dtype="f"), np.asarray([4, 3]))
    distinct = weigh(idf, np.asarray([3, 5, 2, 9], dtype=np.uint64), np.asarray([3, 1, 2, 1], dtype="f"), np.asarray([2, 2]))
    summed = [values[[0, 2, 3]].sum(), values[1], values[[5, 6]].sum(), values[4]]
    assert np.allclose(summed, distinct)
    # count·idf / sqrt(Σ count·idf²): doc 1 has 3 x id 3 and 1 x id 5.
    norm = np.sqrt(3 * idf[3] ** 2 + idf[5] ** 2)
    assert np.allclose(distinct[:2], [3 * idf[3] / norm, idf[5] / norm])


def test_smoothing_keeps_a_post_of_one_common_word_from_a_full_unit_vector():
    idf = np.full(8, 2.0, dtype="f")
    one_word = (np.asarray([3], dtype=np.uint64), np.ones(1, dtype="f"), np.asarray([1]))
    assert weigh(idf, *one_word).tolist() == [1.0]
    assert np.allclose(weigh(idf, *one_word, smoothing=12.0), [2.0 / np.sqrt(12.0 + 4.0)])
    many = (np.arange(200, dtype=np.uint64) % 8, np.ones(200, dtype="f"), np.asarray([200]))
    plain, smoothed = weigh(idf, *many), weigh(idf, *many, smoothing=12.0)
    assert np.allclose(smoothed / plain, np.sqrt(800.0 / 812.0))  # a long post barely changes


def test_ids_no_training_document_had_neither_count_nor_dilute():
    idf = np.zeros(8, dtype="f")
    idf[1] = 2.0
    values = weigh(idf, np.asarray([1, 4, 4], dtype=np.uint64), np.ones(3, dtype="f"), np.asarray([3]))
    assert values.tolist() == [1.0, 0.0, 0.0]  # id 1 alone makes the whole unit norm
    assert weigh(idf, np.asarray([4], dtype=np.uint64), np.ones(1, dtype="f"), np.asarray([1])).tolist() == [0.0]
    assert len(weigh(idf, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype="f"), np.asarray([0]))) == 0


def test_only_powers_of_two_of_idf_rows_and_exclusive_classes():
    with pytest.raises(ValueError, match="power of two"):
        tfidf_weights(1000)
    with pytest.raises(ValueError, match="exclusive"):
        build_tfidf_bow(exclusive_classes=False)
    with pytest.raises(ValueError, match="smoothing"):
        tfidf_weights(1024, smoothing=-1.0)


@pytest.fixture(scope="module")
def nlp():
    return train(EXAMPLES, TrainSettings())


def test_the_fit_learns_the_examples_and_sets_an_idf_table(nlp):
    textcat = nlp.get_pipe("textcat")
    for example in EXAMPLES:
        cats = nlp.get_pipe("textcat")(feature_doc(nlp, example.text)).cats
        assert max(cats, key=cats.get) == example.category, example.text
    idf = next(node for node in textcat.model.walk() if node.name == "tfidf_weights").get_param("idf")
    assert (idf == 0).sum() > 0.99 * len(idf)  # rows of ids never seen
    assert idf.max() > idf[idf > 0].min() > 0  # a rare id weighs more than a common one


def test_the_same_examples_give_the_same_weights(nlp):
    again = train(EXAMPLES, TrainSettings())
    assert nlp.get_pipe("textcat").model.to_bytes() == again.get_pipe("textcat").model.to_bytes()


def test_a_saved_model_scores_the_same_after_loading(nlp, tmp_path):
    save(nlp, tmp_path / "model")
    loaded = load(tmp_path / "model")
    texts = ["farola apagada en la calle Real", "pothole!!", "gracias", "", "🚧"]
    before = BowHead(nlp).probabilities(FeatureIds().batch(texts))
    after = BowHead(loaded).probabilities(FeatureIds().batch(texts))
    assert np.allclose(before, after)
    assert isinstance(loaded, spacy.language.Language)


@pytest.mark.parametrize("architecture", ["tfidf", "bow"])
def test_weight_decides_between_conflicting_examples(architecture):
    def winner(first_weight: float, second_weight: float) -> str:
        examples = [Example("luz rota aquí", "streetlight", "es", weight=first_weight),
                    Example("luz rota aquí", "signs_signals", "es", weight=second_weight),
                    Example("gracias", "none", "es")]
        nlp = train(examples, TrainSettings(architecture=architecture))
        cats = BowHead(nlp).scores(FeatureIds().batch(["luz rota aquí"]))[0]
        return max(("streetlight", "signs_signals"), key=cats.get)

    assert winner(3.0, 1.0) == "streetlight"
    assert winner(1.0, 3.0) == "signs_signals"


def test_a_label_without_examples_is_never_the_answer():
    from classifiers.tfidf import fit

    nlp = train(EXAMPLES, TrainSettings())
    textcat = nlp.get_pipe("textcat")
    docs = [feature_doc(nlp, e.text) for e in EXAMPLES]
    fit(textcat.model, docs, ["roads" if e.category == "roads" else "none" for e in EXAMPLES], textcat.labels)
    scores = BowHead(nlp).scores(FeatureIds().batch(["la farola está apagada", "bache"]))
    assert all(row["streetlight"] < 1e-6 for row in scores)
    assert max(scores[1], key=scores[1].get) == "roads"


@pytest.mark.parametrize("weight", [0.0, -2.0, float("nan"), float("inf")])
def test_a_weight_that_is_not_a_positive_number_is_refused(nlp, weight):
    from classifiers.tfidf import fit

    textcat = nlp.get_pipe("textcat")
    docs = [feature_doc(nlp, e.text) for e in EXAMPLES]
    weights = [1.0] * (len(EXAMPLES) - 1) + [weight]
    with pytest.raises(ValueError, match="positive, finite"):
        fit(textcat.model, docs, [e.category for e in EXAMPLES], textcat.labels, weights)


def test_plain_spacy_load_finds_the_architecture_through_the_entry_point(nlp, tmp_path):
    import subprocess
    import sys

    save(nlp, tmp_path / "model")
    code = "import sys, spacy; print(spacy.load(sys.argv[1]).pipe_names)"  # citybot never imported by hand
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "textcat" in done.stdout
