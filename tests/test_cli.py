"""The `moderation` command as an operator uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moderation.cli import app
from tests.conftest import MODELS_DIR

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODERATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.delenv("MODERATION_DATABASE_URL", raising=False)
    return tmp_path


COMMANDS = [
    [], ["serve"], ["train"], ["evaluate"], ["score"], ["sites"], ["sites", "add"],
    ["migrate"], ["export"], ["models"], ["moderators"], ["moderators", "add"], ["purge"],
    ["webhooks"], ["forget"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moderation.cli", *command, "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_sites_add_prints_a_key_once_and_lists_the_site(env: Path) -> None:
    result = runner.invoke(app, ["sites", "add", "campus", "--url", "https://campus.example"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("mod_")
    assert len(key) > 40
    listing = runner.invoke(app, ["sites", "list"]).stdout
    assert "campus" in listing
    assert key not in listing
    again = runner.invoke(app, ["sites", "add", "campus"])
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_sites_policy_set_and_revoke(env: Path) -> None:
    key = runner.invoke(app, ["sites", "add", "campus"]).stdout.strip()
    result = runner.invoke(
        app,
        [
            "sites",
            "policy",
            "campus",
            "--set",
            "max_links=5",
            "--set",
            "banned_words=casino*,viagra",
        ],
    )
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    assert policy["max_links"] == 5
    assert policy["banned_words"] == ["casino*", "viagra"]
    bad = runner.invoke(app, ["sites", "policy", "campus", "--set", "max_links=lots"])
    assert bad.exit_code == 2
    assert "whole number" in bad.stderr
    assert runner.invoke(app, ["sites", "revoke", key[:10]]).exit_code == 0
    assert runner.invoke(app, ["sites", "revoke", key[:10]]).exit_code == 2


def test_score_writes_one_decision_per_line(env: Path) -> None:
    lines = [
        {"post_id": "1", "author_name": "Ana", "author_email": "ana@example.org",
         "content": "Thanks, the article on the rent strike was very clear."},
        {"post_id": "1", "author_name": "Cheap Pills", "author_email": "x@pills.example",
         "content": "Buy cheap viagra cialis online no prescription https://pills.example"},
        {"post_id": "1", "content": ""},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    result = runner.invoke(app, ["score"], input=text)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4]
    assert out[0]["verdict"] == "approve"
    assert out[1]["verdict"] == "spam"
    assert "error" in out[2]
    assert "error" in out[3]


def test_score_on_several_processes_keeps_the_order_and_the_answers(env: Path) -> None:
    comments = [
        {"post_id": str(i), "author_name": f"Reader {i}", "author_email": f"r{i}@example.org",
         "content": ("Buy cheap pills https://pills.example now" if i % 3 == 0
                     else f"Comment number {i} on the housing story, thanks.")}
        for i in range(230)
    ]  # fmt: skip
    lines = [json.dumps(c) for c in comments]
    lines.insert(57, "{broken")
    text = "\n".join(lines) + "\n"
    alone = runner.invoke(app, ["score", "--jobs", "1", "--batch", "16"], input=text)
    shared = runner.invoke(app, ["score", "--jobs", "2", "--batch", "16"], input=text)
    assert alone.exit_code == 0, alone.output
    assert shared.exit_code == 0, shared.output
    assert shared.stdout == alone.stdout
    out = [json.loads(line) for line in shared.stdout.splitlines()]
    assert [o["line"] for o in out] == list(range(1, 232))
    assert "error" in out[57]
    assert {o["verdict"] for o in out if "verdict" in o} >= {"approve", "spam"}


def test_score_names_the_same_terms_in_its_reasons_as_a_check_would(env: Path) -> None:
    # `score` shows no evidence, so it ranks it only where a reason names the terms (the
    # unsure band up); what it prints must be what a decision with all its evidence says.
    from datetime import UTC, datetime

    from moderation import artifacts, backlog
    from moderation.api.schemas import decision_body
    from moderation.dataset import read_all, seed_files
    from moderation.policy import SitePolicy
    from moderation.rules import Facts
    from tests.conftest import ROOT

    examples = read_all(seed_files(ROOT / "training" / "data"))
    examples = examples[:: max(1, len(examples) // 400)]  # spam and ham, from every file
    lines = [
        json.dumps({"post_id": "p", "content": ex.item.content, "author_name": ex.item.author_name,
                    "author_email": ex.author_email or f"r{i}@example.org",
                    "author_url": ex.item.author_url})
        for i, ex in enumerate(examples)
    ]  # fmt: skip
    result = runner.invoke(app, ["score", "--jobs", "1"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]

    job = backlog.BacklogJob(
        model=artifacts.load_current(MODELS_DIR),
        policy=SitePolicy(),
        facts=Facts(now=datetime.now(UTC)),
    )
    decided = backlog.decide_all(job, [backlog.read_comment(line, job.facts.now) for line in lines])
    expected = [
        decision_body(item[1], evidence=False) for item in decided if not isinstance(item, str)
    ]
    assert [{k: o[k] for k in expected[0]} for o in printed] == expected
    assert any("terms:" in r["message"] for o in printed for r in o["reasons"])


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """`serve` without a server: what it would have passed to uvicorn.run, call by call."""
    import uvicorn

    runs: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: runs.append(kwargs))
    # serve hands its settings to the workers through the environment; monkeypatch.delenv
    # would not take back a variable that was unset before, so the values are put back here.
    names = ("MODERATION_HOST", "MODERATION_PORT", "MODERATION_WORKERS",
             "PROMETHEUS_MULTIPROC_DIR")  # fmt: skip
    before = {name: os.environ.get(name) for name in names}
    yield runs
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_serve_gives_workers_time_to_load_the_model(
    env: Path, monkeypatch: pytest.MonkeyPatch, uvicorn_runs: list[dict[str, object]]
) -> None:
    monkeypatch.setenv("MODERATION_WORKER_HEALTHCHECK_SECONDS", "45")
    result = runner.invoke(app, ["serve", "--workers", "2", "--port", "8999"])
    assert result.exit_code == 0, result.output
    [seen] = uvicorn_runs
    assert seen["workers"] == 2
    assert seen["port"] == 8999
    # uvicorn's own 5 s kills a worker still importing scikit-learn on a busy host.
    assert seen["timeout_worker_healthcheck"] == 45
    assert (seen["loop"], seen["http"]) == ("uvloop", "httptools")


def test_serve_refuses_a_tampered_model_before_starting(
    env: Path, monkeypatch: pytest.MonkeyPatch, uvicorn_runs: list[dict[str, object]]
) -> None:
    import shutil

    from moderation import artifacts

    models = env / "models"
    shutil.copytree(MODELS_DIR, models)
    path = models / artifacts.current_version(models) / artifacts.MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(models))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "does not match its metadata" in result.output
    assert uvicorn_runs == []
