"""RemoteVideoTrack: a subscribed remote video track.

Addition: ``track.frames(capacity=2, rgba=False)`` yields ``compat.core.media.VideoFrame``
objects (native I420, or RGBA) with a bounded, counting buffer. ``dimensionsChanged``
then ``started`` fire at the first frame. ``switchOn``/``switchOff``/
``setContentPreferences`` need ``bandwidthProfile`` in manual mode, which LiveKit has no
equivalent for, so they always throw, as the original does without that mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .track import MediaTrack, RemoteTrackMixin

if TYPE_CHECKING:
    from compat.core import FrameStream, Session

RemoteVideoTrackEvent = Literal["dimensionsChanged", "disabled", "enabled", "started"]


class RemoteVideoTrack(RemoteTrackMixin, MediaTrack[RemoteVideoTrackEvent]):
    _JSON_PROPERTIES = (*MediaTrack._JSON_PROPERTIES, "dimensions", "processor", *RemoteTrackMixin.REMOTE_MEDIA_JSON)
    def __init__(self, sid: str, name: str, session: Session, *, enabled: bool = True) -> None:
        MediaTrack.__init__(self, "video", name)
        self.sid = sid
        self.isEnabled = enabled
        self.isSwitchedOff = False
        self.priority: str | None = None
        self.dimensions: dict[str, int | None] = {"width": None, "height": None}
        self.processor: Any = None
        self._session = session

    def frames(self, *, capacity: int = 2, rgba: bool = False) -> FrameStream[Any]:
        """Addition: received frames (``rgba=True`` converts natively to RGBA)."""
        return self._session.open_video_frames(self.sid, capacity=capacity, rgba=rgba)

    def __aiter__(self) -> FrameStream[Any]:
        return self.frames()

    def switchOn(self) -> RemoteVideoTrack:
        raise RuntimeError(
            "Invalid state. You can call switchOn only when bandwidthProfile.video.clientTrackSwitchOffControl is set to \"manual\""
        )

    def switchOff(self) -> RemoteVideoTrack:
        raise RuntimeError(
            "Invalid state. You can call switchOff only when bandwidthProfile.video.clientTrackSwitchOffControl is set to \"manual\""
        )

    def setContentPreferences(self, preferences: Any) -> RemoteVideoTrack:
        raise RuntimeError(
            "Invalid state. You can call setContentPreferences only when bandwidthProfile.video.contentPreferencesMode is set to \"manual\""
        )

    def addProcessor(self, processor: Any, options: Any = None) -> RemoteVideoTrack:
        raise NotImplementedError("VideoProcessor needs a browser canvas; process frames from frames()")

    def removeProcessor(self, processor: Any) -> RemoteVideoTrack:
        raise NotImplementedError("VideoProcessor needs a browser canvas")

    def _set_enabled(self, enabled: bool) -> None:
        if enabled != self.isEnabled:
            self.isEnabled = enabled
            self.emit("enabled" if enabled else "disabled", self)

    def _start(self, width: int | None, height: int | None) -> None:
        if self.isStarted:
            return
        if width is not None and height is not None:
            self.dimensions = {"width": width, "height": height}
            self.emit("dimensionsChanged", self)
        self.isStarted = True
        self.emit("started", self)

__all__ = ["RemoteVideoTrack", "RemoteVideoTrackEvent"]
