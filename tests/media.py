"""Media helpers for integration tests: publish a tone or frames, analyse what arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np
from livekit import rtc

SAMPLE_RATE = 48000
FRAME_SAMPLES = 480  # 10 ms


def sine(freq: float, start: int, count: int, amplitude: float = 0.3) -> np.ndarray:
    t = (np.arange(count) + start) / SAMPLE_RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@contextlib.asynccontextmanager
async def publish_tone(
    room: rtc.Room, freq: float, name: str = "mic", amplitude: float = 0.3
) -> AsyncIterator[rtc.LocalTrackPublication]:
    """Publish a microphone track carrying a sine tone for the duration of the block."""
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track(name, source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await room.local_participant.publish_track(track, options)

    async def feed() -> None:
        n = 0
        while True:
            data = sine(freq, n, FRAME_SAMPLES, amplitude)
            n += FRAME_SAMPLES
            await source.capture_frame(rtc.AudioFrame(data.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))

    task = asyncio.create_task(feed())
    try:
        yield publication
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if room.isconnected() and publication.sid in room.local_participant.track_publications:
            await room.local_participant.unpublish_track(publication.sid)
        if room.isconnected() and publication.sid in room.local_participant.track_publications:
            await room.local_participant.unpublish_track(publication.sid)
        await source.aclose()


@contextlib.asynccontextmanager
async def publish_video(
    room: rtc.Room, width: int, height: int, name: str = "cam", fps: float = 15.0
) -> AsyncIterator[rtc.LocalTrackPublication]:
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track(name, source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=False)
    publication = await room.local_participant.publish_track(track, options)
    pixels = np.zeros((height, width, 4), dtype=np.uint8)

    async def feed() -> None:
        i = 0
        while True:
            pixels[:, :, 0] = (i * 8) % 256
            pixels[:, :, 1] = 128
            pixels[:, :, 3] = 255
            frame = rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, pixels.tobytes())
            source.capture_frame(frame)
            i += 1
            await asyncio.sleep(1 / fps)

    task = asyncio.create_task(feed())
    try:
        yield publication
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if room.isconnected() and publication.sid in room.local_participant.track_publications:
            await room.local_participant.unpublish_track(publication.sid)


async def read_audio(track: rtc.Track, frames: int, timeout: float = 10.0, skip: int = 20) -> np.ndarray:
    """Mono int16 samples of `frames` 10 ms frames, after skipping the first `skip` (jitter-buffer warm-up)."""
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    chunks: list[np.ndarray] = []

    async def collect() -> None:
        count = 0
        async for event in stream:
            count += 1
            if count > skip:
                chunks.append(np.frombuffer(event.frame.data, dtype=np.int16).copy())
            if len(chunks) >= frames:
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    finally:
        await stream.aclose()
    return np.concatenate(chunks)


def dominant_frequency(samples: np.ndarray) -> float:
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(freqs[int(spectrum.argmax())])


def rms(samples: np.ndarray) -> float:
    x = samples.astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


async def first_video_frame(track: rtc.Track, timeout: float = 10.0) -> rtc.VideoFrame:
    stream = rtc.VideoStream(track)

    async def first() -> rtc.VideoFrame:
        async for event in stream:
            return event.frame
        raise AssertionError("video stream ended before a frame arrived")

    try:
        return await asyncio.wait_for(first(), timeout)
    finally:
        await stream.aclose()
