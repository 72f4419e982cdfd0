"""The ``OT`` namespace's own events: ``OT.on("exception", handler)`` (OpenTok.js ``ot/ot.js``).

OpenTok.js dispatches an ``ExceptionEvent`` (``code``, ``message``, ``title``, ``target``) on the
global ``OT`` object for errors such as a failed ``connect``; :func:`report_exception` does the
same here. ``on`` / ``once`` / ``off`` are those of the event dispatcher.
"""

from __future__ import annotations

from typing import Any

from .errors import OTError
from .eventing import EventDispatcher, Handler
from .events import ExceptionEvent


class _OT(EventDispatcher):
    """The global dispatcher behind ``OT.on`` / ``OT.once`` / ``OT.off``."""


exceptions = _OT()


def on(names: Any, handler: Handler | None = None, context: Any = None) -> _OT:
    """``OT.on("exception", handler)``."""
    return exceptions.on(names, handler, context)


def once(names: Any, handler: Handler | None = None, context: Any = None) -> _OT:
    return exceptions.once(names, handler, context)


def off(names: Any = None, handler: Handler | None = None, context: Any = None) -> _OT:
    return exceptions.off(names, handler, context)


def report_exception(error: OTError, target: Any) -> None:
    """Dispatch ``exception`` on ``OT`` for ``error`` raised by ``target``."""
    exceptions._dispatch(ExceptionEvent(error.code, error.message, error.title, target))


__all__ = ["exceptions", "off", "on", "once", "report_exception"]
