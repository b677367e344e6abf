from classifiers.corpus import Example
from classifiers.model import TrainSettings
from classifiers.spacy_classifier import SpacyClassifier
from classifiers.store import ModelStore, ReloadingClassifier, fingerprint

TINY = [Example(t, c) for t, c in [
    ("farola apagada", "streetlight"), ("street light out", "streetlight"), ("lampadaire éteint", "streetlight"),
    ("bache enorme", "roads"), ("huge pothole", "roads"), ("nid de poule", "roads"),
    ("gracias", "none"), ("thanks a lot", "none"), ("merci beaucoup", "none"),
]]
FAST = TrainSettings(epochs=4)


def test_fingerprint_depends_on_every_input():
    assert fingerprint(TINY, FAST) == fingerprint(list(TINY), TrainSettings(epochs=4))
    assert fingerprint(TINY, FAST) != fingerprint(TINY[:-1], FAST)
    assert fingerprint(TINY, FAST) != fingerprint(TINY, TrainSettings(epochs=5))


def test_same_inputs_train_the_same_model(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYBOT_MODEL_CACHE", raising=False)
    first = ModelStore(tmp_path / "a").ensure(TINY, FAST)
    second = ModelStore(tmp_path / "b").ensure(TINY, FAST)
    assert first.name == second.name
    assert (first / "textcat" / "model").read_bytes() == (second / "textcat" / "model").read_bytes()


def test_bot_picks_up_a_newly_activated_model_without_restart(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYBOT_MODEL_CACHE", raising=False)
    store = ModelStore(tmp_path)
    build = lambda nlp: SpacyClassifier(nlp, ["es", "en", "fr"], "es")  # noqa: E731
    classifier = ReloadingClassifier(store, build, default=lambda: store.ensure(TINY, FAST), interval=0)
    before = classifier.model_path
    retrained = TINY + [Example(f"zorglub {i}", "noise") for i in range(30)]
    store.activate(store.ensure(retrained, TrainSettings(epochs=8)))
    assert classifier.classify("zorglub zorglub").category == "noise"
    assert classifier.model_path != before
