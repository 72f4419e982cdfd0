"""The OpenTok.js event dispatcher (``helpers/eventing.js``), shared by Session, Publisher and Subscriber.

Registering (each returns the object, so calls chain):

* ``on(name, handler, context=None)``, ``once(...)``: ``name`` may hold several names separated
  by spaces (``"streamCreated streamDestroyed"``), or be a ``{name: handler}`` dict, with the
  context as the second argument (``session.on({"signal": h}, ctx)``);
* ``off(name=None, handler=None, context=None)``: ``off()`` removes every listener, ``off(name)``
  every listener of that name, ``off(name, handler, context)`` the registrations of that handler
  with that context (a dict works as for ``on``);
* the deprecated ``addEventListener`` / ``removeEventListener`` are aliases.

Dispatch is **synchronous**, in registration order; the same handler may be registered twice
(it then runs twice). A handler gets the event object only: the ``context`` serves ``off``
(Python handlers carry their ``self`` as bound methods). Handlers are called as JS calls
functions: one that declares no parameter is called without the event (its arity is computed
once, at registration, by :class:`compat.core.emitter.Listener`). As in OpenTok.js, whose ``emit`` stops at
the first throwing listener, **a handler that raises is logged (ERROR, with the traceback) and the
later listeners of that emission are skipped**; the dispatching code goes on. An ``async def``
handler runs synchronously up to its first ``await``, inside the dispatch, as a JS async function
does (a listener it adds before that sees the next event); the rest runs as a task, and its
failure is logged too.

Each registration holds a core :class:`~compat.core.emitter.Listener`; the dispatch loop is
ours because of the skip rule above.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from compat.core.emitter import Listener, start_coroutine

from .events import Event

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Any]
D = TypeVar("D", bound="EventDispatcher")


@attrs.define(eq=False)
class _Registration:
    name: str
    handler: Handler
    context: Any
    listener: Listener


class EventDispatcher:
    """``on`` / ``once`` / ``off`` and synchronous dispatch; see the module docstring."""

    def __init__(self) -> None:
        self._registrations: dict[str, list[_Registration]] = {}  # by name, in registration order
        self._handler_tasks: set[asyncio.Future[Any]] = set()

    # --- registering ---------------------------------------------------------------------------

    def on(self: D, names: str | Mapping[str, Handler], handler: Any = None, context: Any = None) -> D:
        """``on(name, handler, context?)`` or ``on({name: handler}, context?)``."""
        for name, h, ctx in _pairs(names, handler, context, "on"):
            self._add(name, h, ctx, once=False)
        return self

    def once(self: D, names: str | Mapping[str, Handler], handler: Any = None, context: Any = None) -> D:
        """Like ``on``; each registration runs at most once (it is removed before it runs)."""
        for name, h, ctx in _pairs(names, handler, context, "once"):
            self._add(name, h, ctx, once=True)
        return self

    def off(self: D, names: str | Mapping[str, Handler] | None = None, handler: Any = None, context: Any = None) -> D:
        """``off()`` (everything), ``off(name)``, ``off(name, handler, context?)``, ``off({name: handler}, context?)``."""
        if names is None:
            self._remove_all()
            return self
        if isinstance(names, Mapping):
            for name, h in names.items():
                self._remove_matching(name, h, handler)
            return self
        for name in _split(names, "off"):
            self._remove_matching(name, handler, context)
        return self

    def addEventListener(self: D, names: str | Mapping[str, Handler], handler: Any = None, context: Any = None) -> D:
        """Deprecated alias of :meth:`on`."""
        return self.on(names, handler, context)

    def removeEventListener(self: D, names: str | Mapping[str, Handler] | None = None, handler: Any = None, context: Any = None) -> D:
        """Deprecated alias of :meth:`off`."""
        return self.off(names, handler, context)

    def _add(self, name: str, handler: Handler, context: Any, *, once: bool) -> None:
        reg = _Registration(name, handler, context, Listener(handler, once))
        self._registrations[name] = [*self._registrations.get(name, ()), reg]

    def _remove(self, reg: _Registration) -> None:
        regs = self._registrations.get(reg.name)
        if regs and reg in regs:
            self._registrations[reg.name] = [r for r in regs if r is not reg]

    def _remove_all(self) -> None:
        self._registrations.clear()

    def _remove_matching(self, name: str, handler: Any, context: Any) -> None:
        for reg in list(self._registrations.get(name, ())):
            if handler is None or (reg.handler == handler and reg.context is context):
                self._remove(reg)

    # --- dispatching ---------------------------------------------------------------------------

    def _listener_count(self, name: str) -> int:
        return len(self._registrations.get(name, ()))

    def _dispatch(self, event: Event, name: str | None = None) -> Event:
        """Run the listeners of ``name`` (default ``event.type``) in order; see the module docstring."""
        name = event.type if name is None else name
        for reg in self._registrations.get(name, ()):  # never mutated: registration replaces the list
            if reg.listener.once:
                self._remove(reg)
            try:
                result = reg.listener.invoke((event,))
            except Exception:
                logger.exception(
                    "error in a %s %r event handler; the later handlers of this event are skipped, as in OpenTok.js",
                    type(self).__name__,
                    name,
                )
                break
            if inspect.iscoroutine(result):  # an async function: runs to its first await now, as in JS
                start_coroutine(result, functools.partial(self._coroutine_failed, name=name))
            elif inspect.isawaitable(result):
                self._run_handler_task(result, name)
        return event

    def _dispatch_with_default(self, event: Event, default: Callable[[], None]) -> None:
        """Dispatch, then run the default action unless a handler called ``preventDefault()``."""
        self._dispatch(event)
        if not event.isDefaultPrevented():
            default()

    def _run_handler_task(self, aw: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(aw)
        self._handler_tasks.add(task)
        task.add_done_callback(lambda t: self._handler_task_done(t, name))

    def _handler_task_done(self, task: asyncio.Future[Any], name: str) -> None:
        self._handler_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._coroutine_failed(task.exception(), name)

    def _coroutine_failed(self, exc: BaseException | None, name: str) -> None:
        logger.error("error in a %s %r event handler (coroutine)", type(self).__name__, name, exc_info=exc)


def _split(names: str, method: str) -> list[str]:
    if not isinstance(names, str):
        raise TypeError(f"{method}: the event name must be a string or a dict of name -> handler, not {type(names).__name__}")
    split = names.split()
    if not split:
        raise ValueError(f"{method}: no event name given")
    return split


def _pairs(names: str | Mapping[str, Handler], handler: Any, context: Any, method: str) -> Iterator[tuple[str, Handler, Any]]:
    if isinstance(names, Mapping):
        for name, h in names.items():
            if not callable(h):
                raise TypeError(f"{method}: the handler of {name!r} is not callable")
            for n in _split(name, method):
                yield n, h, handler  # the context is the second argument in the dict form
        return
    if not callable(handler):
        raise TypeError(f"{method}({names!r}, handler): the handler must be callable, not {type(handler).__name__}")
    for n in _split(names, method):
        yield n, handler, context


__all__ = ["EventDispatcher", "Handler"]
