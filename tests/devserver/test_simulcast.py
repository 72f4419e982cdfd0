"""Simulcast and SVC (relay "forward"): the publisher's layers are received, each subscriber gets
one (VP8/H.264 simulcast) or the spatial layers up to one (VP9/AV1 SVC), and ``set_video_quality``
switches at a keyframe, as with LiveKit's SFU."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable

import av
import pytest
from aiortc import RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, AnyRtcpPacket, RtcpPsfbPacket, pack_remb_fci
from livekit import rtc
from livekit.rtc._proto.track_publication_pb2 import VideoQuality

from compat.devserver import media
from compat.devserver.aiortc_internals import handle_rtcp
from compat.devserver.media import TrackForwarder, accept_simulcast, layer_qualities, simulcast_sections
from compat.devserver.session import SignalConnection
from compat.devserver.testing import LiveKitServer
from tests.media import SVC_CODECS, frames_of_size, publish_layered_video
from tests.support import EventLog, wait_for

# The Rust SDK's layers for a 720p publication (q, h, f) and the size each decodes to.
SIZES = {VideoQuality.VIDEO_QUALITY_LOW: (320, 180), VideoQuality.VIDEO_QUALITY_MEDIUM: (640, 360),
         VideoQuality.VIDEO_QUALITY_HIGH: (1280, 720)}


@pytest.mark.media
@pytest.mark.parametrize(
    "codec", [rtc.VideoCodec.VP8, rtc.VideoCodec.H264, *SVC_CODECS], ids=["vp8", "h264", "vp9-svc", "av1-svc"]
)
async def test_a_subscriber_switches_layers(dev_server: LiveKitServer, codec: rtc.VideoCodec.ValueType) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    stream = None
    try:
        async with publish_layered_video(a, codec) as local:
            ((track, publication, _),) = await log.wait("track_subscribed")
            assert local.simulcasted and publication.simulcasted
            forwarder: TrackForwarder = dev_server.embedded.rooms["r"].participants["a"].tracks[local.sid].forwarder
            if codec in SVC_CODECS:
                assert forwarder.svc and forwarder.top_spatial_layer == 2
                assert publication.mime_type.lower() == ("video/vp9" if codec == rtc.VideoCodec.VP9 else "video/av1")
            else:
                assert forwarder.layer_quality == {"q": 0, "h": 1, "f": 2}
            stream = rtc.VideoStream(track)
            frames = stream.__aiter__()
            publication.set_video_quality(VideoQuality.VIDEO_QUALITY_HIGH)
            await frames_of_size(frames, SIZES[VideoQuality.VIDEO_QUALITY_HIGH], 40.0)
            for quality in (VideoQuality.VIDEO_QUALITY_LOW, VideoQuality.VIDEO_QUALITY_MEDIUM, VideoQuality.VIDEO_QUALITY_HIGH):
                publication.set_video_quality(quality)
                await frames_of_size(frames, SIZES[quality], 20.0)
    finally:
        if stream is not None:
            await stream.aclose()
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_two_subscribers_get_different_layers_of_one_publication(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    low, high = await dev_server.connect("low", "r"), await dev_server.connect("high", "r")
    logs = {room: EventLog() for room in (low, high)}
    for room, log in logs.items():
        log.listen(room, "track_subscribed")
    streams: list[rtc.VideoStream] = []
    try:
        async with publish_layered_video(a, rtc.VideoCodec.VP8):
            waits = []
            for room, quality in ((low, VideoQuality.VIDEO_QUALITY_LOW), (high, VideoQuality.VIDEO_QUALITY_HIGH)):
                ((track, publication, _),) = await logs[room].wait("track_subscribed")
                publication.set_video_quality(quality)
                streams.append(rtc.VideoStream(track))
                waits.append(frames_of_size(streams[-1].__aiter__(), SIZES[quality], 40.0))
            await asyncio.gather(*waits)
    finally:
        for stream in streams:
            await stream.aclose()
        for room in (a, low, high):
            await room.disconnect()


@pytest.mark.media
async def test_decode_relay_takes_one_layer_and_says_so(decode_server: LiveKitServer) -> None:
    a = await decode_server.connect("a", "r")
    b = await decode_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    try:
        async with publish_layered_video(a, rtc.VideoCodec.VP8) as local:
            ((_, publication, _),) = await log.wait("track_subscribed")
            assert not local.simulcasted and not publication.simulcasted
            await wait_for(lambda: local.sid in decode_server.embedded.rooms["r"].participants["a"].tracks, what="published")
    finally:
        await a.disconnect()
        await b.disconnect()


OFFER = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=sendonly",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "a=sendonly",
    "a=rid:f send", "a=rid:h send", "a=rid:q send", "a=simulcast:send f;h;~q",
]) + "\r\n"


def test_simulcast_offers_are_read_and_answered() -> None:
    assert simulcast_sections(OFFER) == {
        "1": (["f", "h", "q"], {"urn:ietf:params:rtp-hdrext:sdes:mid": 4, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id": 10})
    }
    answer = "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\nm=video 9 X 96\r\na=mid:1\r\na=recvonly\r\n"
    accepted = accept_simulcast(OFFER, answer).split("\r\n")
    video = accepted[accepted.index("m=video 9 X 96"):]
    assert video[-5:] == ["a=rid:f recv", "a=rid:h recv", "a=rid:q recv", "a=simulcast:recv f;h;q", ""]
    assert "a=simulcast:recv f;h;q" not in accepted[: accepted.index("m=video 9 X 96")]
    assert accept_simulcast("v=0\r\nm=video 9 X 96\r\na=mid:1\r\n", answer) == answer


def test_layer_qualities_follow_livekits_rids_or_the_offers_order() -> None:
    assert layer_qualities(["f", "h", "q"]) == {"f": 2, "h": 1, "q": 0}
    assert layer_qualities(["h", "q"]) == {"h": 1, "q": 0}
    assert layer_qualities(["hi", "lo"]) == {"hi": 1, "lo": 0}
    assert layer_qualities(["f"]) == {}


# ---- switching by the subscriber's bandwidth estimate (REMB) ---------------------------------------

# Bytes per frame of each layer in the rule tests; at 30 fps: q 48 kbps, h 192 kbps, f 720 kbps.
FRAME_BYTES = {"q": 200, "h": 800, "f": 3000}


@pytest.fixture
def forwarder(simulcast_forwarder: TrackForwarder, monkeypatch: pytest.MonkeyPatch) -> TrackForwarder:
    """A simulcast forwarder with short windows."""
    monkeypatch.setattr(media, "RATE_WINDOW", 0.2)
    monkeypatch.setattr(media, "UP_AFTER", 0.5)
    return simulcast_forwarder


async def send_layers(forwarder: TrackForwarder, seconds: float) -> None:
    """Every layer's frames at 30 fps, each a keyframe so a subscriber may switch at any."""
    for _ in range(round(seconds * 30)):
        for ssrc, (rid, size) in enumerate(FRAME_BYTES.items()):
            packet = av.Packet(bytes(size))
            packet.pts = 0
            forwarder._on_layer_encoded(rid, ssrc, packet, True)
        await asyncio.sleep(1 / 30)


async def test_a_falling_estimate_drops_the_layer_and_a_lasting_higher_one_raises_it(forwarder: TrackForwarder) -> None:
    relay = forwarder.subscribe()
    await send_layers(forwarder, 0.5)
    assert relay.layer == "f"
    assert 600_000 < forwarder.layer_bitrate["f"] < 850_000
    relay.on_estimate(900_000)
    relay.on_estimate(600_000)  # falls below 95 % of f: h is the best that fits
    await send_layers(forwarder, 0.1)
    assert relay.layer == "h"
    relay.on_estimate(100_000)
    await send_layers(forwarder, 0.1)
    assert relay.layer == "q"
    relay.on_estimate(2_000_000)  # room for f, but it must last UP_AFTER (LiveKit would probe first)
    await send_layers(forwarder, 0.2)
    relay.on_estimate(2_000_000)
    await send_layers(forwarder, 0.1)
    assert relay.layer == "q"
    await send_layers(forwarder, 0.3)
    relay.on_estimate(2_000_000)
    await send_layers(forwarder, 0.1)
    assert relay.layer == "f"


async def test_a_rising_estimate_under_the_layers_bitrate_keeps_it(forwarder: TrackForwarder) -> None:
    """libwebrtc's estimate climbs slowly from what it receives: LiveKit drops a layer only on a falling one."""
    relay = forwarder.subscribe()
    await send_layers(forwarder, 0.5)
    for estimate in (300_000, 400_000, 500_000):
        relay.on_estimate(estimate)
    await send_layers(forwarder, 0.1)
    assert relay.layer == "f"


async def test_the_estimate_never_raises_a_subscriber_above_the_quality_it_asked_for(forwarder: TrackForwarder) -> None:
    relay = forwarder.subscribe()
    relay.set_quality(VideoQuality.VIDEO_QUALITY_MEDIUM)
    await send_layers(forwarder, 0.5)
    relay.on_estimate(1_000_000)
    relay.on_estimate(100_000)
    await send_layers(forwarder, 0.1)
    assert relay.layer == "q"
    for _ in range(3):
        relay.on_estimate(50_000_000)
        await send_layers(forwarder, 0.3)
    assert relay.layer == "h"


def remb(bitrate: int, ssrc: int) -> RtcpPsfbPacket:
    return RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bitrate, [ssrc]))


_INJECTED: list[RtcpPsfbPacket] = []  # the REMBs a test made, while they are being handled


def _only_injected_estimates(sender: RTCRtpSender) -> None:
    """From now on the subscriber's own REMBs no longer reach the server's sender, so the test's
    estimates are the only ones (a real one in between would say something else: once the
    subscriber gets the lowest layer only, its libwebrtc estimate stays near that layer's rate
    and would keep the server from going back up, how fast depending on the machine's load)."""
    if getattr(sender, "_test_only_injected", False):
        return
    handle = sender._handle_rtcp_packet

    async def filtered(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP and all(p is not packet for p in _INJECTED):
            return
        await handle(packet)

    sender._handle_rtcp_packet = filtered  # type: ignore[method-assign]
    sender._test_only_injected = True  # type: ignore[attr-defined]


async def inject_estimates(sender: RTCRtpSender, estimates: Iterable[int]) -> None:
    """REMBs to the subscriber's sender on the server as if the subscriber sent them, every 200 ms,
    in place of the subscriber's own (the bandwidth itself is not throttled)."""
    stats = await sender.getStats()
    ssrc = next(stat.ssrc for stat in stats.values() if stat.type == "outbound-rtp")
    _only_injected_estimates(sender)
    for bitrate in estimates:
        packet = remb(bitrate, ssrc)
        _INJECTED.append(packet)
        try:
            await handle_rtcp(sender, packet)
        finally:
            _INJECTED.remove(packet)
        await asyncio.sleep(0.2)


@pytest.mark.media
async def test_a_subscribers_layer_follows_its_bandwidth_estimate(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    stream = None
    injecting: asyncio.Task[None] | None = None
    try:
        async with publish_layered_video(a, rtc.VideoCodec.VP8):
            ((track, publication, _),) = await log.wait("track_subscribed")
            stream = rtc.VideoStream(track)
            frames = stream.__aiter__()
            await frames_of_size(frames, SIZES[VideoQuality.VIDEO_QUALITY_HIGH], 40.0)
            session = dev_server.embedded.rooms["r"].participants["b"].session
            assert isinstance(session, SignalConnection)
            sender = session.subscriptions[publication.sid].transceiver.sender
            # A falling estimate below every layer (these moving bars need tens of kbps): the lowest one.
            injecting = asyncio.create_task(inject_estimates(sender, itertools.count(5_000, -1)))
            await frames_of_size(frames, SIZES[VideoQuality.VIDEO_QUALITY_LOW], 20.0)
            injecting.cancel()
            injecting = asyncio.create_task(inject_estimates(sender, itertools.repeat(50_000_000)))
            await frames_of_size(frames, SIZES[VideoQuality.VIDEO_QUALITY_HIGH], 30.0)
    finally:
        if injecting is not None:
            injecting.cancel()
        if stream is not None:
            await stream.aclose()
        await a.disconnect()
        await b.disconnect()
