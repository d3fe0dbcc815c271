"""`moderation train` and `moderation evaluate`: reports, artifacts and the quality bar."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moderation import artifacts, training, training_stream
from moderation.cli import app
from moderation.dataset import read_all, seed_files
from tests.conftest import ROOT, SHARED_DATA

SMS = SHARED_DATA / "sms-spam-collection" / "SMSSpamCollection"
runner = CliRunner()


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 seed comments as a CSV training file."""
    import csv

    examples = read_all(seed_files(ROOT / "training" / "data"))
    random.Random(7).shuffle(examples)
    path = tmp_path_factory.mktemp("data") / "small.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["content", "label", "author_name", "author_url"])
        for ex in examples[:400]:
            writer.writerow([ex.item.content, ex.label.value, ex.item.author_name,
                             ex.item.author_url])  # fmt: skip
    return path


def test_train_writes_a_verified_version_with_its_report(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "models" / "v-test"
    result = runner.invoke(app, ["train", "--data", str(small_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for word in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "confusion",
                 "suggested thresholds"):  # fmt: skip
        assert word in result.stdout
    assert "cross-validation fold 5/5" in result.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model_sha256"] == artifacts.sha256_file(out / "model.joblib")
    assert meta["n_examples"] == 400
    assert meta["data_sha256"]
    assert set(meta["cross_validation"]) >= {"accuracy", "f1", "mcc", "roc_auc", "confusion"}
    assert artifacts.load(out).version == "v-test"


def test_train_promote_moves_the_pointer(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(models))
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(small_csv),
            "--out",
            str(models / "v2"),
            "--promote",
            "--folds",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert artifacts.current_version(models) == "v2"


def test_evaluate_prints_the_documented_json(small_csv: Path) -> None:
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            str(ROOT / "models" / artifacts.current_version(ROOT / "models")),
            "--data",
            str(small_csv),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"n", "accuracy", "precision", "recall", "f1", "mcc", "roc_auc",
                         "confusion"}  # fmt: skip
    assert body["n"] == 400
    assert body["accuracy"] > 0.9


def test_bad_training_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("content,label\nhello,perhaps\n")
    result = runner.invoke(app, ["train", "--data", str(path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "bad.csv:2: label must be" in result.stderr


@pytest.mark.skipif(not SMS.exists(), reason=f"the SMS Spam Collection is not at {SMS}")
def test_quality_bar_on_the_sms_spam_collection(tmp_path: Path) -> None:
    """5-fold cross-validation through `moderation train`: accuracy >= 99.0%, spam F1 >= 0.965."""
    result = runner.invoke(
        app, ["train", "--data", str(SMS), "--out", str(tmp_path / "sms"), "--json"]
    )
    assert result.exit_code == 0, result.output
    cv = json.loads(result.stdout)["cross_validation"]
    print(f"\nSMS Spam Collection, 5-fold CV: accuracy {cv['accuracy']:.4f}, "
          f"spam F1 {cv['f1']:.4f}, MCC {cv['mcc']:.4f}, ROC-AUC {cv['roc_auc']:.4f}")  # fmt: skip
    assert cv["accuracy"] >= 0.990
    assert cv["f1"] >= 0.965


@pytest.fixture(scope="module")
def seed_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole seed corpus as one JSONL training file."""
    path = tmp_path_factory.mktemp("data") / "seed.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for ex in read_all(seed_files(ROOT / "training" / "data")):
            handle.write(json.dumps({"content": ex.item.content, "label": ex.label.value,
                                     "author_name": ex.item.author_name,
                                     "author_url": ex.item.author_url}) + "\n")  # fmt: skip
    return path


def test_a_corpus_past_the_threshold_is_trained_by_streaming(
    seed_jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training_stream, "STREAMING_FROM", 2000)
    out = tmp_path / "models" / "v-streamed"
    result = runner.invoke(app, ["train", "--data", str(seed_jsonl), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "epoch 3/3" in result.stderr
    assert "held-out examples (streaming: trained on" in result.stdout
    meta = json.loads((out / "metadata.json").read_text())
    report = meta["cross_validation"]
    assert report["method"] == "streaming"
    assert (
        meta["n_examples"]
        == report["training_examples"] + report["calibration_examples"] + (report["held_out"])
    )
    assert meta["thresholds"] == report["suggested_thresholds"]
    assert artifacts.load(out).classifier.score_many([read_all([seed_jsonl])[0].item])
    lines = (out / training.TRAINING_KEYS_FILE).read_text().splitlines()
    assert len(lines) == len(set(lines)) > 2000 * 0.85
    # Below the threshold, and when asked, the exact path runs.
    monkeypatch.setattr(training_stream, "STREAMING_FROM", 5000)
    exact = runner.invoke(
        app,
        ["train", "--data", str(seed_jsonl), "--out", str(tmp_path / "e"), "--folds", "2",
         "--json"],
    )  # fmt: skip
    assert exact.exit_code == 0, exact.output
    assert json.loads(exact.stdout)["cross_validation"]["folds"] == 2


def test_streaming_compares_with_the_current_model_before_promoting(
    seed_jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    models = tmp_path / "models"
    shipped = artifacts.current_version(ROOT / "models")
    shutil.copytree(ROOT / "models" / shipped, models / shipped)
    artifacts.promote(models, shipped)
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(models))
    report_page = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["train", "--data", str(seed_jsonl), "--method", "streaming", "--out",
         str(models / "v-new"), "--promote", "--force", "--report", str(report_page), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    comparison = meta["comparison"]
    assert comparison["current_version"] == shipped
    assert comparison["n_held_out"] == meta["cross_validation"]["held_out"]
    # The shipped model trained on the whole seed corpus: nothing held out is new to it.
    assert not comparison["conclusive"]
    assert artifacts.current_version(models) == "v-new"
    page = report_page.read_text()
    assert "held-out examples (streaming" in page
    assert "The candidate is the new model" in page
