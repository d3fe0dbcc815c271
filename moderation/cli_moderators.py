"""`moderation moderators ...`: moderator accounts, their sites, passwords and API tokens."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer

from moderation.app import open_store
from moderation.passwords import generate_password
from moderation.settings import Settings
from moderation.store import StoreError
from moderation.store_accounts import AccountInputError, Accounts

moderators_app = typer.Typer(
    help="Manage moderator accounts (separate from site keys), their sites and API tokens.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The moderator's login name.")]
SitesOpt = Annotated[
    list[str] | None, typer.Option("--site", help="A site's name (repeatable).", show_default=False)
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]
GenerateOpt = Annotated[
    bool, typer.Option("--generate", help="Generate a random password and print it once.")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@contextmanager
def _accounts() -> Iterator[Accounts]:
    store = open_store(Settings())
    try:
        yield Accounts(store)
    finally:
        store.engine.dispose()


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _choose_password(*, password_stdin: bool, generate: bool) -> tuple[str, bool]:
    """The new password and whether it was generated (and so must be shown)."""
    if password_stdin and generate:
        raise _fail("give --password-stdin or --generate, not both")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _fail("no password on stdin")
        return password, False
    if generate or not _stdin_is_tty():
        return generate_password(), True
    # Prompts go to stderr: stdout carries only what a script may capture (a new password).
    first = typer.prompt(
        "Password (leave empty to generate one)",
        default="",
        hide_input=True,
        show_default=False,
        err=True,
    )
    if not first:
        return generate_password(), True
    second = typer.prompt("Repeat the password", hide_input=True, err=True)
    if first != second:
        raise _fail("the two passwords differ")
    return first, False


def _show_password(name: str, password: str) -> None:
    typer.echo(f"the password of {name!r}, shown only this once (pass it on safely):", err=True)
    typer.echo(password)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@moderators_app.command("add")
def add(
    name: NameArg,
    site: SitesOpt = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="An admin sees every site and manages moderators.")
    ] = False,
    password_stdin: PasswordStdinOpt = False,
    generate: GenerateOpt = False,
) -> None:
    """Add a moderator who sees the given sites (prompts for a password, or generates one).

    Without a terminal and without --password-stdin, a password is generated and printed once.
    """
    password, generated = _choose_password(password_stdin=password_stdin, generate=generate)
    try:
        with _accounts() as accounts:
            moderator = accounts.create_moderator(
                name, password=password, admin=admin, sites=site or ()
            )
    except (StoreError, AccountInputError) as exc:
        raise _fail(str(exc)) from exc
    sees = "every site (admin)" if moderator.is_admin else ", ".join(site or ()) or "no site yet"
    typer.echo(f"moderator {name!r} added; sees: {sees}", err=True)
    if generated:
        _show_password(name, password)


@moderators_app.command("list")
def list_() -> None:
    """List the moderators: role, granted sites, disabled or not."""
    try:
        with _accounts() as accounts:
            summaries = accounts.summaries()
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    for summary in summaries:
        role = "admin" if summary.moderator.is_admin else "moderator"
        granted = ", ".join(summary.site_names) or "-"
        state = "disabled" if summary.disabled else "active"
        typer.echo(f"{summary.moderator.name}\t{role}\t{state}\tsites: {granted}")


@moderators_app.command("grant")
def grant(
    name: NameArg,
    site: Annotated[list[str], typer.Option("--site", help="A site's name (repeatable).")],
) -> None:
    """Let a moderator see and moderate more sites (at once, on every instance)."""
    try:
        with _accounts() as accounts:
            added = accounts.grant(name, site)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{added} site(s) granted to {name!r}")


@moderators_app.command("ungrant")
def ungrant(
    name: NameArg,
    site: Annotated[list[str], typer.Option("--site", help="A site's name (repeatable).")],
) -> None:
    """Stop a moderator seeing sites (at once, on every instance)."""
    try:
        with _accounts() as accounts:
            removed = accounts.revoke_grant(name, site)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{removed} site(s) taken from {name!r}")


@moderators_app.command("admin")
def admin(
    name: NameArg,
    on: Annotated[
        bool | None,
        typer.Option(
            "--on/--off",
            help="Make an admin (--on) or a plain moderator (--off).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a moderator an admin (sees every site, manages sites and moderators), or not."""
    if on is None:
        raise _fail("give --on (make an admin) or --off (take admin away)")
    try:
        with _accounts() as accounts:
            accounts.set_admin(name, on)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{name!r} is {'an admin' if on else 'a moderator (not an admin)'}")


@moderators_app.command("passwd")
def passwd(
    name: NameArg,
    password_stdin: PasswordStdinOpt = False,
    generate: GenerateOpt = False,
) -> None:
    """Set a moderator's password (prompted, read from stdin, or generated); logs them out."""
    password, generated = _choose_password(password_stdin=password_stdin, generate=generate)
    try:
        with _accounts() as accounts:
            accounts.set_password(name, password)
    except (StoreError, AccountInputError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"password of {name!r} changed; their web sessions ended", err=True)
    if generated:
        _show_password(name, password)


@moderators_app.command("disable")
def disable(name: NameArg) -> None:
    """Disable an account: no login, sessions end, its API tokens are revoked."""
    try:
        with _accounts() as accounts:
            accounts.disable(name)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{name!r} is disabled; their sessions ended and their tokens are revoked")


@moderators_app.command("enable")
def enable(name: NameArg) -> None:
    """Enable a disabled account again (its old tokens stay revoked)."""
    try:
        with _accounts() as accounts:
            accounts.enable(name)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{name!r} is enabled")


@moderators_app.command("token")
def token(
    name: NameArg,
    label: Annotated[str, typer.Option(help="What the token is for, shown in listings.")] = "",
) -> None:
    """Create an API token for a moderator and print it (shown only this once)."""
    try:
        with _accounts() as accounts:
            value = accounts.create_token(name, label=label)
    except (StoreError, AccountInputError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"API token of {name!r}, shown only this once; send it as 'Authorization: Bearer TOKEN':",
        err=True,
    )
    typer.echo(value)


@moderators_app.command("tokens")
def tokens(name: NameArg) -> None:
    """List a moderator's API tokens (id, prefix, label, created, last used, state)."""
    try:
        with _accounts() as accounts:
            infos = accounts.tokens(name)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    for info in infos:
        state = f"revoked {_when(info.revoked_at)}" if info.revoked_at else "live"
        typer.echo(
            f"{info.id}\t{info.prefix}\t{info.label or '-'}\tcreated {_when(info.created_at)}"
            f"\tlast used {_when(info.last_used_at)}\t{state}"
        )


@moderators_app.command("revoke-token")
def revoke_token(
    prefix: Annotated[
        str, typer.Argument(help="The token's prefix or id as `tokens` lists it, or the token.")
    ],
) -> None:
    """Revoke a moderator's API token; requests with it get 401 from then on."""
    try:
        with _accounts() as accounts:
            count = accounts.revoke_token(prefix)
    except (StoreError, AccountInputError) as exc:
        raise _fail(str(exc)) from exc
    if count == 0:
        raise _fail("no live token has that prefix or id")
    typer.echo(f"revoked {count} token(s)")
