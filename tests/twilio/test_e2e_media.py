"""End-to-end media and room signals: data both ways, audio and video both ways,
dominant speaker, network quality, recording."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from livekit import api, rtc

from compat import twilio_video as Video
from compat.devserver import dynacast
from compat.devserver.testing import SAMPLE_RATE, LiveKitServer, dominant_frequency, publish_tone, read_audio
from tests.media import first_video_frame, publish_video
from tests.support import EXTERNAL, EventLog, wait_for
from tests.twilio.helpers import ROOM_EVENTS, bot_tone, close, twilio_connect

pytestmark = pytest.mark.media


@contextlib.asynccontextmanager
async def bot_video(track: Video.LocalVideoTrack, fps: float = 15) -> AsyncIterator[None]:
    w, h = track.source.width, track.source.height
    pixels = np.zeros((h, w, 4), dtype=np.uint8)
    pixels[:, :, 1] = 200
    pixels[:, :, 3] = 255
    frame = Video.VideoFrame(w, h, Video.VideoBufferType.RGBA, pixels.tobytes())

    async def feed() -> None:
        while True:
            track.capture_frame(frame)
            await asyncio.sleep(1 / fps)

    task = asyncio.create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_data_both_ways(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "m1")
    chat = Video.LocalDataTrack(name="chat")
    room = await twilio_connect(lk_server, "bot", "m1", tracks=[chat])
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    log = EventLog()
    log.listen(remote, "data_received")
    try:
        # bot -> remote: a LiveKit data packet with the track name as topic, reliable
        chat.send("hello")
        chat.send(b"\x00\x01bin")
        received = await log.wait("data_received", 2)
        packets = [a[0] for a in received]
        assert [(p.data, p.topic, p.kind) for p in packets] == [
            (b"hello", "chat", rtc.DataPacketKind.KIND_RELIABLE),
            (b"\x00\x01bin", "chat", rtc.DataPacketKind.KIND_RELIABLE),
        ]
        assert packets[0].participant is not None and packets[0].participant.identity == "bot"

        # remote -> bot: a synthesised RemoteDataTrack named after the topic
        await remote.local_participant.publish_data("hi bot", topic="notes")
        await remote.local_participant.publish_data(b"\xff\xfe", topic="notes")
        messages = await trace.wait("trackMessage", 2)
        (alice,) = room.participants.values()
        (data, track, who), (data2, track2, _) = messages
        assert (data, data2) == ("hi bot", b"\xff\xfe") and who is alice and track2 is track
        assert isinstance(track, Video.RemoteDataTrack) and track.name == "notes" and track.reliable
        names = trace.names("room")
        assert names.index("trackPublished") < names.index("trackSubscribed") < names.index("trackMessage")
        assert alice.dataTracks[track.sid].track is track

        # lossy data track
        cursor = Video.LocalDataTrack({"name": "cursor", "maxRetransmits": 0})
        await room.localParticipant.publishTrack(cursor)
        cursor.send("x=1")
        (*_, (last,)) = await log.wait("data_received", 3)
        assert (last.topic, last.kind) == ("cursor", rtc.DataPacketKind.KIND_LOSSY)
    finally:
        await remote.disconnect()
        await close(room)


async def test_audio_both_ways(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "m2")
    mic = Video.LocalAudioTrack(name="bot-mic")
    room = await twilio_connect(lk_server, "bot", "m2", tracks=[mic])
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    log = EventLog()
    log.listen(remote, "track_subscribed")
    try:
        async with bot_tone(mic, 440), publish_tone(remote, 1000):
            ((lk_track, _, _),) = await log.wait("track_subscribed")
            ((track, _pub, _),) = await trace.wait("trackSubscribed")
            ((started, _),) = await trace.wait("trackStarted")
            assert started is track and track.isStarted
            stream = track.frames(capacity=200)
            chunks = []
            async for frame in stream:
                assert frame.sample_rate == SAMPLE_RATE and frame.num_channels == 1
                chunks.append(np.frombuffer(frame.data, dtype=np.int16).copy())
                if len(chunks) >= 120:
                    break
            await stream.aclose()
            assert stream.dropped == 0
            heard_by_bot = np.concatenate(chunks[20:])
            assert abs(dominant_frequency(heard_by_bot) - 1000) < 15
            heard_by_remote = await read_audio(lk_track, 100)
            assert abs(dominant_frequency(heard_by_remote) - 440) < 15
            reports = await room.getStats()
            assert [r.peerConnectionId for r in reports] == ["publisher", "subscriber"]
            local = [s for r in reports for s in r.localAudioTrackStats]
            remote_stats = [s for r in reports for s in r.remoteAudioTrackStats]
            assert local[0].trackSid in room.localParticipant.tracks
            assert any((s.bytesSent or 0) > 0 for s in local)
            assert any((s.bytesReceived or 0) > 0 for s in remote_stats)
            # the receiver's RTCP reports give the publisher its round-trip time (within ~1-2 s)
            for _ in range(50):
                local = [s for r in await room.getStats() for s in r.localAudioTrackStats]
                if any(s.roundTripTime is not None for s in local):
                    break
                await asyncio.sleep(0.1)
            assert any(0 < (s.roundTripTime or 0) < 1000 for s in local), local
    finally:
        await remote.disconnect()
        await close(room)
    assert room._session.open_resources() == 0


async def test_slow_consumer_drops_are_counted(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "m3")
    room = await twilio_connect(lk_server, "bot", "m3")
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    try:
        async with publish_tone(remote, 500):
            ((track, _, _),) = await trace.wait("trackSubscribed")
            stream = track.frames(capacity=5)
            await stream.__anext__()
            await asyncio.sleep(0.5)  # ~50 frames arrive into a 5-frame buffer
            assert stream.dropped > 0 and stream.received > stream.dropped
            await stream.aclose()
    finally:
        await remote.disconnect()
        await close(room)


async def test_video_both_ways(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "m4")
    cam = Video.LocalVideoTrack(name="bot-cam", width=320, height=240)
    room = await twilio_connect(lk_server, "bot", "m4", tracks=[cam])
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    log = EventLog()
    log.listen(remote, "track_subscribed")
    try:
        async with bot_video(cam), publish_video(remote, 640, 360):
            ((lk_track, _, _),) = await log.wait("track_subscribed")
            ((track, pub, _alice),) = await trace.wait("trackSubscribed")
            assert isinstance(track, Video.RemoteVideoTrack) and pub.kind == "video"
            await trace.wait("trackStarted")
            names = trace.names("room")
            assert names.index("trackDimensionsChanged") < names.index("trackStarted")
            assert track.dimensions == {"width": 640, "height": 360}
            stream = track.frames(rgba=True)
            frame = await asyncio.wait_for(stream.__anext__(), 10)
            assert (frame.width, frame.height, frame.type) == (640, 360, Video.VideoBufferType.RGBA)
            await stream.aclose()
            seen = await first_video_frame(lk_track)
            assert (seen.width, seen.height) == (320, 240)
    finally:
        await remote.disconnect()
        await close(room)
    assert room._session.open_resources() == 0


async def test_dominant_speaker_follows_the_loudest_remote(lk_server: LiveKitServer) -> None:
    quiet = await lk_server.connect("quiet", "m5")
    loud = await lk_server.connect("loud", "m5")
    room = await twilio_connect(lk_server, "bot", "m5", dominantSpeaker=True)
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    try:
        async with publish_tone(loud, 300, amplitude=0.6):
            await wait_for(
                lambda: room.dominantSpeaker is not None and room.dominantSpeaker.identity == "loud",
                15,
                "loud to be the dominant speaker",
            )
            ((speaker,), *_) = trace.of("dominantSpeakerChanged")
            assert speaker is room.dominantSpeaker
            loud_p = room.dominantSpeaker
            await loud.disconnect()
            await trace.wait("participantDisconnected")
            await wait_for(lambda: room.dominantSpeaker is None, what="dominant speaker cleared")
            names = trace.names("room")
            assert names.index("participantDisconnected") < len(names) - 1 - names[::-1].index("dominantSpeakerChanged")
            assert loud_p is not None and loud_p.state == "disconnected"
    finally:
        await loud.disconnect()
        await quiet.disconnect()
        await close(room)


async def test_network_quality_levels(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "m6")
    # LiveKit reports the qualities of the participants one subscribes to, when someone joins or a
    # quality changes.
    async with publish_tone(remote, 440):
        room = await twilio_connect(lk_server, "bot", "m6", networkQuality={"local": 1, "remote": 1})
        levels: list[tuple[int, object]] = []
        room.localParticipant.on("networkQualityLevelChanged", lambda level, stats: levels.append((level, stats)))
        try:
            (alice,) = room.participants.values()
            # The first report may come before connect() returns (and the handler is attached).
            await wait_for(lambda: room.localParticipant.networkQualityLevel is not None, 20,
                           "a local network quality report")
            assert room.localParticipant.networkQualityLevel in range(6)
            assert all(level in range(6) and stats is None for level, stats in levels)
            # Reports go out when someone joins: carol's joining, once the bot subscribes to alice,
            # brings alice's level whatever came before.
            await wait_for(lambda: any(p.isSubscribed for p in alice.audioTracks.values()), 20, "alice's tone")
            carol = await lk_server.connect("carol", "m6")
            try:
                await wait_for(lambda: alice.networkQualityLevel is not None, 20, "a remote network quality report")
            finally:
                await carol.disconnect()
        finally:
            await remote.disconnect()
            await close(room)


async def test_network_quality_off_by_default(lk_server: LiveKitServer) -> None:
    room = await twilio_connect(lk_server, "bot", "m7")
    try:
        await asyncio.sleep(1.0)
        assert room.localParticipant.networkQualityLevel is None
    finally:
        await close(room)


@pytest.mark.skipif(EXTERNAL, reason="needs the embedded dev server's egress")
async def test_recording_started_and_stopped(tmp_path: Path) -> None:
    from compat.devserver import DevServer

    async with DevServer(host="127.0.0.1", port=0, recordings_dir=str(tmp_path)) as server:
        srv = LiveKitServer(server.url, server.api_key, server.api_secret, server)
        room = await twilio_connect(srv, "bot", "rec")
        trace = EventLog(timeout=15.0)
        trace.listen(room, *ROOM_EVENTS)
        lkapi = api.LiveKitAPI(srv.http_url(), srv.api_key, srv.api_secret)
        try:
            assert room.isRecording is False
            info = await lkapi.egress.start_room_composite_egress(
                api.RoomCompositeEgressRequest(
                    room_name="rec", audio_only=True, file_outputs=[api.EncodedFileOutput(filepath="rec.ogg")]
                )
            )
            await trace.wait("recordingStarted")
            assert room.isRecording is True
            late = await twilio_connect(srv, "late", "rec")
            late_trace = EventLog(timeout=15.0)
            late_trace.listen(late, *ROOM_EVENTS)
            assert late.isRecording is True  # state at connect: no recordingStarted
            await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=info.egress_id))
            await trace.wait("recordingStopped")
            await late_trace.wait("recordingStopped")
            assert "recordingStarted" not in late_trace.names()
            assert room.isRecording is False
            await close(late)
        finally:
            await lkapi.aclose()
            await close(room)


async def test_reserved_topics_never_surface_as_data_tracks(lk_server: LiveKitServer) -> None:
    """Another vendor model's traffic (compat/core/topics.py) shares the room's data packets:
    a Vonage signal must create no Twilio data track and no trackMessage."""
    remote = await lk_server.connect("alice", "m9")
    room = await twilio_connect(lk_server, "bot", "m9")
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    try:
        await remote.local_participant.publish_data(b'{"type":"x"}', topic="compat.vonage.signal")
        await remote.local_participant.publish_data("after the signal", topic="chat")
        ((data, track, _who),) = await trace.wait("trackMessage")
        assert data == "after the signal" and track.name == "chat"
        await asyncio.sleep(0.3)  # nothing else shows up
        (alice,) = room.participants.values()
        assert [pub.trackName for pub in alice.dataTracks.values()] == ["chat"]
        assert [args[0].trackName for args in trace.of("trackPublished")] == ["chat"]
        assert len(trace.of("trackMessage")) == 1
    finally:
        await remote.disconnect()
        await close(room)


async def test_adaptive_simulcast_turns_off_the_layers_nobody_watches(
    dev_server: LiveKitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """preferredVideoCodecs 'auto' is adaptive simulcast (lib/connect.js): VP8 simulcast whose
    unused layers the media server turns off, which LiveKit calls dynacast."""
    monkeypatch.setattr(dynacast, "PAUSE_DELAY", 0.3)
    remote = await dev_server.connect("alice", "m1")
    log = EventLog()
    log.listen(remote, "track_subscribed")
    cam = Video.LocalVideoTrack(name="bot-cam", width=1280, height=720)
    room = await twilio_connect(dev_server, "bot", "m1", tracks=[cam], preferredVideoCodecs="auto")
    try:
        async with bot_video(cam):
            ((_, publication, _),) = await log.wait("track_subscribed", timeout=20)
            forwarder = dev_server.embedded.rooms["m1"].participants["bot"].tracks[publication.sid].forwarder
            assert forwarder is not None and publication.simulcasted

            def flowing() -> set[str]:
                return {rid for rid in forwarder.layer_quality if rid in forwarder._layer_seen and not forwarder.layer_paused(rid)}

            await wait_for(lambda: flowing() == {"q", "h", "f"}, timeout=20, what="the bot's three layers")
            publication.set_video_quality(rtc.VideoQuality.VIDEO_QUALITY_LOW)
            await wait_for(lambda: flowing() == {"q"}, timeout=10, what="h and f turned off by the bot")
    finally:
        await close(room)
        await remote.disconnect()
