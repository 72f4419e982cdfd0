"""Codecs the relay can and cannot carry, and encryption reported as asked."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer
from tests.media import start_video
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media


async def test_the_decode_relay_refuses_vp9_and_unpublishes_it(decode_server: LiveKitServer) -> None:
    dev_server = decode_server
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_published", "track_unpublished", "track_subscribed")
    feeder: asyncio.Task[None] | None = None
    try:
        try:
            _, feeder = await asyncio.wait_for(start_video(a, rtc.VideoCodec.VP9), 20)
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
