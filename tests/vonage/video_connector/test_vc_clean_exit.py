"""A Video Connector bot process (connect, publish, hear, disconnect, return from main) exits
with status 0, run after run (exit_runner.py runs the 50-run acceptance check)."""

from __future__ import annotations

import pytest

from tests.core.exit_runner import run_many
from tests.vonage.video_connector.exit_runner import BOT

pytestmark = pytest.mark.media

RUNS = 4


def test_vc_bot_processes_exit_cleanly() -> None:
    results, peer_status = run_many(RUNS, bot=BOT)
    assert [r.status for r in results] == [0] * RUNS, "\n".join(f"run {i}: {r}" for i, r in enumerate(results, 1))
    assert all("heard" in r.stdout and "errors []" in r.stdout for r in results)
    assert peer_status == 0


def test_vc_bot_that_never_disconnects_exits_cleanly() -> None:
    """The client's daemon threads and its LiveKit session are left to interpreter exit."""
    results, peer_status = run_many(2, "--leave-open", bot=BOT)
    assert [r.status for r in results] == [0, 0], "\n".join(f"run {i}: {r}" for i, r in enumerate(results, 1))
    assert peer_status == 0
