"""LocalAudioTrack: audio this participant publishes.

The original wraps a browser MediaStreamTrack. Here a track wraps a
:class:`compat.core.media.AudioSource` (16-bit PCM; created for you when not given) and
you push audio with ``await track.capture_frame(AudioFrame(...))`` (an addition).
"""

from __future__ import annotations

import uuid
from typing import Any

from compat.core.media import AudioFrame, AudioSource, check_audio_frame

from .localtrack import LocalMediaTrackEvent, LocalMediaTrackMixin, track_name

LocalAudioTrackEvent = LocalMediaTrackEvent


class LocalAudioTrack(LocalMediaTrackMixin[LocalAudioTrackEvent]):
    """``new LocalAudioTrack(source?, options?)``; options: ``{name}``."""

    source: AudioSource
    _JSON_PROPERTIES = (*LocalMediaTrackMixin._JSON_PROPERTIES, "noiseCancellation")  # always None here

    def __init__(
        self,
        source: AudioSource | None = None,
        options: Any = None,
        *,
        name: str | None = None,
        sample_rate: int = 48000,
        num_channels: int = 1,
    ) -> None:
        self.id = str(uuid.uuid4())
        super().__init__("audio", track_name(options, name, self.id))
        if source is not None and not isinstance(source, AudioSource):
            raise TypeError("source must be an AudioSource")
        self.source = source or AudioSource(sample_rate, num_channels)

    async def capture_frame(self, frame: AudioFrame) -> None:
        """Addition: send one PCM frame (paced at real time by the native queue).

        Frames sent while the track is stopped are discarded and counted in
        ``source.unsent_frames``; while it is disabled LiveKit sends silence. Anything but an
        ``AudioFrame`` raises TypeError (a frame of another rate or channel count, ValueError)."""
        check_audio_frame(frame)
        if self.isStopped:
            self.source.unsent_frames += 1
            return
        await self.source.capture_frame(frame)

__all__ = ["LocalAudioTrack", "LocalAudioTrackEvent"]
