"""The event emitter every vendor object model builds on (pyee's asyncio emitter).

``Emitter[E]`` takes the Literal of the event names its class emits: ``on``, ``once`` and
pyee's other registration methods accept only those names when type checked (a misspelt
event is a mypy error instead of a handler that never runs); at run time they are pyee's
own, unchanged. Handlers may be plain functions (run synchronously, in registration
order, inside the emit) or coroutine functions (scheduled as tasks on the loop). An
exception raised by a handler is logged and stops neither the other handlers nor the
caller. ``emit`` takes any ``str``: the vendor code emits, users listen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .pyee_internals import FastAsyncIOEventEmitter

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=str)
Handler = TypeVar("Handler", bound=Callable[..., Any])


class Emitter(FastAsyncIOEventEmitter, Generic[E]):
    """pyee emitter with the fast emit, logged handler errors and deferred emits."""

    _logger = logger  # a vendor package logs its users' handler errors under its own name

    def __init__(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        super().__init__(loop=loop)

    if TYPE_CHECKING:
        # Typing only (no run-time layer on registration): pyee types event names as str;
        # narrowing them to E is the point, hence the overrides mypy calls incompatible.
        @overload  # type: ignore[override]
        def on(self, event: E) -> Callable[[Handler], Handler]: ...
        @overload
        def on(self, event: E, f: Handler) -> Handler: ...
        def on(self, event: E, f: Handler | None = None) -> Any: ...
        @overload  # type: ignore[override]
        def once(self, event: E) -> Callable[[Handler], Handler]: ...
        @overload
        def once(self, event: E, f: Handler) -> Handler: ...
        def once(self, event: E, f: Handler | None = None) -> Any: ...
        def listens_to(self, event: E) -> Callable[[Handler], Handler]: ...  # type: ignore[override]
        def add_listener(self, event: E, f: Handler) -> Handler: ...  # type: ignore[override]
        def remove_listener(self, event: E, f: Callable[..., Any]) -> None: ...  # type: ignore[override]
        def remove_all_listeners(self, event: E | None = None) -> None: ...  # type: ignore[override]
        def listeners(self, event: E) -> list[Callable[..., Any]]: ...  # type: ignore[override]

    def _unhandled_error(self, error: Any) -> None:
        """Log a handler's exception (or an ``error`` event nobody listens to) instead of
        raising it into the code that emitted."""
        if isinstance(error, BaseException):
            self._logger.error("error in a %s event handler", type(self).__name__, exc_info=error)
        else:
            self._logger.error("error event on %s: %r", type(self).__name__, error)

    def _defer(self, event: str, *args: Any) -> None:
        """Emit on a later loop iteration (JavaScript's ``setTimeout(..., 0)``)."""
        loop = self._scheduling_loop() or asyncio.get_running_loop()
        loop.call_soon(self._emit_later, event, args)

    def _emit_later(self, event: str, args: tuple[Any, ...]) -> None:
        self.emit(event, *args)


__all__ = ["Emitter"]
