"""Media sources for publishing, and the frame types (re-exported from livekit.rtc).

An :class:`AudioSource` / :class:`VideoSource` can be created anywhere (no event loop
needed). Each publication of it in a room gets its own native LiveKit source, created and
closed by the session that publishes it, so a source outlives rooms and nothing native
is left running after a disconnect. ``capture_frame`` feeds every native source currently
attached; with none attached, audio is paced (the call sleeps for the frame's duration)
and counted in ``unsent_frames``, video is counted and discarded.

A source made with ``idle_fill=True`` stands in for a device that is on but quiet: while it
is published and before its first frame from the caller, it sends silence (audio, 20 ms
frames in real time) or black (video, :data:`IDLE_VIDEO_FPS` frames a second), so
subscribers hear and see the track start as they would a real microphone or camera. The
first ``capture_frame`` stops the fill for good and drops the fill still queued, so the
caller's audio is not delayed behind it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from livekit import rtc

logger = logging.getLogger(__name__)

AudioFrame = rtc.AudioFrame
VideoFrame = rtc.VideoFrame
VideoBufferType = rtc.VideoBufferType

__all__ = [
    "IDLE_VIDEO_FPS", "AudioFrame", "AudioSource", "VideoBufferType", "VideoFrame", "VideoSource",
    "check_audio_frame", "check_video_frame",
]

IDLE_AUDIO_FRAME_S = 0.02
IDLE_VIDEO_FPS = 5  # a disabled browser camera sends black at a low rate too


class _IdleFill:
    """One paced task per attached native source, sending filler frames until stopped."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.stopped = False
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, native: object, send: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self.stopped:
            return
        self._tasks[id(native)] = asyncio.get_running_loop().create_task(self._run(send))

    def cancel(self, native: object) -> None:
        task = self._tasks.pop(id(native), None)
        if task is not None:
            task.cancel()

    def stop(self) -> bool:
        """Stop for good; True the first time (the caller then drops what the fill queued)."""
        if self.stopped:
            return False
        self.stopped = True
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        return True

    async def _run(self, send: Callable[[], Coroutine[Any, Any, None]]) -> None:
        # Scheduled on a monotonic clock so that sleep overshoot does not accumulate.
        due = time.monotonic()
        try:
            while True:
                await send()
                due += self.period_s
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - the fill is a courtesy; the track itself stays up
            logger.warning("idle fill of a media source stopped: %s", exc)


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

    def __init__(
        self, sample_rate: int = 48000, num_channels: int = 1, *, queue_size_ms: int = 1000, idle_fill: bool = False
    ) -> None:
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError("sample_rate must be a positive int")
        if not isinstance(num_channels, int) or num_channels not in (1, 2):
            raise ValueError("num_channels must be 1 or 2")
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.queue_size_ms = queue_size_ms
        self.unsent_frames = 0
        self._sinks: list[rtc.AudioSource] = []
        self._fill = _IdleFill(IDLE_AUDIO_FRAME_S) if idle_fill else None

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
        self.end_idle_fill()
        sinks = self._sinks
        if len(sinks) == 1:
            await sinks[0].capture_frame(frame)
        elif not sinks:
            self.unsent_frames += 1
            await asyncio.sleep(frame.samples_per_channel / frame.sample_rate)
        else:
            for sink in tuple(sinks):
                await sink.capture_frame(frame)

    def end_idle_fill(self) -> None:
        """Stop sending silence (``idle_fill``) for good, dropping what is queued of it."""
        if self._fill is not None and self._fill.stop():
            self.clear_queue()

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
        if self._fill is not None:
            samples = int(self.sample_rate * IDLE_AUDIO_FRAME_S)
            silence = rtc.AudioFrame(bytes(2 * samples * self.num_channels), self.sample_rate, self.num_channels, samples)
            self._fill.start(native, lambda: native.capture_frame(silence))
        return native

    def _detach(self, native: rtc.AudioSource) -> None:
        if self._fill is not None:
            self._fill.cancel(native)
        if native in self._sinks:
            self._sinks.remove(native)


class VideoSource:
    """Raw video frames to publish (any ``VideoBufferType``; converted natively)."""

    def __init__(self, width: int, height: int, *, is_screencast: bool = False, idle_fill: bool = False) -> None:
        if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
            raise ValueError("width and height must be positive ints")
        self.width = width
        self.height = height
        self.is_screencast = is_screencast
        self.unsent_frames = 0
        self._sinks: list[rtc.VideoSource] = []
        self._fill = _IdleFill(1 / IDLE_VIDEO_FPS) if idle_fill else None

    def end_idle_fill(self) -> None:
        """Stop sending black (``idle_fill``) for good."""
        if self._fill is not None:
            self._fill.stop()

    def capture_frame(self, frame: rtc.VideoFrame, *, timestamp_us: int = 0) -> None:
        """Send one frame now (no back-pressure: the caller paces). Raises TypeError for
        anything but a :data:`VideoFrame` or a non-int ``timestamp_us``."""
        check_video_frame(frame, timestamp_us)
        self.end_idle_fill()
        sinks = self._sinks
        if not sinks:
            self.unsent_frames += 1
            return
        for sink in sinks:
            sink.capture_frame(frame, timestamp_us=timestamp_us)

    def _attach(self) -> rtc.VideoSource:
        native = rtc.VideoSource(self.width, self.height, is_screencast=self.is_screencast)
        self._sinks.append(native)
        if self._fill is not None:
            black = _black_i420(self.width, self.height)

            async def send() -> None:
                native.capture_frame(black)

            self._fill.start(native, send)
        return native

    def _detach(self, native: rtc.VideoSource) -> None:
        if self._fill is not None:
            self._fill.cancel(native)
        if native in self._sinks:
            self._sinks.remove(native)


def _black_i420(width: int, height: int) -> rtc.VideoFrame:
    chroma = ((width + 1) // 2) * ((height + 1) // 2)
    return rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, b"\x10" * (width * height) + b"\x80" * (2 * chroma))
