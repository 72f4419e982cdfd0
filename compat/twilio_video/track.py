"""Track base classes: ``Track`` (kind, name) and ``MediaTrack`` (isStarted, isEnabled).

Browser-only members (``mediaStreamTrack``, ``processedTrack``, ``attach``/``detach``)
exist for signature parity: the first two are always None, the methods raise
NotImplementedError (there is no DOM; read frames with ``frames()`` instead).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, cast

from .errors import RangeError
from .eventemitter import E, EventEmitter
from .options import PRIORITIES
from .util import valueToJSON

_counter = itertools.count(1)


class Track(EventEmitter[E]):
    """A track: ``kind`` is ``'audio'``, ``'video'`` or ``'data'``; ``name`` a string."""

    kind: str
    # The enumerable own properties of the original class (lib/media/track/*.js): its toJSON.
    _JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self._instance = next(_counter)

    def toString(self) -> str:
        return f"[{type(self).__name__} #{self._instance}: {self._label()}]"

    def _label(self) -> str:
        label = getattr(self, "sid", None) or getattr(self, "id", "")
        return str(label)

    def toJSON(self) -> dict[str, Any]:
        """``lib/media/track/index.js`` ``toJSON``: ``valueToJSON(this)`` (see util.py)."""
        return cast("dict[str, Any]", valueToJSON(self))

    def __repr__(self) -> str:
        return self.toString()


class MediaTrack(Track[E]):
    """An audio or video track. ``isStarted`` becomes True at the first frame (emits ``started``)."""

    _JSON_PROPERTIES = (*Track._JSON_PROPERTIES, "isStarted", "mediaStreamTrack", "processedTrack")

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(kind, name)
        self.isStarted = False
        self.isEnabled = True
        self.mediaStreamTrack: Any = None
        self.processedTrack: Any = None

    def attach(self, element: Any = None) -> Any:
        raise NotImplementedError("attach() needs a browser DOM; read media with frames() instead")

    def detach(self, element: Any = None) -> Any:
        raise NotImplementedError("detach() needs a browser DOM; read media with frames() instead")


class RemoteTrackMixin:
    """Subscriber-side members shared by the remote tracks."""

    sid: str
    isSwitchedOff: bool
    priority: str | None
    REMOTE_MEDIA_JSON = ("isEnabled", "isSwitchedOff", "priority", "sid")  # lib/media/track/remotemediatrack.js

    def setPriority(self, priority: str | None) -> Any:
        """Subscriber priority (kept for parity; LiveKit has no per-track subscribe priority)."""
        if priority is not None and priority not in PRIORITIES:
            raise RangeError(f"priority must be one of {', '.join(PRIORITIES)}")
        self.priority = priority
        return self

__all__ = ["MediaTrack", "RemoteTrackMixin", "Track"]
