"""Train, cross-validate and evaluate the classifier; choose thresholds from the validation.

A candidate is compared with the current model on a fixed held-out split before it may become
current (see `compare`): both are scored on the same held-out examples that the current model
did not train on, and the candidate is "worse" when its ROC AUC is lower by more than
`AUC_TOLERANCE`.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split

from moderation import artifacts
from moderation.artifacts import LoadedModel
from moderation.classifier import RANDOM_STATE, SpamClassifier, build_pipeline
from moderation.dataset import Example, content_key, data_hash
from moderation.domain import Label
from moderation.features import document
from moderation.policy import (
    DEFAULT_DISCARD_THRESHOLD,
    DEFAULT_HAM_THRESHOLD,
    DEFAULT_SPAM_THRESHOLD,
)

Progress = Callable[[str], None]
CV_FOLDS = 5
# Upper bounds for the chosen thresholds: a site wants few honest comments auto-spammed
# (precision above the spam threshold) and little spam auto-approved (spam below the ham one).
TARGET_SPAM_PRECISION = 0.99
MAX_SPAM_APPROVED = 0.02
# The comparison before promotion. A candidate whose held-out ROC AUC is lower than the current
# model's by more than AUC_TOLERANCE is refused: on a few hundred examples AUC moves by about
# this much from one random split to another, so a smaller drop is noise, not a regression.
AUC_TOLERANCE = 0.005
HOLDOUT_FRACTION = 0.2
# Fewer held-out examples of a label than this (that the current model did not train on) make
# the comparison inconclusive: it is printed, but refuses nothing.
MIN_COMPARED_PER_LABEL = 20
# Beside a saved version: the content keys of the examples it was fitted on, one a line, so that
# a later comparison scores it only on examples it has not seen.
TRAINING_KEYS_FILE = "training_keys.txt"


def quiet(_: str) -> None:
    """A Progress that says nothing."""
    return None


def metrics(y_true: Any, probabilities: Any, *, threshold: float = 0.5) -> dict[str, Any]:
    """Classification metrics at a threshold, spam being the positive class."""
    y_true = np.asarray(y_true)
    y_pred = (np.asarray(probabilities) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    both = len(set(y_true.tolist())) == 2
    return {
        "n": len(y_true),
        "threshold": threshold,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(y_true, y_pred)) if both else 0.0,
        "roc_auc": float(roc_auc_score(y_true, probabilities)) if both else None,
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def choose_thresholds(y_true: Any, probabilities: Any) -> dict[str, float]:
    """Ham and spam thresholds from out-of-fold probabilities (see the targets above)."""
    y = np.asarray(y_true)
    p = np.asarray(probabilities)
    spam_t = 0.5
    for t in np.arange(0.50, 0.995, 0.01):
        flagged = p >= t
        if flagged.sum() and y[flagged].mean() >= TARGET_SPAM_PRECISION:
            spam_t = float(t)
            break
    else:
        spam_t = 0.99
    spam_scores = np.sort(p[y == 1])
    ham_t = 0.5
    if len(spam_scores):
        ham_t = float(spam_scores[int(MAX_SPAM_APPROVED * len(spam_scores))])
    ham_t = float(np.clip(round(ham_t, 2), 0.05, spam_t))
    return {"ham_threshold": ham_t, "spam_threshold": round(spam_t, 2)}


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Out-of-fold probabilities and the report drawn from them."""

    probabilities: Any
    report: dict[str, Any]


def cross_validate(
    examples: Sequence[Example], *, folds: int = CV_FOLDS, progress: Progress = quiet
) -> CrossValidation:
    """Stratified k-fold cross-validation of the whole pipeline."""
    docs = np.array([document(ex.item) for ex in examples], dtype=object)
    y = np.array([1 if ex.label is Label.SPAM else 0 for ex in examples])
    if min(int(y.sum()), int(len(y) - y.sum())) < folds:
        raise ValueError(f"need at least {folds} examples of each label to cross-validate")
    oof = np.zeros(len(y), dtype=float)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    for k, (train, test) in enumerate(splitter.split(docs, y), 1):
        started = time.perf_counter()
        model = clone(build_pipeline()).fit(docs[train].tolist(), y[train])
        oof[test] = model.predict_proba(docs[test].tolist())[:, 1]
        progress(f"cross-validation fold {k}/{folds} ({time.perf_counter() - started:.1f} s)")
    report = metrics(y, oof)
    report["folds"] = folds
    report["suggested_thresholds"] = choose_thresholds(y, oof)
    return CrossValidation(probabilities=oof, report=report)


def fit(examples: Sequence[Example]) -> SpamClassifier:
    """Fit the pipeline on every example."""
    docs = [document(ex.item) for ex in examples]
    y = [1 if ex.label is Label.SPAM else 0 for ex in examples]
    return SpamClassifier(build_pipeline().fit(docs, y))


def new_version_name() -> str:
    """A sortable version name from the current UTC time."""
    return datetime.now(UTC).strftime("v%Y%m%d-%H%M%S")


@dataclass(slots=True)
class MergeCounts:
    """What a merge did: the database's examples by label, and how they met the seed's."""

    db_spam: int = 0
    db_ham: int = 0
    relabelled: int = 0  # seed examples whose label a decision in the database changed
    already_in_seed: int = 0  # database examples identical to a seed example with the same label

    def summary(self) -> dict[str, int]:
        """The counts, for the metadata and the report."""
        return {
            "db_spam": self.db_spam,
            "db_ham": self.db_ham,
            "relabelled_seed_examples": self.relabelled,
            "already_in_seed": self.already_in_seed,
        }


@dataclass(frozen=True, slots=True)
class Merged:
    """The seed corpus with the database's labelled examples merged in."""

    examples: tuple[Example, ...]
    counts: MergeCounts

    def summary(self) -> dict[str, int]:
        """The counts, for the metadata and the report."""
        return self.counts.summary()


def _latest_by_text(decisions: Sequence[Example]) -> dict[str, Example]:
    # One decision per text, the later winning, in the order of their latest decisions.
    latest: dict[str, Example] = {}
    for example in decisions:
        key = content_key(example.item.content)
        latest.pop(key, None)
        latest[key] = example
    return latest


def merge(seed: Sequence[Example], decisions: Sequence[Example]) -> Merged:
    """Seed examples, then decisions, one per text; a decision's label wins (it came later).

    A decision on a text the seed corpus holds replaces the seed example in place; among the
    decisions, the later one on the same text wins.
    """
    merged: dict[str, Example] = {}
    for example in seed:
        merged.setdefault(content_key(example.item.content), example)
    seed_labels = {key: ex.label for key, ex in merged.items()}
    latest = _latest_by_text(decisions)
    relabelled = already = 0
    for key, example in latest.items():
        if key in seed_labels:
            if seed_labels[key] is example.label:
                already += 1
            else:
                relabelled += 1
        merged[key] = example
    labels = [ex.label for ex in latest.values()]
    counts = MergeCounts(
        db_spam=labels.count(Label.SPAM),
        db_ham=labels.count(Label.HAM),
        relabelled=relabelled,
        already_in_seed=already,
    )
    return Merged(examples=tuple(merged.values()), counts=counts)


def merge_stream(
    seed: Iterable[Example], decisions: Sequence[Example], counts: MergeCounts
) -> Iterator[Example]:
    """`merge` for a stream of seed examples: the same examples, without holding the seed.

    The seed examples come through as they are read, each text once, except those a decision
    replaces; the decisions (the later on the same text winning) come last. `counts` is
    filled in as the stream is used up.
    """
    latest = _latest_by_text(decisions)
    seen: set[bytes] = set()
    for example in seed:
        key = content_key(example.item.content)
        digest = bytes.fromhex(key)  # half the memory of the text form
        if digest in seen:
            continue
        seen.add(digest)
        decision = latest.get(key)
        if decision is None:
            yield example
        elif decision.label is example.label:
            counts.already_in_seed += 1
        else:
            counts.relabelled += 1
    for example in latest.values():
        if example.label is Label.SPAM:
            counts.db_spam += 1
        else:
            counts.db_ham += 1
        yield example


def model_thresholds(metadata: dict[str, Any]) -> dict[str, float]:
    """A model's own ham/spam thresholds (from its metadata), and the default discard one."""
    saved = metadata.get("thresholds")
    saved = saved if isinstance(saved, dict) else {}
    return {
        "ham_threshold": float(saved.get("ham_threshold", DEFAULT_HAM_THRESHOLD)),
        "spam_threshold": float(saved.get("spam_threshold", DEFAULT_SPAM_THRESHOLD)),
        "discard_threshold": float(saved.get("discard_threshold", DEFAULT_DISCARD_THRESHOLD)),
    }


def band_metrics(y_true: Any, probabilities: Any, thresholds: dict[str, float]) -> dict[str, Any]:
    """Metrics at a model's own thresholds: spam from the spam threshold, and the three bands."""
    y = np.asarray(y_true)
    p = np.asarray(probabilities)
    out = metrics(y, p, threshold=thresholds["spam_threshold"])
    both = len(set(y.tolist())) == 2
    out["average_precision"] = float(average_precision_score(y, p)) if both else None
    ham, spam = p[y == 0], p[y == 1]
    out["ham_marked_spam"] = (
        float((ham >= thresholds["spam_threshold"]).mean()) if len(ham) else 0.0
    )
    out["spam_approved"] = float((spam < thresholds["ham_threshold"]).mean()) if len(spam) else 0.0
    held = (p >= thresholds["ham_threshold"]) & (p < thresholds["spam_threshold"])
    out["held"] = float(held.mean()) if len(p) else 0.0
    out["thresholds"] = dict(thresholds)
    return out


@dataclass(frozen=True, slots=True)
class ModelScores:
    """One model's spam probabilities on labelled examples, and its metrics there."""

    version: str
    y_true: tuple[int, ...]
    probabilities: tuple[float, ...]
    thresholds: dict[str, float]
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate and current model on the same held-out examples, and the verdict."""

    candidate: ModelScores
    current: ModelScores
    n_held_out: int
    n_compared: int
    basis: str  # which held-out examples were compared, in words
    conclusive: bool
    auc_drop: float  # current AUC minus candidate AUC: positive when the candidate is lower
    worse: bool

    def summary(self) -> dict[str, Any]:
        """What the metadata keeps of the comparison."""
        return {
            "current_version": self.current.version,
            "n_held_out": self.n_held_out,
            "n_compared": self.n_compared,
            "basis": self.basis,
            "conclusive": self.conclusive,
            "auc_drop": round(self.auc_drop, 6),
            "auc_tolerance": AUC_TOLERANCE,
            "worse": self.worse,
            "candidate": {k: v for k, v in self.candidate.metrics.items() if k != "threshold"},
            "current": {k: v for k, v in self.current.metrics.items() if k != "threshold"},
        }


def read_training_keys(model_dir: Path) -> frozenset[str] | None:
    """The content keys a saved version was fitted on, or None when it did not record them."""
    try:
        text = (model_dir / TRAINING_KEYS_FILE).read_text(encoding="ascii")
    except (OSError, ValueError):
        return None
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def seen_by(current: LoadedModel, seed: Sequence[Example]) -> frozenset[str] | None:
    """The content keys the current model trained on, when known.

    From the keys file a version saved with it, else the seed corpus when the model's data hash
    is the seed's (the shipped model); None when neither tells.
    """
    keys = read_training_keys(current.path)
    if keys is not None:
        return keys
    if seed and current.metadata.get("data_sha256") == data_hash(seed):
        return frozenset(content_key(ex.item.content) for ex in seed)
    return None


def _scores(version: str, y: Any, p: Any, thresholds: dict[str, float]) -> ModelScores:
    return ModelScores(
        version=version,
        y_true=tuple(int(v) for v in y),
        probabilities=tuple(float(v) for v in p),
        thresholds=dict(thresholds),
        metrics=band_metrics(y, p, thresholds),
    )


def compare(
    examples: Sequence[Example],
    current: LoadedModel,
    *,
    candidate_version: str,
    candidate_thresholds: dict[str, float],
    seen: frozenset[str] | None,
    progress: Progress = quiet,
) -> Comparison:
    """Fit the candidate on a fixed stratified 80% and score both models on the other 20%.

    See `compare_held_out` for which of those examples are compared.
    """
    y = np.array([1 if ex.label is Label.SPAM else 0 for ex in examples])
    if min(int(y.sum()), int(len(y) - y.sum())) < 2 / HOLDOUT_FRACTION:
        raise ValueError("need at least 10 examples of each label to hold some out")
    train_idx, test_idx = train_test_split(
        np.arange(len(examples)),
        test_size=HOLDOUT_FRACTION,
        stratify=y,
        random_state=RANDOM_STATE,
    )
    started = time.perf_counter()
    candidate = fit([examples[i] for i in train_idx])
    progress(
        f"held-out comparison: candidate fitted on {len(train_idx)} examples "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return compare_held_out(
        [examples[i] for i in test_idx],
        candidate,
        current,
        candidate_version=candidate_version,
        candidate_thresholds=candidate_thresholds,
        seen=seen,
    )


def _probabilities(classifier: SpamClassifier, examples: Sequence[Example]) -> Any:
    items = [ex.item for ex in examples]
    try:
        # The scoring path: the pipeline's own predict_proba runs scikit-learn's Python
        # analyzers, a millisecond a comment (a minute for a streamed model's validation
        # slice), and agrees with this to 1e-5. Only the probabilities are wanted: no evidence.
        scores = classifier.score_many(items, evidence_from=math.inf)
    except ValueError:  # a pipeline of another shape than build_pipeline's
        return classifier.spam_probabilities(items)
    return np.array([score.spam_probability for score in scores])


def compare_held_out(
    held_out: Sequence[Example],
    candidate: SpamClassifier,
    current: LoadedModel,
    *,
    candidate_version: str,
    candidate_thresholds: dict[str, float],
    seen: frozenset[str] | None,
) -> Comparison:
    """Score the candidate and the current model on examples the candidate did not train on.

    Only those the current model did not train on either are compared when that is known
    (`seen`): scoring a model on its own training data flatters it. With fewer than
    MIN_COMPARED_PER_LABEL of a label left, the comparison is shown but inconclusive.
    """
    y = np.array([1 if ex.label is Label.SPAM else 0 for ex in held_out])
    unseen = [
        i
        for i, ex in enumerate(held_out)
        if seen is None or content_key(ex.item.content) not in seen
    ]
    new_spam = int(y[unseen].sum())
    new_ham = len(unseen) - new_spam
    compared: list[int] = list(range(len(held_out)))
    conclusive = True
    if seen is None:
        basis = (
            "all held-out examples (the current model does not record its training data: "
            "it may have trained on some of them)"
        )
    elif min(new_spam, new_ham) >= MIN_COMPARED_PER_LABEL:
        compared = unseen
        basis = "the held-out examples the current model did not train on"
    else:
        conclusive = False
        basis = (
            f"all held-out examples: only {new_spam} spam and {new_ham} ham among them are new "
            f"to the current model (fewer than {MIN_COMPARED_PER_LABEL} of a label), so the "
            "comparison is inconclusive and refuses nothing"
        )
    chosen = [held_out[i] for i in compared]
    y_c = y[compared]
    cand = _scores(candidate_version, y_c, _probabilities(candidate, chosen), candidate_thresholds)
    curr = _scores(
        current.version,
        y_c,
        _probabilities(current.classifier, chosen),
        model_thresholds(current.metadata),
    )
    drop = float(curr.metrics["roc_auc"]) - float(cand.metrics["roc_auc"])
    return Comparison(
        candidate=cand,
        current=curr,
        n_held_out=len(held_out),
        n_compared=len(compared),
        basis=basis,
        conclusive=conclusive,
        auc_drop=drop,
        worse=conclusive and drop > AUC_TOLERANCE,
    )


def save_version(
    examples: Sequence[Example],
    out_dir: Path,
    cv: CrossValidation,
    *,
    sources: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
    seconds_so_far: float = 0.0,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Fit on every example and save to out_dir with its report; returns the saved metadata."""
    labels = [ex.label for ex in examples]
    progress("fitting the final model on all examples")
    started = time.perf_counter()
    classifier = fit(examples)
    return save_trained(
        classifier,
        out_dir,
        report=cv.report,
        data_sha256=data_hash(examples),
        n_spam=labels.count(Label.SPAM),
        n_ham=labels.count(Label.HAM),
        training_keys=sorted({content_key(ex.item.content) for ex in examples}),
        sources=sources,
        extra=extra,
        seconds=seconds_so_far + time.perf_counter() - started,
        progress=progress,
    )


def save_trained(
    classifier: SpamClassifier,
    out_dir: Path,
    *,
    report: dict[str, Any],
    data_sha256: str,
    n_spam: int,
    n_ham: int,
    training_keys: Iterable[str],
    sources: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
    seconds: float,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Save a fitted classifier to out_dir with its report; returns the saved metadata.

    `training_keys` are the sorted content keys of the examples it was fitted on.
    """
    metadata: dict[str, Any] = {
        "version": out_dir.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "trained_sklearn_version": sklearn.__version__,
        "data_sha256": data_sha256,
        "data_sources": list(sources),
        "n_examples": n_spam + n_ham,
        "n_spam": n_spam,
        "n_ham": n_ham,
        "cross_validation": report,
        "thresholds": report["suggested_thresholds"],
        "training_seconds": round(seconds, 1),
        **(extra or {}),
    }
    progress(f"writing {out_dir}")
    saved = artifacts.save(classifier, out_dir, metadata)
    with (out_dir / TRAINING_KEYS_FILE).open("w", encoding="ascii") as keys:
        keys.writelines(key + "\n" for key in training_keys)
    return saved


def train(
    examples: Sequence[Example],
    out_dir: Path,
    *,
    sources: Sequence[str] = (),
    folds: int = CV_FOLDS,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Cross-validate, fit on everything, save to out_dir; returns the saved metadata."""
    labels = [ex.label for ex in examples]
    progress(
        f"{len(examples)} examples: {labels.count(Label.SPAM)} spam, {labels.count(Label.HAM)} ham"
    )
    started = time.perf_counter()
    cv = cross_validate(examples, folds=folds, progress=progress)
    return save_version(
        examples,
        out_dir,
        cv,
        sources=sources,
        seconds_so_far=time.perf_counter() - started,
        progress=progress,
    )


def evaluate(
    classifier: SpamClassifier, examples: Sequence[Example], *, threshold: float = 0.5
) -> dict[str, Any]:
    """Metrics of the classifier alone on labelled examples."""
    y = [1 if ex.label is Label.SPAM else 0 for ex in examples]
    probabilities = classifier.spam_probabilities([ex.item for ex in examples])
    return metrics(y, probabilities, threshold=threshold)
