"""The HTML training report: self-contained, escaped, with curves, histograms and thresholds."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from moderation.report import ScoredModel, Section, render_report

SVG = "{http://www.w3.org/2000/svg}"
THRESHOLDS = {"ham_threshold": 0.37, "spam_threshold": 0.88, "discard_threshold": 0.985}


def model(name: str, y: list[int], p: list[float]) -> ScoredModel:
    return ScoredModel(name=name, y_true=y, scores=p, thresholds=THRESHOLDS,
                       metrics={"n": len(y), "roc_auc": 0.75, "f1": 0.5})  # fmt: skip


def svgs(page: str) -> list[ET.Element]:
    """Every chart of the page, parsed: each must be well-formed SVG."""
    return [ET.fromstring(chunk) for chunk in re.findall(r"<svg.*?</svg>", page, re.S)]


def page_for(*models: ScoredModel, summary: list[tuple[str, str]] | None = None) -> str:
    return render_report(
        title="Training report",
        summary=summary or [("examples", "4")],
        sections=[Section(title="Held-out", text="Both models.", models=list(models))],
    )


def test_histogram_bars_count_ham_and_spam_and_thresholds_are_marked() -> None:
    page = page_for(model("cand", [0, 0, 0, 1, 1], [0.01, 0.02, 0.5, 0.98, 0.99]))

    roc, pr, histogram = svgs(page)
    bars = [r.findtext(f"{SVG}title") for r in histogram.iter(f"{SVG}rect")]
    assert "2 ham scored 0.000–0.025" in bars
    assert "1 ham scored 0.500–0.525" in bars
    assert "2 spam scored 0.975–1.000" in bars
    labels = [t.text for t in histogram.iter(f"{SVG}text")]
    assert {"ham below 0.37", "spam from 0.88", "discard from 0.985"} <= set(labels)
    assert len(list(roc.iter(f"{SVG}polyline"))) == 1
    assert len(list(pr.iter(f"{SVG}polyline"))) == 1
    # The threshold table: at t = 0.50 one ham is at or above it, no spam below it.
    assert "<tr><td>0.50</td><td>1 (33.3%)</td><td>0 (0.0%)</td></tr>" in page


def test_candidate_and_current_are_overlaid_and_tabled_side_by_side() -> None:
    y = [0, 0, 1, 1, 0, 1]
    page = page_for(
        model("candidate v2", y, [0.1, 0.2, 0.8, 0.9, 0.3, 0.7]),
        model("current v1", y, [0.4, 0.6, 0.5, 0.9, 0.1, 0.2]),
    )

    roc, pr, *histograms = svgs(page)
    assert len(list(roc.iter(f"{SVG}polyline"))) == 2
    assert len(list(pr.iter(f"{SVG}polyline"))) == 2
    assert len(histograms) == 2
    assert re.search(r"<tr><th>metric</th><th>candidate v2</th><th>current v1</th></tr>", page)
    assert "<tr><th>ROC AUC</th><td>0.7500</td><td>0.7500</td></tr>" in page


def test_every_outside_text_is_escaped_and_nothing_is_fetched() -> None:
    evil = '<script>alert("x")</script>'
    page = page_for(model(evil, [0, 1], [0.2, 0.8]), summary=[("source", evil)])

    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=|url\(|@import""", page)
    svgs(page)  # still well-formed


def test_one_label_only_draws_no_curve_and_does_not_fail() -> None:
    page = page_for(model("ham only", [0, 0, 0], [0.1, 0.2, 0.3]))

    roc, _, histogram = svgs(page)
    assert not list(roc.iter(f"{SVG}polyline"))
    assert "spam (0)" in [t.text for t in histogram.iter(f"{SVG}text")]


def test_long_curves_are_thinned_so_the_page_stays_small() -> None:
    n = 20_000
    y = [i % 2 for i in range(n)]
    p = [((i * 7919) % n) / n for i in range(n)]
    page = page_for(model("big", y, p))

    for chart in svgs(page)[:2]:
        line = next(chart.iter(f"{SVG}polyline"))
        assert len(line.attrib["points"].split()) <= 300
    assert len(page.encode()) < 100_000
