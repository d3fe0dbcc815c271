"""What Linux's /proc tells: a process tree, processes by name, their CPU time, idle cores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def _stat(pid: int | str) -> tuple[str, list[str]]:
    """A process's command name and the fields of its stat line after it (OSError once gone)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The name is in parentheses and may hold spaces and parentheses of its own.
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 1 :].split()


def _cpu(fields: list[str]) -> float:
    # utime and stime, the 14th and 15th fields of the line, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _every_stat() -> Iterator[tuple[int, str, list[str]]]:
    """Each live process's id, command name and stat fields (`_stat`), those gone skipped."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command, fields = _stat(entry)
            except OSError:
                continue
            yield int(entry), command, fields


def _children() -> dict[int, list[int]]:
    """Every process's children, by parent id (from each process's own stat line)."""
    found: dict[int, list[int]] = {}
    for pid, _, fields in _every_stat():
        found.setdefault(int(fields[1]), []).append(pid)
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants, `pid` first."""
    children = _children()
    members: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        members.append(current)
        stack.extend(children.get(current, []))
    return members


def cpu_seconds(pid: int) -> float:
    """The CPU time `pid` has used, user and system (OSError once it is gone)."""
    return _cpu(_stat(pid)[1])


def rss_bytes(pid: int) -> int:
    """The resident memory of `pid` (OSError once it is gone)."""
    # statm's second field: resident pages, the figure `VmRSS` in /proc/PID/status gives in kB.
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_by_command(name: str) -> dict[int, float]:
    """The CPU time of each process whose command name is `name` ("postgres"), by process id."""
    return {pid: _cpu(fields) for pid, command, fields in _every_stat() if command == name}


def idle_seconds() -> float:
    """The time every core of this machine has spent idle, summed (idle and I/O wait)."""
    # The first line of /proc/stat: "cpu user nice system idle iowait ...", in clock ticks.
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")
