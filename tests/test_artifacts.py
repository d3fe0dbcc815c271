"""Model files: saved with metadata that vouches for them, refused when anything is off."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from moderation import artifacts
from moderation.artifacts import ArtifactError
from tests.conftest import MODELS_DIR


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A copy of the shipped models folder, free to tamper with."""
    target = tmp_path / "models"
    shutil.copytree(MODELS_DIR, target)
    return target


def current_dir(models: Path) -> Path:
    return models / artifacts.current_version(models)


def test_shipped_model_loads_and_names_its_version(models: Path) -> None:
    loaded = artifacts.load_current(models)
    assert loaded.version == current_dir(models).name
    assert loaded.metadata["sklearn_version"]
    assert loaded.metadata["data_sha256"]
    assert loaded.metadata["cross_validation"]["f1"] > 0.9


def test_one_flipped_byte_is_refused(models: Path) -> None:
    path = current_dir(models) / artifacts.MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match its metadata"):
        artifacts.load_current(models)


class _Payload:
    """A pickle that would write a file when loaded."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.target), "pwned"))


def test_malicious_pickle_never_runs(models: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    path = current_dir(models) / artifacts.MODEL_FILE
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ArtifactError, match="does not match"):
        artifacts.load_current(models)
    assert not marker.exists()


def test_other_sklearn_version_is_refused(models: Path) -> None:
    meta_path = current_dir(models) / artifacts.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["sklearn_version"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifacts.load_current(models)


@pytest.mark.parametrize("pointer", ["../../etc", "", "v1/../../x"])
def test_pointer_to_outside_the_folder_is_refused(models: Path, pointer: str) -> None:
    (models / artifacts.CURRENT_POINTER).write_text(pointer)
    with pytest.raises(ArtifactError, match="invalid model version"):
        artifacts.load_current(models)


def test_missing_pointer_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="moderation train --promote"):
        artifacts.load_current(tmp_path)


def test_promote_refuses_a_broken_version(models: Path) -> None:
    before = artifacts.current_version(models)
    broken = models / "broken"
    shutil.copytree(current_dir(models), broken)
    (broken / artifacts.MODEL_FILE).write_bytes(b"junk")
    with pytest.raises(ArtifactError):
        artifacts.promote(models, "broken")
    assert artifacts.current_version(models) == before


def test_verifying_checks_everything_load_checks_without_unpickling(
    models: Path, tmp_path: Path
) -> None:
    metadata = artifacts.verify_current(models)
    assert metadata == artifacts.load_current(models).metadata
    # A file whose checksum is then made to match: verify, which `serve` runs before it starts,
    # never unpickles it; load does (the checksum is what guards against such a file).
    marker = tmp_path / "pwned.txt"
    path = current_dir(models) / artifacts.MODEL_FILE
    path.write_bytes(pickle.dumps(_Payload(marker)))
    meta_path = current_dir(models) / artifacts.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["model_sha256"] = artifacts.sha256_file(path)
    meta_path.write_text(json.dumps(meta))
    artifacts.verify_current(models)
    assert not marker.exists()
