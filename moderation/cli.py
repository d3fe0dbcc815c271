"""The `moderation` command: serve, train, evaluate, score, sites, forget, migrate."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from moderation import artifacts, checking, dataset, publishing, training
from moderation.api.schemas import CommentIn
from moderation.app import announce_key, ensure_first_site, open_store
from moderation.artifacts import ArtifactError
from moderation.dataset import DatasetError
from moderation.erasure import AddressError
from moderation.policy import PolicyError, SitePolicy
from moderation.rules import Facts
from moderation.settings import Settings
from moderation.store import StoreError

app = typer.Typer(
    help="Comment moderation and spam filtering for blogs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sites_app = typer.Typer(help="Manage the blogs that post comments, and their API keys.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(sites_app, name="sites")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _settings() -> Settings:
    return Settings()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Run the HTTP service (migrates the database and creates a first site if there is none)."""
    import uvicorn

    # Options become environment so that every worker process reads the same settings.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"MODERATION_{name}"] = str(value)
    settings = _settings()
    try:
        store = open_store(settings)
        key = ensure_first_site(store, settings)
        artifacts.load_current(settings.models_dir)
    except (StoreError, ArtifactError, PolicyError) as exc:
        raise _fail(str(exc)) from exc
    if key:
        announce_key(key)
    store.engine.dispose()
    uvicorn.run(
        "moderation.app:factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (also done on every start)."""
    settings = _settings()
    try:
        open_store(settings).engine.dispose()
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo("database schema is up to date")


def _progress(message: str) -> None:
    typer.echo(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", err=True)


def _print_report(meta: dict[str, Any]) -> None:
    cv = meta["cross_validation"]
    c = cv["confusion"]
    typer.echo(f"model version {meta['version']}: {meta['n_examples']} examples "
               f"({meta['n_spam']} spam, {meta['n_ham']} ham)")  # fmt: skip
    typer.echo(f"{cv['folds']}-fold cross-validation, spam at probability >= 0.5:")
    for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc"):
        typer.echo(f"  {name:<10} {cv[name]:.4f}")
    typer.echo("  confusion   predicted ham  predicted spam")
    typer.echo(f"  ham         {c['tn']:>13}  {c['fp']:>14}")
    typer.echo(f"  spam        {c['fn']:>13}  {c['tp']:>14}")
    t = meta["thresholds"]
    typer.echo(f"suggested thresholds: ham below {t['ham_threshold']:.2f}, "
               f"spam from {t['spam_threshold']:.2f}")  # fmt: skip


@app.command()
def train(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Labelled CSV/JSONL file (repeatable); default: seed corpus."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the new version; default models/<version>.")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    promote: Annotated[
        bool, typer.Option(help="Make the new version current (the service picks it up).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
) -> None:
    """Train a model, print its cross-validated report and save it as a new version."""
    settings = _settings()
    files = list(data or [])
    try:
        if not files:
            files = dataset.seed_files(settings.seed_data_dir)
        _progress(f"reading {len(files)} file(s)")
        examples = dataset.read_all(files)
        target = out or settings.models_dir / training.new_version_name()
        meta = training.train(
            examples, target, sources=[str(f) for f in files], folds=folds, progress=_progress
        )
        if promote:
            if target.parent.resolve() != settings.models_dir.resolve():
                raise _fail(f"--promote needs --out inside {settings.models_dir}")
            artifacts.promote(settings.models_dir, target.name)
            _progress(f"{target.name} is now the current model")
    except (DatasetError, ArtifactError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        typer.echo(json.dumps(meta, indent=2, sort_keys=True))
    else:
        _print_report(meta)
        typer.echo(f"saved to {target}")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Labelled CSV/JSONL file.")],
    model: Annotated[
        Path | None, typer.Option(help="Model version folder; default: the current one.")
    ] = None,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Measure the classifier alone on a labelled file."""
    settings = _settings()
    try:
        loaded = artifacts.load(model) if model else artifacts.load_current(settings.models_dir)
        examples = dataset.read_all([data])
    except (DatasetError, ArtifactError) as exc:
        raise _fail(str(exc)) from exc
    result = training.evaluate(loaded.classifier, examples, threshold=threshold)
    result.pop("threshold")
    if json_out:
        typer.echo(json.dumps(result, sort_keys=True))
        return
    typer.echo(f"model {loaded.version} on {data} ({result['n']} examples, threshold {threshold}):")
    for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc"):
        value = result[name]
        typer.echo(f"  {name:<10} {value:.4f}" if value is not None else f"  {name:<10} n/a")
    typer.echo(f"  confusion  {result['confusion']}")


@app.command()
def score(
    site: Annotated[
        str | None, typer.Option(help="Use this site's policy; default: the default policy.")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Comments per batch.")] = 1000,
) -> None:
    """Read JSONL comments on stdin and write one decision per line (nothing is stored).

    Each line takes the fields of POST /v1/comments/check. Duplicate, flood and reputation
    checks need the database and are skipped. A line that cannot be read gets an `error`.
    """
    settings = _settings()
    try:
        policy = SitePolicy()
        if site:
            store = open_store(settings)
            policy = store.get_site(site).policy
            store.engine.dispose()
        loaded = artifacts.load_current(settings.models_dir)
    except (StoreError, ArtifactError) as exc:
        raise _fail(str(exc)) from exc
    facts = Facts(now=datetime.now(UTC))
    out = sys.stdout

    def flush(lines: list[tuple[int, str]]) -> None:
        parsed: list[tuple[int, Any]] = []
        for number, line in lines:
            try:
                comment = CommentIn.model_validate_json(line).to_domain(facts.now)
                parsed.append((number, comment))
            except ValueError as exc:
                message = str(exc).splitlines()
                parsed.append((number, {"line": number, "error": " ".join(message[:3])}))
        good = [(n, c) for n, c in parsed if not isinstance(c, dict)]
        scores = loaded.classifier.score_many([checking.text_input(c) for _, c in good])
        by_line = dict(zip((n for n, _ in good), scores, strict=True))
        for number, item in parsed:
            if isinstance(item, dict):
                out.write(json.dumps(item) + "\n")
                continue
            decision = checking.judge(item, policy, facts, by_line[number])
            record = {
                "line": number,
                "external_id": item.external_id or None,
                "verdict": decision.verdict.value,
                "spam_probability": round(decision.spam_probability, 4),
                "discard": decision.discard,
                "reasons": [{"code": r.code.value, "message": r.message}
                            for r in decision.reasons],
                "model_version": loaded.version,
            }  # fmt: skip
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

    pending: list[tuple[int, str]] = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        pending.append((number, line))
        if len(pending) >= batch:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    out.flush()


@sites_app.command("add")
def sites_add(
    name: Annotated[str, typer.Argument(help="A short unique name for the blog.")],
    url: Annotated[str, typer.Option(help="The blog's address.")] = "",
) -> None:
    """Add a site and print its API key (shown only this once)."""
    settings = _settings()
    try:
        store = open_store(settings)
        site, key = store.create_site(name, url)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"site {site.name!r} added; its API key (shown only this once):", err=True)
    typer.echo(key)


@sites_app.command("list")
def sites_list() -> None:
    """List the sites and how many live keys each has."""
    settings = _settings()
    try:
        rows = open_store(settings).list_sites()
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    for site, keys in rows:
        typer.echo(f"{site.name}\t{site.url}\t{keys} key(s)")


@sites_app.command("key")
def sites_key(
    name: Annotated[str, typer.Argument(help="The site's name.")],
    akismet: Annotated[
        bool,
        typer.Option(
            "--akismet",
            help="A key in Akismet's shape (12 hex characters), the only shape the WordPress "
            "Akismet plugin accepts; it works in both APIs.",
        ),
    ] = False,
) -> None:
    """Create another API key for a site and print it (shown only this once)."""
    try:
        store = open_store(_settings())
        key = store.add_akismet_key(name) if akismet else store.add_key(name)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(key)


@sites_app.command("revoke")
def sites_revoke(
    prefix: Annotated[str, typer.Argument(help="The key, or at least its first 10 characters.")],
) -> None:
    """Revoke an API key; requests with it get 401 from then on."""
    try:
        count = open_store(_settings()).revoke_key(prefix)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    if count == 0:
        raise _fail("no live key starts with that prefix")
    typer.echo(f"revoked {count} key(s)")


@sites_app.command("policy")
def sites_policy(
    name: Annotated[str, typer.Argument(help="The site's name.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="SETTING=VALUE (lists: comma-separated); repeatable."),
    ] = None,
) -> None:
    """Show a site's policy, or change settings with --set."""
    try:
        store = open_store(_settings())
        site = store.get_site(name)
        policy = site.policy
        if set_:
            changes: dict[str, Any] = {}
            for item in set_:
                key, sep, value = item.partition("=")
                if not sep:
                    raise _fail(f"--set takes SETTING=VALUE, not {item!r}")
                current = policy.to_dict().get(key.strip())
                changes[key.strip()] = value.split(",") if isinstance(current, list) else value
            policy = policy.updated(changes)
            store.set_policy(name, policy)
    except (StoreError, PolicyError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(policy.to_dict(), indent=2))


@sites_app.command("url")
def sites_url(
    name: Annotated[str, typer.Argument(help="The site's name.")],
    url: Annotated[str, typer.Argument(help="The blog's address, e.g. https://blog.example.")],
) -> None:
    """Change a site's address: pages of its origin may read the feed with the public token."""
    origin = publishing.site_origin(url)
    if url and origin is None:
        raise _fail(f"{url!r} is not an http(s) address")
    try:
        open_store(_settings()).set_site_url(name, url)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{name}: {url or 'no address'} (pages of {origin or 'no origin'} read the feed)")


@sites_app.command("public-token")
def sites_public_token(
    name: Annotated[str, typer.Argument(help="The site's name.")],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the token; the old one stops working.")
    ] = False,
    revoke: Annotated[
        bool,
        typer.Option("--revoke", help="Remove the token: only the site key reads the feed then."),
    ] = False,
) -> None:
    """Print the site's public read token, made if it has none (safe to embed in pages).

    It reads the approved comments' feed and nothing else. The site's pages (the origin of its
    --url) may read the feed with it from a browser.
    """
    if rotate and revoke:
        raise _fail("give --rotate or --revoke, not both")
    try:
        store = open_store(_settings())
        if revoke:
            if not store.revoke_public_token(name):
                raise _fail(f"the site {name!r} has no public token")
            typer.echo(f"the public token of {name!r} is revoked", err=True)
            return
        token = store.public_token(name, rotate=rotate)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(token)
    typer.echo(
        "\nShow a post's comments on a page of the site:\n\n"
        '  <div data-moderation-post="POST_ID"></div>\n'
        '  <script src="https://MODERATION-SERVER/embed/comments.js"\n'
        f'          data-token="{token}" async></script>\n',
        err=True,
    )


@app.command()
def forget(
    email: Annotated[str, typer.Argument(help="The author's email address.")],
    site: Annotated[str | None, typer.Option(help="Only this site; default: every site.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be removed.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Erase an author: every comment sent with EMAIL, and EMAIL wherever another text quotes it.

    Their comments and labelled samples are deleted (with IP address, user agent and all);
    other comments and samples that quote the address keep their text with the address
    replaced by "[email hidden]". Prints what was removed, site by site.
    """
    try:
        store = open_store(_settings())
        site_id = store.get_site(site).id if site else None
        reports = store.forget_author(email, site_id=site_id, dry_run=dry_run)
    except (StoreError, AddressError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        out = {
            "dry_run": dry_run,
            "sites": [
                {
                    "site": r.site,
                    "comments_deleted": r.comments_deleted,
                    "comments_redacted": r.comments_redacted,
                    "samples_deleted": r.samples_deleted,
                    "samples_redacted": r.samples_redacted,
                }
                for r in reports
            ],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    for r in reports:
        if not r.total:
            typer.echo(f"{r.site}: nothing")
            continue
        typer.echo(
            f"{r.site}: {r.comments_deleted} comment(s) deleted, {r.comments_redacted} "
            f"redacted; {r.samples_deleted} labelled sample(s) deleted, "
            f"{r.samples_redacted} redacted"
        )
    changed = sum(r.total for r in reports)
    touched = sum(1 for r in reports if r.total)
    verb = "would change (dry run, nothing changed)" if dry_run else "changed"
    typer.echo(f"{changed} row(s) {verb} on {touched} of {len(reports)} site(s)")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
