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
