"""Codecs the relay can and cannot carry, and encryption reported as asked."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer
from tests.media import first_video_frame
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media


async def _publish_video(room: rtc.Room, codec: int) -> tuple[rtc.LocalTrackPublication, asyncio.Task[None]]:
    source = rtc.VideoSource(320, 240)
    track = rtc.LocalVideoTrack.create_video_track("cam", source)
    frame = rtc.VideoFrame(320, 240, rtc.VideoBufferType.RGBA, np.full((240, 320, 4), 200, np.uint8).tobytes())

    async def feed() -> None:
        while True:
            source.capture_frame(frame)
            await asyncio.sleep(1 / 15)

    task = asyncio.create_task(feed())
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, video_codec=codec, simulcast=False)  # type: ignore[arg-type]
    try:
        return await room.local_participant.publish_track(track, options), task
    except BaseException:
        task.cancel()
        raise


@pytest.mark.parametrize(
    ("codec", "mime"),
    [(rtc.VideoCodec.H264, "video/H264"), (rtc.VideoCodec.VP9, "video/VP9"), (rtc.VideoCodec.AV1, "video/AV1")],
)
async def test_video_is_relayed_and_announced_in_its_codec(dev_server: LiveKitServer, codec: int, mime: str) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    _, feeder = await _publish_video(a, codec)
    try:
        ((track, publication, _),) = await log.wait("track_subscribed")
        assert publication.mime_type == mime
        frame = await first_video_frame(track)
        assert (frame.width, frame.height) == (320, 240)
    finally:
        feeder.cancel()
        await a.disconnect()
        await b.disconnect()


async def test_the_decode_relay_refuses_vp9_and_unpublishes_it(decode_server: LiveKitServer) -> None:
    dev_server = decode_server
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_published", "track_unpublished", "track_subscribed")
    feeder: asyncio.Task[None] | None = None
    try:
        try:
            _, feeder = await asyncio.wait_for(_publish_video(a, rtc.VideoCodec.VP9), 20)
        except Exception:  # noqa: BLE001
            pass  # the SDK may report the failed negotiation; what matters is below
        # aiortc cannot decode VP9: the decode relay takes the track down again, nobody subscribes to it.
        await wait_for(lambda: not dev_server.embedded.rooms["r"].participants["a"].tracks, what="server unpublish")
        await wait_for(lambda: not b.remote_participants["a"].track_publications, what="b sees no track")
        await asyncio.sleep(0.5)
        assert "track_subscribed" not in log.names()
        assert log.names().count("track_published") == log.names().count("track_unpublished")
    finally:
        if feeder is not None:
            feeder.cancel()
        await a.disconnect()
        await b.disconnect()
