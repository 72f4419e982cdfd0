"""Vendor-neutral helpers of the server-side drop-ins (compat.twilio_video.rest, compat.vonage.server).

Neither vendor package imports the other; both import this.

* :func:`run_sync`: run a ``livekit-api`` coroutine to completion from synchronous code, on one
  private event-loop thread (started on first use, a daemon), bounded. Called from inside a running
  event loop it would block that loop, so it refuses with a RuntimeError naming the ``*_async`` twin.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["private_loop", "run_sync"]

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def private_loop() -> asyncio.AbstractEventLoop:
    """The loop the synchronous calls run on (one per process, a daemon thread)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="compat-server-calls", daemon=True).start()
            _loop = loop
        return _loop


def run_sync(
    coro: Coroutine[Any, Any, T],
    name: str,
    timeout: float,
    on_timeout: Callable[[float], BaseException],
    wrap: Callable[[Coroutine[Any, Any, T]], Coroutine[Any, Any, T]] | None = None,
) -> T:
    """``coro``'s result (run as ``wrap(coro)`` when given), waited for at most ``timeout`` seconds
    (then ``on_timeout(timeout)`` is raised)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            f"{name}() blocks, and this thread runs an event loop it would stall: "
            f"use `await ….{name}_async(...)` inside async code"
        )
    future = asyncio.run_coroutine_threadsafe(wrap(coro) if wrap else coro, private_loop())
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise on_timeout(timeout) from None
