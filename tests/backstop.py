"""A backstop for a test that hangs past its timeout (loaded with ``-p tests.backstop``, see pyproject.toml).

pytest-timeout's signal method interrupts a test once. If what runs after that hangs as well (the
test's teardown, a fixture closing a connection), nothing would end it and the run would wait until
CI's own limit, with no report. So each test also arms faulthandler's watchdog (a native thread: it
fires even while a hang holds the GIL): ``COMPAT_TEST_BACKSTOP_S`` (default 60) seconds past the
test's timeout, every thread's stack is written to stderr and the process exits. Under xdist
(scripts/test) that is a worker crash: the test is reported, and run once more (tests/conftest.py).

pytest's own faulthandler plugin cancels that watchdog whenever a test raises (its
``pytest_exception_interact``), which is exactly when pytest-timeout has fired; it is armed again
then, for what is left of the deadline.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
from collections.abc import Iterator

import pytest

DEFAULT_BACKSTOP_S = 60.0

_deadline: float | None = None  # monotonic time at which the running test's process is ended
_stderr: int | None = None  # the process's stderr from before pytest captured it (fd 2 may be redirected)


def timeout_of(item: pytest.Item) -> float:
    """The test's pytest-timeout bound in seconds (its ``timeout`` marker, else the ini value); 0 for none."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout", 0)
    else:
        value = item.config.getini("timeout") or 0
    return float(value or 0)


def _arm() -> None:
    if _deadline is not None:
        where = _stderr if _stderr is not None else sys.__stderr__.fileno() if sys.__stderr__ else 2
        faulthandler.dump_traceback_later(max(_deadline - time.monotonic(), 1.0), exit=True, file=where)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests() -> Iterator[None]:
    global _stderr
    _stderr = os.dup(2)  # before the capture plugin (a wrapper within this one) redirects it
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _deadline
    timeout = timeout_of(item)
    if timeout > 0:
        _deadline = time.monotonic() + timeout + float(os.environ.get("COMPAT_TEST_BACKSTOP_S", DEFAULT_BACKSTOP_S))
        _arm()
    try:
        yield
    finally:
        if _deadline is not None:
            _deadline = None
            faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(trylast=True)
def pytest_exception_interact() -> None:
    _arm()  # after pytest's faulthandler plugin cancelled it (tryfirst)
