"""The service's Prometheus metrics, in one process or shared by `moderation serve`'s workers.

prometheus_client picks its value store when it is first imported: with PROMETHEUS_MULTIPROC_DIR
set (`moderation serve --workers N` sets it before the workers start) every worker writes its
values to files in that folder and a scrape merges them; without it the values live in this
process. Labels hold only route templates, methods, status codes, site names, verdicts, reason
codes, statuses and model versions: never an address, an email or a key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from moderation.domain import CommentStatus, Decision

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "moderation_"
# Answers take a few milliseconds; the top buckets catch a stalled database.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Checks per writer batch: one alone at low load, up to the writer's largest (128).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"

QueueSizes = Callable[[], Mapping[tuple[str, CommentStatus], int]]


def multiprocess_dir() -> Path | None:
    """The folder the worker processes share their values in, or None in single-process mode."""
    # The mode was fixed when prometheus_client was imported; the variable is its own.
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def method_label(method: str) -> str:
    """The method as a label: one of the standard ones, else 'other' (bounded cardinality)."""
    return method if method in _METHODS else OTHER_METHOD


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_processes(path: Path) -> list[int]:
    """Drop the live gauges of processes that no longer exist (a killed worker never marks
    itself dead); returns their ids."""
    dead: list[int] = []
    for file in path.glob("gauge_live*_*.db"):
        pid_text = file.stem.rpartition("_")[2]
        if pid_text.isdigit() and int(pid_text) not in dead and not _alive(int(pid_text)):
            dead.append(int(pid_text))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return dead


class _ScrapeTime(Collector):
    """Figures read when /metrics is scraped rather than kept up to date on every request."""

    def __init__(self) -> None:
        self.queue_sizes: QueueSizes | None = None

    def collect(self) -> Iterable[Metric]:
        if self.queue_sizes is None:
            return []
        try:
            sizes = self.queue_sizes()
        except Exception as exc:
            # The other figures are still worth serving while the database is away.
            log.warning("metrics: queue sizes unavailable: %s", exc)
            return []
        family = GaugeMetricFamily(
            PREFIX + "queue_comments",
            "Comments waiting in the moderation queue, by site and status (pending, spam).",
            labels=["site", "status"],
        )
        for (site, status), count in sorted(sizes.items()):
            family.add_metric([site, status.value], count)
        return [family]

    def describe(self) -> Iterable[Metric]:
        # Describing must not query the database (it runs on registration).
        return []


class Metrics:
    """The metric objects of one app, and the text a scrape gets."""

    def __init__(self) -> None:
        self.directory = multiprocess_dir()
        # Single process: a registry of our own, so that apps built side by side (tests) keep
        # separate counts. Several processes: the values go to files, merged on scrape.
        self.registry: CollectorRegistry | None = (
            CollectorRegistry() if self.directory is None else None
        )
        self._scrape_time = _ScrapeTime()
        if self.registry is not None:
            self.registry.register(self._scrape_time)
        self.requests = Counter(
            PREFIX + "http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            PREFIX + "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = Counter(
            PREFIX + "verdicts",
            "Comments decided (retries of a known comment excluded), by site and verdict.",
            ["site", "verdict"],
            registry=self.registry,
        )
        self.reasons = Counter(
            PREFIX + "reasons",
            "Reasons given in decisions, by site and reason code.",
            ["site", "reason"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            PREFIX + "model_info",
            "1 for the model version a worker scores with (0 for one it scored with before).",
            ["version"],
            registry=self.registry,
            # Across workers: 1 while any live worker still serves that version.
            multiprocess_mode="livemax",
        )
        # The writer's batches and SQLite's checkpoints: where a slow answer that no route
        # explains usually comes from (a checkpoint beside the writer, batches growing).
        self.batch_checks = Histogram(
            PREFIX + "writer_batch_checks",
            "Checks the writer scored, judged and stored together in one batch.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_latency = Histogram(
            PREFIX + "writer_batch_duration_seconds",
            "Time from a batch's leaving for the writer to its outcomes.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.checkpoints = Counter(
            PREFIX + "sqlite_checkpoints",
            "SQLite WAL checkpoints, by whether the last pass held the writers' lock.",
            ["forced"],
            registry=self.registry,
        )
        self.checkpoint_latency = Histogram(
            PREFIX + "sqlite_checkpoint_duration_seconds",
            "Time an SQLite WAL checkpoint took, all its passes.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._model_version: str | None = None
        # Children by label values: `labels()` costs a lock and some checks, a dict hit less.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._verdict_children: dict[tuple[str, str], Counter] = {}
        self._reason_children: dict[tuple[str, str], Counter] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration; `route` is a template, not a path."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_decision(self, site: str, decision: Decision) -> None:
        """Count a new decision on a comment of `site`: its verdict and each of its reasons."""
        key = (site, decision.verdict.value)
        counter = self._verdict_children.get(key)
        if counter is None:
            counter = self._verdict_children[key] = self.verdicts.labels(*key)
        counter.inc()
        for reason in decision.reasons:
            key = (site, reason.code.value)
            counter = self._reason_children.get(key)
            if counter is None:
                counter = self._reason_children[key] = self.reasons.labels(*key)
            counter.inc()

    def observe_batch(self, checks: int, seconds: float) -> None:
        """Count one batch of `checks` that the writer took `seconds` over."""
        self.batch_checks.observe(checks)
        self.batch_latency.observe(seconds)

    def observe_checkpoint(self, seconds: float, forced: bool) -> None:
        """Count one SQLite checkpoint; `forced`: its last pass held the writers' lock."""
        self.checkpoints.labels("true" if forced else "false").inc()
        self.checkpoint_latency.observe(seconds)

    def model_live(self, version: str) -> None:
        """Record that this process now scores with `version`."""
        previous, self._model_version = self._model_version, version
        if previous is not None and previous != version:
            self.model_info.labels(previous).set(0)
        self.model_info.labels(version).set(1)

    def watch_queue(self, sizes: QueueSizes | None) -> None:
        """Report the queue gauges from `sizes` on each scrape (None: not at all)."""
        self._scrape_time.queue_sizes = sizes

    def render(self) -> bytes:
        """The exposition text of every metric (runs the scrape-time queries: not on the loop)."""
        if self.directory is None:
            assert self.registry is not None
            return generate_latest(self.registry)
        forget_dead_processes(self.directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.directory))  # type: ignore[no-untyped-call]
        registry.register(self._scrape_time)
        return generate_latest(registry)

    def close(self) -> None:
        """This process stops serving: its live gauges (model_info) leave the merged view."""
        if self.directory is not None:
            multiprocess.mark_process_dead(os.getpid(), str(self.directory))  # type: ignore[no-untyped-call]
