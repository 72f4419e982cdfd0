"""Video helpers for integration tests: publish frames, read the first one back.

The audio kit (tone publishing and reading, tokens, servers) is compat.devserver.testing, shared with bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np
from livekit import rtc


@contextlib.asynccontextmanager
async def publish_video(
    room: rtc.Room, width: int, height: int, name: str = "cam", fps: float = 15.0,
    kind: rtc.TrackSource.ValueType = rtc.TrackSource.SOURCE_CAMERA,
) -> AsyncIterator[rtc.LocalTrackPublication]:
    """Publish a video track (``kind``: its LiveKit source) fed at ``fps`` for the block."""
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track(name, source)
    options = rtc.TrackPublishOptions(source=kind, simulcast=False)
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


async def start_video(
    room: rtc.Room, codec: rtc.VideoCodec.ValueType = rtc.VideoCodec.VP8, width: int = 320, height: int = 240
) -> tuple[rtc.LocalTrackPublication, asyncio.Task[None]]:
    """Publish a video track (simulcast off) fed with moving content at 15 fps; returns the
    publication and the feeding task, which the caller cancels."""
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track("cam", source)
    pixels = np.zeros((height, width, 4), np.uint8)

    async def feed() -> None:
        i = 0
        while True:
            pixels[:, :, 0] = (i * 8) % 256  # moving content: delta frames are not empty
            pixels[:, :, 3] = 255
            source.capture_frame(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, pixels.tobytes()))
            i += 1
            await asyncio.sleep(1 / 15)

    task = asyncio.create_task(feed())
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, video_codec=codec, simulcast=False)
    try:
        return await room.local_participant.publish_track(track, options), task
    except BaseException:
        task.cancel()
        raise


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


SVC_CODECS = (rtc.VideoCodec.VP9, rtc.VideoCodec.AV1)


@contextlib.asynccontextmanager
async def publish_layered_video(
    room: rtc.Room, codec: rtc.VideoCodec.ValueType, width: int = 1280, height: int = 720
) -> AsyncIterator[rtc.LocalTrackPublication]:
    """Publish moving bars in layers for the block: simulcast (VP8, H.264) or three spatial SVC
    layers (VP9, AV1, ``L3T3_KEY``), at 15 fps."""
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track("cam", source)
    options = rtc.TrackPublishOptions(
        source=rtc.TrackSource.SOURCE_CAMERA,
        simulcast=True,
        video_codec=codec,
        video_encoding=rtc.VideoEncoding(max_bitrate=3_000_000, max_framerate=15),
    )
    if codec in SVC_CODECS:
        options.scalability_mode = "L3T3_KEY"
    columns = np.arange(width, dtype=np.int32)
    chroma = np.full(width * height // 2, 128, np.uint8)

    async def feed() -> None:
        i = 0
        while True:
            luma = np.tile((((columns + 8 * i) // 160) % 8 * 28 + 32).astype(np.uint8), (height, 1))
            data = np.concatenate([luma.ravel(), chroma]).tobytes()
            source.capture_frame(rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, data))
            i += 1
            await asyncio.sleep(1 / 15)

    task = asyncio.create_task(feed())
    try:
        yield await room.local_participant.publish_track(track, options)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def frames_of_size(frames: AsyncIterator[rtc.VideoFrameEvent], size: tuple[int, int], timeout: float) -> None:
    """Wait for 5 frames in a row of ``size`` (width, height) from a VideoStream's iterator."""

    async def run() -> None:
        in_a_row = 0
        async for event in frames:
            in_a_row = in_a_row + 1 if (event.frame.width, event.frame.height) == size else 0
            if in_a_row == 5:
                return
        raise AssertionError("the video stream ended")

    await asyncio.wait_for(run(), timeout)
