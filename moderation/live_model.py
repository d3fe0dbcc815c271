"""The model a running service scores with, reloaded when the CURRENT pointer moves."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from moderation import artifacts
from moderation.artifacts import ArtifactError, LoadedModel

log = logging.getLogger(__name__)


class LiveModel:
    """Holds the loaded model; a promoted version goes live within `check_every` seconds.

    A watcher thread reads the CURRENT pointer and loads a new version off the request path,
    so that `get()` never waits for a model to load.
    """

    def __init__(self, models_dir: Path, *, check_every: float = 2.0, watch: bool = True) -> None:
        self.models_dir = models_dir
        self.check_every = check_every
        self._lock = threading.Lock()
        self._model = artifacts.load_current(models_dir)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        if watch:
            self._watcher = threading.Thread(
                target=self._watch, name="moderation-model-watcher", daemon=True
            )
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every):
            self.reload_if_changed()

    def close(self) -> None:
        """Stop watching the pointer."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    @property
    def current(self) -> LoadedModel:
        """The loaded model, without checking the pointer."""
        return self._model

    def get(self) -> LoadedModel:
        """The model to score with."""
        return self._model

    def reload_if_changed(self) -> bool:
        """Load the version CURRENT names if it is not the live one; True when it changed.

        A version that fails verification is logged and refused: the live model keeps serving.
        """
        with self._lock:
            try:
                version = artifacts.current_version(self.models_dir)
                if version == self._model.version:
                    return False
                model = artifacts.load(self.models_dir / version)
            except ArtifactError as exc:
                log.error("keeping model %s: %s", self._model.version, exc)
                return False
            log.info("model %s is now live (was %s)", model.version, self._model.version)
            self._model = model
            return True
