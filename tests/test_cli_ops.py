"""`moderation purge`, `sites webhook` and `webhooks ...` as an operator (or cron) runs them."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from moderation import webhooks
from moderation.app import open_store
from moderation.cli import app
from moderation.domain import CommentStatus
from moderation.schema import comments
from moderation.settings import Settings
from moderation.store import Store
from moderation.store_webhooks import WebhookStore, enqueue
from tests.conftest import MODELS_DIR, ROOT

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The database the commands use (through the environment), with the site 'myblog'."""
    monkeypatch.setenv("MODERATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.setenv("MODERATION_DATABASE_URL", database_url)
    store = open_store(Settings())
    store.create_site("myblog")
    yield store
    store.engine.dispose()


def old_spam(store: Store, site: str, *, count: int, age_days: int) -> None:
    site_id = store.get_site(site).id
    with store.writing() as conn:
        for _ in range(count):
            conn.execute(
                insert(comments).values(
                    id=str(uuid.uuid4()), site_id=site_id, content="buy", content_hash="h",
                    created_at=datetime.now(UTC) - timedelta(days=age_days),
                    status=CommentStatus.SPAM.value, verdict="spam", spam_probability=0.99,
                    discard=False, reasons="[]", evidence="[]", model_version="test",
                )
            )  # fmt: skip


def owe(store: Store, site: str = "myblog") -> int:
    with store.writing() as conn:
        delivery_id = enqueue(
            conn, site_id=store.get_site(site).id, comment_id="c1", event_id=1, body="{}",
            now=datetime.now(UTC),
        )  # fmt: skip
    assert delivery_id is not None
    return delivery_id


def test_every_command_has_help() -> None:
    # One real process: the console entry point registers the commands.
    result = subprocess.run(
        [sys.executable, "-m", "moderation.cli", "purge", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    for command in [["sites", "webhook"], ["webhooks"], ["webhooks", "deliveries"],
                    ["webhooks", "retry"]]:  # fmt: skip
        shown = runner.invoke(app, [*command, "--help"])
        assert shown.exit_code == 0, command
        assert "Usage" in shown.stdout


def test_purge_reports_per_site_and_in_total(store: Store) -> None:
    store.create_site("news")
    old_spam(store, "myblog", count=3, age_days=40)
    old_spam(store, "myblog", count=2, age_days=5)
    old_spam(store, "news", count=1, age_days=31)
    dry = runner.invoke(app, ["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove (dry run, nothing removed): spam 4, trash 0" in dry.stdout
    done = runner.invoke(app, ["purge"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["site", "spam", "trash"]
    assert lines[1].split()[:3] == ["myblog", "3", "0"]
    assert lines[2].split()[:3] == ["news", "1", "0"]
    assert lines[-1] == "removed: spam 4, trash 0, sessions 0, deliveries 0"
    # Run again (cron): nothing left to remove, still a success.
    again = runner.invoke(app, ["purge", "--json"])
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert report["totals"] == {"spam": 0, "trash": 0, "sessions": 0, "deliveries": 0}
    assert [s["site"] for s in report["sites"]] == ["myblog", "news"]


def test_the_webhook_secret_is_printed_once_with_how_to_check_it(store: Store) -> None:
    url = "https://blog.example/hooks/moderation"
    made = runner.invoke(app, ["sites", "webhook", "myblog", "--url", url])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert "shown only this once" in made.stderr
    assert "X-Moderation-Signature" in made.stderr
    assert "HMAC-SHA256" in made.stderr
    assert WebhookStore(store).webhook_of("myblog").url == url
    same = runner.invoke(app, ["sites", "webhook", "myblog", "--url", url])
    assert same.exit_code == 0
    assert same.stdout == ""
    assert "unchanged" in same.stderr
    shown = runner.invoke(app, ["sites", "webhook", "myblog"])
    assert shown.stdout.strip() == f"myblog: {url}"
    assert secret not in shown.output
    rotated = runner.invoke(app, ["sites", "webhook", "myblog", "--url", url, "--rotate-secret"])
    assert re.fullmatch(r"[0-9a-f]{64}", rotated.stdout.strip())
    assert rotated.stdout.strip() != secret
    cleared = runner.invoke(app, ["sites", "webhook", "myblog", "--clear"])
    assert cleared.exit_code == 0
    assert runner.invoke(app, ["sites", "webhook", "myblog"]).stdout.strip() == "myblog: no webhook"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["sites", "webhook", "myblog", "--url", "ftp://blog.example/"], "http"),
        (["sites", "webhook", "myblog", "--url", "https://a:b@blog.example/"], "password"),
        (["sites", "webhook", "nosuch", "--url", "https://blog.example/"], "no site"),
        (["sites", "webhook", "myblog", "--clear", "--url", "https://blog.example/"], "--clear"),
        (["sites", "webhook", "myblog", "--rotate-secret"], "--url"),
        (["webhooks", "retry", "12345"], "no webhook delivery"),
        (["webhooks", "deliveries", "--site", "nosuch"], "no site"),
    ],
)
def test_mistakes_exit_2_with_the_reason(store: Store, args: list[str], says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert says in result.stderr
    assert WebhookStore(store).webhook_of("myblog").url == ""


def test_deliveries_are_listed_and_a_failed_one_retried(store: Store) -> None:
    assert runner.invoke(app, ["webhooks", "deliveries"]).stdout.strip() == "no webhook deliveries"
    hooks = WebhookStore(store)
    hooks.set_webhook("myblog", "https://blog.example/hook")
    delivered, failed = owe(store), owe(store)
    now = datetime.now(UTC)
    hooks.record_attempt(
        delivered, ok=True, status_code=204, error="", now=now, next_attempt_at=None
    )
    hooks.record_attempt(
        failed, ok=False, status_code=None, error="ConnectError: refused", now=now,
        next_attempt_at=None,
    )  # fmt: skip
    listing = runner.invoke(app, ["webhooks", "deliveries"])
    assert listing.exit_code == 0
    rows = listing.stdout.splitlines()
    assert rows[0].split()[:4] == ["id", "site", "state", "tries"]
    assert rows[1].split()[:4] == [str(failed), "myblog", "failed", "1"]
    assert "ConnectError: refused" in rows[1]
    assert rows[2].split()[:4] == [str(delivered), "myblog", "delivered", "1"]
    assert "HTTP 204" in rows[2]
    only_failed = runner.invoke(app, ["webhooks", "deliveries", "--state", "failed", "--json"])
    assert [d["id"] for d in json.loads(only_failed.stdout)] == [failed]
    bad_state = runner.invoke(app, ["webhooks", "deliveries", "--state", "lost"])
    assert bad_state.exit_code == 2
    retried = runner.invoke(app, ["webhooks", "retry", str(failed)])
    assert retried.exit_code == 0, retried.output
    assert "pending again" in retried.stdout
    assert hooks.delivery(failed).state is webhooks.DeliveryState.PENDING
    twice = runner.invoke(app, ["webhooks", "retry", str(failed)])
    assert twice.exit_code == 2
    assert "only a failed one" in twice.stderr


def readme_commands(*sections: str) -> list[str]:
    """The `moderation ...` lines of the README's code blocks in these sections."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for title in sections:
        body = text.split(f"### {title}\n", 1)[1].split("\n#", 1)[0]
        for block in re.findall(r"```sh\n(.*?)```", body, flags=re.S):
            for line in block.splitlines():
                command = line.split("  #", 1)[0].strip()
                if command.startswith("moderation "):
                    found.append(command)
    return found


def test_the_readme_commands_run_as_written(store: Store) -> None:
    commands = readme_commands("Webhooks", "Retention")
    assert len(commands) >= 8
    # The README's example retries delivery 42: make the 42nd a failed one.
    hooks = WebhookStore(store)
    hooks.set_webhook("myblog", "https://blog.example/hook")
    for _ in range(42):
        last = owe(store)
    hooks.record_attempt(
        last, ok=False, status_code=500, error="HTTP 500", now=datetime.now(UTC),
        next_attempt_at=None,
    )  # fmt: skip
    assert last == 42
    for command in commands:
        result = runner.invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}: {result.output}"
