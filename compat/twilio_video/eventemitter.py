"""EventEmitter base of every twilio-video object (Node's EventEmitter in the original).

Built on pyee's asyncio emitter: ``on/once/off/removeListener/removeAllListeners/emit``
and ``listeners``; handlers may be plain functions (run synchronously, in registration
order, inside the emit) or coroutine functions (scheduled as tasks on the loop). An
exception raised by a handler is logged and does not stop the other handlers or the SDK.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pyee.asyncio import AsyncIOEventEmitter

logger = logging.getLogger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Any])


class EventEmitter(AsyncIOEventEmitter):
    """pyee emitter with Node-style aliases and logged (not raised) handler errors."""

    def __init__(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        super().__init__(loop=loop)

    def emit(self, event: str, *args: Any, **kwargs: Any) -> bool:
        """pyee's emit (``_call_handlers`` + ``_emit_run`` per handler) without its three
        layers of calls and its lock: emitters are used from the event loop's thread only.
        Most emits find no handler (every ``on`` emits ``new_listener``; a fact bubbles
        through objects nobody listens to) and return at once."""
        handlers = self._events.get(event)
        if not handlers:
            self._emit_handle_potential_error(event, args[0] if args else None)
            return False
        for f in list(handlers.values()):  # a copy: handlers may add or remove handlers
            self._emit_run(f, args, kwargs)
        return True

    def _emit_handle_potential_error(self, event: str, error: Any) -> None:
        if event == "error":
            if isinstance(error, BaseException):
                logger.error("error in a %s event handler", type(self).__name__, exc_info=error)
            else:
                logger.error("error event on %s: %r", type(self).__name__, error)

    def off(self, event: str, f: Callable[..., Any]) -> None:
        """Node's ``off``: remove a listener (no error if it is not registered)."""
        try:
            self.remove_listener(event, f)
        except KeyError:
            pass

    def removeListener(self, event: str, f: Callable[..., Any]) -> None:
        self.off(event, f)

    def addListener(self, event: str, f: Callable[..., Any]) -> Any:
        return self.on(event, f)

    def removeAllListeners(self, event: str | None = None) -> None:
        self.remove_all_listeners(event)

    def listenerCount(self, event: str) -> int:
        return len(self.listeners(event))

    def _defer(self, event: str, *args: Any) -> None:
        """Emit on a later loop iteration (the original's ``setTimeout(..., 0)``)."""
        loop = self._loop or asyncio.get_running_loop()
        loop.call_soon(self._emit_later, event, args)

    def _emit_later(self, event: str, args: tuple[Any, ...]) -> None:
        self.emit(event, *args)

__all__ = ["EventEmitter"]
