"""Figures of the hostile-input suite, printed at the end of the run.

Each test records its figures with `record_property("figure", line)`; the reports carry them to
the controlling process (also under xdist), where this hook prints them. Run
`.venv/bin/pytest tests/hostile -m 'slow or not slow'` to see every figure.
"""

from __future__ import annotations

import pytest

FIGURE = "figure"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per figure the hostile tests measured."""
    lines: list[str] = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == FIGURE:
                    lines.append(f"{report.nodeid.rsplit('::', 1)[-1]}: {value}")
    if lines:
        terminalreporter.write_sep("=", "hostile input figures")
        for line in lines:
            terminalreporter.write_line(line)
