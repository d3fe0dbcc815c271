"""Save and load model versions: a joblib file beside metadata that vouches for it.

joblib runs code when it loads a file, so a model is only unpickled after its sha256 matches
the metadata and the metadata's scikit-learn version matches the one installed.

Beside the pipeline, a version keeps its scorer state (`scorer.pickle`: only numbers, strings
and lists, read by an unpickler that refuses any class or function, after its own sha256): a
service loads that alone, scores without importing scikit-learn, and starts in about half the
time. The pipeline itself is loaded when something asks for it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import logging
import os
import pickle
import re
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moderation.classifier import SpamClassifier

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.joblib"
SCORER_FILE = "scorer.pickle"
METADATA_FILE = "metadata.json"
CURRENT_POINTER = "CURRENT"
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
log = logging.getLogger(__name__)


class ArtifactError(Exception):
    """A model version that cannot or must not be loaded."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A verified classifier and the metadata it was saved with."""

    version: str
    classifier: SpamClassifier
    metadata: dict[str, Any]
    path: Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_version_name(version: str) -> str:
    """The version name, if it is safe as a folder name; else ArtifactError."""
    if not _VERSION_NAME.match(version):
        raise ArtifactError(
            f"invalid model version name {version!r}: use letters, digits, '.', '_' or '-'"
        )
    return version


def _sklearn_version() -> str:
    # From the installed package's metadata: importing scikit-learn takes a second or more.
    return importlib.metadata.version("scikit-learn")


def save(classifier: SpamClassifier, out_dir: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write model.joblib, scorer.pickle (when the pipeline has one: see `scorer_state`) and
    metadata.json (with their sha256 and the scikit-learn version) to out_dir."""
    import joblib

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    joblib.dump(classifier.pipeline, model_path, compress=3)
    full = dict(metadata)
    full["version"] = check_version_name(str(full.get("version") or out_dir.name))
    full["sklearn_version"] = _sklearn_version()
    full["model_file"] = MODEL_FILE
    full["model_sha256"] = sha256_file(model_path)
    full.pop("scorer_sha256", None)
    state = classifier.scorer_state()
    if state is not None:
        scorer_path = out_dir / SCORER_FILE
        scorer_path.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
        full["scorer_sha256"] = sha256_file(scorer_path)
    _write_atomically(out_dir / METADATA_FILE, json.dumps(full, indent=2, sort_keys=True) + "\n")
    return full


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """The metadata of a model version; ArtifactError when missing or unreadable."""
    path = model_dir / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"no {METADATA_FILE} in {model_dir}") from exc
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"unreadable {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} is not a JSON object")
    return data


def verify(model_dir: Path) -> dict[str, Any]:
    """A model version's metadata, once its scikit-learn version and its file's sha256 match;
    ArtifactError otherwise. Nothing is unpickled."""
    metadata = read_metadata(model_dir)
    wanted = metadata.get("sklearn_version")
    installed = _sklearn_version()
    if wanted != installed:
        raise ArtifactError(
            f"model in {model_dir} was made with scikit-learn {wanted}, but "
            f"{installed} is installed; retrain it with `moderation train`"
        )
    _check_file(model_dir / MODEL_FILE, metadata.get("model_sha256"))
    if "scorer_sha256" in metadata:
        _check_file(model_dir / SCORER_FILE, metadata["scorer_sha256"])
    return metadata


def _check_file(path: Path, expected: object) -> None:
    if not path.is_file():
        raise ArtifactError(f"no {path.name} in {path.parent}")
    actual = sha256_file(path)
    if not isinstance(expected, str) or actual != expected:
        raise ArtifactError(
            f"{path} does not match its metadata (sha256 {actual}, expected {expected}); "
            "refusing to load a modified model file"
        )


def load(model_dir: Path) -> LoadedModel:
    """Load a model version after checking its scikit-learn version and sha256: its scorer
    state when it has one (the pipeline then loads, checked again, when first asked for),
    else its pipeline."""
    metadata = verify(model_dir)
    model_path = model_dir / MODEL_FILE
    if "scorer_sha256" in metadata:
        try:
            classifier = SpamClassifier.from_state(
                _read_scorer_state(model_dir / SCORER_FILE),
                lambda: _read_pipeline(model_dir),
            )
        except ValueError as exc:
            raise ArtifactError(f"unreadable {model_dir / SCORER_FILE}: {exc}") from exc
    else:
        # joblib runs code from the file: only a file whose checksum matched gets here.
        classifier = SpamClassifier(read_joblib(model_path))
    # The folder's name is the version: it is what the CURRENT pointer names.
    version = check_version_name(model_dir.name)
    return LoadedModel(version=version, classifier=classifier, metadata=metadata, path=model_dir)


def _read_pipeline(model_dir: Path) -> Pipeline:
    """The pipeline of a version loaded earlier from its scorer state: checked again, as the
    file may have been replaced since."""
    verify(model_dir)
    pipeline: Pipeline = read_joblib(model_dir / MODEL_FILE)
    return pipeline


class _PlainUnpickler(pickle.Unpickler):
    """Numbers, strings, bytes, lists and dicts only: a class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise ValueError(f"the scorer state names {module}.{name}")


def _read_scorer_state(path: Path) -> dict[str, Any]:
    try:
        state = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, IndexError, TypeError, OverflowError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError("not a dict")
    return state


class _UnsupportedError(Exception):
    """A joblib file the quick reader leaves to joblib itself."""


class _JoblibStream:
    """The bytes of a joblib file, with opcodes to hand the unpickler before the rest."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self.pending = b""

    @property
    def consumed(self) -> bool:
        """Whether every byte (and every handed opcode) was read."""
        return not self.pending and self._pos == len(self._data)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all with -1): the pending opcodes first."""
        head = self.pending[:size] if size >= 0 else self.pending
        self.pending = self.pending[len(head) :]
        want = len(self._data) - self._pos if size < 0 else size - len(head)
        end = min(self._pos + want, len(self._data))
        tail = self._data[self._pos : end]
        self._pos = end
        return head + tail.tobytes() if head else tail.tobytes()

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` as far as the bytes go; the count read."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        """A line of the pending opcodes (the only text opcodes a joblib file makes us read)."""
        end = self.pending.find(b"\n") + 1
        if end == 0:
            raise _UnsupportedError("a text opcode in the file")
        line, self.pending = self.pending[:end], self.pending[end:]
        return line


# After a NumpyArrayWrapper is built: drop it and push the array it described, which is what
# joblib's own unpickler does to its stack.
_ARRAY_MODULE = "\x00joblib-array"
_PUSH_ARRAY = b"0c" + _ARRAY_MODULE.encode() + b"\nnext\n)R"
_JOBLIB_ZLIB = b"\x78"
_PICKLE = b"\x80"


def _read_joblib_quickly(path: Path) -> Any:
    """joblib.load of a zlib-compressed or plain joblib file, with the C unpickler.

    joblib's unpickler is pickle's pure-Python one (it reads the raw bytes of each array from
    the stream right after the array's wrapper is built); a model's vocabularies are hundreds
    of thousands of small objects, which it reads several times slower. The wrappers are the
    only objects joblib treats specially, and between them the stream is plain pickle.
    """
    from joblib.numpy_pickle import NumpyArrayWrapper

    raw = path.read_bytes()
    if raw[:1] == _JOBLIB_ZLIB:
        inflate = zlib.decompressobj()
        data = inflate.decompress(raw) + inflate.flush()
        if not inflate.eof or inflate.unused_data:
            raise _UnsupportedError("not one zlib stream")
    elif raw[:1] == _PICKLE:
        data = raw
    else:
        raise _UnsupportedError("another compression")
    stream = _JoblibStream(data)
    arrays: list[Any] = []

    class Reader:
        # What NumpyArrayWrapper.read asks of joblib's unpickler.
        file_handle = stream
        mmap_mode = None

    Reader.np = np  # type: ignore[attr-defined]

    class ArrayWrapper:
        def __setstate__(self, state: dict[str, Any]) -> None:
            wrapper = NumpyArrayWrapper.__new__(NumpyArrayWrapper)
            wrapper.__dict__.update(state)
            if wrapper.dtype.hasobject:
                raise _UnsupportedError("an array of objects")
            arrays.append(wrapper.read(Reader, True))
            stream.pending = _PUSH_ARRAY

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
                return ArrayWrapper
            if module == _ARRAY_MODULE:
                return arrays.pop
            if module == "joblib.numpy_pickle" or module == "joblib.numpy_pickle_compat":
                raise _UnsupportedError(f"{module}.{name}")
            return super().find_class(module, name)

    obj = Unpickler(stream).load()
    if not stream.consumed or arrays:
        raise _UnsupportedError("bytes left after the pickle")
    return obj


def read_joblib(path: Path) -> Any:
    """What joblib.load(path) returns, read several times faster when the layout allows it."""
    try:
        return _read_joblib_quickly(path)
    except Exception as exc:  # joblib itself reads it, or says what is wrong with it
        log.debug("reading %s with joblib: %s", path, exc)
        import joblib

        return joblib.load(path)


def current_version(models_dir: Path) -> str:
    """The version named by the models folder's CURRENT pointer."""
    pointer = models_dir / CURRENT_POINTER
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"no {CURRENT_POINTER} pointer in {models_dir}: train a model with "
            "`moderation train --promote`"
        ) from exc
    return check_version_name(version)


def verify_current(models_dir: Path) -> dict[str, Any]:
    """`verify` the version the CURRENT pointer names."""
    return verify(models_dir / current_version(models_dir))


def load_current(models_dir: Path) -> LoadedModel:
    """Load the version the CURRENT pointer names."""
    return load(models_dir / current_version(models_dir))


def promote(models_dir: Path, version: str) -> None:
    """Point CURRENT at a version, atomically, after checking that it loads."""
    load(models_dir / check_version_name(version))
    _write_atomically(models_dir / CURRENT_POINTER, version + "\n")


def _write_atomically(path: Path, text: str) -> None:
    # A reader (another instance watching the pointer) sees the old or the new file, never half.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
