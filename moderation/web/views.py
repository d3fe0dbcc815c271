"""Presentation helpers for the templates: links, numbers, dates and the dashboard's chart.

Pure: values in, values out. Everything a template shows goes through Jinja2's autoescaping;
these helpers only decide what to show, never produce markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

EXCERPT_CHARS = 180


def http_url(value: str | None) -> str | None:
    """The URL when it is an absolute http(s) address safe to link, else None (shown as text)."""
    if not value or len(value) > 2000:
        return None
    candidate = value.strip()
    if candidate != value or any(ch.isspace() or not ch.isprintable() for ch in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return candidate


def percent(probability: float | None) -> str:
    """A probability as a whole percentage ("97%"), "–" when there is none."""
    if probability is None:
        return "–"
    return f"{probability * 100:.0f}%"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The text on one line, cut at about `limit` characters on a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + "…"


def when(value: datetime | date | None) -> str:
    """A time as moderators read it, in UTC ("2026-11-25 12:40 UTC"); "" for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def iso(value: datetime | date | None) -> str:
    """A time for a `<time datetime>` attribute (ISO 8601, UTC); "" for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat(timespec="seconds")
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the chart: where it stands and what it says when pointed at."""

    css: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    """A horizontal gridline with its value."""

    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A grouped bar chart drawn in SVG user units: a series per kind, a group per day."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    first_label: str
    last_label: str
    top: float
    bottom: float
    left: float


@dataclass(frozen=True, slots=True)
class Series:
    """A named series of the chart: its CSS class and one value per day."""

    name: str
    css: str
    values: tuple[int, ...]


CHART_WIDTH = 640
CHART_HEIGHT = 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 36.0, 6.0, 8.0, 22.0


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50… that is at least `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(labels: Sequence[str], series: Sequence[Series]) -> Chart:
    """The geometry of a grouped bar chart of these series over these labels (days)."""
    groups = max(len(labels), 1)
    peak = _nice_max(max((v for s in series for v in s.values), default=0) or 1)
    plot_w = CHART_WIDTH - _LEFT - _RIGHT
    plot_h = CHART_HEIGHT - _TOP - _BOTTOM
    group_w = plot_w / groups
    bar_w = group_w * 0.8 / max(len(series), 1)
    bars: list[Bar] = []
    for index, label in enumerate(labels):
        for number, one in enumerate(series):
            value = one.values[index] if index < len(one.values) else 0
            height = plot_h * value / peak
            bars.append(
                Bar(
                    css=one.css,
                    x=round(_LEFT + index * group_w + group_w * 0.1 + number * bar_w, 2),
                    y=round(_TOP + plot_h - height, 2),
                    width=round(bar_w, 2),
                    height=round(height, 2),
                    title=f"{label}: {value} {one.name}",
                )
            )
    # Gridlines at 0, half and the top; the half only when it is a whole number.
    ticks = tuple(
        Tick(y=round(_TOP + plot_h - plot_h * part / 2, 2), label=str(peak * part // 2))
        for part in (0, 1, 2)
        if part != 1 or peak % 2 == 0
    )
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        bars=tuple(bars),
        ticks=ticks,
        first_label=labels[0] if labels else "",
        last_label=labels[-1] if labels else "",
        top=_TOP,
        bottom=CHART_HEIGHT - _BOTTOM,
        left=_LEFT,
    )
