"""EventEmitter base of every twilio-video object (Node's EventEmitter in the original).

The emitter itself is :class:`compat.core.emitter.Emitter` (pyee's asyncio emitter: ``on``,
``once``, ``emit``, ``listeners``, ...); this adds the Node-style names twilio-video.js
applications call. ``E`` is the Literal of the class's event names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from compat.core.emitter import Emitter

E = TypeVar("E", bound=str)
Handler = TypeVar("Handler", bound=Callable[..., Any])


class EventEmitter(Emitter[E]):
    """Node-style aliases over the core emitter."""

    _logger = logging.getLogger(__name__)

    def off(self, event: E, f: Callable[..., Any]) -> None:
        """Node's ``off``: remove a listener (no error if it is not registered)."""
        try:
            self.remove_listener(event, f)
        except KeyError:
            pass

    def removeListener(self, event: E, f: Callable[..., Any]) -> None:
        self.off(event, f)

    def addListener(self, event: E, f: Handler) -> Handler:
        return self.on(event, f)

    def removeAllListeners(self, event: E | None = None) -> None:
        self.remove_all_listeners(event)

    def listenerCount(self, event: E) -> int:
        return len(self.listeners(event))


__all__ = ["E", "EventEmitter"]
