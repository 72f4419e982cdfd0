"""TrackPublication: a track as published in a room (``trackName``, ``trackSid``, ``kind``)."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, cast

from .eventemitter import E, EventEmitter
from .util import valueToJSON

_counter = itertools.count(1)


class TrackPublication(EventEmitter[E]):
    # The enumerable own properties of the original class (lib/media/track/*publication.js).
    _JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("trackName", "trackSid")

    def __init__(self, sid: str, name: str, kind: str) -> None:
        super().__init__()
        self.trackSid = sid
        self.trackName = name
        self.kind = kind
        self._instance = next(_counter)

    def toString(self) -> str:
        return f"[{type(self).__name__} #{self._instance}: {self.trackSid}]"

    def toJSON(self) -> dict[str, Any]:
        """``lib/media/track/trackpublication.js`` ``toJSON``: ``valueToJSON(this)``."""
        return cast("dict[str, Any]", valueToJSON(self))

    def __repr__(self) -> str:
        return self.toString()

__all__ = ["TrackPublication"]
