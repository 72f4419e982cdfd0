"""RemoteTrackPublication (and its Audio/Video/Data kinds): a remote participant's track.

``track`` is None until subscribed. Events: ``subscribed(track)``, ``unsubscribed(track)``,
``subscriptionFailed(error)``, ``trackEnabled()``, ``trackDisabled()``,
``publishPriorityChanged(priority)``, ``trackSwitchedOff(track)``, ``trackSwitchedOn(track)``.
"""

from __future__ import annotations

from typing import Any, Literal

from .errors import TwilioError
from .trackpublication import TrackPublication

RemoteTrackPublicationEvent = Literal[
    "publishPriorityChanged",  # wired, never fired (no LiveKit signal)
    "subscribed",
    "subscriptionFailed",
    "trackDisabled",
    "trackEnabled",
    "trackSwitchedOff",  # wired, never fired
    "trackSwitchedOn",  # wired, never fired
    "unsubscribed",
]


class RemoteTrackPublication(TrackPublication[RemoteTrackPublicationEvent]):
    _JSON_PROPERTIES = (*TrackPublication._JSON_PROPERTIES, "isSubscribed", "isTrackEnabled", "kind", "publishPriority", "track")

    def __init__(self, sid: str, name: str, kind: str, *, enabled: bool = True) -> None:
        super().__init__(sid, name, kind)
        self.isTrackEnabled = enabled
        self.publishPriority = "standard"
        self.track: Any = None
        self._failed = False

    @property
    def isSubscribed(self) -> bool:
        return self.track is not None

    def _set_track(self, track: Any) -> None:
        previous = self.track
        self.track = track
        if track is not None:
            self.emit("subscribed", track)
        elif previous is not None:
            self.emit("unsubscribed", previous)

    def _set_enabled(self, enabled: bool) -> None:
        if enabled == self.isTrackEnabled:
            return
        self.isTrackEnabled = enabled
        if self.track is not None and hasattr(self.track, "_set_enabled"):
            self.track._set_enabled(enabled)
        self.emit("trackEnabled" if enabled else "trackDisabled")

    def _fail(self, error: TwilioError) -> None:
        if not self._failed:
            self._failed = True
            self.emit("subscriptionFailed", error)


class RemoteAudioTrackPublication(RemoteTrackPublication):
    pass


class RemoteVideoTrackPublication(RemoteTrackPublication):
    pass


class RemoteDataTrackPublication(RemoteTrackPublication):
    pass

__all__ = [
    "RemoteAudioTrackPublication",
    "RemoteDataTrackPublication",
    "RemoteTrackPublication",
    "RemoteTrackPublicationEvent",
    "RemoteVideoTrackPublication",
]
