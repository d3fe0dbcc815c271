"""The model a running service scores with, reloaded when the CURRENT pointer moves.

Three ways make a promoted version live: the watcher notices the pointer within `check_every`
seconds; `request_reload()` (what SIGHUP calls) wakes the watcher at once; `reload()` (what the
admin endpoint calls) loads it before answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moderation import artifacts
from moderation.artifacts import ArtifactError, LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reload:
    """The outcome of a reload: the live version, the one before, whether it changed."""

    version: str
    previous: str
    changed: bool


class LiveModel:
    """Holds the loaded model; a promoted version goes live within `check_every` seconds.

    A watcher thread reads the CURRENT pointer and loads a new version off the request path,
    so that `get()` never waits for a model to load.
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        check_every: float = 2.0,
        watch: bool = True,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.check_every = check_every
        self._lock = threading.Lock()
        self._model = artifacts.load_current(models_dir)
        # Told the live version on start and after each change (the metrics' model_info).
        self._on_change = on_change
        if on_change is not None:
            on_change(self._model.version)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._watcher: threading.Thread | None = None
        if watch:
            self._watcher = threading.Thread(
                target=self._watch, name="moderation-model-watcher", daemon=True
            )
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.check_every)
            self._wake.clear()
            if not self._stop.is_set():
                self.reload_if_changed()

    def request_reload(self) -> None:
        """Ask the watcher to check the pointer now; safe to call from a signal handler."""
        if self._watcher is None:
            self.reload_if_changed()
        else:
            self._wake.set()

    def close(self) -> None:
        """Stop watching the pointer."""
        self._stop.set()
        self._wake.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    @property
    def current(self) -> LoadedModel:
        """The loaded model, without checking the pointer."""
        return self._model

    def get(self) -> LoadedModel:
        """The model to score with."""
        return self._model

    def reload(self) -> Reload:
        """Load the version CURRENT names if it is not the live one.

        ArtifactError when the pointer or the version it names cannot be loaded: the live model
        keeps serving.
        """
        with self._lock:
            previous = self._model.version
            version = artifacts.current_version(self.models_dir)
            if version == previous:
                return Reload(version=version, previous=previous, changed=False)
            model = artifacts.load(self.models_dir / version)
            log.info("model %s is now live (was %s)", model.version, previous)
            self._model = model
            if self._on_change is not None:
                self._on_change(model.version)
            return Reload(version=model.version, previous=previous, changed=True)

    def reload_if_changed(self) -> bool:
        """`reload`, logging a refusal instead of raising; True when the live model changed."""
        try:
            return self.reload().changed
        except ArtifactError as exc:
            log.error("keeping model %s: %s", self._model.version, exc)
            return False
