"""Participant: base of LocalParticipant and RemoteParticipant.

Maps hold **publications** keyed by track SID: ``tracks``, ``audioTracks``,
``videoTracks``, ``dataTracks``. ``state`` is ``'connecting'``, ``'connected'``,
``'reconnecting'`` or ``'disconnected'``; every state change is also emitted under the
state's name (as the original does). ``networkQualityLevel`` is None until the first
report (and always None with ``networkQuality`` off).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from .eventemitter import E, EventEmitter
from .networkquality import NetworkQualityStats
from .trackpublication import TrackPublication
from .util import JSMap, valueToJSON

_counter = itertools.count(1)

ParticipantState = Literal["connecting", "connected", "reconnecting", "disconnected"]

P = TypeVar("P", bound=TrackPublication[Any])


class Participant(EventEmitter[E], Generic[E, P]):
    """``E``: the event names; ``P``: the publication class of the maps."""

    # The enumerable own properties of lib/participant.js: its toJSON.
    _JSON_PROPERTIES: ClassVar[tuple[str, ...]] = (
        *("audioTracks", "dataTracks", "identity", "networkQualityLevel", "networkQualityStats"),
        *("sid", "state", "tracks", "videoTracks"),
    )

    def __init__(self, sid: str, identity: str, state: ParticipantState = "connected") -> None:
        super().__init__()
        self.sid = sid
        self.identity = identity
        self.state: ParticipantState = state
        self.tracks: JSMap[str, P] = JSMap()
        self.audioTracks: JSMap[str, P] = JSMap()
        self.videoTracks: JSMap[str, P] = JSMap()
        self.dataTracks: JSMap[str, P] = JSMap()
        self.networkQualityLevel: int | None = None
        self.networkQualityStats: NetworkQualityStats | None = None
        self._instance = next(_counter)

    def _kind_map(self, kind: str) -> JSMap[str, P]:
        return {"audio": self.audioTracks, "video": self.videoTracks}.get(kind, self.dataTracks)

    def _put_publication(self, pub: P) -> None:
        self.tracks[pub.trackSid] = pub
        self._kind_map(pub.kind)[pub.trackSid] = pub

    def _drop_publication(self, sid: str) -> P | None:
        pub = self.tracks.pop(sid, None)
        if pub is not None:
            self._kind_map(pub.kind).pop(sid, None)
        return pub

    def _set_state(self, state: ParticipantState) -> None:
        """Change state and emit the state's name (``disconnected``, ``reconnecting``, ...).
        ``reconnected`` is emitted later, with no arguments, by the caller."""
        if state == self.state:
            return
        self.state = state
        self.emit(state, self)

    def _set_network_quality(self, level: int, verbosity: int) -> None:
        if level == self.networkQualityLevel:
            return
        self.networkQualityLevel = level
        stats = NetworkQualityStats(level) if verbosity >= 2 else None
        self.networkQualityStats = stats
        self.emit("networkQualityLevelChanged", level, stats)

    def toString(self) -> str:
        return f"[{type(self).__name__} #{self._instance}: {self.sid}]"

    def toJSON(self) -> dict[str, Any]:
        """``lib/participant.js`` ``toJSON``: ``valueToJSON(this)`` (util.py)."""
        return cast("dict[str, Any]", valueToJSON(self))

    def __repr__(self) -> str:
        return self.toString()

__all__ = ["Participant", "ParticipantState"]
