"""Issue 10, points 1 and 2: handlers called as JavaScript calls them, and Node's EventEmitter
(on a scripted session, where the events come from facts as in a real room)."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pytest

from compat import core as C
from compat import twilio_video as Video
from compat.core.emitter import ALL_ARGS, Emitter, js_arity
from compat.twilio_video.connect import connect_session


def snapshot() -> C.RoomSnapshot:
    alice = C.ParticipantState(C.ParticipantInfo("PA_a", "alice"), (C.TrackInfo("TR_mic", "mic", "audio"),))
    return C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), (alice,))


async def joined() -> tuple[C.ScriptedSession, Video.Room]:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    await asyncio.sleep(0.01)  # the fact stream starts a few loop iterations after connect
    return session, room


# --- 1. arity ----------------------------------------------------------------------------------


async def test_a_handler_gets_only_the_arguments_it_declares() -> None:
    """Room trackDisabled passes (publication, participant): JS handlers take fewer."""
    session, room = await joined()
    got: list[tuple[Any, ...]] = []

    class Bot:
        def on_disabled(self, pub: Any) -> None:
            got.append(("method", pub.trackSid))

    room.on("trackDisabled", lambda: got.append(("none",)))
    room.on("trackDisabled", lambda pub: got.append(("one", pub.trackSid)))
    room.on("trackDisabled", lambda pub, p: got.append(("two", pub.trackSid, p.identity)))
    room.on("trackDisabled", lambda pub, p, extra=None: got.append(("three", extra)))
    room.on("trackDisabled", lambda *args: got.append(("all", len(args))))
    room.on("trackDisabled", Bot().on_disabled)
    session.feed(C.TrackMuted("alice", "TR_mic"))
    assert got == [
        ("none",),
        ("one", "TR_mic"),
        ("two", "TR_mic", "alice"),
        ("three", None),
        ("all", 2),
        ("method", "TR_mic"),
    ]


def test_arity_is_read_once_at_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    e: Emitter[str] = Emitter()
    seen: list[int] = []
    e.on("x", lambda a: seen.append(a))
    reads: list[object] = []

    def counting_arity(fn: object) -> int:
        reads.append(fn)
        return ALL_ARGS

    monkeypatch.setattr("compat.core.emitter.js_arity", counting_arity)
    for i in range(3):
        e.emit("x", i, "extra")
    assert seen == [0, 1, 2] and reads == []


def test_js_arity_of_callables() -> None:
    def wrapped(a: Any) -> None: ...

    @functools.wraps(wrapped)
    def wrapper(*args: Any, **kwargs: Any) -> None: ...

    class Handler:
        def __call__(self, a: Any, b: Any) -> None: ...

    assert js_arity(lambda: None) == 0
    assert js_arity(lambda a, b=1, *, c=2: None) == 2  # keyword-only parameters get nothing
    assert js_arity(lambda *a: None) == ALL_ARGS
    assert js_arity(wrapper) == 1  # what the wrapped function declares
    assert js_arity(Handler()) == 2
    assert js_arity(functools.partial(lambda a, b: None, 1)) == 1
    assert js_arity([].append) == 1
    assert js_arity(print) == ALL_ARGS  # a builtin without a signature gets everything


# --- 1. async handlers ---------------------------------------------------------------------------


async def test_async_handler_runs_to_its_first_await_inside_the_emit() -> None:
    """The data-track example: an async trackSubscribed handler attaches the message listener
    before its first await; the first message (which creates the track) reaches it."""
    session, room = await joined()
    messages: list[str] = []
    steps: list[str] = []

    async def on_subscribed(track: Any) -> None:
        steps.append("subscribed")
        if track.kind == "data":
            track.on("message", lambda data: messages.append(data))
        await asyncio.sleep(0)
        steps.append("after await")

    room.on("trackSubscribed", on_subscribed)
    session.feed(C.DataReceived("alice", b"first", "chat", True))
    assert messages == ["first"] and steps == ["subscribed"]
    session.feed(C.DataReceived("alice", b"second", "chat", True))
    assert messages == ["first", "second"]
    await asyncio.sleep(0.01)
    assert steps == ["subscribed", "after await"]


async def test_async_handler_runs_in_its_own_task() -> None:
    """During the synchronous part the current task is the handler's, not the emitter's caller's:
    asyncio.timeout there cannot cancel the code that emitted."""
    session, room = await joined()
    outer = asyncio.current_task()
    tasks: list[asyncio.Task[Any] | None] = []
    done = asyncio.Event()

    async def handler(pub: Any) -> None:
        tasks.append(asyncio.current_task())
        await asyncio.wait_for(asyncio.sleep(0.01), 1)
        tasks.append(asyncio.current_task())
        done.set()

    room.on("trackDisabled", handler)
    session.feed(C.TrackMuted("alice", "TR_mic"))
    assert asyncio.current_task() is outer and len(tasks) == 1
    await asyncio.wait_for(done.wait(), 5)
    assert tasks[0] is not None and tasks[0] is not outer and tasks[1] is tasks[0]


async def test_async_handler_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    session, room = await joined()
    after: list[str] = []

    async def before_await(pub: Any) -> None:
        raise ValueError("sync part")

    async def after_await(pub: Any) -> None:
        await asyncio.sleep(0)
        raise ValueError("late part")

    room.on("trackDisabled", before_await).on("trackDisabled", after_await).on("trackDisabled", lambda: after.append("ran"))
    session.feed(C.TrackMuted("alice", "TR_mic"))
    assert after == ["ran"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert "sync part" in caplog.text and "late part" in caplog.text
    assert "error in a Room event handler" in caplog.text


# --- raising handlers ------------------------------------------------------------------------------


async def test_raising_handler_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    session, room = await joined()
    after: list[str] = []

    def raising(pub: Any) -> None:
        raise RuntimeError("app bug")

    room.on("trackDisabled", raising).on("trackDisabled", lambda: after.append("ran"))
    with caplog.at_level(logging.ERROR, logger="compat.twilio_video"):
        session.feed(C.TrackMuted("alice", "TR_mic"))
    assert after == ["ran"]
    assert "error in a Room event handler" in caplog.text and "app bug" in caplog.text


async def test_with_an_error_listener_the_exception_is_emitted_as_error(caplog: pytest.LogCaptureFixture) -> None:
    session, room = await joined()
    errors: list[BaseException] = []
    boom = RuntimeError("app bug")

    def raising() -> None:
        raise boom

    room.on("trackDisabled", raising)
    room.on("error", errors.append)  # type: ignore[call-overload]  # 'error' is not a Room event: only ours
    session.feed(C.TrackMuted("alice", "TR_mic"))
    assert errors == [boom] and "app bug" not in caplog.text

    def raising_error_listener(exc: BaseException) -> None:
        raise ValueError("in the error listener")

    room.on("error", raising_error_listener)  # type: ignore[call-overload]
    session.feed(C.TrackUnmuted("alice", "TR_mic"))  # trackEnabled: no raising handler
    session.feed(C.TrackMuted("alice", "TR_mic"))
    assert errors == [boom, boom]
    assert "in the error listener" in caplog.text  # logged, not emitted again


# --- 2. Node's EventEmitter ----------------------------------------------------------------------


async def test_registration_methods_chain() -> None:
    _, room = await joined()

    def h() -> None: ...

    assert room.on("trackDisabled", h).once("trackEnabled", h).addListener("trackStarted", h) is room
    assert room.prependListener("trackDisabled", h).prependOnceListener("trackDisabled", h) is room
    assert room.off("trackDisabled", h).removeListener("trackDisabled", h) is room
    assert room.removeAllListeners("trackStarted").removeAllListeners() is room
    assert room.eventNames() == []


async def test_decorators_still_register() -> None:
    session, room = await joined()
    seen: list[str] = []

    @room.on("trackDisabled")
    def on_disabled(pub: Any) -> None:
        seen.append("on")

    @room.once("trackDisabled")
    def once_disabled() -> None:
        seen.append("once")

    assert callable(on_disabled) and callable(once_disabled)
    session.feed(C.TrackMuted("alice", "TR_mic"), C.TrackUnmuted("alice", "TR_mic"), C.TrackMuted("alice", "TR_mic"))
    assert seen == ["on", "once", "on"]


async def test_same_listener_twice_is_called_twice_and_removed_one_at_a_time() -> None:
    session, room = await joined()
    calls: list[str] = []

    def h() -> None:
        calls.append("h")

    room.on("trackDisabled", h).on("trackDisabled", h)
    assert room.listenerCount("trackDisabled") == 2 and room.listeners("trackDisabled") == [h, h]
    session.feed(C.TrackMuted("alice", "TR_mic"))
    assert calls == ["h", "h"]
    room.removeListener("trackDisabled", h)
    assert room.listenerCount("trackDisabled") == 1
    session.feed(C.TrackUnmuted("alice", "TR_mic"), C.TrackMuted("alice", "TR_mic"))
    assert calls == ["h", "h", "h"]
    room.off("trackDisabled", h).off("trackDisabled", h)  # the second is a no-op, as in Node
    assert room.listenerCount("trackDisabled") == 0


def test_remove_listener_removes_the_most_recent_registration() -> None:
    """Node removes the last-added instance: with a once in between, the plain one goes."""
    e = Video.LocalAudioTrack(name="mic")
    calls: list[str] = []

    def h(*_: Any) -> None:
        calls.append("h")

    e.once("disabled", h).on("disabled", h).removeListener("disabled", h)
    e.disable()
    e.enable().disable()
    assert calls == ["h"]  # the once survived, ran once


def test_prepend_and_once_order() -> None:
    e = Video.LocalAudioTrack(name="mic")
    order: list[str] = []
    e.on("disabled", lambda: order.append("a"))
    e.prependListener("disabled", lambda: order.append("first"))
    e.prependOnceListener("disabled", lambda: order.append("very first, once"))
    e.disable()
    e.enable().disable()
    assert order == ["very first, once", "first", "a", "first", "a"]


def test_event_names_listener_count_and_emit_result() -> None:
    e = Video.LocalAudioTrack(name="mic")
    assert e.eventNames() == [] and e.listenerCount("enabled") == 0
    assert e.emit("enabled", e) is False
    e.on("enabled", print).once("disabled", print)
    assert e.eventNames() == ["enabled", "disabled"]
    assert e.emit("nobody", 1) is False
    e.removeAllListeners("enabled")
    assert e.eventNames() == ["disabled"]
    assert e.emit("disabled") is True
    assert e.eventNames() == [] and e.emit("disabled") is False


def test_an_emit_in_progress_calls_the_listeners_it_started_with() -> None:
    """Node: removing or adding listeners during an emit does not change that emit."""
    e = Video.LocalAudioTrack(name="mic")
    calls: list[str] = []

    def second() -> None:
        calls.append("second")

    def first() -> None:
        calls.append("first")
        e.off("disabled", second)
        e.on("disabled", lambda: calls.append("added"))

    e.on("disabled", first).on("disabled", second)
    e.disable()
    assert calls == ["first", "second"]
    e.enable().disable()
    assert calls == ["first", "second", "first", "added"]


def test_a_non_callable_listener_is_a_type_error() -> None:
    e = Video.LocalAudioTrack(name="mic")
    with pytest.raises(TypeError, match="listener"):
        e.on("disabled", "not a function")  # type: ignore[call-overload]
