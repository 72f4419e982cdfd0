"""End-to-end, section 3.6 of the reference: the Twilio model on the dev server, with real
``livekit.rtc`` participants as the remote side."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from compat import twilio_video as Video
from compat.devserver.testing import LiveKitServer, publish_tone
from tests.media import publish_video
from tests.support import EventLog, wait_for
from tests.twilio.helpers import PARTICIPANT_EVENTS, ROOM_EVENTS, announced, close, settle, twilio_connect

pytestmark = pytest.mark.media


async def test_state_present_at_connect_is_in_the_maps_without_events(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "r1")
    try:
        async with publish_tone(remote, 440):
            await announced(lk_server, "r1", "alice", 1)
            room = await twilio_connect(lk_server, "bot", "r1")
            trace = EventLog(timeout=15.0)
            trace.listen(room, *ROOM_EVENTS)
            try:
                assert room.state == "connected" and room.name == "r1" and room.sid.startswith("RM_")
                assert room.localParticipant.identity == "bot" and room.localParticipant.state == "connected"
                (alice,) = room.participants.values()
                assert alice.identity == "alice" and alice.sid.startswith("PA_")
                (pub,) = alice.tracks.values()
                assert pub.trackName == "mic" and pub.kind == "audio" and not pub.isSubscribed
                assert alice.audioTracks == {pub.trackSid: pub}
                ((track, pub2, p),) = await trace.wait("trackSubscribed")
                assert pub2 is pub and p is alice and pub.track is track
                assert isinstance(track, Video.RemoteAudioTrack) and track.sid == pub.trackSid
                await trace.wait("trackStarted")
                assert "participantConnected" not in trace.names()
                assert "trackPublished" not in trace.names()
            finally:
                await close(room)
            assert room._session.open_resources() == 0
    finally:
        await remote.disconnect()


async def test_join_publish_mute_unpublish_leave(lk_server: LiveKitServer) -> None:
    room = await twilio_connect(lk_server, "bot", "r2")
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    room.on("participantConnected", lambda p: trace.listen(p, *PARTICIPANT_EVENTS, label="p"))
    remote = await lk_server.connect("alice", "r2")
    try:
        ((alice,),) = await trace.wait("participantConnected")
        assert room.participants[alice.sid] is alice
        async with publish_tone(remote, 440) as lk_pub:
            ((track, pub, p),) = await trace.wait("trackSubscribed")
            names = trace.names("room")
            assert names.index("trackPublished") < names.index("trackSubscribed")
            assert trace.of("trackPublished")[0] == (pub, alice)
            assert trace.of("trackSubscribed", "p") == [(track, pub)]
            assert pub.trackSid == lk_pub.sid and p is alice

            lk_pub.track.mute()  # type: ignore[union-attr]
            ((disabled_pub, who),) = await trace.wait("trackDisabled")
            assert disabled_pub is pub and who is alice and not pub.isTrackEnabled and not track.isEnabled
            lk_pub.track.unmute()  # type: ignore[union-attr]
            await trace.wait("trackEnabled")
            assert pub.isTrackEnabled

            await remote.local_participant.unpublish_track(lk_pub.sid)
            await trace.wait("trackUnpublished")
            names = trace.names("room")
            assert names.index("trackUnsubscribed") < names.index("trackUnpublished")
            assert trace.of("trackUnsubscribed")[0] == (track, pub, alice)
            assert pub.trackSid not in alice.tracks
    finally:
        await remote.disconnect()
        await close(room)


async def test_a_join_is_announced_before_the_tracks_published_with_it(lk_server: LiveKitServer) -> None:
    room = await twilio_connect(lk_server, "bot", "r3")
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    remote = rtc.Room()
    try:
        # Connect and publish at once: the join burst carries the track, reported after
        # participantConnected with trackPublished (test_e2e_events.py checks the details).
        await remote.connect(lk_server.url, lk_server.token("carol", "r3"), rtc.RoomOptions(connect_timeout=10))
        async with publish_tone(remote, 300):
            await trace.wait("trackSubscribed")
            assert trace.names("room")[0] == "participantConnected"
    finally:
        await remote.disconnect()
        await close(room)


async def test_leaving_participant_unsubscribes_then_disconnects_and_keeps_publications(
    lk_server: LiveKitServer,
) -> None:
    room = await twilio_connect(lk_server, "bot", "r4")
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    room.on("participantConnected", lambda p: trace.listen(p, *PARTICIPANT_EVENTS, label="p"))
    remote = await lk_server.connect("alice", "r4")
    try:
        async with publish_tone(remote, 440), publish_video(remote, 320, 240):
            await trace.wait("trackSubscribed", 2)
            (alice,) = room.participants.values()
            pubs = dict(alice.tracks)
            streams = [pub.track.frames() for pub in pubs.values()]
            await remote.disconnect()
            await trace.wait("participantDisconnected")
    finally:
        await remote.disconnect()
    try:
        tail = [n for n in trace.names("room") if n in ("trackUnsubscribed", "trackUnpublished", "participantDisconnected")]
        assert tail == ["trackUnsubscribed", "trackUnsubscribed", "participantDisconnected"]
        assert trace.names("p")[-1] == "disconnected"
        assert alice.state == "disconnected" and alice.sid not in room.participants
        assert alice.tracks == pubs and not any(p.isSubscribed for p in pubs.values())
        assert all(s.closed for s in streams)
        assert room._session.open_resources() == 0
    finally:
        await close(room)


async def test_local_disconnect_order_is_synchronous(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "r5")
    try:
        async with publish_tone(remote, 440):
            await announced(lk_server, "r5", "alice", 1)
            mic = Video.LocalAudioTrack(name="bot-mic")
            room = await twilio_connect(lk_server, "bot", "r5", tracks=[mic])
            assert [p.trackName for p in room.localParticipant.tracks.values()] == ["bot-mic"]
            trace = EventLog(timeout=15.0)
            trace.listen(room, *ROOM_EVENTS)
            trace.listen(room.localParticipant, "disconnected", "trackPublished", label="lp")
            (alice,) = room.participants.values()
            ((track, _pub, _),) = await trace.wait("trackSubscribed")
            frames = track.frames()
            before = len(trace.events)
            assert room.disconnect() is room
            after = trace.events[before:]
            assert [(lab, n) for lab, n, _ in after] == [
                ("lp", "disconnected"),
                ("room", "trackUnsubscribed"),
                ("room", "disconnected"),
            ]
            assert after[2][2] == (room, None)
            assert room.state == "disconnected" and alice.state == "connected"
            assert room.participants == {alice.sid: alice}
            assert not room.localParticipant.tracks
            assert "trackPublished" not in trace.names("lp")  # options.tracks: no event
            assert room.disconnect() is room  # idempotent
            await room.wait_closed()
            assert frames.closed and room._session.open_resources() == 0
    finally:
        await remote.disconnect()


async def test_local_publish_resolves_then_emits_track_published_later(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "r6")
    room = await twilio_connect(lk_server, "bot", "r6")
    try:
        seen: list[str] = []
        room.localParticipant.on("trackPublished", lambda pub: seen.append(pub.trackName))
        mic = Video.LocalAudioTrack(name="mic")
        pub = await room.localParticipant.publishTrack(mic)
        assert seen == []  # deferred: not yet when the coroutine returns
        await settle(0.05)
        assert seen == ["mic"]
        assert await room.localParticipant.publishTrack(mic) is pub
        assert room.localParticipant.audioTracks == {pub.trackSid: pub}
        assert pub.trackSid.startswith("TR_") and pub.track is mic and pub.isTrackEnabled
        failures: list[tuple[Video.TwilioError, object]] = []
        room.localParticipant.on("trackPublicationFailed", lambda e, t: failures.append((e, t)))
        dup = Video.LocalAudioTrack(name="mic")
        with pytest.raises(Video.TrackNameIsDuplicatedError):
            await room.localParticipant.publishTrack(dup)
        await settle(0.05)
        assert [(e.code, t) for e, t in failures] == [(53304, dup)]
        with pytest.raises(Video.RangeError):
            await room.localParticipant.publishTrack(Video.LocalAudioTrack(name="x"), {"priority": "urgent"})
        with pytest.raises(TypeError):
            await room.localParticipant.publishTrack("mic")

        await wait_for(lambda: bool(remote.remote_participants["bot"].track_publications), what="announced")
        assert room.localParticipant.unpublishTrack(mic) is pub
        assert room.localParticipant.unpublishTrack(mic) is None
        assert not room.localParticipant.tracks
        await wait_for(lambda: not remote.remote_participants["bot"].track_publications, what="remote sees unpublish")

        muted: list[bool] = []
        remote.on("track_muted", lambda p, pb: muted.append(True))
        remote.on("track_unmuted", lambda p, pb: muted.append(False))
        toggles: list[str] = []
        room.localParticipant.on("trackDisabled", lambda t: toggles.append("lp-disabled"))
        mic2 = Video.LocalAudioTrack(name="mic")  # the name is free again
        pub2 = await room.localParticipant.publishTrack(mic2)
        pub2.on("trackDisabled", lambda: toggles.append("pub-disabled"))
        await wait_for(lambda: pub2.trackSid in remote.remote_participants["bot"].track_publications, what="announced")
        mic2.disable()
        assert toggles == ["lp-disabled", "pub-disabled"] and not pub2.isTrackEnabled
        await wait_for(lambda: muted == [True], what="remote sees the mute")
        mic2.enable()
        await wait_for(lambda: muted == [True, False], what="remote sees the unmute")
    finally:
        await remote.disconnect()
        await close(room)
    assert room._session.open_resources() == 0


async def test_async_handlers_work(lk_server: LiveKitServer) -> None:
    room = await twilio_connect(lk_server, "bot", "r7")
    got: list[str] = []

    async def on_connected(p: Video.RemoteParticipant) -> None:
        await asyncio.sleep(0)
        got.append(p.identity)

    room.on("participantConnected", on_connected)
    remote = await lk_server.connect("alice", "r7")
    try:
        await wait_for(lambda: got == ["alice"], what="async handler ran")
    finally:
        await remote.disconnect()
        await close(room)


@pytest.mark.parametrize("scenario", ["SIGNAL_RECONNECT", "FULL_RECONNECT"])
async def test_reconnection_events(lk_server: LiveKitServer, scenario: str) -> None:
    from compat.core.rtc_session import RtcSession

    room = await twilio_connect(lk_server, "bot", f"rc-{scenario.lower()}")
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    trace.listen(room.localParticipant, "reconnecting", "reconnected", "connected", "disconnected", label="lp")
    states: list[str] = []
    room.localParticipant.on("reconnecting", lambda lp: states.append(room.state))
    try:
        assert isinstance(room._session, RtcSession)
        await room._session.simulate_scenario(scenario)
        ((error,),) = await trace.wait("reconnecting")
        assert isinstance(error, Video.SignalingConnectionDisconnectedError) and error.code == 53001
        await trace.wait("reconnected")
        await trace.wait("reconnected", label="lp")
        assert [(lab, n) for lab, n, _ in trace.events] == [
            ("lp", "reconnecting"),
            ("room", "reconnecting"),
            ("lp", "connected"),
            ("room", "reconnected"),
            ("lp", "reconnected"),
        ]
        assert trace.of("reconnected", "lp") == [()]  # no arguments
        assert states == ["reconnecting"] and room.state == "connected"
    finally:
        await close(room)


async def test_nothing_left_running_after_disconnect(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "r8")
    try:
        async with publish_tone(remote, 440), publish_video(remote, 160, 120):
            await announced(lk_server, "r8", "alice", 2)
            cam = Video.LocalVideoTrack(name="cam", width=160, height=120)
            chat = Video.LocalDataTrack(name="chat")
            room = await twilio_connect(lk_server, "bot", "r8", tracks=[cam, chat])
            trace = EventLog(timeout=15.0)
            trace.listen(room, *ROOM_EVENTS)
            await trace.wait("trackStarted", 2)
            streams = [pub.track.frames() for p in room.participants.values() for pub in p.tracks.values()]
            chat.send("bye")
            assert room._session.open_resources() == len(streams) + 1  # + the camera's source
            room.disconnect()
            await room.wait_closed()
            assert room._session.open_resources() == 0 and all(s.closed for s in streams)
            leftovers = [t for t in asyncio.all_tasks() if "compat" in repr(t.get_coro())]
            assert leftovers == []
    finally:
        await remote.disconnect()


async def test_automatic_subscription_false_publishes_without_subscribing(lk_server: LiveKitServer) -> None:
    room = await twilio_connect(lk_server, "bot", "r9", automaticSubscription=False)
    trace = EventLog(timeout=15.0)
    trace.listen(room, *ROOM_EVENTS)
    remote = await lk_server.connect("alice", "r9")
    try:
        async with publish_tone(remote, 440):
            ((pub, alice),) = await trace.wait("trackPublished")
            await remote.local_participant.publish_data("ignored", topic="chat")
            await trace.wait("trackPublished", 2)
            await settle(0.5)
            assert "trackSubscribed" not in trace.names() and "trackMessage" not in trace.names()
            assert not pub.isSubscribed and all(not p.isSubscribed for p in alice.tracks.values())
    finally:
        await remote.disconnect()
        await close(room)
