"""LocalTrackPublication (and its Audio/Video/Data kinds): one of our published tracks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .errors import RangeError
from .options import PRIORITIES
from .trackpublication import TrackPublication

if TYPE_CHECKING:
    from .localparticipant import LocalParticipant

LocalTrackPublicationEvent = Literal["trackDisabled", "trackEnabled"]


class LocalTrackPublication(TrackPublication[LocalTrackPublicationEvent]):
    """``track``, ``isTrackEnabled``, ``priority``; ``setPriority()``, ``unpublish()``.

    Events: ``trackEnabled()``/``trackDisabled()`` when the local track is toggled."""

    _JSON_PROPERTIES = (*TrackPublication._JSON_PROPERTIES, "isTrackEnabled", "kind", "priority", "track")

    def __init__(self, sid: str, track: Any, participant: LocalParticipant, priority: str = "standard") -> None:
        super().__init__(sid, track.name, track.kind)
        self.track = track
        self.priority = priority
        self._participant = participant

    @property
    def isTrackEnabled(self) -> bool:
        return self.kind == "data" or bool(self.track.isEnabled)

    def setPriority(self, priority: str) -> LocalTrackPublication:
        """Publish priority (kept for parity; LiveKit has no publish priority)."""
        if priority not in PRIORITIES:
            raise RangeError(f"priority must be one of {', '.join(PRIORITIES)}")
        self.priority = priority
        return self

    def unpublish(self) -> LocalTrackPublication:
        """Same as ``localParticipant.unpublishTrack(self.track)``."""
        self._participant.unpublishTrack(self.track)
        return self


class LocalAudioTrackPublication(LocalTrackPublication):
    pass


class LocalVideoTrackPublication(LocalTrackPublication):
    pass


class LocalDataTrackPublication(LocalTrackPublication):
    pass

__all__ = [
    "LocalAudioTrackPublication",
    "LocalDataTrackPublication",
    "LocalTrackPublication",
    "LocalTrackPublicationEvent",
    "LocalVideoTrackPublication",
]
