"""Training on corpora too large for one matrix: n-grams counted chunk by chunk, then SGD.

The exact path (`training.cross_validate` and `training.fit`) holds every example's TF-IDF row
at once and fits liblinear six times (five folds and the final fit). At a million comments that
is some 500 million non-zeros, more memory than a modest machine has, and hours of fitting.
Here instead:

1. one pass over the examples: each becomes its document once, its words and tokens are
   numbered (about 300 bytes a comment are kept) and its n-grams counted (`moderation.ngrams`);
2. the vocabulary and idf are fitted as TfidfVectorizer would fit them on the training slice;
3. logistic regression is fitted by stochastic gradient descent over shuffled batches, a few
   epochs, each batch's TF-IDF rows rebuilt from the kept numbers;
4. sigmoid calibration is fitted on one held-out slice and the report drawn from another.

An example's slice is chosen by a hash of its document, so that copies of one text never sit
on both sides of the line between training and validation.

Each vectorizer (words, characters) has its own process that numbers, counts and later builds
TF-IDF rows, while this one reads, makes the documents and runs the regression: the passes
are bound by Python, so that is how they use more than one core.
"""

from __future__ import annotations

import multiprocessing
import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from moderation.classifier import RANDOM_STATE, SpamClassifier, build_pipeline
from moderation.dataset import STREAMING_FROM as STREAMING_FROM
from moderation.dataset import DataHash, Example, content_key
from moderation.domain import Label
from moderation.features import document
from moderation.ngrams import Encoded, NgramCounts, Transform
from moderation.training import Progress, choose_thresholds, metrics, quiet

CHUNK = 10_000
BATCH = 10_000
# Three epochs: on the SMS Spam Collection (5-fold) accuracy and F1 barely move from three to
# five, and a larger corpus needs fewer.
EPOCHS = 3
# The exact path's regression has C=20; the same L2 penalty in SGD's terms is 1 / (C * n).
C = 20.0
# One slice in SLICES calibrates, another is the validation the report is drawn from.
SLICES = 20
_CALIBRATION, _VALIDATION = 0, 1


@dataclass(frozen=True, slots=True)
class Streamed:
    """A classifier trained by streaming, and what the metadata and the report need of it."""

    classifier: SpamClassifier
    report: dict[str, Any]
    validation: tuple[Example, ...]  # the held-out slice the report was drawn from
    validation_probabilities: Any
    data_sha256: str
    n_spam: int
    n_ham: int
    training_keys: Any  # sorted unique content keys (bytes) of the examples fitted on


_SLICES = ("train", "cal", "val")


class _Counting:
    """One vectorizer's side of training: its counts, then its TF-IDF rows of each slice."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.counts: NgramCounts | None = NgramCounts(vectorizer)
        self.parts: dict[str, list[Encoded]] = {name: [] for name in _SLICES}
        self.encoded: dict[str, Encoded] = {}
        self.starts: Any = None
        self.transform: Transform | None = None

    def chunk(self, docs: list[str], picks: dict[str, Any]) -> None:
        """Number one chunk's documents, keep them by slice, count the training slice's."""
        assert self.counts is not None
        encoded = self.counts.encode(docs)
        starts = encoded.starts()
        for name, rows in picks.items():
            part = encoded.take(rows, starts=starts)
            self.parts[name].append(part)
            if name == "train":
                self.counts.learn(part)

    def fit(self) -> TfidfVectorizer:
        """The fitted vectorizer; the counts give way to the transform."""
        assert self.counts is not None
        vectorizer, self.transform = self.counts.fit()
        self.counts = None
        for name in _SLICES:
            self.encoded[name] = Encoded.join(self.parts.pop(name))
        self.starts = self.encoded["train"].starts()
        return vectorizer

    def give(self, part: str) -> Any:
        """Hand one part over to the process that runs the regression, and forget it here.

        Part by part ("transform", "starts", or a slice's name): a process's memory briefly
        holds what it sends twice, so the parts are sent one at a time.
        """
        given: Any
        if part == "transform":
            given, self.transform = self.transform, None
        elif part == "starts":
            given, self.starts = self.starts, None
        else:
            given = self.encoded.pop(part)
        return given


@dataclass(frozen=True, slots=True)
class _Rows:
    """One vectorizer's TF-IDF rows of each slice, built on demand from the kept numbers."""

    transform: Transform
    encoded: dict[str, Encoded]
    starts: Any  # of the training slice's documents

    def __call__(self, name: str, rows: Any = None) -> Any:
        """TF-IDF rows (float64 CSR) of a slice, or of some of its documents."""
        encoded = self.encoded[name]
        if rows is not None:
            encoded = encoded.take(rows, starts=self.starts if name == "train" else None)
        return self.transform(encoded, dtype=np.float64)


# In a counting process: its one _Counting.
_counting: _Counting | None = None


def _start(vectorizer: TfidfVectorizer) -> None:
    global _counting
    _counting = _Counting(vectorizer)


def _call(method: str, *args: Any) -> Any:
    assert _counting is not None
    return getattr(_counting, method)(*args)


class _Side:
    """A _Counting here, or in a process of its own; calls return futures either way."""

    def __init__(self, vectorizer: TfidfVectorizer, *, own_process: bool) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.local: _Counting | None = None
        if own_process:
            # fork: the process starts at once with the modules loaded.
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(1, context, initializer=_start, initargs=(vectorizer,))
        else:
            self.local = _Counting(vectorizer)

    def call(self, method: str, *args: Any) -> Future[Any]:
        """Run a _Counting method; one process runs its calls in the order given."""
        if self.pool is not None:
            return self.pool.submit(_call, method, *args)
        done: Future[Any] = Future()
        assert self.local is not None
        done.set_result(getattr(self.local, method)(*args))
        return done

    def close(self) -> None:
        """Stop the process, if any."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _slice_of(doc: str) -> int:
    return zlib.crc32(doc.encode("utf-8", "surrogatepass")) % SLICES


def _chunks(examples: Iterable[Example]) -> Iterator[tuple[Example, ...]]:
    stream = iter(examples)
    while chunk := tuple(islice(stream, CHUNK)):
        yield chunk


def can_use_processes() -> bool:
    """Whether the counting can run in processes of its own (it needs fork)."""
    return "fork" in multiprocessing.get_all_start_methods()


def train_streaming(
    examples: Iterable[Example],
    *,
    epochs: int = EPOCHS,
    processes: bool | None = None,
    progress: Progress = quiet,
) -> Streamed:
    """Fit the pipeline's vocabulary, regression and calibration in one pass plus epochs.

    With `processes` (the default where fork is available) each vectorizer counts and builds
    its rows in a process of its own.
    """
    own_process = can_use_processes() if processes is None else processes
    union: FeatureUnion = build_pipeline().named_steps["features"]
    sides = [(name, _Side(v, own_process=own_process)) for name, v in union.transformer_list]
    try:
        return _train(examples, sides, epochs=epochs, progress=progress)
    finally:
        for _, side in sides:
            side.close()


def _train(
    examples: Iterable[Example],
    sides: list[tuple[str, _Side]],
    *,
    epochs: int,
    progress: Progress,
) -> Streamed:
    started = time.perf_counter()

    def elapsed() -> str:
        return f"{time.perf_counter() - started:.0f} s"

    digest = DataHash()
    labels: dict[str, list[Any]] = {name: [] for name in _SLICES}
    keys: list[Any] = []
    validation: list[Example] = []
    pending: deque[Future[Any]] = deque()
    n = 0
    for chunk in _chunks(examples):
        docs = [document(ex.item) for ex in chunk]
        where = np.fromiter(map(_slice_of, docs), dtype=np.int64, count=len(docs))
        picks = {
            "train": np.flatnonzero(where > _VALIDATION),
            "cal": np.flatnonzero(where == _CALIBRATION),
            "val": np.flatnonzero(where == _VALIDATION),
        }
        for _, side in sides:
            pending.append(side.call("chunk", docs, picks))
        y = np.fromiter((ex.label is Label.SPAM for ex in chunk), dtype=np.int8)
        for name, rows in picks.items():
            labels[name].append(y[rows])
        for ex in chunk:
            digest.update(ex)
        train_rows = picks["train"].tolist()
        keys.append(np.array([content_key(chunk[i].item.content) for i in train_rows], "S64"))
        validation.extend(chunk[i] for i in picks["val"].tolist())
        n += len(chunk)
        if n % (10 * CHUNK) == 0:
            progress(f"read {n:,} examples ({elapsed()})")
        # Two chunks in flight per side keep every process busy and the queue short.
        while len(pending) > 2 * len(sides):
            pending.popleft().result()
    for future in pending:
        future.result()
    y_train, y_cal, y_val = (
        np.concatenate(labels[name]) if labels[name] else np.zeros(0, np.int8) for name in _SLICES
    )
    for needed, y in (("training", y_train), ("calibration", y_cal), ("validation", y_val)):
        if min(int(y.sum()), int(len(y) - y.sum())) < 2:
            raise ValueError(
                f"the {needed} slice needs at least two examples of both labels: with "
                f"{n:,} examples, train with --method exact"
            )
    progress(
        f"{n:,} examples read and counted ({elapsed()}): {len(y_train):,} to train on, "
        f"{len(y_cal):,} to calibrate, {len(y_val):,} to validate"
    )
    fits = [(name, side.call("fit")) for name, side in sides]
    fitted = [(name, future.result()) for name, future in fits]
    progress(
        "vocabulary: "
        + ", ".join(f"{len(v.vocabulary_):,} {name}" for name, v in fitted)
        + f" ({elapsed()})"
    )

    # The counting processes hand their transforms over and stop; from here on the rows are
    # built by threads here (numpy and scipy let go of the GIL) while the regression runs.
    builders: list[_Rows] = []
    for _, side in sides:
        transform, starts = side.call("give", "transform"), side.call("give", "starts")
        encoded = {name: side.call("give", name).result() for name in _SLICES}
        builders.append(_Rows(transform.result(), encoded, starts.result()))
        side.close()
    threads = ThreadPoolExecutor(len(builders))

    def rows_of(name: str, rows: Any = None) -> list[Future[Any]]:
        return [threads.submit(build, name, rows) for build in builders]

    def matrix(blocks: list[Future[Any]]) -> Any:
        return sp.hstack([block.result() for block in blocks], format="csr")

    regression = SGDClassifier(
        loss="log_loss", alpha=1.0 / (C * len(y_train)), average=True, random_state=RANDOM_STATE
    )
    rng = np.random.default_rng(RANDOM_STATE)
    classes = np.array([0, 1])
    with threads:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(y_train))
            batches = [np.sort(order[b : b + BATCH]) for b in range(0, len(order), BATCH)]
            ahead = [rows_of("train", batches[0])]
            for i, rows in enumerate(batches):
                if i + 1 < len(batches):
                    ahead.append(rows_of("train", batches[i + 1]))
                regression.partial_fit(matrix(ahead.pop(0)), y_train[rows], classes=classes)
            progress(f"epoch {epoch}/{epochs} ({elapsed()})")
        # A frozen regression scores every calibration example the same whatever the split:
        # two folds are the fewest that cross-validation takes.
        calibrated = CalibratedClassifierCV(FrozenEstimator(regression), method="sigmoid", cv=2)
        calibrated.fit(matrix(rows_of("cal")), y_cal)
        # The validation slice in batches: whole, its rows would be the largest matrix yet.
        batches = [np.arange(b, min(b + BATCH, len(y_val))) for b in range(0, len(y_val), BATCH)]
        probabilities = np.concatenate(
            [calibrated.predict_proba(matrix(rows_of("val", rows)))[:, 1] for rows in batches]
        )
    pipeline = Pipeline([("features", FeatureUnion(fitted)), ("classifier", calibrated)])
    report = metrics(y_val, probabilities)
    report.update(
        method="streaming",
        held_out=len(y_val),
        calibration_examples=len(y_cal),
        training_examples=len(y_train),
        epochs=epochs,
        suggested_thresholds=choose_thresholds(y_val, probabilities),
    )
    n_spam = int(y_train.sum() + y_cal.sum() + y_val.sum())
    return Streamed(
        classifier=SpamClassifier(pipeline),
        report=report,
        validation=tuple(validation),
        validation_probabilities=probabilities,
        data_sha256=digest.hexdigest(),
        n_spam=n_spam,
        n_ham=n - n_spam,
        training_keys=np.unique(np.concatenate(keys)) if keys else np.zeros(0, "S64"),
    )
