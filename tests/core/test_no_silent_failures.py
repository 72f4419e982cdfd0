"""No failure in compat/core ends silently (issue 7, point 1).

An AST check over every module of compat/core: each ``except`` handler must re-raise or
raise another error, deliver a fact (``_deliver``/``_emit``), or log at WARNING or above.
``contextlib.suppress`` and done-callback lambdas that read ``.exception()`` (a future's
failure consumed and dropped) are refused outright. A new silent swallow fails here with
its file:line; the few justified handlers are listed in ALLOWED with the reason.

Commands use ``bounded_command()`` (raises ``CommandFailure``, logged at WARNING), teardown
uses ``bounded()`` (logs at WARNING and goes on); both are checked by the same rule, and
their behaviour by the tests at the end.
"""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from compat.core import CommandFailure
from compat.core.session import bounded, bounded_command

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "compat" / "core"

LOUD = {"warning", "error", "exception", "critical"}
DELIVERS = {"_deliver", "_emit"}

# (file, enclosing function, caught type) -> why swallowing there is not a silent failure.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("rtc_session.py", "_probe", "StopAsyncIteration"): "the stream ended before its first frame: not a failure, "
    "the track's unsubscribe/leave is reported by its own fact",
    ("rtc_session.py", "_join", "rtc.ConnectError"): "the handler only converts the error; the loop right after it "
    "raises it as ConnectFailure or logs the retry at WARNING",
    ("rtc_session.py", "_track", "StopIteration"): "driving the exit guard's async generator to its yield: "
    "StopIteration is how that ends, not a failure",
    ("rtc_session.py", "_running_here", "RuntimeError"): "probing for a running loop; none is an answer, not a failure",
    ("rtc_session.py", "_close_guard", "(StopIteration, RuntimeError)"): "finishing the exit guard of a loop that is "
    "gone: the generator protocol ends that way",
    ("emitter.py", "js_arity", "(TypeError, ValueError)"): "a callable without a readable signature: the answer "
    "is 'pass every argument', not a failure",
    ("emitter.py", "start_coroutine", "RuntimeError"): "no running loop: a task of the emitter's loop, else the "
    "handler's on_error gets a RuntimeError (logged or emitted as 'error')",
    ("emitter.py", "__init__", "RuntimeError"): "probing for a running loop (none yet is normal), not a failure",
    ("emitter.py", "first_step", "StopIteration"): "the handler's coroutine ended in its first step: its return "
    "value is replayed to its task",
    ("emitter.py", "first_step", "BaseException"): "replayed (raised) by the task's first step; the task's done "
    "callback reports it to on_error",
    ("emitter.py", "emit", "Exception"): "an application handler's exception goes to on_error: emitted as 'error' "
    "to its listeners, else logged at ERROR",
}


def _qualname(stack: list[ast.AST]) -> str:
    for node in reversed(stack):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.name
    return "<module>"


def _is_loud(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Raise):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            if sub.func.attr in LOUD and isinstance(sub.func.value, ast.Name) and sub.func.value.id in ("logger", "logging"):
                return True
            if sub.func.attr in DELIVERS:
                return True
    return False


def _walk(node: ast.AST, stack: list[ast.AST]) -> Iterator[tuple[ast.AST, list[ast.AST]]]:
    yield node, stack
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, [*stack, node])


def silent_failures(path: Path, source: str) -> list[str]:
    found = []
    rel = path.name
    for node, stack in _walk(ast.parse(source, str(path)), []):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ExceptHandler):
            caught = ast.unparse(node.type) if node.type is not None else "<bare>"
            key = (rel, _qualname(stack), caught)
            if key in ALLOWED or any(_is_loud(stmt) for stmt in node.body):
                continue
            found.append(f"{where}: `except {caught}` in {key[1]}() neither raises, delivers a fact nor logs at WARNING")
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("suppress", "contextlib.suppress"):
                found.append(f"{where}: {name}() swallows exceptions silently; catch and log at WARNING instead")
        elif isinstance(node, ast.Lambda):
            reads = any(
                isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "exception"
                for sub in ast.walk(node.body)
            )
            if reads and not _is_loud(node.body):
                found.append(f"{where}: a lambda consumes a future's exception silently; use _log_late_failure")
    return found


def core_sources() -> dict[Path, str]:
    return {path: path.read_text() for path in sorted(CORE.rglob("*.py"))}


def test_compat_core_swallows_nothing_silently() -> None:
    found = [f for path, source in core_sources().items() for f in silent_failures(path, source)]
    assert not found, "silent failure paths in compat/core:\n" + "\n".join(found)


def test_every_allowed_handler_still_exists() -> None:
    present = set()
    for path, source in core_sources().items():
        for node, stack in _walk(ast.parse(source), []):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                present.add((path.name, _qualname(stack), ast.unparse(node.type)))
    assert set(ALLOWED) <= present, f"stale ALLOWED entries: {set(ALLOWED) - present}"


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("try:\n    f()\nexcept Exception:\n    pass\n", True),
        ("try:\n    f()\nexcept Exception as e:\n    logger.debug('x %r', e)\n", True),
        ("try:\n    f()\nexcept KeyError:\n    return_value = None\n", True),
        ("with contextlib.suppress(Exception):\n    f()\n", True),
        ("t.add_done_callback(lambda t: t.cancelled() or t.exception())\n", True),
        ("try:\n    f()\nexcept Exception as e:\n    logger.warning('x %r', e)\n", False),
        ("try:\n    f()\nexcept Exception as e:\n    raise Other() from e\n", False),
        ("try:\n    f()\nexcept Exception:\n    self._deliver(F.Failed())\n", False),
    ],
)
def test_the_check_itself(source: str, bad: bool) -> None:
    assert bool(silent_failures(CORE / "example.py", source)) is bad


async def _fail() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("native says no")


async def _fail_with_value() -> int:
    await _fail()
    return 1


async def test_bounded_warns_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="compat.core.session"):
        assert await bounded(_fail_with_value(), 1.0, "closing x") is None
        assert await bounded(asyncio.sleep(0.5, 1), 0.05, "closing y") is None
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("closing x failed" in m for m in messages)
    assert any("closing y did not finish" in m for m in messages)


async def test_bounded_command_raises_command_failure(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="compat.core.session"):
        with pytest.raises(CommandFailure) as info:
            await bounded_command(_fail(), 1.0, "unpublish_track")
        assert info.value.command == "unpublish_track" and not info.value.timed_out
        assert "native says no" in str(info.value)
        slow = asyncio.ensure_future(asyncio.sleep(0.3))
        with pytest.raises(CommandFailure) as info:
            await bounded_command(slow, 0.05, "simulate_scenario")
        assert info.value.timed_out
        assert not slow.cancelled()  # never cancelled: it finishes in its own time
        assert await bounded_command(asyncio.sleep(0, "ok"), 1.0, "x") == "ok"
    assert sum(r.levelno == logging.WARNING for r in caplog.records) >= 2
