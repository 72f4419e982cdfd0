"""End to end against the dev server, with real livekit.rtc remotes: events that were lost
or mis-ordered (issue 10, items 4-6), each as twilio-video.js emits it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from compat import twilio_video as Video
from compat.core import rtc_session
from compat.devserver.testing import FRAME_SAMPLES, SAMPLE_RATE, LiveKitServer, publish_tone
from tests.support import EventLog, wait_for
from tests.twilio.helpers import ROOM_EVENTS, announced, bot_tone, close, twilio_connect

pytestmark = pytest.mark.media


def named(events: list[tuple[str, str, tuple[Any, ...]]]) -> list[tuple[str, str]]:
    return [(label, name) for label, name, _args in events]


# --- 4a: a track published right after the join gets its trackPublished -------------------------


async def test_a_track_published_within_the_join_burst_gets_track_published(
    lk_server: LiveKitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rtc_session, "BURST_WINDOW", 3.0)  # the publish surely falls within the join burst
    room = await twilio_connect(lk_server, "bot", "ev-a")
    trace = EventLog(timeout=15.0)
    trace.listen(room, "participantConnected", "trackPublished", "trackSubscribed")
    at_connect: list[int] = []

    def connected(p: Video.RemoteParticipant) -> None:
        at_connect.append(len(p.tracks))
        trace.listen(p, "trackPublished", "trackSubscribed", label="p")

    room.on("participantConnected", connected)
    remote = await lk_server.connect("carol", "ev-a")
    try:
        async with publish_tone(remote, 300) as pub:
            await trace.wait("trackSubscribed", 1, label="room")
            assert at_connect == [0]  # not in participant.tracks at participantConnected...
            published = trace.of("trackPublished")  # ...but announced by trackPublished, once
            assert [a[0].trackSid for a in published] == [pub.sid]
            assert [a[0].trackSid for a in trace.of("trackPublished", "p")] == [pub.sid]
            assert named(trace.events)[:3] == [("room", "participantConnected"), ("p", "trackPublished"), ("room", "trackPublished")]
            assert trace.names("room").index("trackPublished") < trace.names("room").index("trackSubscribed")
    finally:
        await remote.disconnect()
        await close(room)


# --- 4b: participantDisconnected order, for participants present at connect and later joiners ------


async def test_participant_disconnected_order_follows_listener_registration(lk_server: LiveKitServer) -> None:
    alice = await lk_server.connect("alice", "ev-b")
    room = await twilio_connect(lk_server, "bot", "ev-b")
    order: list[str] = []
    room.on("participantDisconnected", lambda p: order.append(f"room {p.identity}"))
    for p in room.participants.values():  # present at connect: the Room listened first
        p.on("disconnected", lambda p: order.append(f"own {p.identity}"))

    def connected(p: Video.RemoteParticipant) -> None:  # a later joiner: the app listens first
        p.on("disconnected", lambda p: order.append(f"own {p.identity}"))

    room.on("participantConnected", connected)
    bob = await lk_server.connect("bob", "ev-b")
    try:
        await wait_for(lambda: len(room.participants) == 2, 10.0, "bob joined")
        await alice.disconnect()
        await wait_for(lambda: len(order) == 2, rtc_session.REJOIN_GRACE + 5, "alice left")
        await bob.disconnect()
        await wait_for(lambda: len(order) == 4, rtc_session.REJOIN_GRACE + 5, "bob left")
        assert order == ["room alice", "own alice", "own bob", "room bob"]
        assert not room.participants
    finally:
        await alice.disconnect()
        await bob.disconnect()
        await close(room)


# --- 4c: LocalParticipant trackPublished after the caller resumed ------------------------------


async def _direct(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return [await lp.publishTrack(t) for t in tracks]


async def _task(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return [await asyncio.create_task(lp.publishTrack(t)) for t in tracks]


async def _gather(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*(lp.publishTrack(t) for t in tracks)))


async def _publish_tracks(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return await asyncio.create_task(lp.publishTracks(tracks))


async def test_local_track_published_after_the_caller_resumes(lk_server: LiveKitServer) -> None:
    """One track per call: with several, one publication's event may come while another is
    still being published (so in twilio-video.js too: its setTimeout runs meanwhile)."""
    room = await twilio_connect(lk_server, "bot", "ev-c")
    lp = room.localParticipant
    order: list[str] = []
    lp.on("trackPublished", lambda pub: order.append("event " + pub.trackName))
    ways: list[Callable[[Video.LocalParticipant, list[Any]], Awaitable[list[Any]]]] = [_direct, _task, _gather, _publish_tracks]
    try:
        for i, publish in enumerate(ways):
            for track in (Video.LocalAudioTrack(name=f"a{i}"), Video.LocalVideoTrack(name=f"v{i}", width=64, height=64)):
                order.clear()
                (pub,) = await publish(lp, [track])
                order.append("resumed")
                await wait_for(lambda: len(order) == 2, 5.0, f"{publish.__name__}: trackPublished")
                assert order == ["resumed", f"event {track.name}"], publish.__name__
                assert pub.track is track
    finally:
        await close(room)


# --- 4d: LocalParticipant reconnecting on a signalling drop, with 53001 ---------------------------


@pytest.mark.parametrize("scenario", ["SIGNAL_RECONNECT", "DISCONNECT_SIGNAL_ON_RESUME"])  # a resume; a full reconnect
async def test_signalling_drop_makes_the_local_participant_reconnect(lk_server: LiveKitServer, scenario: str) -> None:
    room = await twilio_connect(lk_server, "bot", "ev-d")
    trace = EventLog(timeout=20.0)
    trace.listen(room, "reconnecting", "reconnected")
    trace.listen(room.localParticipant, "reconnecting", "reconnected", label="lp")
    try:
        session = room._session
        assert isinstance(session, rtc_session.RtcSession)
        await session.simulate_scenario(scenario)
        await trace.wait("reconnected", 1)
        await trace.wait("reconnected", 1, label="lp")
        (error,) = trace.of("reconnecting")[0]
        assert isinstance(error, Video.SignalingConnectionDisconnectedError) and error.code == 53001
        assert trace.names("lp") == ["reconnecting", "reconnected"]
        assert room.state == "connected" and room.localParticipant.state == "connected"
    finally:
        await close(room)


# --- 5: data tracks between compat participants ----------------------------------------------


async def test_a_compat_data_track_is_seen_when_published_and_unpublished(lk_server: LiveKitServer) -> None:
    token = lk_server.token("pub", "ev-e", can_update_own_metadata=True)
    publisher = await Video.connect(token, {"url": lk_server.url, "name": "ev-e"})
    watcher = await twilio_connect(lk_server, "watch", "ev-e")
    plain = await lk_server.connect("plain", "ev-e")
    trace = EventLog(timeout=15.0)
    try:
        await wait_for(lambda: len(watcher.participants) == 2, 10.0, "both participants seen")
        trace.listen(watcher, *ROOM_EVENTS)
        chat = Video.LocalDataTrack(name="chat")
        local_pub = await publisher.localParticipant.publishTrack(chat)
        await trace.wait("trackSubscribed", 1)  # without any message
        assert trace.names() == ["trackPublished", "trackSubscribed"]
        p = next(p for p in watcher.participants.values() if p.identity == "pub")
        (remote_pub,) = p.dataTracks.values()
        assert remote_pub.trackName == "chat" and remote_pub.trackSid == local_pub.trackSid  # both sides agree
        got: list[Any] = []
        p.on("trackMessage", lambda data, track: got.append((data, track)))
        chat.send("hello")
        await wait_for(lambda: bool(got), 10.0, "the message")
        assert got == [("hello", remote_pub.track)] and trace.names().count("trackPublished") == 1
        publisher.localParticipant.unpublishTrack(chat)
        await trace.wait("trackUnpublished", 1)
        assert trace.names()[-2:] == ["trackUnsubscribed", "trackUnpublished"] and not p.dataTracks
        # a plain LiveKit participant's data track still comes with its first message
        await plain.local_participant.publish_data(b"hi", topic="notes")
        await wait_for(lambda: trace.names().count("trackMessage") == 2, 10.0, "plain message")
        assert trace.names()[-3:] == ["trackPublished", "trackSubscribed", "trackMessage"]
        q = next(p for p in watcher.participants.values() if p.identity == "plain")
        assert [x.trackName for x in q.dataTracks.values()] == ["notes"]
    finally:
        await plain.disconnect()
        await close(publisher)
        await close(watcher)


async def test_data_tracks_without_the_grant_come_with_their_first_message(lk_server: LiveKitServer) -> None:
    publisher = await twilio_connect(lk_server, "pub", "ev-f")  # no canUpdateOwnMetadata
    watcher = await twilio_connect(lk_server, "watch", "ev-f")
    trace = EventLog(timeout=15.0)
    trace.listen(watcher, "trackPublished", "trackSubscribed", "trackMessage")
    try:
        await wait_for(lambda: len(watcher.participants) == 1, 10.0, "publisher seen")
        chat = Video.LocalDataTrack(name="chat")
        await publisher.localParticipant.publishTrack(chat)
        await asyncio.sleep(0.5)
        assert trace.names() == []
        chat.send("hello")
        await trace.wait("trackMessage", 1)
        assert trace.names() == ["trackPublished", "trackSubscribed", "trackMessage"]
    finally:
        await close(publisher)
        await close(watcher)


# --- 6: tracks for a bot without devices -------------------------------------------------------


async def test_connect_audio_video_options_publish_bot_fed_tracks(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("listener", "ev-g")
    heard: list[rtc.RemoteTrack] = []
    remote.on("track_subscribed", lambda track, pub, p: heard.append(track))
    room = await Video.connect(
        lk_server.token("bot", "ev-g"),
        {"url": lk_server.url, "name": "ev-g", "audio": True, "video": {"name": "cam", "width": 320, "height": 240}},
    )
    try:
        lp = room.localParticipant
        (apub,) = lp.audioTracks.values()
        (vpub,) = lp.videoTracks.values()
        mic, cam = apub.track, vpub.track
        assert isinstance(mic, Video.LocalAudioTrack) and isinstance(cam, Video.LocalVideoTrack)
        assert vpub.trackName == "cam" and cam.dimensions == {"width": 320, "height": 240}
        await wait_for(lambda: len(heard) == 2, 15.0, "the remote subscribed to both tracks")
        audio = next(t for t in heard if isinstance(t, rtc.RemoteAudioTrack))
        stream = rtc.AudioStream(audio, sample_rate=SAMPLE_RATE, num_channels=1)
        tone = (np.sin(np.arange(FRAME_SAMPLES) * 2 * np.pi * 440 / SAMPLE_RATE) * 8000).astype(np.int16).tobytes()

        async def feed() -> None:
            while True:
                await mic.capture_frame(Video.AudioFrame(tone, SAMPLE_RATE, 1, FRAME_SAMPLES))

        feeder = asyncio.create_task(feed())
        try:
            loud = 0
            async for event in stream:
                if np.abs(np.frombuffer(event.frame.data, np.int16)).max() > 1000:  # the bot's tone
                    loud += 1
                if loud > 10:
                    break
        finally:
            feeder.cancel()
            await stream.aclose()
        room.disconnect()
        assert mic.isStopped and cam.isStopped  # made by connect(): stopped at disconnect
        await room.wait_closed()
    finally:
        await remote.disconnect()
        await close(room)


async def test_create_local_tracks_make_bot_fed_tracks(lk_server: LiveKitServer) -> None:
    mic = await Video.createLocalAudioTrack({"name": "mic", "deviceId": "default"})
    cam = await Video.createLocalVideoTrack({"width": {"ideal": 160}, "height": 120})
    both = await Video.createLocalTracks()
    only_audio = await Video.createLocalTracks({"audio": {"name": "a"}})
    assert mic.name == "mic" and mic.source.sample_rate == 48000
    assert cam.dimensions == {"width": 160, "height": 120} and cam.name == cam.id
    assert [t.kind for t in both] == ["audio", "video"] and [t.name for t in only_audio] == ["a"]
    assert await Video.createLocalTracks({"audio": False, "video": False}) == []
    with pytest.raises(TypeError):
        await Video.createLocalVideoTrack({"width": "wide"})
    room = await twilio_connect(lk_server, "bot", "ev-h", tracks=[mic, cam])
    try:
        await announced(lk_server, "ev-h", "bot", 2)
        assert not mic.isStopped  # tracks the app made are not stopped by connect()
    finally:
        await close(room)
        assert not mic.isStopped


async def test_bot_made_tracks_send_silence_and_black_until_the_first_frame(lk_server: LiveKitServer) -> None:
    """A subscriber sees both tracks start before the bot sends anything, hears digital silence
    and sees black; the bot's tone then arrives, and stop() ends the black."""
    watcher = await twilio_connect(lk_server, "watcher", "ev-i")
    started = EventLog(timeout=15)
    started.listen(watcher, "trackStarted")
    mic, cam = await Video.createLocalTracks({"audio": True, "video": {"width": 160, "height": 120}})
    assert isinstance(mic, Video.LocalAudioTrack) and isinstance(cam, Video.LocalVideoTrack)
    bot = await twilio_connect(lk_server, "bot", "ev-i", tracks=[mic, cam])
    try:
        await started.wait("trackStarted", count=2)
        assert mic.source.unsent_frames == cam.source.unsent_frames == 0
        (participant,) = watcher.participants.values()
        (audio,) = (p.track for p in participant.audioTracks.values())
        (video,) = (p.track for p in participant.videoTracks.values())
        assert isinstance(audio, Video.RemoteAudioTrack) and isinstance(video, Video.RemoteVideoTrack)

        pictures = video.frames()
        frame = await asyncio.wait_for(anext(pictures), 10)
        luma = np.frombuffer(frame.data, np.uint8)[: frame.width * frame.height]
        assert (frame.width, frame.height) == (160, 120) and luma.mean() < 24  # black (Y=16)

        sound = audio.frames()
        quiet = [await asyncio.wait_for(anext(sound), 10) for _ in range(20)]
        assert max(int(np.abs(np.frombuffer(f.data, np.int16)).max()) for f in quiet) < 50

        async def first_loud() -> None:
            async for f in sound:
                if np.abs(np.frombuffer(f.data, np.int16)).max() > 1000:
                    return

        async with bot_tone(mic, 440):
            await asyncio.wait_for(first_loud(), 10)
        await sound.aclose()

        cam.stop()

        async def a_second_without_pictures() -> None:
            while True:
                try:
                    await asyncio.wait_for(anext(pictures), 1.0)
                except asyncio.TimeoutError:
                    return

        await asyncio.wait_for(a_second_without_pictures(), 10)
        await pictures.aclose()
    finally:
        await close(bot)
        await close(watcher)
