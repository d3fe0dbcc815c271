"""`moderation train --from-db` and `moderation export`: decisions in the database feed training."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from moderation import dataset, store_training, training
from moderation.cli import app
from moderation.dataset import Example
from moderation.domain import Label
from moderation.features import TextInput
from tests.conftest import ROOT, Service

runner = CliRunner()


def ex(content: str, label: Label, name: str = "") -> Example:
    return Example(item=TextInput(content=content, author_name=name), label=label)


def test_merge_a_decision_wins_over_the_seed_and_a_later_one_over_an_earlier() -> None:
    seed = [ex("Cheap pills here", Label.SPAM), ex("Nice write-up", Label.HAM)]
    decisions = [
        ex("cheap   PILLS here", Label.HAM, "pharmacist"),  # relabels the seed's text
        ex("Buy followers", Label.HAM),
        ex("Nice write-up", Label.HAM),  # agrees with the seed
        ex("buy followers", Label.SPAM),  # a later decision on the same text
    ]

    merged = training.merge(seed, decisions)

    assert [(e.item.content, e.label) for e in merged.examples] == [
        ("cheap   PILLS here", Label.HAM),
        ("Nice write-up", Label.HAM),
        ("buy followers", Label.SPAM),
    ]
    assert merged.summary() == {"db_spam": 1, "db_ham": 2, "relabelled_seed_examples": 1,
                                "already_in_seed": 1}  # fmt: skip


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    """A shuffled sample of the seed corpus: small, so that training takes a second or two."""
    examples = dataset.read_all(dataset.seed_files(ROOT / "training" / "data"))
    random.Random(11).shuffle(examples)
    return examples[:200]


def write_jsonl(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for e in examples:
            row = {"content": e.item.content, "label": e.label.value,
                   "author_name": e.item.author_name, "author_url": e.item.author_url}  # fmt: skip
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def submit(service: Service, example: Example) -> None:
    """A blog's correction through the Akismet API: a labelled sample in the database."""
    path = "/1.1/submit-spam" if example.label is Label.SPAM else "/1.1/submit-ham"
    response = service.client.post(
        path,
        data={"api_key": service.key, "blog": "https://blog.example",
              "comment_content": example.item.content,
              "comment_author": example.item.author_name or "someone",
              "comment_author_email": "someone@example.org"},
    )  # fmt: skip
    assert response.status_code == 200, response.text


@pytest.fixture
def env(
    service: Service, corpus: list[Example], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A seed corpus of 150 examples and 40 more labelled in the database (one relabels a
    seed example); the CLI's environment points at both."""
    seed, labelled = corpus[:150], corpus[150:190]
    write_jsonl(tmp_path / "seed" / "small.jsonl", seed)
    for example in labelled:
        submit(service, example)
    flipped = Label.HAM if seed[0].label is Label.SPAM else Label.SPAM
    submit(service, Example(item=seed[0].item, label=flipped))
    values = {
        "MODERATION_DATABASE_URL": service.settings.database_url_value,
        "MODERATION_SEED_DATA_DIR": str(tmp_path / "seed"),
        "MODERATION_MODELS_DIR": str(tmp_path / "models"),
        "MODERATION_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    db_spam = sum(e.label is Label.SPAM for e in labelled) + (flipped is Label.SPAM)
    return {"values": values, "seed": seed, "store": service.store, "labelled": labelled,
            "db_spam": db_spam, "flipped": flipped}  # fmt: skip


def test_train_from_db_learns_the_decisions_and_says_how_many(
    env: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "models" / "v-db"
    result = runner.invoke(app, ["train", "--from-db", "--folds", "3", "--out", str(out)])

    assert result.exit_code == 0, result.output
    db_spam = env["db_spam"]
    assert (
        f"from the database: 41 labelled comments ({db_spam} spam, {41 - db_spam} ham); "
        "1 relabel a seed example, 0 were already in the seed corpus"
    ) in result.stdout
    for word in ("accuracy", "f1", "mcc", "roc_auc", "suggested thresholds"):
        assert word in result.stdout  # the same report as training from files
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["n_examples"] == 150 + 40
    assert meta["from_db"]["relabelled_seed_examples"] == 1
    assert "database (every site)" in meta["data_sources"]
    # Trained on exactly the seed with the decisions merged in (the relabelled text once).
    merged = training.merge(env["seed"], store_training.labelled_examples(env["store"]))
    assert meta["data_sha256"] == dataset.data_hash(merged.examples)
    relabelled = [e for e in merged.examples if e.item.content == env["seed"][0].item.content]
    assert [e.label for e in relabelled] == [env["flipped"]]
    assert not (tmp_path / "models" / "CURRENT").exists()  # not promoted without --promote


def store_training_examples(env: dict[str, Any]) -> list[Example]:
    seed: list[Example] = env["seed"]
    labelled: list[Example] = env["labelled"]
    return [*labelled, Example(item=seed[0].item, label=env["flipped"])]


def test_export_writes_the_training_format_and_warns_about_emails(
    env: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "labelled.jsonl"
    result = runner.invoke(app, ["export", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "wrote 41 labelled comment(s)" in result.stderr
    examples = list(dataset.read(out))
    assert [(e.item.content, e.label) for e in examples] == [
        (e.item.content, e.label) for e in store_training_examples(env)
    ]
    assert all(e.author_email == "someone@example.org" for e in examples)
    help_text = runner.invoke(app, ["export", "--help"]).stdout
    assert "email" in help_text
    assert "private" in help_text
    # A site that does not exist is a clear error, not a traceback.
    result = runner.invoke(app, ["export", "--out", str(out), "--site", "nope"])
    assert result.exit_code == 2
    assert "no site named 'nope'" in result.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_training_script_takes_from_db(env: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "models" / "v-script"
    result = subprocess.run(
        [sys.executable, str(ROOT / "training" / "train.py"), "--from-db", "--folds", "3",
         "--out", str(out), "--json"],
        capture_output=True, text=True, check=False, env={**os.environ, **env["values"]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    meta = json.loads(result.stdout)
    assert meta["n_examples"] == 190
    assert meta["from_db"]["db_spam"] == env["db_spam"]
    assert meta["promoted"] is False


def test_site_needs_from_db(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--site", "blog", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "--site needs --from-db" in result.stderr


def test_labelled_examples_match_what_train_reads(env: dict[str, Any], service: Service) -> None:
    examples = store_training.labelled_examples(service.store, site="blog")
    assert [(e.item.content, e.label) for e in examples] == [
        (e.item.content, e.label) for e in store_training_examples(env)
    ]


def test_streaming_from_db_merges_as_the_exact_method_does(
    env: dict[str, Any], tmp_path: Path
) -> None:
    # The whole seed corpus, so that each 5% slice holds both labels.
    whole = dataset.read_all(dataset.seed_files(ROOT / "training" / "data"))
    write_jsonl(tmp_path / "whole.jsonl", whole)
    out = tmp_path / "models" / "v-db-stream"
    result = runner.invoke(
        app,
        ["train", "--data", str(tmp_path / "whole.jsonl"), "--from-db", "--method", "streaming",
         "--out", str(out), "--json"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert meta["cross_validation"]["method"] == "streaming"
    merged = training.merge(whole, store_training.labelled_examples(env["store"]))
    assert meta["from_db"] == merged.summary()
    assert meta["from_db"]["relabelled_seed_examples"] == 1
    assert meta["n_examples"] == len(merged.examples)
    assert meta["data_sha256"] != dataset.data_hash(whole)
