"""TrackPublication: a track as published in a room (``trackName``, ``trackSid``, ``kind``)."""

from __future__ import annotations

import itertools
from typing import Any

from .eventemitter import E, EventEmitter

_counter = itertools.count(1)


class TrackPublication(EventEmitter[E]):
    def __init__(self, sid: str, name: str, kind: str) -> None:
        super().__init__()
        self.trackSid = sid
        self.trackName = name
        self.kind = kind
        self._instance = next(_counter)

    def toString(self) -> str:
        return f"[{type(self).__name__} #{self._instance}: {self.trackSid}]"

    def toJSON(self) -> dict[str, Any]:
        return {"trackSid": self.trackSid, "trackName": self.trackName, "kind": self.kind}

    def __repr__(self) -> str:
        return self.toString()

__all__ = ["TrackPublication"]
