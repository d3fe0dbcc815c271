"""The check benchmark's CPU accounting: a server's processes and their writers, per request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.check_endpoint import LargestSize, _median_run, measured, next_pause, paced_script

# A parent that burns CPU beside a multiprocessing child (as a worker beside its writer).
_BUSY = """
import multiprocessing, time

def burn(seconds, then_wait=0.0):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    time.sleep(then_wait)  # alive when the benchmark reads its CPU time

if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=burn, args=(0.6, 30))
    child.start()
    burn(0.3, 30)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_is_counted_per_request_for_the_server_and_its_writers(tmp_path: Path) -> None:
    script = tmp_path / "busy.py"
    script.write_text(_BUSY)
    server = subprocess.Popen([sys.executable, str(script)])
    try:

        def run() -> dict[str, float]:
            time.sleep(4)  # the parent's and the child's work are done by then
            return {"requests": 100.0}

        figures = measured(server.pid, run)
    finally:
        server.kill()
        server.wait()
    # 0.3 s and 0.6 s of CPU over 100 requests, imports and start-up included.
    assert 2_500 <= figures["cpu_worker_us"] <= 20_000
    assert 5_500 <= figures["cpu_writer_us"] <= 20_000
    assert figures["requests"] == 100.0


def test_the_reported_peak_is_the_run_with_the_median_throughput() -> None:
    runs = [{"rps": 3_100.0, "p99_ms": 9.0}, {"rps": 2_700.0, "p99_ms": 30.0}, {"rps": 3_500.0}]
    assert _median_run(runs) == {"rps": 3_100.0, "p99_ms": 9.0}
    # Of an even number, the lower of the two middle runs: the figure never flatters.
    assert _median_run(runs[:2]) == {"rps": 2_700.0, "p99_ms": 30.0}
    assert _median_run(runs[2:]) == {"rps": 3_500.0}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_command_s_processes_are_found_by_name_with_their_cpu_time() -> None:
    from bench.procfs import cpu_by_command, cpu_seconds

    own = Path("/proc/self/comm").read_text().strip()
    end = time.process_time() + 0.2
    while time.process_time() < end:  # some CPU time of our own to find
        pass
    found = cpu_by_command(own)
    assert found[os.getpid()] == pytest.approx(cpu_seconds(os.getpid()), abs=0.05)
    assert found[os.getpid()] >= 0.2
    assert os.getpid() not in cpu_by_command(own + "-not-this-one")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_idle_time_is_counted_over_every_core() -> None:
    from bench.procfs import idle_seconds

    before = idle_seconds()
    time.sleep(0.5)
    # Half a second on each core, less what ran meanwhile; the machine's other work varies.
    assert 0.0 <= idle_seconds() - before <= 0.5 * (os.cpu_count() or 1) + 0.05


def test_the_largest_size_a_file_reached_is_kept_after_it_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "bench.db-wal"
    sampler = LargestSize(path, seconds=0.01)
    try:
        path.write_bytes(b"x" * 100_000)
        deadline = time.monotonic() + 10
        while sampler.largest < 100_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        path.write_bytes(b"x" * 10)  # cut back, as a WAL that starts over is
        path.unlink()
    finally:
        largest = sampler.stop()
    assert largest == 100_000


def test_a_file_that_never_appears_has_no_size(tmp_path: Path) -> None:
    sampler = LargestSize(tmp_path / "none", seconds=0.01)
    time.sleep(0.05)
    assert sampler.stop() == 0


def test_the_pause_leaves_room_for_the_answers_measured_under_load() -> None:
    # 16 connections pausing 10 ms reached 1,000 a second: a cycle of 16 ms, 6 of them waiting
    # for the answer.
    assert next_pause(1000, 1000, 10.0, 16) == pytest.approx(10.0)
    assert next_pause(1600, 1000, 10.0, 16) == pytest.approx(4.0)
    assert next_pause(500, 1000, 10.0, 16) == pytest.approx(26.0)
    # Answers slower than the cycle the target needs: no pause at all (the rate falls short).
    assert next_pause(4000, 1000, 10.0, 16) == 0.0


def test_a_paced_script_waits_the_fraction_of_a_millisecond_on_average(tmp_path: Path) -> None:
    script = paced_script(tmp_path, 7.25).read_text()
    assert "local whole, fraction = 7, 0.250000" in script
    assert "function delay()" in script
