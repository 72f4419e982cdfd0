"""The pyee private members compat.core.pyee_internals relies on, checked against the installed
pyee. A failure names the item: re-read that item in the module's docstring, adapt the module,
then move the version pin in pyproject.toml."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from pyee.asyncio import AsyncIOEventEmitter
from pyee.base import EventEmitter as PyeeBaseEmitter

from compat.core.emitter import Emitter
from compat.core.pyee_internals import FastAsyncIOEventEmitter

VERIFIED_MAJOR = 13  # pyproject.toml: pyee>=13,<14
PYEE = importlib.metadata.version("pyee")


def require(ok: bool, item: str, detail: str) -> None:
    if not ok:
        pytest.fail(
            f"pyee {PYEE} changed {item}: {detail}. compat/core/pyee_internals.py relies on it "
            f"(verified with pyee {VERIFIED_MAJOR}.x); adapt it before moving the pin in pyproject.toml.",
            pytrace=False,
        )


class Probe(FastAsyncIOEventEmitter):
    """Records unhandled errors instead of raising or logging them."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(loop=loop)
        self.unhandled: list[Any] = []

    def _unhandled_error(self, error: Any) -> None:
        self.unhandled.append(error)


def test_installed_pyee_is_the_verified_major() -> None:
    require(PYEE.split(".")[0] == str(VERIFIED_MAJOR), "its major version", f"expected {VERIFIED_MAJOR}.x")


def test_events_maps_names_to_ordered_callables_to_run() -> None:
    e = Probe()
    calls: list[str] = []

    def f() -> None:
        calls.append("f")

    def g() -> None:
        calls.append("g")

    e.on("x", f)
    e.once("x", g)
    table = getattr(e, "_events", None)
    require(isinstance(table, dict), "_events", f"not a dict but {type(table).__name__}")
    assert isinstance(table, dict)
    handlers = table.get("x")
    require(handlers is not None and list(handlers) == [f, g], "_events", "no per-event mapping keyed by the user's handlers in order")
    assert handlers is not None
    values = list(handlers.values())
    require(values[0] is f, "_events", "the value of an `on` handler is not the handler itself")
    require(callable(values[1]) and values[1] is not g, "_events", "the value of a `once` handler is not a wrapper")
    values[1]()
    require(calls == ["g"] and list(table.get("x", {})) == [f], "_events", "the `once` wrapper does not call and remove the handler")


def test_remove_all_listeners_of_one_event_leaves_nothing_to_run() -> None:
    e = Probe()
    e.on("x", print)
    e.remove_all_listeners("x")
    require(not e._events.get("x"), "_events", "remove_all_listeners(event) leaves handlers to run")
    assert e.emit("x") is False


def test_remove_listener_of_an_unknown_handler_raises_at_most_key_error() -> None:
    """EventEmitter.off (twilio_video) swallows KeyError only."""
    e = Probe()
    e.on("x", print)
    try:
        e.remove_listener("x", repr)
        e.remove_listener("y", repr)
    except KeyError:
        pass


def test_emit_run_signature() -> None:
    run = getattr(AsyncIOEventEmitter, "_emit_run", None)
    require(callable(run), "_emit_run", "AsyncIOEventEmitter has no _emit_run")
    assert run is not None
    params = list(inspect.signature(run).parameters)
    require(params == ["self", "f", "args", "kwargs"], "_emit_run", f"parameters are {params}, not (self, f, args, kwargs)")


async def test_emit_run_calls_schedules_and_reports_errors_as_error_events() -> None:
    loop = asyncio.get_running_loop()
    e = Probe(loop)
    seen: list[Any] = []
    e._emit_run(lambda *a, **k: seen.append((a, k)), (1, 2), {"k": 3})
    require(seen == [((1, 2), {"k": 3})], "_emit_run", "does not call f(*args, **kwargs) synchronously")

    boom = ValueError("sync")

    def raising() -> None:
        raise boom

    e._emit_run(raising, (), {})
    require(e.unhandled == [boom], "_emit_run", "a handler's exception is not reported as emit('error', exc)")

    done = asyncio.Event()
    async_boom = ValueError("async")

    async def coro() -> None:
        done.set()
        raise async_boom

    e._emit_run(coro, (), {})
    require(not done.is_set(), "_emit_run", "a coroutine handler runs inside the emit instead of as a task")
    await asyncio.wait_for(done.wait(), 5)
    for _ in range(3):
        await asyncio.sleep(0)
    require(e.unhandled == [boom, async_boom], "_emit_run", "a coroutine handler's exception is not reported as emit('error', exc)")


async def test_loop_is_the_constructor_argument() -> None:
    loop = asyncio.get_running_loop()
    require(getattr(Probe(loop), "_loop", None) is loop, "_loop", "not the loop given to __init__")
    require(getattr(Probe(), "_loop", 0) is None, "_loop", "not None when no loop is given")


def test_pyee_emit_reports_unhandled_errors_through_the_hook() -> None:
    e = Probe()
    boom = ValueError("x")
    PyeeBaseEmitter.emit(e, "error", boom)
    require(e.unhandled == [boom], "_emit_handle_potential_error", "pyee's emit no longer calls it for an unhandled 'error'")


def test_fast_emit_matches_pyee_emit() -> None:
    """Same calls, order, return values, once-removal and error routing as pyee's own emit."""

    def run(emit: Callable[..., bool]) -> tuple[list[Any], list[bool], list[Any]]:
        e = Probe()
        calls: list[Any] = []
        boom = ValueError("boom")

        def raising(*a: Any) -> None:
            calls.append(("raising", a))
            raise boom

        e.on("a", lambda *a: calls.append(("on", a)))
        e.once("a", lambda *a: calls.append(("once", a)))
        e.on("a", raising)
        e.on("b", lambda **k: calls.append(("kw", k)))
        results = [emit(e, "a", 1), emit(e, "a", 2), emit(e, "b", k=1), emit(e, "none"), emit(e, "error", "plain")]
        return calls, results, [repr(u) for u in e.unhandled]

    ours = run(lambda e, *a, **k: e.emit(*a, **k))
    pyees = run(lambda e, *a, **k: AsyncIOEventEmitter.emit(e, *a, **k))
    require(ours == pyees, "emit", f"the fast emit gives {ours}, pyee's emit {pyees}")


def test_core_emitter_logs_unhandled_errors(caplog: pytest.LogCaptureFixture) -> None:
    e: Emitter[str] = Emitter()

    def raising() -> None:
        raise ValueError("app bug")

    after: list[str] = []
    e.on("x", raising)
    e.on("x", lambda: after.append("ran"))
    assert e.emit("x") is True
    assert after == ["ran"]
    assert "error in a Emitter event handler" in caplog.text and "app bug" in caplog.text
    e.emit("error", "plain")
    assert "error event on Emitter: 'plain'" in caplog.text
