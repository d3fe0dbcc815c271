"""`moderation moderators ...` as an operator runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moderation import cli_moderators
from moderation.cli import app
from moderation.store import Store, make_engine
from moderation.store_accounts import Accounts
from tests.conftest import MODELS_DIR

runner = CliRunner()
PASSWORD = "correct horse battery"
COMMANDS = [
    "add", "list", "grant", "ungrant", "admin", "passwd", "disable", "enable", "token", "tokens",
    "revoke-token",
]  # fmt: skip


@pytest.fixture
def accounts(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Accounts]:
    """The database the CLI works on (with sites blog and news), seen through Accounts."""
    monkeypatch.setenv("MODERATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATION_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.setenv("MODERATION_DATABASE_URL", database_url)
    for site in ("blog", "news"):
        assert runner.invoke(app, ["sites", "add", site]).exit_code == 0
    engine = make_engine(database_url)
    yield Accounts(Store(engine))
    engine.dispose()


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["moderators", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_every_moderators_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, ["moderators", *command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout


def test_add_without_a_terminal_generates_a_password_and_prints_it_once(
    accounts: Accounts,
) -> None:
    code, out, err = run("add", "camille", "--site", "blog")
    assert code == 0, err
    password = out.strip()
    assert len(password) >= 20
    assert "shown only this once" in err
    moderator = accounts.authenticate("camille", password)
    assert moderator is not None
    assert moderator.site_ids == {accounts.store.get_site("blog").id}
    code, listing, _ = run("list")
    assert code == 0
    assert "camille\tmoderator\tactive\tsites: blog" in listing
    assert password not in listing


def test_add_reads_the_password_from_stdin(accounts: Accounts) -> None:
    code, out, err = run("add", "ada", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, err
    assert out == ""  # nothing to show: the operator chose the password
    moderator = accounts.authenticate("ada", PASSWORD)
    assert moderator is not None
    assert moderator.is_admin
    assert "every site" in err


def test_add_prompts_twice_on_a_terminal(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_moderators, "_stdin_is_tty", lambda: True)
    code, out, err = run("add", "camille", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, err
    assert PASSWORD not in out + err  # typed, not echoed
    assert accounts.authenticate("camille", PASSWORD) is not None

    code, _, err = run("add", "sam", stdin=f"{PASSWORD}\n{PASSWORD}x\n")
    assert code == 2
    assert "error: the two passwords differ" in err
    assert accounts.list_moderators()[-1][0].name == "camille"

    code, out, err = run("add", "sam", stdin="\n")
    assert code == 0, err
    assert accounts.authenticate("sam", out.strip()) is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "camille", "--password-stdin"], "short\n", "at least 10 characters"),
        (["add", "camille", "--password-stdin"], "", "no password on stdin"),
        (["add", "camille", "--password-stdin", "--generate"], PASSWORD, "not both"),
        (["add", "camille", "--site", "nope"], None, "no site named 'nope'"),
        (["add", " camille"], None, "leading or trailing spaces"),
    ],
)
def test_add_refuses_bad_input_and_creates_nothing(
    accounts: Accounts, args: list[str], stdin: str | None, message: str
) -> None:
    code, out, err = run(*args, stdin=stdin)
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
    assert out == ""
    assert accounts.list_moderators() == []


def test_a_taken_name_is_an_error(accounts: Accounts) -> None:
    assert run("add", "camille", "--generate")[0] == 0
    code, _, err = run("add", "camille", "--generate")
    assert code == 2
    assert "already exists" in err


def test_grant_and_ungrant_change_what_the_moderator_sees(accounts: Accounts) -> None:
    run("add", "camille", "--site", "blog", "--generate")
    code, out, _ = run("grant", "camille", "--site", "news", "--site", "blog")
    assert (code, out.strip()) == (0, "1 site(s) granted to 'camille'")
    assert "sites: blog, news" in run("list")[1]
    code, out, _ = run("ungrant", "camille", "--site", "blog")
    assert (code, out.strip()) == (0, "1 site(s) taken from 'camille'")
    assert accounts.get("camille").site_ids == {accounts.store.get_site("news").id}
    code, _, err = run("grant", "nobody", "--site", "news")
    assert code == 2
    assert "no moderator named 'nobody'" in err
    code, _, err = run("grant", "camille", "--site", "nope")
    assert code == 2
    assert "no site named 'nope'" in err


def test_admin_on_and_off(accounts: Accounts) -> None:
    run("add", "camille", "--generate")
    assert run("admin", "camille", "--on")[0] == 0
    assert accounts.get("camille").is_admin
    assert "camille\tadmin" in run("list")[1]
    assert run("admin", "camille", "--off")[0] == 0
    assert not accounts.get("camille").is_admin
    code, _, err = run("admin", "camille")
    assert code == 2
    assert "--on" in err


def test_passwd_replaces_the_password(accounts: Accounts) -> None:
    run("add", "camille", "--password-stdin", stdin=PASSWORD)
    code, _, err = run("passwd", "camille", "--password-stdin", stdin="a brand new password\n")
    assert code == 0, err
    assert accounts.authenticate("camille", PASSWORD) is None
    assert accounts.authenticate("camille", "a brand new password") is not None
    code, out, _ = run("passwd", "camille", "--generate")
    assert code == 0
    assert accounts.authenticate("camille", out.strip()) is not None
    code, _, err = run("passwd", "nobody", "--generate")
    assert code == 2
    assert "no moderator named" in err


def test_disable_and_enable(accounts: Accounts) -> None:
    run("add", "camille", "--password-stdin", stdin=PASSWORD)
    token = run("token", "camille")[1].strip()
    code, out, _ = run("disable", "camille")
    assert code == 0
    assert "disabled" in out
    assert accounts.authenticate("camille", PASSWORD) is None
    assert accounts.moderator_for_token(token) is None
    assert "camille\tmoderator\tdisabled" in run("list")[1]
    assert run("token", "camille")[0] == 2
    assert run("enable", "camille")[0] == 0
    assert accounts.authenticate("camille", PASSWORD) is not None
    assert accounts.moderator_for_token(token) is None  # revoked for good


def test_token_is_printed_once_listed_by_prefix_and_revoked(accounts: Accounts) -> None:
    run("add", "camille", "--generate")
    code, out, err = run("token", "camille", "--label", "laptop")
    assert code == 0, err
    token = out.strip()
    assert token.startswith("mt_")
    assert "shown only this once" in err
    moderator = accounts.moderator_for_token(token)
    assert moderator is not None
    assert moderator.name == "camille"

    code, listing, _ = run("tokens", "camille")
    assert code == 0
    assert token not in listing
    assert f"{token[:10]}\tlaptop" in listing
    assert "live" in listing

    code, out, _ = run("revoke-token", token[:10])
    assert (code, out.strip()) == (0, "revoked 1 token(s)")
    assert accounts.moderator_for_token(token) is None
    assert "revoked" in run("tokens", "camille")[1]
    code, _, err = run("revoke-token", token[:10])
    assert code == 2
    assert "no live token" in err
    code, _, err = run("revoke-token", "mt_x")
    assert code == 2
    assert "prefix" in err
