"""Model files: saved with metadata that vouches for them, refused when anything is off."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moderation import artifacts
from moderation.artifacts import ArtifactError
from moderation.classifier import SpamClassifier
from moderation.dataset import read_all, seed_files
from moderation.features import TextInput
from tests.conftest import MODELS_DIR, ROOT


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A copy of the shipped models folder, free to tamper with."""
    target = tmp_path / "models"
    shutil.copytree(MODELS_DIR, target)
    return target


def current_dir(models: Path) -> Path:
    return models / artifacts.current_version(models)


def edit_metadata(models: Path, change: Callable[[dict[str, Any]], object]) -> None:
    """Apply `change` to the current version's metadata.json, as someone tampering would."""
    meta_path = current_dir(models) / artifacts.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))


def test_shipped_model_loads_and_names_its_version(models: Path) -> None:
    loaded = artifacts.load_current(models)
    assert loaded.version == current_dir(models).name
    assert loaded.metadata["sklearn_version"]
    assert loaded.metadata["data_sha256"]
    assert loaded.metadata["cross_validation"]["f1"] > 0.9


@pytest.mark.parametrize("name", [artifacts.MODEL_FILE, artifacts.SCORER_FILE])
def test_one_flipped_byte_is_refused(models: Path, name: str) -> None:
    path = current_dir(models) / name
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
    edit_metadata(models, lambda meta: meta.update(sklearn_version="0.24.2"))
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
    edit_metadata(models, lambda meta: meta.update(model_sha256=artifacts.sha256_file(path)))
    artifacts.verify_current(models)
    assert not marker.exists()


def _seed_inputs() -> list[TextInput]:
    return [ex.item for ex in read_all(seed_files(ROOT / "training" / "data"))][::7]


def test_shipped_model_scores_from_its_state_as_from_its_pipeline(models: Path) -> None:
    loaded = artifacts.load_current(models)
    assert "scorer_sha256" in loaded.metadata
    items = _seed_inputs()
    from_state = loaded.classifier.score_many(items)
    from_pipeline = SpamClassifier(artifacts.read_joblib(current_dir(models) / "model.joblib"))
    assert from_state == from_pipeline.score_many(items)
    # Saved again, a version loaded from its state writes the same state.
    assert loaded.classifier.scorer_state() == from_pipeline.scorer_state()
    # The pipeline itself, asked for only now, gives the same probabilities (in float32).
    probabilities = loaded.classifier.spam_probabilities(items).tolist()
    assert [s.spam_probability for s in from_state] == pytest.approx(probabilities, rel=1e-5)


def test_the_pipeline_is_checked_again_when_first_asked_for(models: Path) -> None:
    loaded = artifacts.load_current(models)
    path = current_dir(models) / artifacts.MODEL_FILE
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    assert loaded.classifier.score(TextInput("still scores")).spam_probability >= 0
    with pytest.raises(ArtifactError, match="does not match its metadata"):
        _ = loaded.classifier.pipeline


def _vouch_for(models: Path, path: Path) -> None:
    edit_metadata(models, lambda meta: meta.update(scorer_sha256=artifacts.sha256_file(path)))


def test_a_scorer_state_naming_any_class_is_refused_unrun(models: Path, tmp_path: Path) -> None:
    # Even with a matching checksum: the state is read by an unpickler that refuses classes.
    marker = tmp_path / "pwned.txt"
    path = current_dir(models) / artifacts.SCORER_FILE
    path.write_bytes(pickle.dumps(_Payload(marker)))
    _vouch_for(models, path)
    with pytest.raises(ArtifactError, match="unreadable"):
        artifacts.load_current(models)
    assert not marker.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda state: state.update(format=2),
        lambda state: state.update(coef=state["coef"][:-8]),
        lambda state: state["parts"][0].update(terms=state["parts"][0]["terms"][:-1]),
        lambda state: state["parts"][1].update(analyzer="char"),
        lambda state: state.pop("intercept"),
        lambda state: state.update(parts="x"),
    ],
    ids=["format", "coef", "terms", "analyzer", "missing", "type"],
)
def test_a_scorer_state_that_does_not_add_up_is_refused(
    models: Path, change: Callable[[dict[str, Any]], object]
) -> None:
    path = current_dir(models) / artifacts.SCORER_FILE
    state = pickle.loads(path.read_bytes())
    change(state)
    path.write_bytes(pickle.dumps(state))
    _vouch_for(models, path)
    with pytest.raises(ArtifactError, match="unreadable"):
        artifacts.load_current(models)


def test_a_version_without_scorer_state_loads_its_pipeline(models: Path) -> None:
    expected = artifacts.load_current(models).classifier.score_many(_seed_inputs())
    (current_dir(models) / artifacts.SCORER_FILE).unlink()
    edit_metadata(models, lambda meta: meta.pop("scorer_sha256"))
    assert artifacts.load_current(models).classifier.score_many(_seed_inputs()) == expected


def test_scoring_with_the_shipped_model_never_imports_scikit_learn(models: Path) -> None:
    # Importing scikit-learn is most of a cold start; the service scores without it. The CLI
    # that starts it is built as `moderation serve` builds it (typer reads every command's
    # signature then).
    code = (
        "import sys; from pathlib import Path; from typer.main import get_command; "
        "import moderation.app, moderation.cli; get_command(moderation.cli.app); "
        "from moderation import artifacts, backlog; from moderation.features import TextInput; "
        f"m = artifacts.load_current(Path({str(models)!r})); "
        "m.classifier.score_many([TextInput('cheap pills at pills.example', 'x')] * 20); "
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'sklearn', 'joblib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
