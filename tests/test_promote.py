"""`train --promote`: a candidate replaces the current model only if it is not worse on the
same held-out examples; `--force`, `--report`, and `moderation models list | promote`."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner, Result

from moderation import artifacts, dataset, training
from moderation.cli import app
from moderation.dataset import Example
from moderation.domain import Label
from tests.conftest import MODELS_DIR, ROOT
from tests.test_train_from_db import write_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two disjoint samples of the seed corpus as files, and a models folder whose current
    model was trained on the small one (60 examples) and recorded what it trained on."""
    examples = dataset.read_all(dataset.seed_files(ROOT / "training" / "data"))
    random.Random(5).shuffle(examples)
    spam = [e for e in examples if e.label is Label.SPAM]
    ham = [e for e in examples if e.label is Label.HAM]
    small: list[Example] = [*spam[:30], *ham[:30]]
    large: list[Example] = [*spam[30:155], *ham[30:155]]
    root = tmp_path_factory.mktemp("promote")
    write_jsonl(root / "small.jsonl", small)
    write_jsonl(root / "large.jsonl", large)
    models = root / "models"
    training.train(small, models / "v-current", folds=3)
    artifacts.promote(models, "v-current")
    return {"small": root / "small.jsonl", "large": root / "large.jsonl", "models": models}


@pytest.fixture
def models(data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the models folder, named by the environment the CLI reads."""
    folder = tmp_path / "models"
    shutil.copytree(data["models"], folder)
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(folder))
    return folder


def weak_pipeline(**_: object) -> Pipeline:
    """A model that ignores the text: every comment gets the same probability."""
    return Pipeline(
        [("features", HashingVectorizer(n_features=8)),
         ("classifier", DummyClassifier(strategy="prior"))]
    )  # fmt: skip


def train(data_file: Path, models: Path, version: str, *extra: str) -> Result:
    return runner.invoke(
        app,
        ["train", "--data", str(data_file), "--out", str(models / version), "--folds", "3",
         *extra],
    )  # fmt: skip


def test_a_better_candidate_is_promoted_and_both_are_shown_side_by_side(
    data: dict[str, Path], models: Path
) -> None:
    result = train(data["large"], models, "v-better", "--promote")

    assert result.exit_code == 0, result.output
    assert artifacts.current_version(models) == "v-better"
    out = result.stdout
    assert "held-out comparison on 50 of 50 held-out examples" in out
    assert "the held-out examples the current model did not train on" in out
    header = next(line for line in out.splitlines() if "candidate v-better" in line)
    assert "current v-current" in header
    auc_row = next(line for line in out.splitlines() if line.strip().startswith("ROC AUC"))
    candidate_auc, current_auc = (float(v) for v in auc_row.split()[-2:])
    assert candidate_auc > current_auc
    meta = json.loads((models / "v-better" / "metadata.json").read_text())
    assert meta["comparison"]["current_version"] == "v-current"
    assert meta["comparison"]["worse"] is False
    assert meta["n_examples"] == 250  # the saved model is fitted on all the data
    assert (models / "v-better" / training.TRAINING_KEYS_FILE).read_text().count("\n") == 250


def test_a_worse_candidate_is_refused_unless_forced(
    data: dict[str, Path], models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "build_pipeline", weak_pipeline)

    refused = train(data["large"], models, "v-weak", "--promote")

    assert refused.exit_code == 3, refused.output
    assert artifacts.current_version(models) == "v-current"
    assert "error: not promoted" in refused.stderr
    assert "moderation models promote v-weak" in refused.stderr
    assert artifacts.load(models / "v-weak").version == "v-weak"  # saved, for inspection

    forced = train(data["large"], models, "v-forced", "--promote", "--force")

    assert forced.exit_code == 0, forced.output
    assert artifacts.current_version(models) == "v-forced"


def test_without_promote_a_version_is_written_and_the_report_page_compares(
    data: dict[str, Path], models: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    result = train(data["large"], models, "v-new", "--report", str(page))

    assert result.exit_code == 0, result.output
    assert artifacts.current_version(models) == "v-current"
    assert artifacts.load(models / "v-new").version == "v-new"
    html = page.read_text(encoding="utf-8")
    for text in ("candidate v-new", "current v-current", "ROC curve", "Precision-recall curve",
                 "Scores of candidate v-new", "Scores of current v-current", "spam from",
                 "ham below", "discard from"):  # fmt: skip
        assert text in html
    # Cross-validation: ROC, PR, one histogram; held-out: ROC, PR, a histogram per model.
    assert html.count("<svg") == 3 + 4
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_comparison_on_examples_the_current_model_trained_on_refuses_nothing(
    data: dict[str, Path], models: Path
) -> None:
    # The current model was fitted on every one of these: it would score them too well.
    result = train(data["small"], models, "v-same", "--promote")

    assert result.exit_code == 0, result.output
    assert "inconclusive and refuses nothing" in result.stdout
    assert artifacts.current_version(models) == "v-same"


def test_the_shipped_model_is_known_to_have_trained_on_the_seed_corpus() -> None:
    seed = dataset.read_all(dataset.seed_files(ROOT / "training" / "data"))
    shipped = artifacts.load_current(MODELS_DIR)
    assert training.seen_by(shipped, seed) == frozenset(
        dataset.content_key(e.item.content) for e in seed
    )
    assert training.seen_by(shipped, seed[:-1]) is None


def test_models_list_and_promote(data: dict[str, Path], models: Path) -> None:
    shutil.copytree(models / "v-current", models / "v-older")

    listing = runner.invoke(app, ["models", "list"])

    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("  v-older\t")
    assert lines[1].startswith("* v-current\t")
    assert "60 examples" in lines[1]
    assert "cv ROC AUC 0." in lines[1]

    assert runner.invoke(app, ["models", "promote", "v-older"]).exit_code == 0
    assert artifacts.current_version(models) == "v-older"
    missing = runner.invoke(app, ["models", "promote", "v-missing"])
    assert missing.exit_code == 2
    assert "no metadata.json" in missing.stderr
    assert artifacts.current_version(models) == "v-older"


def test_evaluate_writes_a_report_page_at_the_models_thresholds(
    data: dict[str, Path], models: Path, tmp_path: Path
) -> None:
    page = tmp_path / "eval.html"
    result = runner.invoke(
        app, ["evaluate", "--data", str(data["large"]), "--report", str(page), "--json"]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 250
    html = page.read_text(encoding="utf-8")
    thresholds = training.model_thresholds(artifacts.read_metadata(models / "v-current"))
    assert f"spam from {thresholds['spam_threshold']:g}" in html
    assert "Scores of v-current" in html
