"""Test-only helpers: which server the run uses (env), bounded waits, and an event log.

Servers, tokens and tones are in compat.devserver.testing (shared with bench/).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

# Re-exported while tests/conftest.py and tests/twilio/helpers.py (edited elsewhere) import it from here.
from compat.devserver.testing import LiveKitServer as LiveKitServer

T = TypeVar("T")

IN_NETNS = os.environ.get("NETNS_RUN_INSIDE") == "1"
EXTERNAL = all(os.environ.get(k) for k in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"))


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until predicate() is true; fail the test with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def within(aw: Awaitable[T], timeout: float = 10.0) -> T:
    return await asyncio.wait_for(aw, timeout)


class EventLog:
    """Collects events of an emitter as (name, args) in order, with bounded waits."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()

    def listen(self, emitter: Any, *names: str) -> None:
        for name in names:
            emitter.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((name, args))
            self._changed.set()

        return record

    def names(self) -> list[str]:
        return [n for n, _ in self.events]

    async def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> list[tuple[Any, ...]]:
        await wait_for(lambda: self.names().count(name) >= count, timeout, f"{count}x {name!r} (got {self.names()})")
        return [a for n, a in self.events if n == name]
