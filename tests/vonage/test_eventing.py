"""The event dispatcher of OpenTok.js (§1.2): on/once/off forms, order, chaining, the skip rule."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from compat import vonage as OT
from compat.vonage.eventing import EventDispatcher


class Target(EventDispatcher):
    def fire(self, name: str) -> OT.Event:
        return self._dispatch(OT.Event(name, self))


def test_registration_order_and_chaining() -> None:
    t, seen = Target(), []
    assert t.on("a", lambda e: seen.append(1)).on("a", lambda e: seen.append(2)) is t
    t.fire("a")
    assert seen == [1, 2]


def test_space_separated_names_and_once() -> None:
    t, seen = Target(), []
    t.on("a  b", lambda e: seen.append(e.type))
    t.once("a", lambda e: seen.append("once"))
    t.fire("a")
    t.fire("b")
    t.fire("a")
    assert seen == ["a", "once", "b", "a"]


def test_map_form_with_context_and_off() -> None:
    t, seen, ctx = Target(), [], object()

    def h(e: OT.Event) -> None:
        seen.append(e.type)

    t.on({"a": h, "b": h}, ctx)
    t.off("a", h)  # other context: not removed
    t.fire("a")
    t.off({"a": h}, ctx)
    t.fire("a")
    t.fire("b")
    assert seen == ["a", "b"]


def test_same_handler_twice_runs_twice_and_off_removes_all_matching() -> None:
    t, seen = Target(), []

    def h(e: OT.Event) -> None:
        seen.append(1)

    t.on("a", h).on("a", h)
    t.fire("a")
    assert seen == [1, 1]
    t.off("a", h)
    t.fire("a")
    assert seen == [1, 1]


def test_off_without_arguments_removes_everything() -> None:
    t, seen = Target(), []
    t.on("a b", lambda e: seen.append(1)).addEventListener("c", lambda e: seen.append(2))
    t.off()
    for n in "abc":
        t.fire(n)
    assert seen == []


def test_off_name_removes_that_name_only() -> None:
    t, seen = Target(), []
    t.on("a", lambda e: seen.append("a")).on("b", lambda e: seen.append("b"))
    t.removeEventListener("a")
    t.fire("a")
    t.fire("b")
    assert seen == ["b"]


def test_raising_handler_is_logged_and_later_listeners_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    t, seen = Target(), []

    def boom(e: OT.Event) -> None:
        raise RuntimeError("boom")

    t.on("a", lambda e: seen.append(1)).on("a", boom).on("a", lambda e: seen.append(3))
    with caplog.at_level(logging.ERROR, logger="compat.vonage"):
        t.fire("a")
    assert seen == [1]
    assert "later handlers of this event are skipped" in caplog.text
    t.fire("a")  # the next emission runs from the start again
    assert seen == [1, 1]


def test_handler_must_be_callable() -> None:
    with pytest.raises(TypeError):
        Target().on("a", "not callable")
    with pytest.raises(ValueError):
        Target().on("  ", lambda e: None)


async def test_coroutine_handlers_run_to_their_first_await_inside_the_dispatch(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    t, seen = Target(), []

    async def h(e: OT.Event) -> None:
        seen.append(e.type)
        t.once("b", lambda e: seen.append(e.type))  # attached before the first await: sees the next event
        await asyncio.sleep(0)
        seen.append("after")

    async def bad(e: OT.Event) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("late")

    t.on("a", h).on("a", bad)
    t.fire("a")
    t.fire("b")
    assert seen == ["a", "b"]
    for _ in range(3):
        await asyncio.sleep(0)
    assert seen == ["a", "b", "after"]
    assert "late" in caplog.text


def test_event_prevent_default(caplog: pytest.LogCaptureFixture) -> None:
    e = OT.Event("x", None)
    e.preventDefault()
    assert not e.isDefaultPrevented()
    assert "isn't cancelable" in caplog.text
    c = OT.SessionDisconnectEvent("clientDisconnected", None)
    c.preventDefault()
    assert c.isDefaultPrevented() and c.cancelable


def test_signal_event_from() -> None:
    e: Any = OT.SignalEvent("signal:x", "d", None, None)
    assert e.from_ is None and getattr(e, "from") is None and e.type == "signal:x"


def test_handlers_get_only_the_arguments_they_declare() -> None:
    """OpenTok.js handlers are JS functions: one declaring no parameter is called without the event."""
    t, seen = Target(), list[Any]()

    class App:
        def on_a(self) -> None:
            seen.append("method")

    t.on("a", lambda: seen.append("none")).on("a", lambda e: seen.append(e.type)).on("a", App().on_a)
    t.once("a", lambda: seen.append("once"))
    t.on("a", lambda *args: seen.append(len(args)))
    t.fire("a")
    assert seen == ["none", "a", "method", "once", 1]
