"""The model a running service scores with, reloaded when the CURRENT pointer moves."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from moderation import artifacts
from moderation.artifacts import ArtifactError, LoadedModel

log = logging.getLogger(__name__)


class LiveModel:
    """Holds the loaded model; `get()` notices a promoted version within `check_every` seconds."""

    def __init__(self, models_dir: Path, *, check_every: float = 2.0) -> None:
        self.models_dir = models_dir
        self.check_every = check_every
        self._lock = threading.Lock()
        self._model = artifacts.load_current(models_dir)
        self._checked_at = time.monotonic()

    @property
    def current(self) -> LoadedModel:
        """The loaded model, without checking the pointer."""
        return self._model

    def get(self) -> LoadedModel:
        """The model to score with, reloading first if the pointer names another version."""
        if time.monotonic() - self._checked_at >= self.check_every:
            self.reload_if_changed()
        return self._model

    def reload_if_changed(self) -> bool:
        """Load the version CURRENT names if it is not the live one; True when it changed.

        A version that fails verification is logged and refused: the live model keeps serving.
        """
        with self._lock:
            self._checked_at = time.monotonic()
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
