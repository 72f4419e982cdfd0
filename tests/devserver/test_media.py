"""Audio and video relay, mute, manual subscription and active speakers."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer, dominant_frequency, publish_tone, read_audio, rms
from tests.media import first_video_frame, publish_video
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media


async def test_audio_arrives_at_the_frequency_sent_both_ways(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log_a, log_b = EventLog(), EventLog()
    log_a.listen(a, "track_subscribed")
    log_b.listen(b, "track_subscribed", "track_published")
    try:
        async with publish_tone(a, 440), publish_tone(b, 1000):
            ((track_at_b, pub_at_b, from_a),) = await log_b.wait("track_subscribed")
            ((track_at_a, _, from_b),) = await log_a.wait("track_subscribed")
            assert log_b.names().index("track_published") < log_b.names().index("track_subscribed")
            assert (from_a.identity, from_b.identity) == ("a", "b")
            assert pub_at_b.source == rtc.TrackSource.SOURCE_MICROPHONE and pub_at_b.name == "mic"
            heard_at_b, heard_at_a = await asyncio.gather(read_audio(track_at_b, 100), read_audio(track_at_a, 100))
            assert abs(dominant_frequency(heard_at_b) - 440) < 15
            assert abs(dominant_frequency(heard_at_a) - 1000) < 15
            assert rms(heard_at_b) > 2000
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_tracks_present_at_join_are_subscribed(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    try:
        async with publish_tone(a, 600):
            # A track is announced once its media is negotiated (as in LiveKit).
            await wait_for(lambda: bool(dev_server.embedded.rooms["r"].participants["a"].tracks), what="track live")
            late = rtc.Room()
            log = EventLog()
            log.listen(late, "track_subscribed", "track_published")
            await dev_server.connect("late", "r", room_object=late)
            pubs = late.remote_participants["a"].track_publications
            assert len(pubs) == 1
            ((track, _, _),) = await log.wait("track_subscribed")
            assert "track_published" not in log.names()  # present at connect: no track_published
            assert abs(dominant_frequency(await read_audio(track, 60)) - 600) < 15
            await late.disconnect()
    finally:
        await a.disconnect()


async def test_video_frames_have_the_published_size(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "track_subscribed")
    try:
        async with publish_video(a, 320, 240):
            ((track, publication, _),) = await log_b.wait("track_subscribed")
            assert publication.kind == rtc.TrackKind.KIND_VIDEO
            frame = await first_video_frame(track)
            assert (frame.width, frame.height) == (320, 240)
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_mute_and_unmute_are_seen_by_others(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "track_subscribed", "track_muted", "track_unmuted")
    try:
        async with publish_tone(a, 440) as publication:
            await log_b.wait("track_subscribed")
            assert publication.track is not None
            publication.track.mute()
            ((participant, remote_pub),) = await log_b.wait("track_muted")
            assert participant.identity == "a" and remote_pub.muted
            publication.track.unmute()
            ((_, remote_pub),) = await log_b.wait("track_unmuted")
            assert not remote_pub.muted
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_manual_subscription(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    manual = rtc.Room()
    log = EventLog()
    log.listen(manual, "track_published", "track_subscribed", "track_unsubscribed")
    await dev_server.connect("manual", "r", room_object=manual, options=rtc.RoomOptions(auto_subscribe=False))
    try:
        async with publish_tone(a, 800):
            ((publication, _),) = await log.wait("track_published")
            await asyncio.sleep(0.5)
            assert "track_subscribed" not in log.names()
            publication.set_subscribed(True)
            ((track, _, _),) = await log.wait("track_subscribed")
            assert abs(dominant_frequency(await read_audio(track, 50)) - 800) < 15
            publication.set_subscribed(False)
            await log.wait("track_unsubscribed")
            publication.set_subscribed(True)
            await log.wait("track_subscribed", 2)
    finally:
        await a.disconnect()
        await manual.disconnect()


async def test_unpublish_gives_unsubscribed_then_unpublished(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed", "track_unsubscribed", "track_unpublished")
    try:
        async with publish_tone(a, 440) as publication:
            await log.wait("track_subscribed")
            await a.local_participant.unpublish_track(publication.sid)
            await log.wait("track_unpublished")
            assert log.names() == ["track_subscribed", "track_unsubscribed", "track_unpublished"]
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_active_speakers_follow_audio_levels(dev_server: LiveKitServer) -> None:
    loud = await dev_server.connect("loud", "r")
    quiet = await dev_server.connect("quiet", "r")
    listener = await dev_server.connect("listener", "r")
    changes: list[list[str]] = []
    listener.on("active_speakers_changed", lambda speakers: changes.append([p.identity for p in speakers]))
    try:
        async with publish_tone(loud, 440), publish_tone(quiet, 300, amplitude=0.0):
            await wait_for(lambda: bool(changes) and changes[-1] == ["loud"], 10, f"loud speaking (got {changes})")
        await wait_for(lambda: bool(changes) and changes[-1] == [], 10, f"nobody speaking (got {changes})")
    finally:
        for room in (loud, quiet, listener):
            await room.disconnect()


async def test_connection_quality_is_reported(dev_server: LiveKitServer) -> None:
    """As by LiveKit: each participant hears its own quality and that of the participants whose tracks
    it subscribes to (b subscribes to a's tone; c, without auto-subscribe, to nothing), when someone
    joins or a quality changes."""
    a = await dev_server.connect("a", "r")
    at_b: list[tuple[str, rtc.ConnectionQuality]] = []
    at_c: list[tuple[str, rtc.ConnectionQuality]] = []
    b, c = rtc.Room(), rtc.Room()
    b.on("connection_quality_changed", lambda p, q: at_b.append((p.identity, q)))
    c.on("connection_quality_changed", lambda p, q: at_c.append((p.identity, q)))
    try:
        async with publish_tone(a, 440):
            await dev_server.connect("b", "r", room_object=b)
            await wait_for(lambda: any(p.subscribed for p in b.remote_participants["a"].track_publications.values()),
                           10, "b subscribed to a")
            # c's joining makes the server report again, now that b subscribes to a.
            await dev_server.connect("c", "r", room_object=c, options=rtc.RoomOptions(auto_subscribe=False))
            await wait_for(lambda: any(who == "a" for who, _ in at_b), 6, "quality of a at b")
            await wait_for(lambda: any(who == "c" for who, _ in at_c), 6, "c's own quality")
        assert all(q == rtc.ConnectionQuality.QUALITY_EXCELLENT for _, q in at_b + at_c)
        assert {who for who, _ in at_c} == {"c"}
    finally:
        for room in (a, b, c):
            await room.disconnect()
