"""compat/core/asyncio_internals.py against the running interpreter: the handler's task is
current during its synchronous step, and the caller's task again after."""

from __future__ import annotations

import asyncio
import sys

import pytest

from compat.core.emitter import start_coroutine

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ uses asyncio's own eager tasks")


async def test_the_handler_task_is_current_during_its_first_step_only() -> None:
    from compat.core.asyncio_internals import run_as_current_task

    loop = asyncio.get_running_loop()
    caller = asyncio.current_task()

    async def idle() -> None:
        await asyncio.sleep(0)

    other = loop.create_task(idle())
    seen = []
    run_as_current_task(loop, other, lambda: seen.append(asyncio.current_task()))
    assert seen == [other], "asyncio.tasks._enter_task/_leave_task no longer switch the current task"
    assert asyncio.current_task() is caller
    await other


async def test_an_async_handler_runs_its_first_step_as_its_own_task() -> None:
    caller = asyncio.current_task()
    seen: list[object] = []
    errors: list[BaseException] = []

    async def handler() -> None:
        seen.append(asyncio.current_task())  # what asyncio.timeout / cancellation would target
        await asyncio.sleep(0)

    start_coroutine(handler(), errors.append)
    assert len(seen) == 1 and seen[0] is not None and seen[0] is not caller
    assert asyncio.current_task() is caller
    await asyncio.sleep(0.01)
    assert errors == []
