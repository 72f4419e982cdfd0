"""A plain Twilio bot process exits with status 0, run after run (see exit_runner.py for
the 50-run acceptance check)."""

from __future__ import annotations

import pytest

from tests.core.exit_runner import run_many

pytestmark = pytest.mark.media

RUNS = 5


def _report(results: list[object]) -> str:
    return "\n".join(f"run {i}: {r}" for i, r in enumerate(results, 1))


def test_bot_processes_exit_cleanly() -> None:
    results, peer_status = run_many(RUNS)
    assert [r.status for r in results] == [0] * RUNS, _report(list(results))
    assert peer_status == 0


def test_bot_that_never_disconnects_exits_cleanly() -> None:
    """compat closes the room when asyncio.run shuts the loop down."""
    results, peer_status = run_many(2, "--leave-open")
    assert [r.status for r in results] == [0, 0], _report(list(results))
    assert peer_status == 0
