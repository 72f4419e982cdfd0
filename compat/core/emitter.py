"""The event emitter every vendor object model builds on: Node's ``EventEmitter``, with handlers
called the way JavaScript calls functions.

Node semantics (``lib/events.js``: ``_addListener``, ``removeListener``, ``emit``):

* ``on``/``once``/``off``/``add_listener``/``remove_listener``/``remove_all_listeners``/
  ``prepend_listener``/``prepend_once_listener`` return the emitter, so calls chain.
  ``on(event)`` and ``once(event)`` without a function return a decorator (``@room.on("x")``).
* The same function added twice is called twice; ``remove_listener`` removes one registration,
  the most recently added (functions compare with ``==``, so a bound method given again matches).
* ``emit`` calls the listeners registered when it starts, in order, and returns whether there
  were any; a ``once`` listener is removed before it runs.
* ``listeners(event)`` (the functions, a copy), ``listener_count(event)``, ``event_names()``.

JavaScript calls (cost paid once, at registration, by :func:`js_arity`):

* a handler declaring fewer positional parameters than the event passes gets only as many
  (extra arguments are dropped, as JS ignores them); ``*args``, builtins and callables without
  a signature get all of them;
* a handler returning a coroutine (an ``async def`` one) runs synchronously up to its first
  suspension, inside the emit, as a JS async function does; only the rest is a task
  (:func:`start_coroutine`). A listener it attaches before its first ``await`` sees the very
  next event.

A handler that raises (or whose coroutine fails) stops neither the other handlers nor the
emitting code (Node rethrows into ``emit``: the vendor code that emits must not be broken by an
application's bug): if the emitter has ``error`` listeners the exception is emitted as
``error``, else it is logged at ERROR with its traceback. ``emit("error", x)`` with no listener
logs ``x`` (Node throws it).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine, Generator
from inspect import CO_VARARGS
from types import FunctionType, MethodType
from typing import Any, Generic, TypeVar, overload

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=str)
Handler = TypeVar("Handler", bound=Callable[..., Any])
S = TypeVar("S", bound="Emitter[Any]")

ALL_ARGS = sys.maxsize  # the arity of a handler that takes every argument


def js_arity(fn: Callable[..., Any]) -> int:
    """How many of an event's arguments ``fn`` gets: its positional parameters (with or without
    defaults), or :data:`ALL_ARGS` for ``*args``, builtins and callables without a signature.
    Plain functions and methods are read from their code object (registration stays cheap: the
    vendor models register several internal handlers per participant and publication)."""
    func, bound = (fn.__func__, 1) if type(fn) is MethodType else (fn, 0)
    if type(func) is FunctionType and "__wrapped__" not in func.__dict__ and "__signature__" not in func.__dict__:
        code = func.__code__
        return ALL_ARGS if code.co_flags & CO_VARARGS else max(code.co_argcount - bound, 0)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read: pass everything, as before
        return ALL_ARGS
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return ALL_ARGS
        if p.kind is p.POSITIONAL_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD:
            count += 1
    return count


class Listener:
    """One registration: the function, its arity (computed once) and whether it is a ``once``."""

    __slots__ = ("arity", "fn", "once")

    def __init__(self, fn: Callable[..., Any], once: bool = False) -> None:
        self.fn = fn
        self.arity = js_arity(fn)
        self.once = once

    def invoke(self, args: tuple[Any, ...]) -> Any:
        """Call with as many of ``args`` as the function declares (JS drops the others)."""
        return self.fn(*args[: self.arity])

    def call(
        self, args: tuple[Any, ...], on_error: Callable[[BaseException], None], loop: asyncio.AbstractEventLoop | None = None
    ) -> Any:
        """:meth:`invoke`, then a returned coroutine started at once (:func:`start_coroutine`,
        its failure to ``on_error``), as JS runs an async function; ``loop`` serves when the
        emit runs outside the loop. Exceptions raised by the call propagate (each dispatcher
        has its own rule for them)."""
        result = self.fn(*args[: self.arity])
        if result is not None and inspect.iscoroutine(result):
            start_coroutine(result, on_error, loop)
        return result


# --- async handlers: run to the first suspension inside the emit -----------------------------

_handler_tasks: set[asyncio.Future[Any]] = set()  # strong references until they end


def start_coroutine(
    coro: Coroutine[Any, Any, Any], on_error: Callable[[BaseException], None], loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Run ``coro`` synchronously up to its first suspension (as a JS async function runs), then
    as a task; its exception, at any point, goes to ``on_error``. Python 3.12+ does this with
    ``asyncio.Task(eager_start=True)``; older versions with :class:`_Rest`. Emitted outside the
    loop, it is a task of ``loop`` (not started eagerly); without one, the coroutine is closed
    unrun and ``on_error`` gets a RuntimeError."""
    task: asyncio.Future[Any]
    try:
        running = asyncio.get_running_loop()
    except RuntimeError as exc:  # emitted outside the loop (a test driving objects by hand)
        if loop is None or loop.is_closed():
            coro.close()
            on_error(RuntimeError(f"an async handler needs an event loop ({exc})"))
            return
        task = loop.create_task(coro)
    else:
        task = _eager_task(running, coro)
    _handler_tasks.add(task)
    task.add_done_callback(lambda t: _handler_task_done(t, on_error))


def _handler_task_done(task: asyncio.Future[Any], on_error: Callable[[BaseException], None]) -> None:
    _handler_tasks.discard(task)
    if not task.cancelled():
        exc = task.exception()
        if exc is not None:
            on_error(exc)


if sys.version_info >= (3, 12):

    def _eager_task(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:
    from .asyncio_internals import run_as_current_task

    def _eager_task(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """3.10/3.11 (fixed releases): what 3.12's eager start does. The task exists first, so
        that during the synchronous step ``asyncio.current_task()`` is the handler's own task
        (``asyncio.timeout``, ``TaskGroup`` and cancellation then target it, not the emitter's
        caller); it then continues the coroutine where that step left it."""
        rest = _Rest(coro)
        ctx = contextvars.copy_context()
        if sys.version_info >= (3, 11):
            task = loop.create_task(rest, context=ctx)
        else:
            task = loop.create_task(rest)
        run_as_current_task(loop, task, lambda: ctx.run(rest.first_step))
        return task


class _Rest(Coroutine[Any, Any, Any]):
    """A coroutine whose first step is run by :meth:`first_step` (synchronously), seen by its
    task as the whole coroutine: the task's first ``send`` replays that step's outcome (the
    object it suspended on, its return value or its exception); later calls go to the coroutine."""

    __slots__ = ("_coro", "_outcome")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._outcome: tuple[str, Any] | None = None  # ("suspended" | "returned" | "raised", value)

    def first_step(self) -> None:
        try:
            self._outcome = ("suspended", self._coro.send(None))
        except StopIteration as stop:
            self._outcome = ("returned", stop.value)
        except BaseException as exc:  # noqa: BLE001 - raised again by the task's first send: the task reports it
            self._outcome = ("raised", exc)

    def send(self, value: Any) -> Any:
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return self._coro.send(value)
        return _replay(*outcome)

    def throw(self, *exc: Any) -> Any:
        """A cancellation before the task's first step reaches the coroutine only if it is still
        suspended; one that already ended keeps its outcome."""
        outcome, self._outcome = self._outcome, None
        if outcome is None or outcome[0] == "suspended":
            return self._coro.throw(*exc)
        return _replay(*outcome)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("run by its task only")


def _replay(kind: str, value: Any) -> Any:
    if kind == "returned":
        raise StopIteration(value)
    if kind == "raised":
        raise value
    return value


# --- the emitter ---------------------------------------------------------------------------------


class Emitter(Generic[E]):
    """Node's EventEmitter with JS-style handler calls; see the module docstring.

    ``E`` is the Literal of the event names the class emits: registration methods accept only
    those when type checked (a misspelt event is a mypy error, not a handler that never runs);
    ``emit`` takes any ``str``: the vendor code emits, users listen."""

    _logger = logger  # a vendor package logs its users' handler errors under its own name

    def __init__(self) -> None:
        self._events: dict[str, list[Listener]] = {}
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # built outside the loop: emits will run in it (or fail loudly)
            self._loop = None

    # --- registering ---------------------------------------------------------------------------

    @overload
    def on(self, event: E) -> Callable[[Handler], Handler]: ...
    @overload
    def on(self: S, event: E, f: Callable[..., Any]) -> S: ...
    def on(self, event: E, f: Callable[..., Any] | None = None) -> Any:
        """Add ``f`` (called on every ``event``); without ``f``, a decorator that adds it."""
        if f is None:
            return self._decorator(event, once=False)
        return self._add(event, f, once=False, prepend=False)

    @overload
    def once(self, event: E) -> Callable[[Handler], Handler]: ...
    @overload
    def once(self: S, event: E, f: Callable[..., Any]) -> S: ...
    def once(self, event: E, f: Callable[..., Any] | None = None) -> Any:
        """Add ``f`` for the next ``event`` only (removed before it runs)."""
        if f is None:
            return self._decorator(event, once=True)
        return self._add(event, f, once=True, prepend=False)

    def add_listener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self._add(event, f, once=False, prepend=False)

    def prepend_listener(self: S, event: E, f: Callable[..., Any]) -> S:
        """Add ``f`` before the listeners already there."""
        return self._add(event, f, once=False, prepend=True)

    def prepend_once_listener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self._add(event, f, once=True, prepend=True)

    def off(self: S, event: E, f: Callable[..., Any]) -> S:
        """Remove the most recent registration of ``f`` for ``event`` (nothing if there is none)."""
        listeners = self._events.get(event)
        if listeners:
            for i in range(len(listeners) - 1, -1, -1):
                if listeners[i].fn == f:
                    self._events[event] = listeners[:i] + listeners[i + 1 :]  # emits in progress keep theirs
                    break
        return self

    def remove_listener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self.off(event, f)

    def remove_all_listeners(self: S, event: E | None = None) -> S:
        if event is None:
            self._events.clear()
        else:
            self._events.pop(event, None)
        return self

    def _decorator(self, event: str, *, once: bool) -> Callable[[Handler], Handler]:
        def register(f: Handler) -> Handler:
            self._add(event, f, once=once, prepend=False)
            return f

        return register

    def _add(self: S, event: str, f: Callable[..., Any], *, once: bool, prepend: bool) -> S:
        if not callable(f):
            raise TypeError(f'The "listener" argument must be a callable, not {type(f).__name__}')
        listener = Listener(f, once)
        old = self._events.get(event, [])
        # A new list each time: an emit in progress iterates the list it started with.
        self._events[event] = [listener, *old] if prepend else [*old, listener]
        return self

    # --- inspecting ----------------------------------------------------------------------------

    def listeners(self, event: E) -> list[Callable[..., Any]]:
        """The functions registered for ``event``, in call order (a copy)."""
        return [listener.fn for listener in self._events.get(event, ())]

    def listener_count(self, event: E) -> int:
        return len(self._events.get(event, ()))

    def event_names(self) -> list[str]:
        """The events that have listeners, in the order they first got one."""
        return [name for name, listeners in self._events.items() if listeners]

    # --- emitting ------------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> bool:
        """Call the listeners of ``event`` with ``args``; whether it had any. Most emits find none
        (a fact passes objects nobody listens to) and return at once."""
        listeners = self._events.get(event)
        if not listeners:
            if event == "error":
                self._unhandled_error(args[0] if args else None)
            return False
        # A failure in an ``error`` listener is logged: emitting it as ``error`` again could loop.
        on_error = self._handler_failed if event != "error" else self._unhandled_error
        for listener in listeners:  # never mutated: registration replaces the list
            if listener.once:
                self._remove_registration(event, listener)
            try:
                listener.call(args, on_error, self._loop)
            except Exception as exc:  # noqa: BLE001 - an application's bug: reported, never raised into the emitting code
                on_error(exc)
        return True

    def _remove_registration(self, event: str, listener: Listener) -> None:
        listeners = self._events.get(event)
        if listeners and listener in listeners:
            self._events[event] = [other for other in listeners if other is not listener]

    def _handler_failed(self, exc: BaseException) -> None:
        """A handler raised (or its coroutine failed): emitted as ``error`` if someone listens
        to that, else logged."""
        if self._events.get("error"):
            self.emit("error", exc)
        else:
            self._unhandled_error(exc)

    def _unhandled_error(self, error: Any) -> None:
        """Log a handler's exception (or an ``error`` event nobody listens to) instead of
        raising it into the code that emitted."""
        if isinstance(error, BaseException):
            self._logger.error("error in a %s event handler", type(self).__name__, exc_info=error)
        else:
            self._logger.error("error event on %s: %r", type(self).__name__, error)

    def _defer(self, event: str, *args: Any) -> None:
        """Emit on a later loop iteration (JavaScript's ``setTimeout(..., 0)``)."""
        loop = self._loop or asyncio.get_running_loop()  # the loop it was built in, if any
        loop.call_soon(self._emit_later, event, args)

    def _emit_later(self, event: str, args: tuple[Any, ...]) -> None:
        self.emit(event, *args)


__all__ = ["ALL_ARGS", "Emitter", "Listener", "js_arity", "start_coroutine"]
