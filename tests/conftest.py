"""Fixtures: a LiveKit server per test (embedded dev server, or external via LIVEKIT_* env)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from compat.devserver.testing import LiveKitServer
from tests.support import EXTERNAL, IN_NETNS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_NETNS or EXTERNAL:
        return
    skip = pytest.mark.skip(reason="carries WebRTC media: run through scripts/test (private network namespace)")
    for item in items:
        if "media" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
async def lk_server() -> AsyncIterator[LiveKitServer]:
    """LIVEKIT_URL/LIVEKIT_API_KEY/LIVEKIT_API_SECRET set: use that server; else an embedded DevServer."""
    if EXTERNAL:
        yield LiveKitServer(
            os.environ["LIVEKIT_URL"], os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"]
        )
        return
    from compat.devserver import DevServer

    async with DevServer(host="127.0.0.1", port=0) as server:
        yield LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)


@pytest.fixture
async def dev_server() -> AsyncIterator[LiveKitServer]:
    """Always the embedded dev server (for tests of the dev server itself)."""
    from compat.devserver import DevServer

    async with DevServer(
        host="127.0.0.1", port=0, empty_timeout=1.0, departure_timeout=1.0, ping_interval=1, ping_timeout=3
    ) as server:
        yield LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Rooms closed during teardown make the FFI log warnings after the summary; they are noise there.
    logging.getLogger("livekit").setLevel(logging.ERROR)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Dispose livekit's FFI now (compat also does it at exit; tests that used only raw
    livekit.rtc rooms never registered that hook), so the process exits normally."""
    if "livekit.rtc" in sys.modules:
        from compat.core.rtc_session import shutdown

        shutdown()


# --- native crashes ---------------------------------------------------------------------------
# scripts/test runs the suite in one xdist worker process. A segfault in native code (livekit's
# FFI, FFmpeg under aiortc), or a test hung past its timeout (tests/backstop.py), kills that
# worker; xdist starts a new one and reports the test. Such a test runs once more: a crash twice
# in a row fails it, and every crash stays in the log (the worker's faulthandler dump) and in the
# summary, so none goes unseen.
_CRASHED: list[str] = []
RERUN = "rerun"


def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    if crashitem in _CRASHED:
        return
    _CRASHED.append(crashitem)
    sched.mark_test_pending(crashitem)
    report.outcome = RERUN  # type: ignore[assignment]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    if str(report.outcome) == RERUN:
        return "rerun", "R", ("RERUN (worker crashed)", {"yellow": True})
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _CRASHED:
        terminalreporter.section("native crashes", sep="=", yellow=True, bold=True)
        for nodeid in _CRASHED:
            terminalreporter.line(f"{nodeid}: the worker process crashed, or hung past its timeout (tests/backstop.py; "
                                  "its fatal error or faulthandler dump is above); run once more")
