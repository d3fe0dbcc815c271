"""The `moderation` command: serve, train, evaluate, score, sites, moderators, forget, migrate."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import typer

from moderation import (
    artifacts,
    backlog,
    cli_ops,
    dataset,
    publishing,
    store_training,
)
from moderation.app import (
    announce_key,
    ensure_first_site,
    freeze_what_is_loaded,
    open_store,
)
from moderation.artifacts import ArtifactError
from moderation.cli_moderators import moderators_app
from moderation.dataset import DatasetError
from moderation.domain import Label
from moderation.erasure import AddressError
from moderation.policy import PolicyError, SitePolicy
from moderation.rules import Facts
from moderation.settings import Settings
from moderation.store import StoreError


def _lazy_module(name: str) -> ModuleType:
    """`name`, imported when one of its attributes is first read (importlib's LazyLoader);
    the module itself if it is imported already."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None
    assert spec.loader is not None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from moderation import report, training, training_stream
else:
    # Training and its reports import scikit-learn, a second or more of a start; `serve` and
    # `score` never need it, so these load when a command first uses them.
    report, training, training_stream = map(
        _lazy_module, ("moderation.report", "moderation.training", "moderation.training_stream")
    )

app = typer.Typer(
    help="Comment moderation and spam filtering for blogs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sites_app = typer.Typer(help="Manage the blogs that post comments, and their API keys.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(sites_app, name="sites")
models_app = typer.Typer(help="List the saved model versions; make one current.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(models_app, name="models")
app.add_typer(moderators_app, name="moderators")
cli_ops.register(app, sites_app)


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
    # Options become environment so that every worker process reads the same settings.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"MODERATION_{name}"] = str(value)
    settings = _settings()
    try:
        store = open_store(settings)
        key = ensure_first_site(store, settings)
        # Checked, not loaded: the service loads it (in this very process with one worker),
        # and unpickling it here too would add seconds to every start.
        artifacts.verify_current(settings.models_dir)
    except (StoreError, ArtifactError, PolicyError) as exc:
        raise _fail(str(exc)) from exc
    if key:
        announce_key(key)
    store.engine.dispose()
    several = settings.workers > 1 and settings.metrics_enabled
    shared_metrics = _shared_metrics_dir(settings) if several else None
    try:
        _run_uvicorn(settings)
    finally:
        if shared_metrics is not None and settings.metrics_dir is None:
            shutil.rmtree(shared_metrics, ignore_errors=True)


def _shared_metrics_dir(settings: Settings) -> Path:
    """Prepare the folder the workers share metric values in and name it in the environment.

    The workers read PROMETHEUS_MULTIPROC_DIR when they first import prometheus_client, so it
    is set here, before they start; values left by an earlier run would be counted again, so
    the folder starts empty.
    """
    if settings.metrics_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="moderation-metrics-"))
    else:
        folder = settings.metrics_dir
        folder.mkdir(parents=True, exist_ok=True)
        # Only prometheus_client's files: the folder is the operator's.
        for old in folder.glob("*.db"):
            old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _run_uvicorn(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "moderation.app:factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (also done on every start)."""
    # Whatever MODERATION_MIGRATE_ON_START says: with several replicas it is off for `serve`,
    # and a deployment's one-shot migrate step shares their environment.
    settings = _settings().model_copy(update={"migrate_on_start": True})
    try:
        open_store(settings).engine.dispose()
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo("database schema is up to date")


def _progress(message: str) -> None:
    typer.echo(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", err=True)


def _measured_by(report: dict[str, Any]) -> str:
    if report.get("method") == "streaming":
        return (
            f"validation on {report['held_out']:,} held-out examples (streaming: trained on "
            f"{report['training_examples']:,}, calibrated on {report['calibration_examples']:,})"
        )
    return f"{report['folds']}-fold cross-validation"


def _print_report(meta: dict[str, Any]) -> None:
    cv = meta["cross_validation"]
    c = cv["confusion"]
    typer.echo(f"model version {meta['version']}: {meta['n_examples']} examples "
               f"({meta['n_spam']} spam, {meta['n_ham']} ham)")  # fmt: skip
    db = meta.get("from_db")
    if db is not None:
        typer.echo(
            f"from the database: {db['db_spam'] + db['db_ham']} labelled comments "
            f"({db['db_spam']} spam, {db['db_ham']} ham); {db['relabelled_seed_examples']} "
            f"relabel a seed example, {db['already_in_seed']} were already in the seed corpus"
        )
    typer.echo(f"{_measured_by(cv)}, spam at probability >= 0.5:")
    for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc"):
        typer.echo(f"  {name:<10} {cv[name]:.4f}")
    typer.echo("  confusion   predicted ham  predicted spam")
    typer.echo(f"  ham         {c['tn']:>13}  {c['fp']:>14}")
    typer.echo(f"  spam        {c['fn']:>13}  {c['tp']:>14}")
    t = meta["thresholds"]
    typer.echo(f"suggested thresholds: ham below {t['ham_threshold']:.2f}, "
               f"spam from {t['spam_threshold']:.2f}")  # fmt: skip


_COMPARED = (
    ("roc_auc", "ROC AUC", "{:.4f}"),
    ("average_precision", "average precision", "{:.4f}"),
    ("threshold", "spam threshold", "{:.2f}"),
    ("precision", "precision", "{:.4f}"),
    ("recall", "recall", "{:.4f}"),
    ("f1", "F1", "{:.4f}"),
    ("mcc", "MCC", "{:.4f}"),
    ("ham_marked_spam", "ham marked spam", "{:.2%}"),
    ("spam_approved", "spam approved", "{:.2%}"),
    ("held", "held for review", "{:.2%}"),
)


def _print_comparison(comparison: training.Comparison) -> None:
    cand, curr = comparison.candidate, comparison.current
    typer.echo(
        f"held-out comparison on {comparison.n_compared} of {comparison.n_held_out} held-out "
        f"examples ({comparison.basis}); F1, MCC and the bands at each model's own thresholds:"
    )
    left = f"candidate {cand.version}"
    right = f"current {curr.version}"
    width = max(len(left), 12)
    typer.echo(f"  {'':<18} {left:>{width}}  {right}")
    for key, label, form in _COMPARED:
        a, b = cand.metrics.get(key), curr.metrics.get(key)
        a_text = form.format(a) if a is not None else "n/a"
        b_text = form.format(b) if b is not None else "n/a"
        typer.echo(f"  {label:<18} {a_text:>{width}}  {b_text}")
    drop = comparison.auc_drop
    verdict = "lower" if drop > 0 else "higher"
    typer.echo(
        f"candidate ROC AUC is {abs(drop):.4f} {verdict} than the current model's "
        f"(refused when lower by more than {training.AUC_TOLERANCE}"
        + (")" if comparison.conclusive else "; this comparison is inconclusive)")
    )


def _write_report(
    path: Path,
    meta: dict[str, Any],
    cv: training.CrossValidation,
    examples: list[dataset.Example],
    comparison: training.Comparison | None,
) -> None:
    thresholds = training.model_thresholds(meta)
    y = [1 if ex.label is Label.SPAM else 0 for ex in examples]
    summary = [
        ("candidate version", str(meta["version"])),
        ("examples", f"{meta['n_examples']} ({meta['n_spam']} spam, {meta['n_ham']} ham)"),
        ("data sources", ", ".join(meta.get("data_sources", []))),
        ("data sha256", str(meta["data_sha256"])),
        ("created", str(meta["created_at"])),
        ("scikit-learn", str(meta["trained_sklearn_version"])),
    ]
    db = meta.get("from_db")
    if db is not None:
        summary.append(
            ("from the database",
             f"{db['db_spam']} spam, {db['db_ham']} ham ({db['relabelled_seed_examples']} "
             f"relabel a seed example, {db['already_in_seed']} already in the seed corpus)")
        )  # fmt: skip
    sections = [
        report.Section(
            title=f"Validation of {meta['version']}",
            text=(
                f"{_measured_by(cv.report)}: every example scored by a model that did not "
                "train on it. The thresholds are the ones suggested from these scores (the "
                "discard threshold is the policy default)."
            ),
            models=[
                report.ScoredModel(
                    name=f"candidate {meta['version']}",
                    y_true=y,
                    scores=[float(p) for p in cv.probabilities],
                    thresholds=thresholds,
                    metrics=training.band_metrics(y, cv.probabilities, thresholds),
                )
            ],
        )
    ]
    notes = []
    if comparison is not None:
        models = []
        for role, scores in (("candidate", comparison.candidate), ("current", comparison.current)):
            models.append(
                report.ScoredModel(
                    name=f"{role} {scores.version}",
                    y_true=scores.y_true,
                    scores=scores.probabilities,
                    thresholds=scores.thresholds,
                    metrics=scores.metrics,
                )
            )
        fitted_on = (
            "The candidate is the new model, which did not train on its validation slice"
            if meta["cross_validation"].get("method") == "streaming"
            else f"The candidate here was fitted on the other "
            f"{100 - int(training.HOLDOUT_FRACTION * 100)}% of the data"
        )
        sections.append(
            report.Section(
                title="Candidate and current model on the same held-out examples",
                text=f"{comparison.n_compared} of {comparison.n_held_out} held-out examples "
                f"({comparison.basis}). {fitted_on}; metrics at each model's own thresholds.",
                models=models,
            )
        )
        if comparison.worse:
            notes.append(
                f"The candidate's ROC AUC is lower than the current model's by "
                f"{comparison.auc_drop:.4f} (tolerance {training.AUC_TOLERANCE})."
            )
    page = report.render_report(
        title=f"Training report: model {meta['version']}",
        summary=summary,
        sections=sections,
        notes=notes,
    )
    path.write_text(page, encoding="utf-8")


def _seen_by(
    current: artifacts.LoadedModel, seed: list[dataset.Example], *, settings: Settings
) -> frozenset[str] | None:
    seen = training.seen_by(current, seed)
    if seen is None:
        # A model without a keys file may be the shipped one, trained on the seed corpus.
        try:
            corpus = dataset.read_all(dataset.seed_files(settings.seed_data_dir))
        except DatasetError:
            return None
        seen = training.seen_by(current, corpus)
    return seen


class TrainingMethod(StrEnum):
    """How `moderation train` fits: see its --method option."""

    AUTO = "auto"
    EXACT = "exact"
    STREAMING = "streaming"


# metadata, comparison, refused (a string: evaluated, it would import training at once)
_Trained: TypeAlias = "tuple[dict[str, Any], training.Comparison | None, bool]"


@dataclass(frozen=True, slots=True)
class _Run:
    """What one `moderation train` asked for, as either method needs it."""

    from_db: bool
    target: Path
    sources: list[str]
    folds: int
    promote: bool
    force: bool
    report_path: Path | None
    settings: Settings
    started: float


def _train_exact(
    examples: Iterable[dataset.Example],
    decisions: list[dataset.Example],
    run: _Run,
) -> _Trained:
    seed = list(examples)
    examples = seed
    extra: dict[str, Any] = {}
    if run.from_db:
        merged = training.merge(seed, decisions)
        examples = list(merged.examples)
        extra["from_db"] = merged.summary()
        _progress(
            f"{len(decisions)} labelled comment(s) in the database: "
            f"{merged.counts.db_spam} spam, {merged.counts.db_ham} ham"
        )
    labels = [ex.label for ex in examples]
    _progress(f"{len(examples)} examples: {labels.count(Label.SPAM)} spam, "
              f"{labels.count(Label.HAM)} ham")  # fmt: skip
    cv = training.cross_validate(examples, folds=run.folds, progress=_progress)
    comparison = None
    if run.promote or run.report_path:
        current = _current_model(run.settings)
        if current is not None:
            comparison = training.compare(
                examples,
                current,
                candidate_version=run.target.name,
                candidate_thresholds=training.model_thresholds(
                    {"thresholds": cv.report["suggested_thresholds"]}
                ),
                seen=_seen_by(current, seed, settings=run.settings),
                progress=_progress,
            )
            extra["comparison"] = comparison.summary()
    meta = training.save_version(
        examples,
        run.target,
        cv,
        sources=run.sources,
        extra=extra,
        seconds_so_far=time.perf_counter() - run.started,
        progress=_progress,
    )
    if run.report_path:
        _write_report(run.report_path, meta, cv, examples, comparison)
        _progress(f"report written to {run.report_path}")
    return meta, comparison, _promote(run, comparison)


def _train_streaming(
    examples: Iterable[dataset.Example],
    decisions: list[dataset.Example],
    run: _Run,
) -> _Trained:
    extra: dict[str, Any] = {}
    counts = training.MergeCounts()
    if run.from_db:
        examples = training.merge_stream(examples, decisions, counts)
        _progress(f"{len(decisions)} labelled comment(s) in the database")
    _progress("streaming: one pass over the examples, then SGD; 5% calibrate, 5% validate")
    streamed = training_stream.train_streaming(examples, progress=_progress)
    if run.from_db:
        extra["from_db"] = counts.summary()
    comparison = None
    if run.promote or run.report_path:
        current = _current_model(run.settings)
        if current is not None:
            _progress(f"comparing with {current.version} on the validation slice")
            comparison = training.compare_held_out(
                streamed.validation,
                streamed.classifier,
                current,
                candidate_version=run.target.name,
                candidate_thresholds=training.model_thresholds(
                    {"thresholds": streamed.report["suggested_thresholds"]}
                ),
                # Without a keys file, only the seed corpus can say what the current model saw.
                seen=_seen_by(current, [], settings=run.settings),
            )
            extra["comparison"] = comparison.summary()
    meta = training.save_trained(
        streamed.classifier,
        run.target,
        report=streamed.report,
        data_sha256=streamed.data_sha256,
        n_spam=streamed.n_spam,
        n_ham=streamed.n_ham,
        training_keys=(key.decode("ascii") for key in streamed.training_keys),
        sources=run.sources,
        extra=extra,
        seconds=time.perf_counter() - run.started,
        progress=_progress,
    )
    if run.report_path:
        cv = training.CrossValidation(streamed.validation_probabilities, streamed.report)
        _write_report(run.report_path, meta, cv, list(streamed.validation), comparison)
        _progress(f"report written to {run.report_path}")
    return meta, comparison, _promote(run, comparison)


def _current_model(settings: Settings) -> artifacts.LoadedModel | None:
    try:
        return artifacts.load_current(settings.models_dir)
    except ArtifactError as exc:
        _progress(f"no current model to compare with ({exc})")
        return None


def _promote(run: _Run, comparison: training.Comparison | None) -> bool:
    """Promote the new version if asked, unless refused; whether it was refused."""
    refused = bool(run.promote and comparison is not None and comparison.worse and not run.force)
    if run.promote and not refused:
        artifacts.promote(run.settings.models_dir, run.target.name)
        _progress(f"{run.target.name} is now the current model")
    return refused


@app.command()
def train(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Labelled CSV/JSONL file (repeatable); default: seed corpus."),
    ] = None,
    from_db: Annotated[
        bool,
        typer.Option(
            "--from-db",
            help="Add every labelled comment of the database (moderators' and blogs' decisions; "
            "never test traffic). A decision wins over a seed example with the same text.",
        ),
    ] = False,
    site: Annotated[
        str | None, typer.Option(help="With --from-db: only this site's labelled comments.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the new version; default models/<version>.")
    ] = None,
    folds: Annotated[
        int, typer.Option(min=2, max=20, help="Cross-validation folds (exact method).")
    ] = 5,
    method: Annotated[
        TrainingMethod,
        typer.Option(
            help="exact: every example in memory, k-fold cross-validation, liblinear; "
            "streaming: one pass and SGD, validated on a held-out 5% (for large corpora); "
            f"auto: streaming from {dataset.STREAMING_FROM:,} examples."
        ),
    ] = TrainingMethod.AUTO,
    promote: Annotated[
        bool,
        typer.Option(
            help="Make the new version current (the service picks it up), unless it scores worse "
            "than the current model on the same held-out split: then exit with status 3."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --promote: promote even a worse model.")
    ] = False,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write an HTML page with ROC and precision-recall curves and score histograms.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
) -> None:
    """Train a model, print its validated report and save it as a new version.

    The version becomes current only with --promote. Before that, a candidate fitted on a fixed
    80% of the data (streaming: the new model itself) and the current model are scored on the
    held-out rest (the examples there that the current model did not train on); a candidate
    whose ROC AUC is lower by more than 0.005 is saved but not promoted (exit status 3) unless
    --force is given.
    """
    settings = _settings()
    files = list(data or [])
    if site and not from_db:
        raise _fail("--site needs --from-db")
    target = out or settings.models_dir / training.new_version_name()
    if promote and target.parent.resolve() != settings.models_dir.resolve():
        raise _fail(f"--promote needs --out inside {settings.models_dir}")
    started = time.perf_counter()
    try:
        if not files:
            files = dataset.seed_files(settings.seed_data_dir)
        _progress(f"reading {len(files)} file(s)")
        stream = chain.from_iterable(dataset.read(f) for f in files)
        sources = [str(f) for f in files]
        decisions: list[dataset.Example] = []
        if from_db:
            store = open_store(settings)
            try:
                decisions = store_training.labelled_examples(store, site=site)
            finally:
                store.engine.dispose()
            sources.append(f"database ({site or 'every site'})")
        # auto: read up to the streaming threshold; a corpus that ends before it goes exact.
        head = []
        if method is TrainingMethod.AUTO:
            head = list(islice(stream, max(0, training_stream.STREAMING_FROM - len(decisions))))
        streaming = method is TrainingMethod.STREAMING or (
            method is TrainingMethod.AUTO
            and len(head) + len(decisions) >= training_stream.STREAMING_FROM
        )
        train_one = _train_streaming if streaming else _train_exact
        run = _Run(from_db, target, sources, folds, promote, force, report_path, settings, started)
        meta, comparison, refused = train_one(chain(head, stream), decisions, run)
    except (DatasetError, ArtifactError, StoreError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        typer.echo(json.dumps({**meta, "promoted": promote and not refused}, indent=2,
                              sort_keys=True))  # fmt: skip
    else:
        _print_report(meta)
        if comparison is not None:
            _print_comparison(comparison)
        typer.echo(f"saved to {target}")
    if refused:
        assert comparison is not None
        typer.echo(
            f"error: not promoted: on the held-out examples the candidate's ROC AUC "
            f"({comparison.candidate.metrics['roc_auc']:.4f}) is lower than the current "
            f"model {comparison.current.version}'s ({comparison.current.metrics['roc_auc']:.4f}) "
            f"by {comparison.auc_drop:.4f}, more than {training.AUC_TOLERANCE}. {target.name} is "
            f"saved; promote it anyway with `moderation models promote {target.name}`, or train "
            "again with --force.",
            err=True,
        )
        raise typer.Exit(3)


@app.command("export")
def export_labels(
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write.")],
    site: Annotated[str | None, typer.Option(help="Only this site; default: every site.")] = None,
) -> None:
    """Write the labelled comments of the database in the training file format (JSONL).

    One line per text, with its latest label (test traffic left out). The file holds authors'
    names and email addresses: it is training data, keep it private (it is created readable by
    its owner only).
    """
    try:
        store = open_store(_settings())
        try:
            count = store_training.export(store, out, site=site)
        finally:
            store.engine.dispose()
    except (StoreError, OSError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"wrote {count} labelled comment(s) to {out}", err=True)


@models_app.command("list")
def models_list() -> None:
    """List the model versions, newest first; the current one is marked with *."""
    settings = _settings()
    try:
        current = artifacts.current_version(settings.models_dir)
    except ArtifactError:
        current = ""
    folders = sorted((p for p in settings.models_dir.iterdir() if p.is_dir()), reverse=True) \
        if settings.models_dir.is_dir() else []  # fmt: skip
    for folder in folders:
        if folder.name.startswith("."):
            continue
        mark = "*" if folder.name == current else " "
        try:
            meta = artifacts.read_metadata(folder)
        except ArtifactError as exc:
            typer.echo(f"{mark} {folder.name}\tunreadable: {exc}")
            continue
        auc = (meta.get("cross_validation") or {}).get("roc_auc")
        t = training.model_thresholds(meta)
        fields = [
            f"{mark} {folder.name}",
            str(meta.get("created_at", "?")),
            f"{meta.get('n_examples', '?')} examples",
            f"cv ROC AUC {auc:.4f}" if isinstance(auc, float) else "cv ROC AUC n/a",
            f"ham < {t['ham_threshold']:.2f}, spam >= {t['spam_threshold']:.2f}",
        ]
        typer.echo("\t".join(fields))


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="The version (folder name) to make current.")],
) -> None:
    """Make a saved version current, after checking that it loads.

    No comparison is made: this is the operator's decision (also the way back to an older
    version). A running service picks it up within 2 seconds, on `kill -HUP`, or on
    POST /v1/admin/model/reload.
    """
    settings = _settings()
    try:
        artifacts.promote(settings.models_dir, version)
    except ArtifactError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{version} is now the current model")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Labelled CSV/JSONL file.")],
    model: Annotated[
        Path | None, typer.Option(help="Model version folder; default: the current one.")
    ] = None,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write an HTML page with the curves and score histograms on this file.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Measure the classifier alone on a labelled file."""
    settings = _settings()
    try:
        loaded = artifacts.load(model) if model else artifacts.load_current(settings.models_dir)
        examples = dataset.read_all([data])
    except (DatasetError, ArtifactError) as exc:
        raise _fail(str(exc)) from exc
    y = [1 if ex.label is Label.SPAM else 0 for ex in examples]
    probabilities = loaded.classifier.spam_probabilities([ex.item for ex in examples])
    result = training.metrics(y, probabilities, threshold=threshold)
    result.pop("threshold")
    if report_path:
        thresholds = training.model_thresholds(loaded.metadata)
        page = report.render_report(
            title=f"Evaluation of model {loaded.version}",
            summary=[("model", loaded.version), ("data", str(data)),
                     ("examples", f"{len(y)} ({sum(y)} spam, {len(y) - sum(y)} ham)")],
            sections=[
                report.Section(
                    title=f"Model {loaded.version} on {data.name}",
                    text="Metrics at the model's own thresholds.",
                    models=[report.ScoredModel(
                        name=loaded.version, y_true=y, scores=[float(p) for p in probabilities],
                        thresholds=thresholds,
                        metrics=training.band_metrics(y, probabilities, thresholds),
                    )],
                )
            ],
        )  # fmt: skip
        try:
            report_path.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise _fail(str(exc)) from exc
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
    jobs: Annotated[
        int, typer.Option(min=0, max=256, help="Worker processes; 0: one per core.")
    ] = 0,
) -> None:
    """Read JSONL comments on stdin and write one decision per line (nothing is stored).

    Each line takes the fields of POST /v1/comments/check. Duplicate, flood and reputation
    checks need the database and are skipped. A line that cannot be read gets an `error`.
    Decisions come out in the order of the input lines.
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
    job = backlog.BacklogJob(model=loaded, policy=policy, facts=Facts(now=datetime.now(UTC)))
    # As `serve` does: the libraries and the model live as long as the command, and the
    # collector walking them again and again costs a few percent of a long backlog.
    freeze_what_is_loaded()
    backlog.score_stream(job, sys.stdin, sys.stdout, batch=batch, jobs=jobs or os.cpu_count() or 1)
    sys.stdout.flush()


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
