"""RemoteDataTrack: messages a remote participant sends on one named data track.

LiveKit has data packets, not data tracks: a compat participant announces its data tracks
in its LiveKit attributes (datatracks.py), so they are seen when published; a plain LiveKit
participant's is synthesised the first time it sends a packet on a topic (its ``name``). ``message`` gets a ``str``
when the payload is valid UTF-8, else ``bytes`` (LiveKit does not carry the type).
"""

from __future__ import annotations

from typing import Literal

from .track import RemoteTrackMixin, Track

RemoteDataTrackEvent = Literal["message"]
"""No ``switchedOff``/``switchedOn``: LiveKit's Python SDK has no stream-state signal."""


class RemoteDataTrack(RemoteTrackMixin, Track[RemoteDataTrackEvent]):
    _JSON_PROPERTIES = (
        *Track._JSON_PROPERTIES,
        *("isEnabled", "isSwitchedOff", "maxPacketLifeTime", "maxRetransmits", "ordered", "priority", "reliable", "sid"),
    )
    def __init__(self, sid: str, name: str, *, reliable: bool = True) -> None:
        Track.__init__(self, "data", name)
        self.sid = sid
        self.isEnabled = True
        self.isSubscribed = True
        self.isSwitchedOff = False
        self.priority: str | None = None
        self.maxPacketLifeTime: int | None = None
        self.maxRetransmits: int | None = None if reliable else 0
        self.ordered = reliable
        self.reliable = reliable

    def _message(self, data: bytes) -> None:
        payload: str | bytes
        try:
            payload = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        self.emit("message", payload, self)

__all__ = ["RemoteDataTrack", "RemoteDataTrackEvent"]
