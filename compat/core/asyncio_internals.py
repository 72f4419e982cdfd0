"""The one use of asyncio's private members (Python 3.10/3.11 only; 3.12+ has eager tasks).

:func:`compat.core.emitter.start_coroutine` runs an async handler's first step inside the emit,
as 3.12's ``asyncio.Task(eager_start=True)`` does. For that step ``asyncio.current_task()`` must
be the handler's own task (so ``asyncio.timeout``, ``TaskGroup`` and cancellation inside it
target the handler, not the code that emitted). asyncio switches the current task with
``asyncio.tasks._enter_task(loop, task)`` / ``_leave_task(loop, task)``: module functions of
every 3.10 and 3.11 release (fixed releases: they will not change).
tests/core/test_asyncio_internals.py checks them against the running interpreter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def run_as_current_task(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], step: Callable[[], None]) -> None:
    """Run ``step`` with ``task`` as the loop's current task; the caller's task is current again after."""
    enter, leave = asyncio.tasks._enter_task, asyncio.tasks._leave_task
    caller = asyncio.current_task(loop)
    if caller is not None:
        leave(loop, caller)
    enter(loop, task)
    try:
        step()
    finally:
        leave(loop, task)
        if caller is not None:
            enter(loop, caller)


__all__ = ["run_as_current_task"]
