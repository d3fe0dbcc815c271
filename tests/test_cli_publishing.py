"""`moderation sites public-token` and `moderation forget`, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from moderation.app import open_store
from moderation.cli import app
from moderation.domain import Comment, Decision, Verdict
from moderation.redaction import DEFAULT_PLACEHOLDER
from moderation.rules import Facts
from moderation.schema import comments
from moderation.settings import Settings
from moderation.store import Store
from tests.conftest import MODELS_DIR

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("MODERATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.delenv("MODERATION_DATABASE_URL", raising=False)
    store = open_store(Settings())
    store.create_site("blog", "https://blog.example")
    store.create_site("campus", "https://campus.example")
    return store


def add(store: Store, site: str, email: str, content: str, verdict: Verdict) -> str:
    def decide(facts: Facts) -> Decision:
        return Decision(verdict=verdict, spam_probability=0.1, reasons=())

    comment = Comment(content=content, author_name="Someone", author_email=email, post_id="p1",
                      user_ip="198.51.100.9")  # fmt: skip
    stored = store.check_and_save(
        store.get_site(site), comment, decide, model_version="test", now=datetime.now(UTC)
    )
    return stored.id


@pytest.mark.parametrize("command", [["forget"], ["sites", "public-token"], ["sites", "url"]])
def test_the_new_commands_have_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moderation.cli", *command, "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_public_token_is_shown_again_rotated_and_revoked(store: Store) -> None:
    first = runner.invoke(app, ["sites", "public-token", "blog"])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert token.startswith("pub_")
    assert f'data-token="{token}"' in first.stderr  # the embed snippet, on stderr
    assert runner.invoke(app, ["sites", "public-token", "blog"]).stdout.strip() == token
    assert store.site_for_public_token(token) is not None
    rotated = runner.invoke(app, ["sites", "public-token", "blog", "--rotate"])
    new = rotated.stdout.strip()
    assert new.startswith("pub_")
    assert new != token
    fresh = open_store(Settings())  # another process's view: no cache
    assert fresh.site_for_public_token(token) is None
    site = fresh.site_for_public_token(new)
    assert site is not None
    assert site.name == "blog"
    revoked = runner.invoke(app, ["sites", "public-token", "blog", "--revoke"])
    assert revoked.exit_code == 0
    assert open_store(Settings()).site_for_public_token(new) is None
    again = runner.invoke(app, ["sites", "public-token", "blog", "--revoke"])
    assert again.exit_code == 2
    assert "no public token" in again.stderr
    missing = runner.invoke(app, ["sites", "public-token", "nosuch"])
    assert missing.exit_code == 2
    assert "no site named" in missing.stderr


def test_forget_erases_the_author_on_every_site_and_reports_per_site(store: Store) -> None:
    on_blog = add(store, "blog", "Ulla@Example.org", "My comment.", Verdict.APPROVE)
    held = add(store, "blog", "ulla@example.org", "My held one.", Verdict.HOLD)
    on_campus = add(store, "campus", "ULLA@EXAMPLE.ORG", "On campus.", Verdict.SPAM)
    quoting = add(store, "campus", "bea@example.net", "Ask ulla (at) example (dot) org.",
                  Verdict.APPROVE)  # fmt: skip
    other = add(store, "blog", "bea@example.net", "Unrelated, bea@example.net.", Verdict.APPROVE)

    dry = runner.invoke(app, ["forget", "ulla@example.org", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "blog: 2 comment(s) deleted, 0 redacted" in dry.stdout
    assert "campus: 1 comment(s) deleted, 1 redacted" in dry.stdout
    assert "would change" in dry.stdout
    assert len(_ids(store)) == 5

    done = runner.invoke(app, ["forget", "ulla@example.org", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report == {
        "dry_run": False,
        "sites": [
            {"site": "blog", "comments_deleted": 2, "comments_redacted": 0,
             "samples_deleted": 0, "samples_redacted": 0},
            {"site": "campus", "comments_deleted": 1, "comments_redacted": 1,
             "samples_deleted": 0, "samples_redacted": 0},
        ],
    }  # fmt: skip
    remaining = _ids(store)
    assert set(remaining) == {quoting, other}
    assert on_blog not in remaining
    assert held not in remaining
    assert on_campus not in remaining
    assert remaining[quoting] == f"Ask {DEFAULT_PLACEHOLDER}."
    assert remaining[other] == "Unrelated, bea@example.net."

    again = runner.invoke(app, ["forget", "ulla@example.org"])
    assert again.exit_code == 0
    assert "blog: nothing" in again.stdout
    assert "0 row(s) changed on 0 of 2 site(s)" in again.stdout


def test_forget_can_be_limited_to_one_site(store: Store) -> None:
    add(store, "blog", "ulla@example.org", "On the blog.", Verdict.APPROVE)
    kept = add(store, "campus", "ulla@example.org", "On campus.", Verdict.APPROVE)
    result = runner.invoke(app, ["forget", "ulla@example.org", "--site", "blog"])
    assert result.exit_code == 0, result.output
    assert "campus" not in result.stdout
    assert list(_ids(store)) == [kept]


@pytest.mark.parametrize("argument", ["not-an-address", "@example.org", "ulla@"])
def test_forget_refuses_what_is_not_an_address(store: Store, argument: str) -> None:
    result = runner.invoke(app, ["forget", argument])
    assert result.exit_code == 2
    assert "error:" in result.stderr


def test_forget_names_an_unknown_site(store: Store) -> None:
    result = runner.invoke(app, ["forget", "ulla@example.org", "--site", "nosuch"])
    assert result.exit_code == 2
    assert "no site named 'nosuch'" in result.stderr


def _ids(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(comments.c.id, comments.c.content)).all()
    return {row.id: row.content for row in rows}


def test_sites_url_changes_the_origin_that_may_read_the_feed(store: Store) -> None:
    result = runner.invoke(app, ["sites", "url", "blog", "https://www.blog.example/news/"])
    assert result.exit_code == 0, result.output
    assert "pages of https://www.blog.example read the feed" in result.stdout
    assert open_store(Settings()).get_site("blog").url == "https://www.blog.example/news/"
    bad = runner.invoke(app, ["sites", "url", "blog", "javascript:alert(1)"])
    assert bad.exit_code == 2
    assert "not an http(s) address" in bad.stderr
    assert runner.invoke(app, ["sites", "url", "nosuch", "https://x.example"]).exit_code == 2
