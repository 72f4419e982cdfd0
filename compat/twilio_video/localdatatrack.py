"""LocalDataTrack: named messages to every participant of the rooms it is published in.

Mapped onto LiveKit data packets: the topic is the track's ``name``, the packet is
reliable when ``maxPacketLifeTime`` and ``maxRetransmits`` are both None, else lossy
(LiveKit's lossy channel: no retransmission; the limit values and ``ordered`` are kept on
the track and not applied).
Publishing it also announces it in our LiveKit participant attributes (datatracks.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from .errors import RangeError
from .localtrack import track_name
from .track import Track

if TYPE_CHECKING:
    from compat.core import Session

MAX_MESSAGE_BYTES = 16 * 1024

LocalDataTrackEvent = NoReturn
"""A LocalDataTrack emits no event (nor does the original): any name is a type error."""


@attrs.frozen
class LocalDataTrackOptions:
    """``{name?, maxPacketLifeTime?, maxRetransmits?, ordered?}``."""

    name: str | None = None
    maxPacketLifeTime: int | None = None
    maxRetransmits: int | None = None
    ordered: bool = True


class LocalDataTrack(Track[LocalDataTrackEvent]):
    """``new LocalDataTrack(options?)``; ``send(data)`` is fire-and-forget."""

    _JSON_PROPERTIES = (*Track._JSON_PROPERTIES, "id", "maxPacketLifeTime", "maxRetransmits", "ordered", "reliable")

    def __init__(self, options: Any = None, *, name: str | None = None) -> None:
        if isinstance(options, LocalDataTrackOptions):
            options = attrs.asdict(options)
        if options is not None and not isinstance(options, Mapping):
            raise TypeError("options must be an object")
        opts = dict(options or {})
        self.id = str(uuid.uuid4())
        super().__init__("data", track_name(opts, name, self.id))
        life, retx = opts.get("maxPacketLifeTime"), opts.get("maxRetransmits")
        for key, value in (("maxPacketLifeTime", life), ("maxRetransmits", retx)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise TypeError(f"options.{key} must be a number")
        # Both limits set is accepted, as lib/media/track/localdatatrack.js (constructor) does: it
        # validates none of its options. LiveKit has one lossy channel and applies no limit value.
        ordered = opts.get("ordered", True)
        if not isinstance(ordered, bool):
            raise TypeError("options.ordered must be a boolean")
        self.maxPacketLifeTime: int | None = life
        self.maxRetransmits: int | None = retx
        self.ordered = ordered
        self.reliable = life is None and retx is None
        self._sessions: list[Session] = []

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a message to every room this track is published in.

        Like the original it silently does nothing while unpublished and swallows network
        errors. Unlike a browser it rejects messages over Twilio's 16 KiB limit with
        RangeError instead of letting the data channel fail."""
        if isinstance(data, str):
            payload = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
        else:
            raise TypeError("data must be a string, Blob, ArrayBuffer or ArrayBufferView")
        if len(payload) > MAX_MESSAGE_BYTES:
            raise RangeError(f"data must be at most {MAX_MESSAGE_BYTES} bytes (got {len(payload)})")
        for session in self._sessions:
            session.send_data(payload, topic=self.name, reliable=self.reliable)

__all__ = ["MAX_MESSAGE_BYTES", "LocalDataTrack", "LocalDataTrackEvent", "LocalDataTrackOptions"]
