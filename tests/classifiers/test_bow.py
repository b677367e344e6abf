"""The bag-of-words heads read feature ids straight from the text and give what spaCy's pipeline gives."""

import pytest

from classifiers.bow import BowHead, FeatureIds
from classifiers.corpus import Example
from classifiers.language import detect_languages
from classifiers.model import LANGUAGE_PIPE, TrainSettings, feature_doc, train

TEXTS = ["la farola de la calle Real 12 está apagada", "Pothole on Elm St, huge!!", "nid de poule rue Haute svp",
         "🚧🚧", "", "bache de 88t", "a" * 3000, "На улице Ленина не горит фонарь", "thanks 👍", "12 12 12"]


@pytest.fixture(scope="module")
def nlp():
    examples = [
        Example("la farola está apagada", "streetlight", "es"), Example("farola fundida en mi calle", "streetlight", "es"),
        Example("hay un bache enorme", "roads", "es"), Example("gracias por todo", "none", "es"),
        Example("the streetlight is out", "streetlight", "en"), Example("huge pothole on my street", "roads", "en"),
        Example("thanks a lot", "none", "en"), Example("le lampadaire est en panne", "streetlight", "fr"),
        Example("nid de poule dans ma rue", "roads", "fr"), Example("merci beaucoup", "none", "fr"),
    ]
    return train(examples, TrainSettings(epochs=3))


def test_feature_ids_are_the_ids_of_the_doc_the_textcat_reads(nlp):
    ids = FeatureIds()
    for text in TEXTS:
        assert sorted(ids.ids(text).tolist()) == sorted(feature_doc(nlp, text).to_array("ORTH").tolist()), text


@pytest.mark.parametrize("pipe", ["textcat", LANGUAGE_PIPE])
def test_head_scores_equal_the_pipeline_up_to_float_rounding(nlp, pipe):
    head = BowHead(nlp, pipe)
    ours = head.scores(FeatureIds().batch(TEXTS))
    other = [name for name in nlp.pipe_names if name != pipe]
    theirs = [doc.cats for doc in nlp.pipe((feature_doc(nlp, text) for text in TEXTS), disable=other)]
    assert len(ours) == len(TEXTS)
    for mine, spacy_cats in zip(ours, theirs):
        assert mine.keys() == spacy_cats.keys()
        assert all(abs(mine[label] - spacy_cats[label]) < 1e-5 for label in mine)
    assert head.scores(FeatureIds().batch([])) == []


def test_the_trained_language_textcat_knows_the_examples_languages(nlp):
    assert nlp.pipe_names == ["textcat", LANGUAGE_PIPE]
    assert set(nlp.get_pipe(LANGUAGE_PIPE).labels) == {"en", "es", "fr"}
    assert BowHead.of(nlp, "no_such_pipe") is None


def test_a_sure_guess_decides_and_an_unsure_one_goes_to_lingua():
    text = "the streetlight on my street has been out for a week"
    sure_but_wrong = {"es": 0.95, "en": 0.03, "fr": 0.02}
    assert detect_languages([text], ["es", "en", "fr"], [None], "es", [sure_but_wrong]) == ["es"]  # trusted
    unsure = {"es": 0.5, "en": 0.3, "fr": 0.2}
    assert detect_languages([text], ["es", "en", "fr"], [None], "es", [unsure]) == ["en"]  # lingua decided
    # A city language the textcat does not know: lingua decides.
    assert detect_languages([text], ["en", "de"], [None], "de", [sure_but_wrong]) == ["en"]
    # Among the city's two languages the guess is renormalised: 0.03 / (0.03 + 0.02) = 0.6 < 0.9, unsure.
    assert detect_languages(["le lampadaire de ma rue est en panne"], ["en", "fr"], [None], "en", [sure_but_wrong]) == ["fr"]


def test_the_word_cache_stays_bounded_and_answers_the_same(nlp, monkeypatch):
    import classifiers.bow as bow

    monkeypatch.setattr(bow, "WORD_CACHE", 8)
    ids = FeatureIds()
    texts = [f"farola {n} rota en la calle numero{n} palabra{n}" for n in range(50)]
    first = [ids.ids(text).tolist() for text in texts]
    assert len(ids._words) <= 8
    assert [FeatureIds().ids(text).tolist() for text in texts] == first
