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
    other = loop.create_future()
    seen = []
    run_as_current_task(loop, other, lambda: seen.append(asyncio.current_task()))
    assert seen == [other], "asyncio.tasks._enter_task/_leave_task no longer switch the current task"
    assert asyncio.current_task() is caller
    other.cancel()


async def test_a_timeout_in_an_async_handler_cancels_the_handler_not_the_emitter() -> None:
    outcome = []

    async def handler() -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        except TimeoutError:
            outcome.append("timed out")

    start_coroutine(handler(), outcome.append)
    await asyncio.sleep(0.1)  # the emitting task is not cancelled by the handler's timeout
    assert outcome == ["timed out"]
