"""Dynacast (relay "forward"): the publisher is told which layers of its video anyone watches and,
with ``RoomOptions(dynacast=True)``, stops sending the others, as with livekit-server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from livekit import rtc
from livekit.protocol.rtc import SignalResponse, SubscribedQualityUpdate
from livekit.rtc._proto.track_publication_pb2 import VideoQuality

from compat.devserver import dynacast
from compat.devserver.dynacast import HIGH, LOW, MEDIUM, OFF, Dynacast
from compat.devserver.media import TrackForwarder
from compat.devserver.testing import LiveKitServer
from tests.devserver.test_simulcast import SIZES, send_layers
from tests.media import SVC_CODECS, frames_of_size, publish_layered_video
from tests.support import EventLog, wait_for


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynacast, "INITIAL_WAIT", 0.3)
    monkeypatch.setattr(dynacast, "PAUSE_DELAY", 0.3)


@pytest.fixture
async def told(short_waits: None) -> AsyncIterator[tuple[Dynacast, list[int]]]:
    sent: list[int] = []
    manager = Dynacast(sent.append)
    manager.start()
    try:
        yield manager, sent
    finally:
        manager.close()


# ---- the rules (livekit-server's dynacastQualityVideo and dynacastManagerVideo) ------------------


async def after_the_wait() -> None:
    """Past INITIAL_WAIT and PAUSE_DELAY (0.3 s here), with room for a slow host."""
    await asyncio.sleep(0.8)


# Nothing here waits for "not yet" (a slow host could make that flaky): what must not go out yet is
# checked at once, and whether a delay was restarted by looking at its timer.


async def test_nobody_watching_turns_every_layer_off_after_the_initial_wait(told: tuple[Dynacast, list[int]]) -> None:
    manager, sent = told
    assert sent == [] and manager.committed is None
    await after_the_wait()
    assert sent == [OFF]
    assert manager.committed == OFF


async def test_a_wish_before_the_initial_wait_goes_out_at_once_and_the_wait_adds_nothing(
    told: tuple[Dynacast, list[int]],
) -> None:
    manager, sent = told
    manager.set_wanted(HIGH)
    assert sent == [HIGH]
    await after_the_wait()
    assert sent == [HIGH]


async def test_raising_goes_out_at_once_lowering_after_the_pause_delay(told: tuple[Dynacast, list[int]]) -> None:
    manager, sent = told
    manager.set_wanted(LOW)
    manager.set_wanted(HIGH)
    assert sent == [LOW, HIGH]
    manager.set_wanted(MEDIUM)
    delay = manager._pause
    assert sent == [LOW, HIGH] and delay is not None
    manager.set_wanted(LOW)
    assert manager._pause is delay  # a second lowering waits for the first one's delay, not a new one
    await after_the_wait()
    assert sent == [LOW, HIGH, LOW]  # what is wanted when the delay ends
    manager.set_wanted(OFF)
    assert sent == [LOW, HIGH, LOW]
    await after_the_wait()
    assert sent == [LOW, HIGH, LOW, OFF]
    manager.set_wanted(LOW)  # back on from OFF is a raise
    assert sent == [LOW, HIGH, LOW, OFF, LOW]


async def test_a_lowering_undone_within_the_delay_sends_nothing(told: tuple[Dynacast, list[int]]) -> None:
    manager, sent = told
    manager.set_wanted(HIGH)
    manager.set_wanted(LOW)
    manager.set_wanted(HIGH)
    assert manager._pause is None
    await after_the_wait()
    assert sent == [HIGH]


async def test_an_unmute_sends_the_wish_again_and_a_closed_track_sends_nothing(told: tuple[Dynacast, list[int]]) -> None:
    manager, sent = told
    manager.set_wanted(HIGH)
    manager.force_update()
    assert sent == [HIGH, HIGH]
    manager.set_wanted(LOW)
    manager.close()
    await after_the_wait()
    manager.set_wanted(HIGH)
    assert sent == [HIGH, HIGH]


# ---- what the forwarder reports: subscribers' wishes, recorders, the layer held until a switch ---


async def test_the_wanted_quality_is_the_best_any_subscriber_or_recorder_wants(simulcast_forwarder: TrackForwarder) -> None:
    forwarder = simulcast_forwarder
    assert forwarder.wanted_quality() == OFF
    first, second = forwarder.subscribe(), forwarder.subscribe()
    assert forwarder.wanted_quality() == HIGH  # a new subscriber wants the best until it says otherwise
    await send_layers(forwarder, 0.1)
    first.set_quality(LOW)
    second.set_quality(MEDIUM)
    assert forwarder.wanted_quality() == HIGH  # both still get f until they switch down
    await send_layers(forwarder, 0.1)
    assert (first.layer, second.layer) == ("q", "h")
    assert forwarder.wanted_quality() == MEDIUM
    second.set_enabled(False)
    assert forwarder.wanted_quality() == LOW
    first.stop()
    assert forwarder.wanted_quality() == OFF
    forwarder.add_sink(lambda frame: None)
    assert forwarder.wanted_quality() == HIGH  # a recorder records the best layer
    second.stop()


# ---- end to end: the Rust SDK with dynacast on pauses and resumes its layers ----------------------


def told_publisher(server: LiveKitServer, identity: str) -> list[SubscribedQualityUpdate]:
    """From now on, the SubscribedQualityUpdates the server sends ``identity``."""
    session = server.embedded.rooms["r"].participants[identity].session
    updates: list[SubscribedQualityUpdate] = []
    send = session.send

    def recording(response: SignalResponse) -> None:
        if response.HasField("subscribed_quality_update"):
            updates.append(response.subscribed_quality_update)
        send(response)

    session.send = recording
    return updates


def enabled(update: SubscribedQualityUpdate) -> list[int]:
    (codec,) = update.subscribed_codecs
    assert codec.codec == "vp8" and list(codec.qualities) == list(update.subscribed_qualities)
    return [q.quality for q in codec.qualities if q.enabled]


def flowing(forwarder: TrackForwarder) -> set[str]:
    return {rid for rid in forwarder.layer_quality if rid in forwarder._layer_seen and not forwarder.layer_paused(rid)}


class Call:
    """A publisher with dynacast on, publishing layered video (VP8 simulcast by default), and one subscriber."""

    def __init__(self, server: LiveKitServer, local: rtc.LocalTrackPublication, track: rtc.Track,
                 publication: rtc.RemoteTrackPublication, updates: list[SubscribedQualityUpdate]) -> None:
        self.local, self.track, self.publication = local, track, publication
        self.updates = updates  # every SubscribedQualityUpdate sent to the publisher
        self.published = server.embedded.rooms["r"].participants["a"].tracks[local.sid]
        self.forwarder: TrackForwarder = self.published.forwarder

    def committed(self) -> int | None:
        return self.forwarder.dynacast.committed if self.forwarder.dynacast is not None else None


@contextlib.asynccontextmanager
async def call(server: LiveKitServer, codec: rtc.VideoCodec.ValueType = rtc.VideoCodec.VP8) -> AsyncIterator[Call]:
    a = await server.connect("a", "r", options=rtc.RoomOptions(dynacast=True))
    updates = told_publisher(server, "a")
    b = await server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    try:
        async with publish_layered_video(a, codec) as local:
            ((track, publication, _),) = await log.wait("track_subscribed")
            yield Call(server, local, track, publication, updates)
    finally:
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_a_publisher_with_dynacast_sends_only_the_layers_someone_watches(
    dev_server: LiveKitServer, short_waits: None
) -> None:
    async with call(dev_server) as c:
        forwarder = c.forwarder
        await wait_for(lambda: flowing(forwarder) == {"q", "h", "f"}, timeout=20, what="all three layers")
        assert c.committed() == HIGH

        c.publication.set_video_quality(VideoQuality.VIDEO_QUALITY_LOW)
        await wait_for(lambda: flowing(forwarder) == {"q"}, timeout=10, what="h and f paused by the publisher")
        assert c.committed() == LOW

        stream = rtc.VideoStream(c.track)
        try:
            c.publication.set_video_quality(VideoQuality.VIDEO_QUALITY_HIGH)
            await frames_of_size(stream.__aiter__(), SIZES[VideoQuality.VIDEO_QUALITY_HIGH], 20.0)
            assert flowing(forwarder) == {"q", "h", "f"}
        finally:
            await stream.aclose()

        c.publication.set_subscribed(False)
        await wait_for(lambda: not flowing(forwarder), timeout=10, what="every layer paused: nobody watches")
        assert c.committed() == OFF
        assert [enabled(update) for update in c.updates] == [[LOW, MEDIUM, HIGH], [LOW], [LOW, MEDIUM, HIGH], []]
        assert {update.track_sid for update in c.updates} == {c.local.sid}


@pytest.mark.media
async def test_a_publisher_nobody_subscribes_to_stops_sending_after_the_initial_wait(
    dev_server: LiveKitServer, short_waits: None
) -> None:
    a = await dev_server.connect("a", "r", options=rtc.RoomOptions(dynacast=True))
    try:
        async with publish_layered_video(a, rtc.VideoCodec.VP8) as local:
            await wait_for(lambda: local.sid in dev_server.embedded.rooms["r"].participants["a"].tracks, what="published")
            forwarder: TrackForwarder = dev_server.embedded.rooms["r"].participants["a"].tracks[local.sid].forwarder
            await wait_for(lambda: forwarder.dynacast is not None and forwarder.dynacast.committed == OFF, timeout=10,
                           what="OFF sent")
            await asyncio.sleep(2.0)
            assert not flowing(forwarder)
            b = await dev_server.connect("b", "r")  # a subscriber turns the layers back on
            try:
                await wait_for(lambda: flowing(forwarder) == {"q", "h", "f"}, timeout=20, what="layers back")
            finally:
                await b.disconnect()
    finally:
        await a.disconnect()


@pytest.mark.media
async def test_a_change_while_muted_reaches_the_publisher_when_it_unmutes(
    dev_server: LiveKitServer, short_waits: None
) -> None:
    """livekit-server sends no quality update for a muted track and sends the current one on unmute."""
    async with call(dev_server) as c:
        forwarder = c.forwarder
        await wait_for(lambda: c.committed() == HIGH, what="HIGH")
        assert c.local.track is not None
        c.local.track.mute()
        await wait_for(lambda: c.published.info.muted, what="muted on the server")
        c.publication.set_video_quality(VideoQuality.VIDEO_QUALITY_LOW)
        await wait_for(lambda: c.committed() == LOW, what="LOW")
        sent_before = len(c.updates)
        c.local.track.unmute()
        await wait_for(lambda: len(c.updates) > sent_before, what="an update on unmute")
        assert enabled(c.updates[-1]) == [LOW]
        await wait_for(lambda: flowing(forwarder) == {"q"}, timeout=20, what="h and f paused after the unmute")
        for _ in range(8):  # and they stay paused
            await asyncio.sleep(0.5)
            assert not flowing(forwarder) & {"h", "f"}


@pytest.mark.media
@pytest.mark.parametrize("codec", [rtc.VideoCodec.H264, *SVC_CODECS], ids=["h264", "vp9-svc", "av1-svc"])
async def test_a_lowered_quality_keeps_the_video_of_every_codec(
    dev_server: LiveKitServer, short_waits: None, codec: rtc.VideoCodec.ValueType
) -> None:
    """The update for LOW reaches a dynacast publisher of each codec, and the subscriber still gets
    its low layer afterwards (an SVC publisher keeps its one encoding, whose base layer is LOW)."""
    async with call(dev_server, codec) as c:
        stream = rtc.VideoStream(c.track)
        try:
            frames = stream.__aiter__()
            await wait_for(lambda: c.committed() == HIGH, timeout=20, what="HIGH")
            c.publication.set_video_quality(VideoQuality.VIDEO_QUALITY_LOW)
            await wait_for(lambda: c.committed() == LOW, timeout=20, what="LOW sent")
            if c.forwarder.simulcast:
                await wait_for(lambda: flowing(c.forwarder) == {"q"}, timeout=10, what="h and f paused")
            else:
                await asyncio.sleep(2.0)  # the publisher has acted on it
            await frames_of_size(frames, SIZES[VideoQuality.VIDEO_QUALITY_LOW], 20.0)
        finally:
            await stream.aclose()
