"""RemoteAudioTrack: a subscribed remote audio track.

Addition: ``track.frames(...)`` (or ``async for frame in track``) yields
``compat.core.media.AudioFrame`` objects (16-bit PCM) with a bounded buffer; frames the
consumer is too slow for are dropped oldest-first and counted in ``stream.dropped``.
``started`` fires at the first received frame (the original waits for a DOM element).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .track import MediaTrack, RemoteTrackMixin

if TYPE_CHECKING:
    from compat.core import FrameStream, Session

RemoteAudioTrackEvent = Literal["disabled", "enabled", "started"]


class RemoteAudioTrack(RemoteTrackMixin, MediaTrack[RemoteAudioTrackEvent]):
    _JSON_PROPERTIES = (*MediaTrack._JSON_PROPERTIES, *RemoteTrackMixin.REMOTE_MEDIA_JSON)
    def __init__(self, sid: str, name: str, session: Session, *, enabled: bool = True) -> None:
        MediaTrack.__init__(self, "audio", name)
        self.sid = sid
        self.isEnabled = enabled
        self.isSwitchedOff = False
        self.priority: str | None = None
        self._session = session

    def frames(
        self, *, sample_rate: int = 48000, num_channels: int = 1, capacity: int = 50, frame_size_ms: int | None = None
    ) -> FrameStream[Any]:
        """Addition: received audio, resampled natively to ``sample_rate``/``num_channels``.
        ``capacity`` bounds the buffer in frames (10 ms each unless ``frame_size_ms``)."""
        return self._session.open_audio_frames(
            self.sid, sample_rate=sample_rate, num_channels=num_channels, capacity=capacity, frame_size_ms=frame_size_ms
        )

    def __aiter__(self) -> FrameStream[Any]:
        return self.frames()

    def _set_enabled(self, enabled: bool) -> None:
        if enabled != self.isEnabled:
            self.isEnabled = enabled
            self.emit("enabled" if enabled else "disabled", self)

    def _start(self, width: int | None, height: int | None) -> None:
        if not self.isStarted:
            self.isStarted = True
            self.emit("started", self)

__all__ = ["RemoteAudioTrack", "RemoteAudioTrackEvent"]
