"""Operator commands: `purge`, `sites webhook`, `webhooks deliveries` and `webhooks retry`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from moderation.app import open_store
from moderation.settings import Settings
from moderation.store import Store, StoreError
from moderation.store_retention import PurgeReport, purge
from moderation.store_webhooks import Delivery, WebhookStore
from moderation.webhooks import SIGNATURE_HEADER, DeliveryState, WebhookUrlError

webhooks_app = typer.Typer(
    help="The webhook calls owed to the sites: list them, retry a failed one.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _store() -> Store:
    return open_store(Settings())


def _days(days: int) -> str:
    return "kept" if days == 0 else f"{days} d"


def _print_purge(report: PurgeReport) -> None:
    width = max([4, *(len(s.site) for s in report.sites)])
    typer.echo(f"{'site':<{width}}  {'spam':>6}  {'trash':>6}  spam kept  trash kept")
    for s in report.sites:
        typer.echo(
            f"{s.site:<{width}}  {s.spam:>6}  {s.trash:>6}  "
            f"{_days(s.spam_retention_days):>9}  {_days(s.trash_retention_days):>10}"
        )
    verb = "would remove (dry run, nothing removed)" if report.dry_run else "removed"
    typer.echo(
        f"{verb}: spam {report.spam}, trash {report.trash}, sessions {report.sessions}, "
        f"deliveries {report.deliveries}"
    )


def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be removed.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Delete what is past its retention: old spam and trash, expired sessions, old deliveries.

    Per site, spam older than its policy's spam_retention_days and trash older than its
    trash_retention_days (0 keeps them forever; set with `moderation sites policy NAME --set`);
    also expired moderator sessions and webhook deliveries delivered or failed more than
    30 days ago. The history of status changes is kept. Works in small batches while the
    service runs; safe to run from cron, even twice at once.
    """
    try:
        report = purge(_store(), now=datetime.now(UTC), dry_run=dry_run)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        out = {
            "dry_run": report.dry_run,
            "sites": [
                {"site": s.site, "spam": s.spam, "trash": s.trash,
                 "spam_retention_days": s.spam_retention_days,
                 "trash_retention_days": s.trash_retention_days}
                for s in report.sites
            ],
            "totals": {"spam": report.spam, "trash": report.trash,
                       "sessions": report.sessions, "deliveries": report.deliveries},
        }  # fmt: skip
        typer.echo(json.dumps(out, indent=2))
        return
    _print_purge(report)


def sites_webhook(
    name: Annotated[str, typer.Argument(help="The site's name.")],
    url: Annotated[
        str | None, typer.Option(help="Call this http(s) address on every status change.")
    ] = None,
    rotate_secret: Annotated[
        bool,
        typer.Option("--rotate-secret", help="Make a new signing secret; the old one stops."),
    ] = False,
    clear: Annotated[
        bool, typer.Option("--clear", help="Stop calling the site; calls still owed are dropped.")
    ] = False,
) -> None:
    """Show, set or remove the site's webhook, called with a signed body on every status change.

    The signing secret is made when the first address is set (or with --rotate-secret) and
    printed only then.
    """
    if clear and (url is not None or rotate_secret):
        raise _fail("give --clear alone, or --url (with --rotate-secret)")
    if rotate_secret and url is None:
        raise _fail("--rotate-secret goes with --url")
    try:
        hooks = WebhookStore(_store())
        if clear:
            dropped = hooks.clear_webhook(name)
            typer.echo(f"{name}: no webhook ({dropped} call(s) still owed were dropped)")
            return
        if url is None:
            current = hooks.webhook_of(name)
            typer.echo(f"{name}: {current.url or 'no webhook'}")
            return
        secret = hooks.set_webhook(name, url, rotate_secret=rotate_secret)
    except (StoreError, WebhookUrlError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{name}: webhook {url.strip()} is called on every status change", err=True)
    if secret is None:
        typer.echo("the signing secret is unchanged (--rotate-secret makes a new one)", err=True)
        return
    typer.echo("its signing secret, shown only this once:", err=True)
    typer.echo(secret)
    typer.echo(
        f"\nThe blog checks each call: the {SIGNATURE_HEADER} header must equal\n"
        '  "sha256=" + hex(HMAC-SHA256(key=secret, message=the raw request body))\n'
        "compared in constant time, e.g. in Python:\n"
        "  hmac.compare_digest(header, 'sha256=' + hmac.new(secret.encode(), body, "
        "hashlib.sha256).hexdigest())\n",
        err=True,
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _outcome(d: Delivery) -> str:
    if d.state is DeliveryState.DELIVERED:
        return f"HTTP {d.last_status_code} at {_when(d.delivered_at)}"
    if d.state is DeliveryState.PENDING and d.attempts == 0:
        return f"due {_when(d.next_attempt_at)}"
    tail = f"; next {_when(d.next_attempt_at)}" if d.state is DeliveryState.PENDING else ""
    return (d.last_error or "-") + tail


@webhooks_app.command("deliveries")
def deliveries(
    site: Annotated[str | None, typer.Option(help="Only this site's.")] = None,
    state: Annotated[
        DeliveryState | None, typer.Option(help="Only those pending, delivered or failed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """List the latest webhook calls, newest first, with the outcome of each one's last attempt."""
    try:
        rows = WebhookStore(_store()).deliveries(site=site, state=state, limit=limit)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        typer.echo(json.dumps([_delivery_json(d) for d in rows], indent=2))
        return
    if not rows:
        typer.echo("no webhook deliveries")
        return
    typer.echo(f"{'id':>6}  {'site':<12} {'state':<9} {'tries':>5}  {'created':<19}  outcome")
    for d in rows:
        typer.echo(
            f"{d.id:>6}  {d.site:<12} {d.state.value:<9} {d.attempts:>5}  "
            f"{_when(d.created_at):<19}  {_outcome(d)}"
        )


def _delivery_json(d: Delivery) -> dict[str, object]:
    return {
        "id": d.id,
        "site": d.site,
        "comment_id": d.comment_id,
        "event_id": d.event_id,
        "url": d.url,
        "state": d.state.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat(),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
    }


@webhooks_app.command("retry")
def retry(
    delivery_id: Annotated[int, typer.Argument(metavar="ID", help="The delivery's id.")],
) -> None:
    """Send a failed webhook call again, now, to the site's current address."""
    try:
        d = WebhookStore(_store()).retry(delivery_id)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"delivery {d.id} to {d.url} is pending again; the service sends it shortly")


def register(app: typer.Typer, sites_app: typer.Typer) -> None:
    """Add these commands to the `moderation` command and its `sites` group."""
    app.command("purge")(purge_command)
    sites_app.command("webhook")(sites_webhook)
    app.add_typer(webhooks_app, name="webhooks")
