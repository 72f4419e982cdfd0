"""End to end through the dev server: video both ways between a compat.vonage session and a real
livekit.rtc participant (issue 8: "audio and video frames both ways"; audio is in test_e2e.py).

Each direction carries a two-colour picture (one colour per half), so a frame of the right size
but the wrong content (black, another track's, flipped) fails; VP8 and the YUV round trip move
colours a little, hence the tolerance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from livekit import rtc

from compat import vonage as OT
from compat.core.media import VideoBufferType, VideoFrame, VideoSource
from compat.devserver.testing import LiveKitServer
from tests.media import first_video_frame
from tests.support import wait_for
from tests.vonage.helpers import PUBLISHER_EVENTS, Recorder
from tests.vonage.test_e2e import announced, close, of, ot_connect, remote_track

pytestmark = pytest.mark.media

RGB = tuple[int, int, int]
BOT_COLOURS: tuple[RGB, RGB] = ((220, 40, 40), (40, 40, 220))  # left half red, right half blue
REMOTE_COLOURS: tuple[RGB, RGB] = ((40, 200, 40), (220, 220, 40))  # left half green, right half yellow
TOLERANCE = 40  # per channel, after VP8 and I420 <-> RGBA


def halves(width: int, height: int, colours: tuple[RGB, RGB]) -> VideoFrame:
    """An RGBA frame: ``colours[0]`` on the left half, ``colours[1]`` on the right half."""
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[:, : width // 2, :3] = colours[0]
    pixels[:, width // 2 :, :3] = colours[1]
    pixels[:, :, 3] = 255
    return VideoFrame(width, height, VideoBufferType.RGBA, pixels.tobytes())


def assert_halves(frame: rtc.VideoFrame, colours: tuple[RGB, RGB]) -> None:
    """The mean colour of the middle of each half (away from the edge chroma subsampling blurs)."""
    rgba = frame if frame.type == rtc.VideoBufferType.RGBA else frame.convert(rtc.VideoBufferType.RGBA)
    pixels = np.frombuffer(rgba.data, dtype=np.uint8).reshape(rgba.height, rgba.width, 4)
    w, h = rgba.width, rgba.height
    rows = slice(h // 4, 3 * h // 4)
    for (lo, hi), want in zip(((w // 8, 3 * w // 8), (5 * w // 8, 7 * w // 8)), colours, strict=True):
        mean = pixels[rows, lo:hi, :3].reshape(-1, 3).mean(axis=0)
        assert np.all(np.abs(mean - np.array(want)) < TOLERANCE), f"mean {mean.round()} of columns {lo}:{hi}, want {want}"


@contextlib.asynccontextmanager
async def feed(capture: Callable[[VideoFrame], None], size: list[int], colours: tuple[RGB, RGB], fps: float = 15) -> AsyncIterator[None]:
    """Capture a ``halves`` frame every 1/fps s at ``size`` ([width, height]: change it to change the resolution)."""

    async def run() -> None:
        frame = halves(size[0], size[1], colours)
        while True:
            if (frame.width, frame.height) != (size[0], size[1]):
                frame = halves(size[0], size[1], colours)
            capture(frame)
            await asyncio.sleep(1 / fps)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_bot_video_out_through_a_publisher(lk_server: LiveKitServer) -> None:
    room, rec = "ot-video-out", Recorder()
    viewer = await lk_server.connect("viewer", room)
    try:
        bot = await ot_connect(lk_server, room, "bot", rec)
        source = VideoSource(320, 240)
        publisher = OT.initPublisher(None, {"name": "bot-cam", "audioSource": None, "videoSource": source})
        rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
        assert (publisher.videoWidth(), publisher.videoHeight()) == (320, 240)
        async with feed(source.capture_frame, [320, 240], BOT_COLOURS):
            await bot.publish(publisher)
            stream = publisher.stream
            assert stream is not None and stream.streamId == f"{bot.connection.connectionId}-camera"  # type: ignore[union-attr]
            assert (stream.hasAudio, stream.hasVideo, stream.videoType) == (False, True, "camera")
            assert stream.videoDimensions == {"width": 320, "height": 240}

            track = await remote_track(viewer, "bot", rtc.TrackKind.KIND_VIDEO)
            pub = viewer.remote_participants["bot"].track_publications[track.sid]
            assert pub.source == rtc.TrackSource.SOURCE_CAMERA and pub.name == "bot-cam"
            frame = await first_video_frame(track)
            assert (frame.width, frame.height) == (320, 240)
            assert_halves(frame, BOT_COLOURS)
            await close(bot)
        assert source._sinks == []  # the native source went with the session
        unsent = source.unsent_frames
        source.capture_frame(halves(320, 240, BOT_COLOURS))
        assert source.unsent_frames == unsent + 1
        assert rec.names("publisher") == ["streamCreated", "streamDestroyed", "destroyed"]
    finally:
        await viewer.disconnect()


async def test_remote_video_in_through_a_subscriber(lk_server: LiveKitServer) -> None:
    room, rec = "ot-video-in", Recorder()
    remote = await lk_server.connect("cam", room)
    size = [640, 360]
    source = rtc.VideoSource(640, 360)
    track = rtc.LocalVideoTrack.create_video_track("cam", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=False)
    bot: OT.Session | None = None
    try:
        async with feed(source.capture_frame, size, REMOTE_COLOURS):
            await remote.local_participant.publish_track(track, options)
            await announced(lk_server, room, "cam", 1)
            bot = await ot_connect(lk_server, room, "bot", rec)
            stream_id = f"{remote.local_participant.sid}-camera"
            assert of(rec, "bot", "streamCreated") == [(stream_id, None)]
            stream = bot.streams.get(stream_id)
            assert stream is not None
            assert (stream.hasAudio, stream.hasVideo, stream.videoType) == (False, True, "camera")
            assert stream.videoDimensions == {"width": 640, "height": 360}

            subscriber = await bot.subscribe(stream)
            assert subscriber is not None
            assert (subscriber.videoWidth(), subscriber.videoHeight()) == (640, 360)
            frames = subscriber.video_frames()
            frame = await asyncio.wait_for(frames.__anext__(), 10)
            assert (frame.width, frame.height, frame.type) == (640, 360, VideoBufferType.RGBA)
            assert_halves(frame, REMOTE_COLOURS)
            assert of(rec, "bot", "streamPropertyChanged") == []

            # The remote changes its resolution: the open frame stream reports it (core TrackDimensionsChanged).
            size[:] = [320, 180]
            changed = (stream_id, "videoDimensions", {"width": 640, "height": 360}, {"width": 320, "height": 180})
            await wait_for(lambda: changed in of(rec, "bot", "streamPropertyChanged"), 15, "streamPropertyChanged{videoDimensions}")
            assert stream.videoDimensions == {"width": 320, "height": 180}
            assert (subscriber.videoWidth(), subscriber.videoHeight()) == (320, 180)
            smaller = await asyncio.wait_for(_frame_of_size(frames, 320, 180), 10)
            assert_halves(smaller, REMOTE_COLOURS)

            mark = len(rec.events)
            await close(bot)
            assert [t for _, t, _ in rec.events[mark:]] == ["sessionDisconnected"]
            assert frames.closed
    finally:
        if bot is not None:
            await close(bot)
        await remote.disconnect()


async def _frame_of_size(frames: AsyncIterator[rtc.VideoFrame], width: int, height: int) -> rtc.VideoFrame:
    async for frame in frames:
        if (frame.width, frame.height) == (width, height):
            return frame
    raise AssertionError(f"the frame stream ended before a {width}x{height} frame")
