"""Test-only helpers: which server the run uses (env), bounded waits, and an event log.

Servers, tokens and tones are in compat.devserver.testing (shared with bench/).
"""

from __future__ import annotations

import asyncio
import os
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

# Re-exported while tests/conftest.py and tests/twilio/helpers.py (edited elsewhere) import it from here.

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
    """Records the events of one or more emitters (the vendor models' emitters and
    ``livekit.rtc``'s: both take ``on(name, handler)``) as ``(label, name, args)`` in order,
    with bounded waits. Each emitter is listened to under a label (``"room"`` unless given),
    which ``of`` and ``wait`` filter on."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.events: list[tuple[str, str, tuple[Any, ...]]] = []
        self.timeout = timeout  # the default bound of wait()

    def listen(self, emitter: Any, *names: str, label: str = "room") -> None:
        for name in names:
            emitter.on(name, self._recorder(label, name))

    def _recorder(self, label: str, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((label, name, args))

        return record

    def names(self, label: str | None = None) -> list[str]:
        """Event names in order, of every label unless one is given."""
        return [n for lab, n, _ in self.events if label is None or lab == label]

    def of(self, name: str, label: str = "room") -> list[tuple[Any, ...]]:
        return [a for lab, n, a in self.events if n == name and lab == label]

    async def wait(
        self, name: str, count: int = 1, *, label: str = "room", timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Wait until ``label`` emitted ``name`` at least ``count`` times; its arguments, in order."""
        bound = self.timeout if timeout is None else timeout
        await wait_for(lambda: len(self.of(name, label)) >= count, bound, f"{count}x {label}.{name} (got {self.events})")
        return self.of(name, label)


def import_swapped(path: Path, swaps: dict[str, str]) -> types.ModuleType:
    """Load the module at ``path`` with each import line in ``swaps`` replaced (each must occur
    exactly once): a back end written for a vendor's SDK, run on compat by changing imports only."""
    source = path.read_text()
    for old, new in swaps.items():
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    module = types.ModuleType(f"{path.stem}_on_compat")
    exec(compile(source, f"{path.stem}_on_compat.py", "exec"), module.__dict__)
    return module
