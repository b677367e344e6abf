"""Trained models on disk: content-addressed, trained on first use, and one of them active.

- A model's directory name is a hash of everything it was trained on (examples + settings),
  so the same inputs always give the same directory, and `classifier train` on the repo
  reproduces the shipped model.
- `<cache>/<hash>/` holds models (`CITYBOT_MODEL_CACHE`, else `<models_dir>`).
- `<models_dir>/ACTIVE` names the model the bot uses; without it, the shipped corpus's model.
- `ReloadingClassifier` notices a new ACTIVE and swaps models without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from spacy.language import Language

from classifiers.base import Classification, classify_all
from classifiers.corpus import Example
from classifiers.features import FEATURES_VERSION
from classifiers.model import ARCHITECTURES, TrainSettings, load, save, train

CACHE_ENV = "CITYBOT_MODEL_CACHE"
log = logging.getLogger(__name__)


def fingerprint(examples: list[Example], settings: TrainSettings) -> str:
    """The model's name: everything it is trained on (the language too, which the language
    textcat learns), so other inputs never reuse a stored model."""
    model = ARCHITECTURES.get(settings.architecture)  # the architecture's own settings count too
    digest = hashlib.sha256(json.dumps({**asdict(settings), "features": FEATURES_VERSION, "model": model},
                                       sort_keys=True).encode())
    for example in examples:
        weight = "" if example.weight == 1.0 else f"\t{float(example.weight)!r}"  # 2 and 2.0 alike
        digest.update(f"{example.category}\t{example.lang or ''}\t{example.text}{weight}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def model_features_version(path: Path) -> int | None:
    """The features version a stored model was trained on (None: unknown, from before versions)."""
    try:
        return json.loads((path / "citybot.json").read_text(encoding="utf-8")).get("features")
    except (OSError, ValueError, AttributeError):
        return None


class ModelStore:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self.cache_dir = Path(os.environ.get(CACHE_ENV) or models_dir)
        self._warned: set[Path] = set()

    @property
    def active_file(self) -> Path:
        return self.models_dir / "ACTIVE"

    def path_for(self, examples: list[Example], settings: TrainSettings) -> Path:
        return self.cache_dir / fingerprint(examples, settings)

    def ensure(self, examples: list[Example], settings: TrainSettings, progress: Callable[[int, float], None] | None = None) -> Path:
        """The model for these inputs, trained now if it is not on disk yet."""
        path = self.path_for(examples, settings)
        if not (path / "meta.json").exists():
            nlp = train(examples, settings, progress)
            tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
            save(nlp, tmp)
            (tmp / "citybot.json").write_text(json.dumps({"examples": len(examples), "settings": asdict(settings),
                                                          "features": FEATURES_VERSION}), encoding="utf-8")
            try:
                tmp.rename(path)
            except OSError:  # another process finished the same model first
                pass
        return path

    def activate(self, path: Path) -> None:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.active_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(str(path.resolve()), encoding="utf-8")
        tmp.replace(self.active_file)

    def active_path(self) -> Path | None:
        """The activated model, or None: none activated, gone, or trained on other features.

        After an upgrade that changes the features, a city's own model would read posts it was not
        trained on; the bot then uses the shipped model, with one warning, until `classifier train`.
        """
        try:
            path = Path(self.active_file.read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            return None
        if not (path / "meta.json").exists():
            return None
        version = model_features_version(path)
        if version != FEATURES_VERSION:
            if path not in self._warned:
                self._warned.add(path)
                log.warning("the active model %s was trained on features v%s, this version computes v%s: using the "
                            "shipped model until `citybot classifier train` is run again", path, version, FEATURES_VERSION)
            return None
        return path

    def active_stamp(self) -> float:
        try:
            return self.active_file.stat().st_mtime
        except FileNotFoundError:
            return 0.0


class ReloadingClassifier:
    """Wraps a classifier built from the active model; checks for a newer one every `interval` seconds."""

    def __init__(self, store: ModelStore, build: Callable[[Language], object], default: Callable[[], Path], interval: float = 5.0) -> None:
        self.store = store
        self.build = build
        self.default = default
        self.interval = interval
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp = -1.0
        self._current = None
        self._path: Path | None = None
        self._refresh(force=True)

    @property
    def model_path(self) -> Path | None:
        return self._path

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return
        self._checked = now
        stamp = self.store.active_stamp()
        if stamp == self._stamp and self._current is not None:
            return
        path = self.store.active_path() or self.default()
        if path != self._path or self._current is None:
            self._current = self.build(load(path))
            self._path = path
        self._stamp = stamp

    def _model(self):
        """The current classifier, after a check for a newer active model."""
        with self._lock:
            self._refresh()
            return self._current

    def classify(self, text: str, lang_hint: str | None = None) -> Classification:
        return self._model().classify(text, lang_hint)

    def classify_many(self, texts: list[str], lang_hints: list[str | None] | None = None) -> list[Classification]:
        """One model for the whole batch; `classify` of each post, the same results."""
        return classify_all(self._model(), texts, lang_hints)
