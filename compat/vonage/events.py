"""The event objects of OpenTok.js (``helpers/Event.js`` and ``ot/events/*``): small value classes.

Every event has ``type`` (the name it is dispatched under), ``cancelable``, ``target`` (the object
dispatching it) and the methods ``preventDefault()`` / ``isDefaultPrevented()``. Only the events
with a default action are cancelable here: Session ``streamDestroyed`` (default: destroy that
stream's Subscribers), Session ``sessionDisconnected`` (default: destroy every Subscriber) and
Publisher ``streamDestroyed`` (default: destroy the Publisher). ``preventDefault()`` on any other
event logs the warning OpenTok.js logs and changes nothing.

``SignalEvent.from`` is a Python keyword: read it as ``event.from_`` or ``getattr(event, "from")``
(both are set).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import Connection
    from .stream import Stream

logger = logging.getLogger(__name__)


class Event:
    """``OT.Event``: ``type``, ``cancelable``, ``target``; mirrors ``helpers/Event.js``."""

    def __init__(self, type: str, target: Any = None, *, cancelable: bool = False) -> None:
        self.type = type
        self.cancelable = cancelable
        self.target = target
        self._prevented = False

    def preventDefault(self) -> None:
        """Cancel the default action (``Event.preventDefault``); warns when not cancelable."""
        if self.cancelable:
            self._prevented = True
        else:
            logger.warning("Event.preventDefault :: Trying to preventDefault on an event that isn't cancelable (%s)", self.type)

    def isDefaultPrevented(self) -> bool:
        return self._prevented

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "target")
        return f"{type(self).__name__}({fields})"


class ExceptionEvent(Event):
    """``OT.ExceptionEvent`` (the global ``exception`` event): ``code``, ``message``, ``title``."""

    def __init__(self, code: int | None, message: str, title: str | None, target: Any = None) -> None:
        super().__init__("exception", target)
        self.code = code
        self.message = message
        self.title = title


class SessionConnectEvent(Event):
    """``sessionConnected``; the deprecated ``connections``/``streams``/``archives`` are empty, as in OpenTok.js."""

    def __init__(self, target: Any) -> None:
        super().__init__("sessionConnected", target)
        self.connections: list[Connection] = []
        self.streams: list[Stream] = []
        self.archives: list[Any] = []


class SessionDisconnectEvent(Event):
    """``sessionDisconnected{reason}``, cancelable (default action: destroy every Subscriber)."""

    def __init__(self, reason: str, target: Any) -> None:
        super().__init__("sessionDisconnected", target, cancelable=True)
        self.reason = reason


class ConnectionEvent(Event):
    """``connectionCreated`` / ``connectionDestroyed{reason}``; ``connections`` is the deprecated 1-element list."""

    def __init__(self, type: str, connection: Connection, target: Any, reason: str | None = None) -> None:
        super().__init__(type, target)
        self.connection = connection
        self.connections = [connection]
        self.reason = reason


class StreamEvent(Event):
    """``streamCreated`` / ``streamDestroyed{reason}`` (Session and Publisher); destroyed is cancelable."""

    def __init__(self, type: str, stream: Stream, target: Any, reason: str | None = None, *, cancelable: bool = False) -> None:
        super().__init__(type, target, cancelable=cancelable)
        self.stream = stream
        self.streams = [stream]
        self.reason = reason


class StreamPropertyChangedEvent(Event):
    """``streamPropertyChanged``: ``stream``, ``changedProperty``, ``oldValue``, ``newValue``."""

    def __init__(self, stream: Stream, changedProperty: str, oldValue: Any, newValue: Any, target: Any) -> None:
        super().__init__("streamPropertyChanged", target)
        self.stream = stream
        self.changedProperty = changedProperty
        self.oldValue = oldValue
        self.newValue = newValue


class SignalEvent(Event):
    """``signal`` / ``signal:<type>``: ``type`` is the event name (``"signal:<type>"``), ``data``, ``from``.

    ``from`` is None for a signal the server API sent. Not cancelable.
    """

    def __init__(self, type: str, data: Any, from_: Connection | None, target: Any) -> None:
        super().__init__(type, target)
        self.data = data
        setattr(self, "from", from_)

    @property
    def from_(self) -> Connection | None:
        """``event.from`` (a Python keyword): the sender's Connection, None for the server."""
        sender: Connection | None = getattr(self, "from")
        return sender


class ArchiveEvent(Event):
    """``archiveStarted`` / ``archiveStopped``: ``id``, ``name``."""

    def __init__(self, type: str, id: str, name: str, target: Any) -> None:
        super().__init__(type, target)
        self.id = id
        self.name = name


class MuteForcedEvent(Event):
    """Session ``muteForced{active}`` (``forceMuteAll`` / ``disableForceMute``)."""

    def __init__(self, active: bool, target: Any) -> None:
        super().__init__("muteForced", target)
        self.active = active


class DestroyedEvent(Event):
    """Subscriber ``destroyed{reason}`` (e.g. ``'Unsubscribe'``, or the stream's/session's reason)."""

    def __init__(self, reason: str, target: Any) -> None:
        super().__init__("destroyed", target)
        self.reason = reason


class VideoEnabledChangedEvent(Event):
    """Subscriber ``videoEnabled`` / ``videoDisabled{reason}`` (``publishVideo``, ``subscribeToVideo``)."""

    def __init__(self, type: str, reason: str, target: Any) -> None:
        super().__init__(type, target)
        self.reason = reason


__all__ = [
    "ArchiveEvent",
    "ConnectionEvent",
    "DestroyedEvent",
    "Event",
    "ExceptionEvent",
    "MuteForcedEvent",
    "SessionConnectEvent",
    "SessionDisconnectEvent",
    "SignalEvent",
    "StreamEvent",
    "StreamPropertyChangedEvent",
    "VideoEnabledChangedEvent",
]
