"""The wait benchmark serves real checks through the whole app, back to back and paused."""

from __future__ import annotations

import json

import pytest

from bench.wake_penalty import main


def test_every_app_batch_and_pause_is_measured_through_the_real_routes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--requests", "6", "--batch", "1", "--batch", "4", "--pause-ms", "1"])
    out = capsys.readouterr().out
    results = json.loads(out.splitlines()[-1])["results"]
    measured = {(r["app"], r["batch"], r["pause_ms"]) for r in results}
    assert measured == {
        (app, batch, pause) for app in ("bare", "check") for batch in (1, 4) for pause in (0, 1)
    }
    assert all(r["cpu_us"] > 0 for r in results)
    assert "check, groups of 4:" in out
