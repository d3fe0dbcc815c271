"""Train, cross-validate and evaluate the classifier; choose thresholds from the validation."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold

from moderation import artifacts
from moderation.classifier import RANDOM_STATE, SpamClassifier, build_pipeline
from moderation.dataset import Example, data_hash
from moderation.domain import Label
from moderation.features import document

Progress = Callable[[str], None]
CV_FOLDS = 5
# Upper bounds for the chosen thresholds: a site wants few honest comments auto-spammed
# (precision above the spam threshold) and little spam auto-approved (spam below the ham one).
TARGET_SPAM_PRECISION = 0.99
MAX_SPAM_APPROVED = 0.02


def _quiet(_: str) -> None:
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
    examples: Sequence[Example], *, folds: int = CV_FOLDS, progress: Progress = _quiet
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


def train(
    examples: Sequence[Example],
    out_dir: Path,
    *,
    sources: Sequence[str] = (),
    folds: int = CV_FOLDS,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Cross-validate, fit on everything, save to out_dir; returns the saved metadata."""
    labels = [ex.label for ex in examples]
    progress(
        f"{len(examples)} examples: {labels.count(Label.SPAM)} spam, {labels.count(Label.HAM)} ham"
    )
    started = time.perf_counter()
    cv = cross_validate(examples, folds=folds, progress=progress)
    progress("fitting the final model on all examples")
    classifier = fit(examples)
    elapsed = time.perf_counter() - started
    metadata: dict[str, Any] = {
        "version": out_dir.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "trained_sklearn_version": sklearn.__version__,
        "data_sha256": data_hash(examples),
        "data_sources": list(sources),
        "n_examples": len(examples),
        "n_spam": labels.count(Label.SPAM),
        "n_ham": labels.count(Label.HAM),
        "cross_validation": cv.report,
        "thresholds": cv.report["suggested_thresholds"],
        "training_seconds": round(elapsed, 1),
    }
    progress(f"writing {out_dir}")
    return artifacts.save(classifier, out_dir, metadata)


def evaluate(
    classifier: SpamClassifier, examples: Sequence[Example], *, threshold: float = 0.5
) -> dict[str, Any]:
    """Metrics of the classifier alone on labelled examples."""
    y = [1 if ex.label is Label.SPAM else 0 for ex in examples]
    probabilities = classifier.spam_probabilities([ex.item for ex in examples])
    return metrics(y, probabilities, threshold=threshold)
