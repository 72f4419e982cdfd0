"""bench.loopback runs and cleans up after itself (its numbers are read in docs/performance.md, not asserted)."""

from __future__ import annotations

import os
from pathlib import Path

from bench.loopback import measure


def children() -> set[int]:
    """This process's child processes (zombies included: a receiver killed but not reaped is one)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def test_the_loopback_bench_measures_both_cases_and_leaves_no_receiver_behind() -> None:
    before = children()
    to_idle, to_sleeping, loop = measure(3, 5)
    assert to_idle > 0 and to_sleeping > 0 and loop >= 0
    assert children() <= before
