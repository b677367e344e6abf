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
    assert fingerprint(TINY, FAST) != fingerprint(TINY, TrainSettings(epochs=4, inverse_l2=1.0))
    weighted = [Example(e.text, e.category, e.lang, weight=2.0) for e in TINY]
    assert fingerprint(TINY, FAST) != fingerprint(weighted, FAST)
    assert fingerprint(weighted, FAST) == fingerprint([Example(e.text, e.category, e.lang, weight=2) for e in TINY], FAST)


def test_fingerprint_follows_the_architectures_own_settings(monkeypatch):
    import classifiers.model as model

    before = fingerprint(TINY, TrainSettings())
    monkeypatch.setitem(model.ARCHITECTURES, "tfidf", {**model.ARCHITECTURES["tfidf"], "norm_smoothing": 1.0})
    assert fingerprint(TINY, TrainSettings()) != before


def test_a_citys_files_and_corrections_count_as_its_own(tmp_path):
    from pathlib import Path

    from bot.config import load_config
    from classifiers.loader import OWN_WEIGHT, training_examples

    cfg = load_config(Path(__file__).resolve().parents[2] / "config.yaml")
    data = tmp_path / "ours.jsonl"
    data.write_text('{"text": "farola del parque apagada", "category": "streetlight"}\n', encoding="utf-8")
    correction = Example("la luz del paso de cebra", "signs_signals", "es")
    examples = training_examples(cfg, [data], [correction])
    assert OWN_WEIGHT > 1
    assert [e.weight for e in examples[-2:]] == [OWN_WEIGHT, OWN_WEIGHT]
    assert [e.text for e in examples[-2:]] == ["farola del parque apagada", "la luz del paso de cebra"]
    assert {e.weight for e in examples[:-2]} == {1.0}


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


def test_fingerprint_depends_on_the_features_version(monkeypatch):
    import classifiers.store

    before = fingerprint(TINY, FAST)
    monkeypatch.setattr(classifiers.store, "FEATURES_VERSION", classifiers.store.FEATURES_VERSION + 1)
    assert fingerprint(TINY, FAST) != before


def test_an_active_model_trained_on_other_features_is_not_used(tmp_path, monkeypatch, caplog):
    import json

    monkeypatch.delenv("CITYBOT_MODEL_CACHE", raising=False)
    store = ModelStore(tmp_path)
    own = store.ensure(TINY + [Example(f"zorglub {i}", "noise") for i in range(30)], FAST)
    store.activate(own)
    assert store.active_path() == own
    meta = json.loads((own / "citybot.json").read_text(encoding="utf-8"))
    (own / "citybot.json").write_text(json.dumps({**meta, "features": meta["features"] - 1}), encoding="utf-8")
    assert store.active_path() is None and store.active_path() is None
    assert sum("trained on features" in r.getMessage() for r in caplog.records) == 1  # warned once
    shipped = store.ensure(TINY, FAST)
    build = lambda nlp: SpacyClassifier(nlp, ["es", "en", "fr"], "es")  # noqa: E731
    assert ReloadingClassifier(store, build, default=lambda: shipped, interval=0).model_path == shipped
