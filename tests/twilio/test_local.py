"""LocalParticipant publishing on a scripted session: deferred events, failures, maps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from compat import core as C
from compat import twilio_video as Video
from compat.twilio_video.connect import connect_session
from compat.twilio_video.localparticipant import AWAIT_HOPS


def snapshot() -> C.RoomSnapshot:
    return C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"))


async def hops() -> None:
    """Let deferred LocalParticipant events (after_awaiters) run."""
    for _ in range(AWAIT_HOPS + 1):
        await asyncio.sleep(0)


async def _publish_direct(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return [await lp.publishTrack(t) for t in tracks]


async def _publish_task(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return [await asyncio.create_task(lp.publishTrack(t)) for t in tracks]


async def _publish_gather(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*(lp.publishTrack(t) for t in tracks)))


async def _publish_tracks(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return await lp.publishTracks(tracks)


async def _publish_tracks_in_task(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    return await asyncio.create_task(lp.publishTracks(tracks))


async def _publish_wait(lp: Video.LocalParticipant, tracks: list[Any]) -> list[Any]:
    tasks = [asyncio.ensure_future(lp.publishTrack(t)) for t in tracks]
    await asyncio.wait(tasks)
    return [t.result() for t in tasks]


@pytest.mark.parametrize(
    "publish",
    [_publish_direct, _publish_task, _publish_gather, _publish_tracks, _publish_tracks_in_task, _publish_wait],
)
async def test_track_published_comes_after_the_caller_resumes(publish: Any) -> None:
    """lib/localparticipant.js resolves, then emits trackPublished in a setTimeout: every
    continuation of the publish, however it is awaited, runs first."""
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    lp = room.localParticipant
    order: list[str] = []
    lp.on("trackPublished", lambda pub: order.append("event " + pub.trackName))
    pubs = await publish(lp, [Video.LocalAudioTrack(name="a"), Video.LocalDataTrack(name="b")])
    order.append("resumed")
    await hops()
    assert order[0] == "resumed" and sorted(order[1:]) == ["event a", "event b"]
    assert [p.trackName for p in pubs] == ["a", "b"]


async def test_publish_resolves_before_track_published() -> None:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    lp = room.localParticipant
    order: list[str] = []
    lp.on("trackPublished", lambda pub: order.append("event"))
    mic = Video.LocalAudioTrack(name="mic")
    pub = await lp.publishTrack(mic)
    order.append("resolved")
    await hops()
    assert order == ["resolved", "event"]
    assert isinstance(pub, Video.LocalAudioTrackPublication) and pub.track is mic and pub.kind == "audio"
    assert lp.tracks == {pub.trackSid: pub} and lp.audioTracks == {pub.trackSid: pub}
    assert session.calls[0][0] == "publish_media"


async def test_options_tracks_publish_without_events() -> None:
    session = C.ScriptedSession(snapshot())
    mic, chat = Video.LocalAudioTrack(name="mic"), Video.LocalDataTrack(name="chat")
    events: list[object] = []
    room = await connect_session(session, {"tracks": [mic, chat]})
    room.localParticipant.on("trackPublished", events.append)
    await asyncio.sleep(0.01)
    assert [p.trackName for p in room.localParticipant.tracks.values()] == ["mic", "chat"]
    assert events == []
    chat.send("hi")
    assert session.sent == [(b"hi", "chat", True)]
    room.disconnect()
    chat.send("after")  # unpublished by the disconnect: silently nothing
    assert session.sent == [(b"hi", "chat", True)]


async def test_publication_failure_rejects_then_emits() -> None:
    session = C.ScriptedSession(snapshot(), publish_error="codec not allowed")
    room = await connect_session(session, {})
    failed: list[tuple[Video.TwilioError, object]] = []
    room.localParticipant.on("trackPublicationFailed", lambda e, t: failed.append((e, t)))
    cam = Video.LocalVideoTrack(name="cam")
    with pytest.raises(Video.TrackInvalidError, match="codec not allowed"):
        await room.localParticipant.publishTrack(cam)
    assert failed == []  # deferred
    await hops()
    assert [(e.code, t) for e, t in failed] == [(53300, cam)]
    assert not room.localParticipant.tracks


async def test_enable_disable_mutes_in_livekit_and_orders_events() -> None:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    mic = Video.LocalAudioTrack(name="mic")
    order: list[str] = []
    mic.on("disabled", lambda t: order.append("track"))  # registered before the participant's
    pub = await room.localParticipant.publishTrack(mic)
    room.localParticipant.on("trackDisabled", lambda t: order.append("participant"))
    pub.on("trackDisabled", lambda: order.append("publication"))
    mic.disable()
    assert order == ["track", "participant", "publication"]
    assert ("set_muted", (pub.trackSid, True)) in session.calls
    assert not pub.isTrackEnabled
    stopped: list[object] = []
    room.localParticipant.on("trackStopped", stopped.append)
    mic.stop()
    assert stopped == [mic]


async def test_unpublish_and_disconnect_clear_local_maps() -> None:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    lp = room.localParticipant
    a, b = Video.LocalAudioTrack(name="a"), Video.LocalVideoTrack(name="b")
    pubs = await lp.publishTracks([a, b])
    assert lp.unpublishTrack(a) is pubs[0] and lp.unpublishTrack(a) is None
    assert list(lp.tracks) == [pubs[1].trackSid]
    with pytest.raises(TypeError):
        lp.unpublishTrack("a")
    await asyncio.sleep(0)
    assert ("unpublish", (pubs[0].trackSid,)) in session.calls
    room.disconnect()
    assert not lp.tracks and lp.state == "disconnected"
    with pytest.raises(RuntimeError):
        await lp.publishTrack(Video.LocalAudioTrack(name="late"))


async def test_set_parameters_and_network_quality_configuration() -> None:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {"maxAudioBitrate": 32000, "networkQuality": True})
    lp = room.localParticipant
    assert lp.setParameters({"maxAudioBitrate": 16000}) is lp
    await lp.publishTrack(Video.LocalAudioTrack(name="mic"))
    settings = session.calls[-1][1][2]
    assert settings.max_bitrate == 16000 and settings.source == "microphone"
    with pytest.raises(TypeError):
        lp.setParameters({"maxVideoBitrate": "x"})
    lp.setNetworkQualityConfiguration({"remote": 2})
    assert lp._nq == Video.NetworkQualityConfiguration(1, 2)
    levels: list[tuple[int, object]] = []
    lp.on("networkQualityLevelChanged", lambda level, stats: levels.append((level, stats)))
    session.feed(C.ConnectionQualityChanged("me", C.Quality.GOOD, True))
    session.feed(C.ConnectionQualityChanged("me", C.Quality.GOOD, True))
    await asyncio.sleep(0.01)
    session.feed(C.ConnectionQualityChanged("me", C.Quality.EXCELLENT, True))
    assert levels == [(3, None), (5, None)]


@pytest.mark.parametrize("wrap", ["plain", "wait_for", "task"])
async def test_listeners_attached_right_after_connect_see_early_facts(wrap: str) -> None:
    info = C.ParticipantInfo("PA_a", "alice")
    snap = C.RoomSnapshot(
        "RM_1", "room", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info, (C.TrackInfo("TR_1", "mic", "audio"),)),)
    )
    session = C.ScriptedSession(snap)
    session.feed(C.TrackSubscribed("alice", "TR_1"))  # arrives while connect() is still running
    if wrap == "plain":
        room = await connect_session(session, {})
    elif wrap == "wait_for":
        room = await asyncio.wait_for(connect_session(session, {}), 5)
    else:
        room = await asyncio.create_task(connect_session(session, {}))
    seen: list[str] = []
    room.on("trackSubscribed", lambda track, pub, p: seen.append(pub.trackSid))
    await asyncio.sleep(0.01)
    assert seen == ["TR_1"]


async def test_unpublish_racing_publish_rejects_the_publish() -> None:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    mic = Video.LocalAudioTrack(name="mic")
    pending = asyncio.ensure_future(room.localParticipant.publishTrack(mic))
    await asyncio.sleep(0)  # publishing has started
    assert room.localParticipant.unpublishTrack(mic) is None
    with pytest.raises(RuntimeError, match="was unpublished"):
        await pending
    assert not room.localParticipant.tracks
    assert session.calls[-1][0] == "unpublish"


async def test_recording_and_dominant_speaker_on_a_scripted_session() -> None:
    info = C.ParticipantInfo("PA_a", "alice")
    snap = C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info),), is_recording=True)
    session = C.ScriptedSession(snap)
    room = await connect_session(session, {"dominantSpeaker": True})
    events: list[tuple[str, object]] = []
    for name in ("recordingStarted", "recordingStopped"):
        room.on(name, lambda name=name: events.append((name, None)))
    room.on("dominantSpeakerChanged", lambda p: events.append(("ds", p)))
    await asyncio.sleep(0.01)
    assert room.isRecording
    session.feed(C.RecordingStarted())  # no change: no event
    session.feed(C.RecordingStopped(), C.RecordingStarted())
    alice = room.participants["PA_a"]
    session.feed(C.ActiveSpeakersChanged(("alice", "me")), C.ActiveSpeakersChanged(("alice",)))
    session.feed(C.ActiveSpeakersChanged(("me",)), C.ActiveSpeakersChanged(()))
    assert events == [
        ("recordingStopped", None),
        ("recordingStarted", None),
        ("ds", alice),
        ("ds", None),  # the local participant is loudest
        ("ds", None),  # cleared
    ]
    assert room.dominantSpeaker is None


async def test_dominant_speaker_off_by_default() -> None:
    info = C.ParticipantInfo("PA_a", "alice")
    session = C.ScriptedSession(C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info),)))
    room = await connect_session(session, {})
    seen: list[object] = []
    room.on("dominantSpeakerChanged", seen.append)
    await asyncio.sleep(0.01)
    session.feed(C.ActiveSpeakersChanged(("alice",)))
    assert seen == [] and room.dominantSpeaker is None


async def test_concurrent_publish_of_one_track_shares_the_outcome() -> None:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    mic = Video.LocalAudioTrack(name="mic")
    a, b = await asyncio.gather(room.localParticipant.publishTrack(mic), room.localParticipant.publishTrack(mic))
    assert a is b
    assert [c for c in session.calls if c[0] == "publish_media"] == [session.calls[0]]
    gate = asyncio.Event()
    original = session.publish_media

    async def slow_publish(*args: Any, **kwargs: Any) -> C.TrackInfo:
        await gate.wait()
        return await original(*args, **kwargs)

    session.publish_media = slow_publish  # type: ignore[method-assign]
    cam = Video.LocalVideoTrack(name="cam")
    first = asyncio.ensure_future(room.localParticipant.publishTrack(cam))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(room.localParticipant.publishTrack(cam))
    await asyncio.sleep(0)
    assert room.localParticipant.unpublishTrack(cam) is None  # withdraws the pending publish
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 2)
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert not room.localParticipant.tracks.get(session.calls[-1][1][0])


async def test_handlers_plain_async_and_failing(caplog: pytest.LogCaptureFixture) -> None:
    info = C.ParticipantInfo("PA_a", "alice")
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    got: list[str] = []

    def broken(p: Video.RemoteParticipant) -> None:
        raise ValueError("app bug")

    async def later(p: Video.RemoteParticipant) -> None:
        await asyncio.sleep(0)
        got.append("async " + p.identity)

    room.on("participantConnected", broken)
    room.on("participantConnected", later)
    room.on("participantConnected", lambda p: got.append("plain " + p.identity))
    await asyncio.sleep(0.01)
    session.feed(C.ParticipantJoined(info))
    assert got == ["plain alice"]  # plain handlers run inside the emit, in order
    await asyncio.sleep(0.01)
    assert got == ["plain alice", "async alice"]
    assert "app bug" in caplog.text or any(r.exc_info for r in caplog.records)
    assert room.participants["PA_a"].identity == "alice"  # the SDK went on
    room.off("participantConnected", broken)
    room.off("participantConnected", broken)  # no error when not registered


async def test_publish_after_disconnect_rejects_like_the_original() -> None:
    """twilio-video.js LocalParticipant#_getOrCreateLocalTrackPublication: plain Error, no event."""
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    failed: list[object] = []
    room.localParticipant.on("trackPublicationFailed", lambda e, t: failed.append(e))
    room.disconnect()
    for track in (Video.LocalAudioTrack(name="mic"), Video.LocalDataTrack(name="chat")):
        with pytest.raises(RuntimeError, match=r"^Unexpected error: The \[Local\w+Track #\d+: [0-9a-f-]+\] cannot be published$"):
            await room.localParticipant.publishTrack(track)
    await asyncio.sleep(0.01)
    assert failed == [] and [c for c, _ in session.calls if c == "publish_media"] == []


async def test_capture_frame_rejects_non_frames_with_type_error() -> None:
    mic, cam = Video.LocalAudioTrack(name="mic"), Video.LocalVideoTrack(name="cam", width=2, height=2)
    with pytest.raises(TypeError, match=r"frame must be an AudioFrame .* not str"):
        await mic.capture_frame("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"frame must be a VideoFrame .* not str"):
        cam.capture_frame("x")  # type: ignore[arg-type]
    frame = Video.VideoFrame(2, 2, Video.VideoBufferType.RGBA, bytearray(16))
    with pytest.raises(TypeError, match="timestamp_us must be an int"):
        cam.capture_frame(frame, timestamp_us="x")  # type: ignore[arg-type]
    mic.stop()  # a stopped track still checks the type before discarding
    with pytest.raises(TypeError):
        await mic.capture_frame(b"\0\0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await Video.AudioSource().capture_frame(None)  # type: ignore[arg-type]
    cam.capture_frame(frame)  # a real frame is fine (counted as unsent: not published)
    assert cam.source.unsent_frames == 1


async def test_reserved_topics_and_the_second_vendors_facts_change_nothing() -> None:
    info = C.ParticipantInfo("PA_a", "alice")
    snap = C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info),))
    session = C.ScriptedSession(snap)
    room = await connect_session(session, {})
    await asyncio.sleep(0.01)
    events: list[str] = []
    for name in ("trackPublished", "trackSubscribed", "trackMessage"):
        room.on(name, lambda *args, name=name: events.append(name))
    session.feed(
        C.DataReceived("alice", b"{}", "compat.vonage.signal", True),
        C.DataReceived("alice", b"{}", "compat.anything", True),
        C.MetadataChanged("alice", "m", is_local=False),
        C.PermissionsChanged("alice", C.Permissions(can_publish=False), is_local=False),
        C.LocalTrackMuted("TR_x", True),
        C.TrackDimensionsChanged("alice", "TR_y", 640, 480),
    )
    await asyncio.sleep(0.01)
    assert events == [] and room.participants["PA_a"].dataTracks == {}
    session.feed(C.DataReceived("alice", b"hi", "chat", True))
    await asyncio.sleep(0.01)
    assert events == ["trackPublished", "trackSubscribed", "trackMessage"]


async def test_data_tracks_are_announced_in_attributes_and_seen_by_compat_peers() -> None:
    from compat.twilio_video.datatracks import ANNOUNCE_KEY, data_track_sid

    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    chat = Video.LocalDataTrack({"name": "chat", "maxRetransmits": 0})
    pub = await room.localParticipant.publishTrack(chat)
    assert pub.trackSid == data_track_sid("PA_me", "chat")
    assert session.calls[-1] == ("set_attributes", ({ANNOUNCE_KEY: '{"chat": {"reliable": false}}'},))
    room.localParticipant.unpublishTrack(chat)
    await hops()
    assert session.calls[-1] == ("set_attributes", ({ANNOUNCE_KEY: "{}"},))
    # the receiving side: a peer announcing "notes", then withdrawing it
    events: list[str] = []
    for name in ("trackPublished", "trackSubscribed", "trackMessage", "trackUnsubscribed", "trackUnpublished"):
        room.on(name, lambda *a, name=name: events.append(name))
    await hops()
    peer = C.ParticipantInfo("PA_b", "bob", attributes=((ANNOUNCE_KEY, '{"notes": {"reliable": true}}'),))
    session.feed(C.ParticipantJoined(peer))
    bob = room.participants["PA_b"]
    assert list(bob.dataTracks) == [data_track_sid("PA_b", "notes")] and events == ["trackSubscribed"]
    session.feed(C.DataReceived("bob", b"hi", "notes"), C.AttributesChanged("bob", ((ANNOUNCE_KEY, "{}"),), False))
    session.feed(C.DataReceived("bob", b"late", "notes"))  # in flight when it was unpublished: dropped
    assert events == ["trackSubscribed", "trackMessage", "trackUnsubscribed", "trackUnpublished"] and not bob.dataTracks


async def test_local_data_track_with_both_limits_is_accepted_and_sent_lossy() -> None:
    """lib/media/track/localdatatrack.js validates none of its options: both limits set is a
    track (reliable false), not an error; LiveKit sends it on its lossy channel."""
    both = Video.LocalDataTrack({"name": "cursor", "maxPacketLifeTime": 10, "maxRetransmits": 1})
    assert (both.maxPacketLifeTime, both.maxRetransmits, both.reliable) == (10, 1, False)
    assert both.toJSON()["maxPacketLifeTime"] == 10 and both.toJSON()["maxRetransmits"] == 1
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    await room.localParticipant.publishTrack(both)
    both.send("x")
    assert session.sent == [(b"x", "cursor", False)]


async def test_publish_of_a_published_track_resolves_whatever_the_options() -> None:
    """lib/localparticipant.js publishTrack returns the existing publication before it reads
    the options; a new track with a bad priority rejects with RangeError and no event."""
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, {})
    lp = room.localParticipant
    failed: list[Any] = []
    lp.on("trackPublicationFailed", lambda error, track: failed.append(error))
    mic = Video.LocalAudioTrack(name="mic")
    pub = await lp.publishTrack(mic, {"priority": "high"})
    assert await lp.publishTrack(mic, {"priority": "bogus"}) is pub
    assert await lp.publishTrack(mic, "not an object") is pub
    assert pub.priority == "high"
    with pytest.raises(Video.RangeError):
        await lp.publishTrack(Video.LocalAudioTrack(name="other"), {"priority": "bogus"})
    with pytest.raises(TypeError):
        await lp.publishTrack(Video.LocalAudioTrack(name="third"), "not an object")
    await hops()
    assert failed == [] and [p.trackName for p in lp.tracks.values()] == ["mic"]
