"""EventEmitter base of every twilio-video object (``lib/eventemitter.js``: Node's EventEmitter).

The emitter is :class:`compat.core.emitter.Emitter`: Node semantics (chaining, duplicate
listeners, ``once``, ``emit`` returning whether anyone listened) and handlers called as JS
calls them (extra arguments dropped, ``async def`` handlers run up to their first ``await``
inside the emit). This adds the Node method names twilio-video.js applications call.
``E`` is the Literal of the class's event names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from compat.core.emitter import Emitter

E = TypeVar("E", bound=str)
S = TypeVar("S", bound="EventEmitter[Any]")


class EventEmitter(Emitter[E]):
    """Node's camelCase names over the core emitter (each returns the emitter, as Node's do)."""

    _logger = logging.getLogger(__name__)

    def addListener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self.add_listener(event, f)

    def removeListener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self.off(event, f)

    def removeAllListeners(self: S, event: E | None = None) -> S:
        return self.remove_all_listeners(event)

    def prependListener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self.prepend_listener(event, f)

    def prependOnceListener(self: S, event: E, f: Callable[..., Any]) -> S:
        return self.prepend_once_listener(event, f)

    def listenerCount(self, event: E) -> int:
        return self.listener_count(event)

    def eventNames(self) -> list[str]:
        return self.event_names()


__all__ = ["E", "EventEmitter"]
