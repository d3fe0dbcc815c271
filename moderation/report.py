"""A training report as one self-contained HTML page: curves, score histograms, metrics.

Inline SVG only: no script, no stylesheet or font from elsewhere, so the page can be mailed or
opened offline. Every text that came from outside (versions, file names) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

_MAX_POINTS = 300
_BINS = 40
_W, _H = 440, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 14, 28, 44
# Line styles per overlaid model: colour and dash, so that print in grey still tells them apart.
_STYLES = (("#1f5fa8", ""), ("#c0392b", "6 4"), ("#2e8b57", "2 3"), ("#7d3c98", "10 3 2 3"))
_HAM, _SPAM = "#3b7dd8", "#e0603a"
_THRESHOLDS = (
    ("ham_threshold", "ham below", "#2e8b57"),
    ("spam_threshold", "spam from", "#b03a2e"),
    ("discard_threshold", "discard from", "#555555"),
)
_METRIC_ROWS = (
    ("n", "examples", "int"),
    ("roc_auc", "ROC AUC", "num"),
    ("average_precision", "average precision", "num"),
    ("threshold", "spam at probability ≥", "num2"),
    ("accuracy", "accuracy", "num"),
    ("precision", "precision", "num"),
    ("recall", "recall", "num"),
    ("f1", "F1", "num"),
    ("mcc", "MCC", "num"),
    ("ham_marked_spam", "ham marked spam", "pct"),
    ("spam_approved", "spam approved (below ham threshold)", "pct"),
    ("held", "held for review", "pct"),
)


@dataclass(frozen=True, slots=True)
class ScoredModel:
    """One model's spam probabilities on labelled examples (1 = spam), thresholds and metrics."""

    name: str
    y_true: Sequence[int]
    scores: Sequence[float]
    thresholds: Mapping[str, float] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the report: models scored on the same examples, overlaid in the curves."""

    title: str
    text: str
    models: Sequence[ScoredModel]


def _t(threshold: float) -> str:
    """A threshold as set: 0.37, 0.88, 0.985 (never rounded to a value it is not)."""
    return f"{round(threshold, 4):g}"


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "pct":
        return f"{100 * float(value):.2f}%"
    if kind == "num2":
        return _t(float(value))
    return f"{float(value):.4f}"


def _thin(xs: Any, ys: Any) -> list[tuple[float, float]]:
    points = list(zip((float(x) for x in xs), (float(y) for y in ys), strict=True))
    if len(points) <= _MAX_POINTS:
        return points
    step = len(points) / (_MAX_POINTS - 1)
    kept = [points[int(i * step)] for i in range(_MAX_POINTS - 1)]
    return [*kept, points[-1]]


def _both_labels(model: ScoredModel) -> bool:
    return len({int(v) for v in model.y_true}) == 2


def _sx(x: float) -> float:
    return _LEFT + x * (_W - _LEFT - _RIGHT)


def _sy(y: float) -> float:
    return _H - _BOTTOM - y * (_H - _TOP - _BOTTOM)


def _axes(
    title: str,
    x_label: str,
    y_label: str,
    *,
    y_ticks: Sequence[tuple[float, str]],
    title_at_left: bool = False,
) -> str:
    where = f'x="{_LEFT}" y="12"' if title_at_left else f'x="{_W / 2}" y="16" text-anchor="middle"'
    parts = [
        f'<text {where} class="t">{escape(title)}</text>',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" '
        f'height="{_H - _TOP - _BOTTOM}" fill="none" stroke="#999"/>',
    ]
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = _sx(v)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_H - _BOTTOM}" x2="{x:.1f}" y2="{_H - _BOTTOM + 4}" '
            f'stroke="#999"/><text x="{x:.1f}" y="{_H - _BOTTOM + 16}" '
            f'text-anchor="middle">{v:g}</text>'
        )
    for v, label in y_ticks:
        y = _sy(v)
        parts.append(
            f'<line x1="{_LEFT - 4}" y1="{y:.1f}" x2="{_LEFT}" y2="{y:.1f}" stroke="#999"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )
    parts.append(
        f'<text x="{_W / 2}" y="{_H - 8}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="14" y="{_H / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_H / 2})">{escape(y_label)}</text>'
    )
    return "".join(parts)


def _svg(body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def _legend(entries: Sequence[tuple[str, str, str]], *, x: float, y: float) -> str:
    parts = []
    for n, (name, colour, dash) in enumerate(entries):
        yy = y + 15 * n
        parts.append(
            f'<line x1="{x}" y1="{yy}" x2="{x + 22}" y2="{yy}" stroke="{colour}" '
            f'stroke-width="2.5" stroke-dasharray="{dash}"/>'
            f'<text x="{x + 27}" y="{yy + 4}">{escape(name)}</text>'
        )
    return "".join(parts)


def _polyline(points: Sequence[tuple[float, float]], colour: str, dash: str) -> str:
    coords = " ".join(f"{_sx(x):.1f},{_sy(y):.1f}" for x, y in points)
    return (
        f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2" '
        f'stroke-dasharray="{dash}"/>'
    )


_UNIT_TICKS = tuple((v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0))


def _operating_points(model: ScoredModel, colour: str) -> str:
    """The ROC points where the model's ham and spam thresholds put it."""
    y = np.asarray(model.y_true)
    p = np.asarray(model.scores, dtype=float)
    parts = []
    for key, short in (("ham_threshold", "H"), ("spam_threshold", "S")):
        t = model.thresholds.get(key)
        if t is None:
            continue
        fpr = float((p[y == 0] >= t).mean())
        tpr = float((p[y == 1] >= t).mean())
        parts.append(
            f'<circle cx="{_sx(fpr):.1f}" cy="{_sy(tpr):.1f}" r="4" fill="{colour}">'
            f"<title>{escape(model.name)}: {escape(key)} {_t(t)} "
            f"(false positive rate {fpr:.3f}, true positive rate {tpr:.3f})</title></circle>"
            f'<text x="{_sx(fpr) + 6:.1f}" y="{_sy(tpr) + 12:.1f}" fill="{colour}">{short}</text>'
        )
    return "".join(parts)


def roc_svg(models: Sequence[ScoredModel]) -> str:
    """ROC curves of the models, overlaid, with each model's threshold points marked."""
    body = [_axes("ROC curve", "false positive rate (ham marked spam)",
                  "true positive rate (spam caught)", y_ticks=_UNIT_TICKS)]  # fmt: skip
    body.append(
        f'<line x1="{_sx(0)}" y1="{_sy(0)}" x2="{_sx(1)}" y2="{_sy(1)}" stroke="#ccc" '
        'stroke-dasharray="3 3"/>'
    )
    legend = []
    for model, (colour, dash) in zip(models, _STYLES, strict=False):
        if not _both_labels(model):
            continue
        fpr, tpr, _ = roc_curve(model.y_true, model.scores)
        body.append(_polyline(_thin(fpr, tpr), colour, dash))
        body.append(_operating_points(model, colour))
        legend.append((model.name, colour, dash))
    body.append(_legend(legend, x=_LEFT + 110, y=_H - _BOTTOM - 16 - 15 * (len(legend) - 1)))
    return _svg("".join(body), "ROC curve")


def pr_svg(models: Sequence[ScoredModel]) -> str:
    """Precision-recall curves of the models (spam the positive class), overlaid."""
    body = [_axes("Precision-recall curve", "recall (spam caught)",
                  "precision (spam among flagged)", y_ticks=_UNIT_TICKS)]  # fmt: skip
    legend = []
    for model, (colour, dash) in zip(models, _STYLES, strict=False):
        if not _both_labels(model):
            continue
        precision, recall, _ = precision_recall_curve(model.y_true, model.scores)
        body.append(_polyline(_thin(recall[::-1], precision[::-1]), colour, dash))
        legend.append((model.name, colour, dash))
    body.append(_legend(legend, x=_LEFT + 12, y=_H - _BOTTOM - 16 - 15 * (len(legend) - 1)))
    return _svg("".join(body), "precision-recall curve")


def histogram_svg(model: ScoredModel) -> str:
    """Histograms of the ham and the spam scores, thresholds drawn as vertical lines.

    The count axis is a square-root scale: the few scores in the middle, where thresholds are
    chosen, stay visible beside the tall bars at 0 and 1.
    """
    y = np.asarray(model.y_true)
    p = np.clip(np.asarray(model.scores, dtype=float), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, _BINS + 1)
    ham, _ = np.histogram(p[y == 0], bins=edges)
    spam, _ = np.histogram(p[y == 1], bins=edges)
    top = max(1, int(max(ham.max(initial=0), spam.max(initial=0))))
    root = math.sqrt(top)
    ticks = sorted({0, *(round(top * f * f) for f in (0.25, 0.5, 0.75)), top})
    body = [
        _axes(
            f"Scores of {model.name}",
            "spam probability",
            "count (square-root scale)",
            y_ticks=[(math.sqrt(t) / root, str(t)) for t in ticks],
            title_at_left=True,
        )
    ]
    width = (_sx(1) - _sx(0)) / _BINS / 2
    for i in range(_BINS):
        for n, (counts, colour) in enumerate(((ham, _HAM), (spam, _SPAM))):
            c = int(counts[i])
            if not c:
                continue
            h = _sy(0) - _sy(math.sqrt(c) / root)
            x = _sx(float(edges[i])) + n * width
            kind = "ham" if n == 0 else "spam"
            body.append(
                f'<rect x="{x:.1f}" y="{_sy(0) - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{c} {kind} scored {edges[i]:.3f}–{edges[i + 1]:.3f}'
                "</title></rect>"
            )
    for n, (key, words, colour) in enumerate(_THRESHOLDS):
        t = model.thresholds.get(key)
        if t is None:
            continue
        x = _sx(float(t))
        body.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_sy(0)}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="5 3"/>'
            f'<text x="{x - 3:.1f}" y="{_TOP + 12 + 12 * n}" text-anchor="end" '
            f'fill="{colour}">{escape(words)} {_t(float(t))}</text>'
        )
    # The legend sits under the title, above the plot, where no threshold label can fall.
    x = _W - _RIGHT - 170
    body.append(
        f'<rect x="{x}" y="{_TOP - 13}" width="9" height="9" fill="{_HAM}"/>'
        f'<text x="{x + 13}" y="{_TOP - 5}">ham ({int(ham.sum())})</text>'
        f'<rect x="{x + 85}" y="{_TOP - 13}" width="9" height="9" fill="{_SPAM}"/>'
        f'<text x="{x + 98}" y="{_TOP - 5}">spam ({int(spam.sum())})</text>'
    )
    return _svg("".join(body), f"score histogram of {model.name}")


def _metrics_table(models: Sequence[ScoredModel]) -> str:
    shown = [m for m in models if m.metrics]
    if not shown:
        return ""
    head = "".join(f"<th>{escape(m.name)}</th>" for m in shown)
    rows = []
    for key, label, kind in _METRIC_ROWS:
        if not any(key in m.metrics for m in shown):
            continue
        cells = "".join(f"<td>{escape(_fmt(m.metrics.get(key), kind))}</td>" for m in shown)
        rows.append(f"<tr><th>{escape(label)}</th>{cells}</tr>")
    for key, words, _ in _THRESHOLDS:
        if any(key in m.thresholds for m in shown):
            cells = "".join(
                f"<td>{escape(_fmt(m.thresholds.get(key), 'num2'))}</td>" for m in shown
            )
            rows.append(f"<tr><th>threshold: {escape(words)}</th>{cells}</tr>")
    if any("confusion" in m.metrics for m in shown):
        boxes = []
        for m in shown:
            c = m.metrics.get("confusion") or {}
            boxes.append(
                f"<td>ham: {c.get('tn', 0)} ok, {c.get('fp', 0)} as spam<br>"
                f"spam: {c.get('tp', 0)} caught, {c.get('fn', 0)} missed</td>"
            )
        rows.append(f"<tr><th>confusion</th>{''.join(boxes)}</tr>")
    return f'<table class="m"><tr><th>metric</th>{head}</tr>{"".join(rows)}</table>'


def _threshold_table(model: ScoredModel) -> str:
    """For thresholds 0.05 to 0.95: how many ham would be at or above, how many spam below."""
    y = np.asarray(model.y_true)
    p = np.asarray(model.scores, dtype=float)
    ham, spam = p[y == 0], p[y == 1]
    rows = []
    for t in np.arange(0.05, 0.951, 0.05):
        h = int((ham >= t).sum())
        s = int((spam < t).sum())
        h_pct = 100 * h / len(ham) if len(ham) else 0.0
        s_pct = 100 * s / len(spam) if len(spam) else 0.0
        rows.append(
            f"<tr><td>{t:.2f}</td><td>{h} ({h_pct:.1f}%)</td><td>{s} ({s_pct:.1f}%)</td></tr>"
        )
    return (
        f"<details><summary>Counts at each threshold: {escape(model.name)}</summary>"
        '<table class="m"><tr><th>threshold t</th><th>ham scored ≥ t</th>'
        f"<th>spam scored &lt; t</th></tr>{''.join(rows)}</table></details>"
    )


def _section(section: Section) -> str:
    models = list(section.models)
    parts = [f"<section><h2>{escape(section.title)}</h2><p>{escape(section.text)}</p>"]
    parts.append(_metrics_table(models))
    parts.append('<div class="row">')
    parts.append(roc_svg(models))
    parts.append(pr_svg(models))
    parts.append("</div>")
    parts.append('<div class="row">')
    parts.extend(histogram_svg(m) for m in models)
    parts.append("</div>")
    parts.extend(_threshold_table(m) for m in models)
    parts.append("</section>")
    return "".join(parts)


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;
max-width:960px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table.m{border-collapse:collapse;margin:1em 0}
table.m th,table.m td{border:1px solid #ddd;padding:3px 10px;text-align:right}
table.m th:first-child{text-align:left}
.row{display:flex;flex-wrap:wrap;gap:12px}
svg{font-size:11px;background:#fff}svg .t{font-size:13px;font-weight:600}
.note{background:#fff6e0;border-left:4px solid #e0a000;padding:.5em 1em}
"""


def render_report(
    *,
    title: str,
    summary: Sequence[tuple[str, str]],
    sections: Sequence[Section],
    notes: Sequence[str] = (),
) -> str:
    """The whole page: title, a summary table (name, value), notes, then each section."""
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in summary
    )
    note_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    body = "".join(_section(s) for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{note_html}"
        f'<table class="m">{rows}</table>{body}'
        "<p><small>ROC points H and S: where each model's ham and spam thresholds put it. "
        "Histogram counts use a square-root scale.</small></p>"
        "</body></html>\n"
    )
