"""Media sources for publishing, and the frame types (re-exported from livekit.rtc).

An :class:`AudioSource` / :class:`VideoSource` can be created anywhere (no event loop
needed). Each publication of it in a room gets its own native LiveKit source, created and
closed by the session that publishes it, so a source outlives rooms and nothing native
is left running after a disconnect. ``capture_frame`` feeds every native source currently
attached; with none attached, audio is paced (the call sleeps for the frame's duration)
and counted in ``unsent_frames``, video is counted and discarded.
"""

from __future__ import annotations

import asyncio

from livekit import rtc

AudioFrame = rtc.AudioFrame
VideoFrame = rtc.VideoFrame
VideoBufferType = rtc.VideoBufferType

__all__ = ["AudioFrame", "AudioSource", "VideoBufferType", "VideoFrame", "VideoSource", "check_audio_frame", "check_video_frame"]


def check_audio_frame(frame: object) -> None:
    """TypeError naming what ``capture_frame`` accepts (instead of an AttributeError later)."""
    if not isinstance(frame, rtc.AudioFrame):
        raise TypeError(
            f"frame must be an AudioFrame (16-bit PCM: AudioFrame(data, sample_rate, num_channels, "
            f"samples_per_channel)), not {type(frame).__name__}"
        )


def check_video_frame(frame: object, timestamp_us: object = 0) -> None:
    """TypeError naming what ``capture_frame`` accepts (instead of an AttributeError later)."""
    if not isinstance(frame, rtc.VideoFrame):
        raise TypeError(
            f"frame must be a VideoFrame (VideoFrame(width, height, VideoBufferType, data)), not {type(frame).__name__}"
        )
    if not isinstance(timestamp_us, int) or isinstance(timestamp_us, bool):
        raise TypeError(f"timestamp_us must be an int, not {type(timestamp_us).__name__}")


class AudioSource:
    """PCM audio to publish: 16-bit signed little-endian interleaved samples."""

    def __init__(self, sample_rate: int = 48000, num_channels: int = 1, *, queue_size_ms: int = 1000) -> None:
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError("sample_rate must be a positive int")
        if not isinstance(num_channels, int) or num_channels not in (1, 2):
            raise ValueError("num_channels must be 1 or 2")
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.queue_size_ms = queue_size_ms
        self.unsent_frames = 0
        self._sinks: list[rtc.AudioSource] = []

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue one frame for sending. Paces at real time once the native queue is full.
        Raises TypeError for anything but an :data:`AudioFrame`, ValueError for a frame of
        another rate or channel count."""
        check_audio_frame(frame)
        if frame.sample_rate != self.sample_rate or frame.num_channels != self.num_channels:
            raise ValueError(
                f"frame is {frame.sample_rate} Hz/{frame.num_channels} ch, source is "
                f"{self.sample_rate} Hz/{self.num_channels} ch"
            )
        sinks = self._sinks
        if len(sinks) == 1:
            await sinks[0].capture_frame(frame)
        elif not sinks:
            self.unsent_frames += 1
            await asyncio.sleep(frame.samples_per_channel / frame.sample_rate)
        else:
            for sink in tuple(sinks):
                await sink.capture_frame(frame)

    def clear_queue(self) -> None:
        for sink in self._sinks:
            sink.clear_queue()

    async def wait_for_playout(self) -> None:
        for sink in tuple(self._sinks):
            await sink.wait_for_playout()

    @property
    def queued_duration(self) -> float:
        return max((s.queued_duration for s in self._sinks), default=0.0)

    def _attach(self) -> rtc.AudioSource:
        native = rtc.AudioSource(self.sample_rate, self.num_channels, queue_size_ms=self.queue_size_ms)
        self._sinks.append(native)
        return native

    def _detach(self, native: rtc.AudioSource) -> None:
        if native in self._sinks:
            self._sinks.remove(native)


class VideoSource:
    """Raw video frames to publish (any ``VideoBufferType``; converted natively)."""

    def __init__(self, width: int, height: int, *, is_screencast: bool = False) -> None:
        if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
            raise ValueError("width and height must be positive ints")
        self.width = width
        self.height = height
        self.is_screencast = is_screencast
        self.unsent_frames = 0
        self._sinks: list[rtc.VideoSource] = []

    def capture_frame(self, frame: rtc.VideoFrame, *, timestamp_us: int = 0) -> None:
        """Send one frame now (no back-pressure: the caller paces). Raises TypeError for
        anything but a :data:`VideoFrame` or a non-int ``timestamp_us``."""
        check_video_frame(frame, timestamp_us)
        sinks = self._sinks
        if not sinks:
            self.unsent_frames += 1
            return
        for sink in sinks:
            sink.capture_frame(frame, timestamp_us=timestamp_us)

    def _attach(self) -> rtc.VideoSource:
        native = rtc.VideoSource(self.width, self.height, is_screencast=self.is_screencast)
        self._sinks.append(native)
        return native

    def _detach(self, native: rtc.VideoSource) -> None:
        if native in self._sinks:
            self._sinks.remove(native)
