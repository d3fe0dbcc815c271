"""Recall and precision of the email redactor over the labelled corpus; shared with the bench.

The corpus (`tests/data/redaction_cases.jsonl`) holds one case per line: `text`, `emails` (the
addresses the text holds, normalised as `find_emails` reports them) and a `note`.

Definitions, all over the whole corpus, addresses compared casefolded:

* labelled L(c): the multiset of addresses of case c; detected D(c): the multiset of
  `Match.address` that `find_emails(c.text)` returns.
* true positives TP(c) = |L(c) ∩ D(c)|, the multiset intersection: an address written twice
  must be found twice.
* detection recall = ΣTP / Σ|L|: the share of labelled addresses that `find_emails` names.
* redaction recall = the share of labelled addresses that `find_emails` names in the text AND
  that are no longer readable in `redact_emails(c.text)`: neither present as text (casefolded)
  in the output nor found again by `find_emails` in it. A missed address is never counted as
  hidden, even when its disguise keeps it from appearing verbatim.
* precision = ΣTP / Σ|D|: the share of detections that are labelled addresses (1.0 when
  nothing is detected at all).
* altered clean cases: cases with no address whose redaction differs from
  `strip_invisible(text)`; each is also a false positive in precision.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from moderation.redaction import find_emails, redact_emails, strip_invisible

CORPUS = Path(__file__).resolve().parent / "data" / "redaction_cases.jsonl"


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled text."""

    text: str
    emails: tuple[str, ...]
    note: str


@dataclass(slots=True)
class Scores:
    """Totals over a corpus, and the cases behind every miss."""

    cases: int = 0
    labelled: int = 0
    detected: int = 0
    true_positives: int = 0
    hidden: int = 0
    altered_clean: int = 0
    misses: list[str] = field(default_factory=list)
    false_hits: list[str] = field(default_factory=list)

    @property
    def detection_recall(self) -> float:
        """Share of labelled addresses that find_emails names."""
        return self.true_positives / self.labelled if self.labelled else 1.0

    @property
    def redaction_recall(self) -> float:
        """Share of labelled addresses no longer readable after redact_emails."""
        return self.hidden / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        """Share of detections that are labelled addresses."""
        return self.true_positives / self.detected if self.detected else 1.0


def load_cases(path: Path = CORPUS) -> list[Case]:
    """Read the corpus, one JSON object per non-empty line."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            cases.append(Case(raw["text"], tuple(raw["emails"]), raw["note"]))
    return cases


def score(cases: list[Case]) -> Scores:
    """Compute the totals defined in the module docstring."""
    scores = Scores()
    for case in cases:
        labelled = Counter(address.casefold() for address in case.emails)
        detected = Counter(match.address.casefold() for match in find_emails(case.text))
        hits = labelled & detected
        scores.cases += 1
        scores.labelled += sum(labelled.values())
        scores.detected += sum(detected.values())
        scores.true_positives += sum(hits.values())
        if labelled - detected:
            scores.misses.append(f"{case.text!r}: missed {sorted(labelled - detected)}")
        if detected - labelled:
            scores.false_hits.append(f"{case.text!r}: also found {sorted(detected - labelled)}")
        redacted = redact_emails(case.text)
        found_again = {match.address.casefold() for match in find_emails(redacted)}
        folded = redacted.casefold()
        for address, count in hits.items():
            if address not in folded and address not in found_again:
                scores.hidden += count
        if not case.emails and redacted != strip_invisible(case.text):
            scores.altered_clean += 1
    return scores


# --------------------------------------------------------------------------------------------
# Timing: the adversarial inputs and how a single regex call is measured.
#
# A "single call" is what the module makes. A scanner (`SCANNERS`) runs over a whole text, so it
# is timed as one `search` from several offsets (with no match ahead, that is a scan of the rest
# of the input). An anchored pattern (`ANCHORED`) only runs as `match` at a position a scanner
# found, or inside a span another pattern matched, so it is timed as `match` at positions spread
# over the input and as `search` within a 1 kB window. Every time is the best of three runs.

SIZE = 100_000


def _fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


ADVERSARIAL: dict[str, str] = {
    "a": _fill("a"),
    "a@": _fill("a@"),
    "a.": _fill("a."),
    "@a": _fill("@a"),
    "@": _fill("@"),
    "space-at-space": _fill(" at "),
    "at-at": _fill("at "),
    "dots": _fill("."),
    "a-dots-a": "a" + "." * (SIZE - 2) + "a",
    "spaces": _fill(" "),
    "percent-40": _fill("%40"),
    "entity-decimal": _fill("&#64;"),
    "entity-named": _fill("&commat;"),
    "entity-hex-a": _fill("&#x40;a"),
    "ampersands": _fill("&"),
    "percents": _fill("%"),
    "zero-width-run": _fill("\u200b"),
    "soft-hyphens": _fill("\u00ad"),
    "bidi-run": _fill("\u202e\u2066"),
    "rlo-a@": "\u202e" + _fill("a@")[1:],
    "a@a.": _fill("a@a."),
    "@a.a": _fill("@a.a"),
    "a.a@": _fill("a.a@"),
    "bracket-at": _fill("[at]"),
    "bracket-dot": _fill("(dot)"),
    "a-dot": _fill("a dot "),
    "quotes": _fill('"a'),
    "hyphen-breaks": _fill("a-\n"),
    "newlines": _fill("\n"),
    "fullwidth": _fill("ａ"),
    "decomposed": _fill("e\u0301"),
    "han": _fill("中"),
    "open-brackets": _fill("("),
    "long-local": _fill("a" * 300 + "@"),
    "long-labels": _fill("@" + "a" * 70 + "."),
    "one-at-long-chain": "x@" + _fill("a.")[2:],
    "hyphens": _fill("-"),
    "underscores": _fill("_"),
}

# Inputs packed with real addresses or with almost-addresses: every few characters a candidate
# goes all the way through Python, so the whole redactor gets a bound of its own on them.
DENSE: dict[str, str] = {
    "addresses": _fill("a@b.cc "),
    "spelled-addresses": _fill(" x at y dot com"),
    "userinfo": _fill("://a@b.com"),
    "zero-width-interleaved": _fill("a\u200b"),
    "spelled-near-miss": _fill(" a at b dot"),
    "spaced-near-miss": _fill("a @ b . "),
    "bracket-near-miss": _fill("x(at)y(dot)"),
}


def best_of(call: Callable[[], object], runs: int = 3) -> float:
    """The fastest of a few runs of a call, in seconds: the least noisy estimate."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def worst_scanner_call(pattern: re.Pattern[str], inputs: dict[str, str]) -> tuple[float, str]:
    """Slowest single `search` of a scanner over the inputs, from three offsets each."""
    worst, where = 0.0, ""
    for label, text in inputs.items():
        for offset in (0, len(text) // 3, 2 * len(text) // 3):
            elapsed = best_of(partial(pattern.search, text, offset))
            if elapsed > worst:
                worst, where = elapsed, f"{label} from {offset}"
    return worst, where


def worst_anchored_call(pattern: re.Pattern[str], inputs: dict[str, str]) -> tuple[float, str]:
    """Slowest single `match` at, or 1 kB `search` from, positions spread over the inputs."""
    worst, where = 0.0, ""
    for label, text in inputs.items():
        for pos in range(0, len(text), 997):
            for call in (
                partial(pattern.match, text, pos),
                partial(pattern.search, text, pos, pos + 1024),
            ):
                elapsed = best_of(call)
                if elapsed > worst:
                    worst, where = elapsed, f"{label} at {pos}"
    return worst, where
