"""LocalVideoTrack: video this participant publishes.

Wraps a :class:`compat.core.media.VideoSource`; push raw frames with
``track.capture_frame(VideoFrame(...))`` (an addition; you pace the frames).
"""

from __future__ import annotations

import uuid
from typing import Any

from compat.core.media import VideoFrame, VideoSource, check_video_frame

from .localtrack import LocalMediaTrackEvent, LocalMediaTrackMixin, track_name

LocalVideoTrackEvent = LocalMediaTrackEvent


class LocalVideoTrack(LocalMediaTrackMixin[LocalVideoTrackEvent]):
    """``new LocalVideoTrack(source?, options?)``; ``dimensions`` come from the source."""

    source: VideoSource
    _JSON_PROPERTIES = (*LocalMediaTrackMixin._JSON_PROPERTIES, "dimensions", "processor")

    def __init__(
        self,
        source: VideoSource | None = None,
        options: Any = None,
        *,
        name: str | None = None,
        width: int = 640,
        height: int = 480,
    ) -> None:
        self.id = str(uuid.uuid4())
        super().__init__("video", track_name(options, name, self.id))
        if source is not None and not isinstance(source, VideoSource):
            raise TypeError("source must be a VideoSource")
        self.source = source or VideoSource(width, height)
        self.dimensions: dict[str, int | None] = {"width": self.source.width, "height": self.source.height}
        self.processor: Any = None

    def capture_frame(self, frame: VideoFrame, *, timestamp_us: int = 0) -> None:
        """Addition: send one frame now. Discarded (and counted) while the track is stopped.
        Anything but a ``VideoFrame`` (or a non-int ``timestamp_us``) raises TypeError."""
        check_video_frame(frame, timestamp_us)
        if self.isStopped:
            self.source.unsent_frames += 1
            return
        self.source.capture_frame(frame, timestamp_us=timestamp_us)

    def addProcessor(self, processor: Any, options: Any = None) -> LocalVideoTrack:
        raise NotImplementedError("VideoProcessor needs a browser canvas; process frames before capture_frame()")

    def removeProcessor(self, processor: Any) -> LocalVideoTrack:
        raise NotImplementedError("VideoProcessor needs a browser canvas")

__all__ = ["LocalVideoTrack", "LocalVideoTrackEvent"]
