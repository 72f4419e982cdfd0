"""Twilio's own examples (github twilio/video-quickstart-js) ported to Python as a migrating team
would port them, run end to end against the dev server with real ``livekit.rtc`` remotes:

* quickstart/src/joinroom.js: containers per participant, attach/detach (a browser element
  becomes a frame consumer), the dominant speaker as the active participant, pinning, the
  mobile visibility branch (unpublish / re-create and publish the camera), leave;
* examples/datatracks/src/helpers.js: chat over LocalDataTracks between two compat rooms;
* examples/reconnection/src/helpers.js: the reconnecting / reconnected / disconnected log.

The ports keep the JS shapes: handlers with the arities the JS has (``() => ...`` for an event
that passes arguments), chained ``.on``, ``forEach`` on the Maps, ``Array.from(map.values())[0]``,
an ``async`` handler. Branches not reached are listed in docs/parity.md ("Porting checklist").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from livekit import api, rtc

from compat import twilio_video as Video
from compat.core import rtc_session
from compat.devserver.testing import LiveKitServer, publish_tone
from compat.twilio_video.jwt.access_token import AccessToken
from compat.twilio_video.jwt.access_token.grants import VideoGrant
from tests.media import publish_video
from tests.support import wait_for

pytestmark = pytest.mark.media

ROOM = "quickstart"


class Element:
    """What ``track.attach(el)`` fills in the browser: here a consumer counting the track's frames."""

    def __init__(self, track: Any) -> None:
        self.track = track
        self.frames = 0
        self._stream = track.frames() if hasattr(track, "frames") else None  # local previews have none
        self._task = asyncio.create_task(self._consume()) if self._stream is not None else None

    async def _consume(self) -> None:
        assert self._stream is not None
        async for _frame in self._stream:
            self.frames += 1

    async def detach(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._stream is not None:
            await self._stream.aclose()


class JoinRoom:
    """quickstart/src/joinroom.js, function by function (the DOM is ``containers``)."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Element]] = {}  # participant SID -> kind -> element
        self.activeParticipant: Any = None
        self.isActiveParticipantPinned = False
        self.activeVideo: Element | None = None
        self.detaching: list[Element] = []
        self.localVideoTrack: Any = None
        self.room: Any = None

    def setActiveParticipant(self, participant: Any) -> None:
        if self.activeParticipant is not None and self.activeVideo is not None:
            self.detaching.append(self.activeVideo)
            self.activeVideo = None
        self.activeParticipant = participant
        pubs = list(participant.videoTracks.values())
        track = pubs[0].track if pubs else None
        if track is not None:
            self.activeVideo = Element(track)

    def setCurrentActiveParticipant(self, room: Any) -> None:
        self.setActiveParticipant(room.dominantSpeaker or room.localParticipant)

    def setupParticipantContainer(self, participant: Any, room: Any) -> None:
        self.containers[participant.sid] = {}

    def click(self, participant: Any) -> None:
        """The container's click handler: pin / unpin."""
        if self.activeParticipant is participant and self.isActiveParticipantPinned:
            self.setVideoPriority(participant, None)
            self.isActiveParticipantPinned = False
            self.setCurrentActiveParticipant(self.room)
        else:
            if self.isActiveParticipantPinned:
                self.setVideoPriority(self.activeParticipant, None)
            self.setVideoPriority(participant, "high")
            self.isActiveParticipantPinned = True
            self.setActiveParticipant(participant)

    def setVideoPriority(self, participant: Any, priority: str | None) -> None:
        def each(publication: Any) -> None:  # forEach passes (value, key, map): one parameter taken
            track = publication.track
            if track is not None and hasattr(track, "setPriority"):
                track.setPriority(priority)

        participant.videoTracks.forEach(each)

    def attachTrack(self, track: Any, participant: Any) -> None:
        old = self.containers[participant.sid].get(track.kind)
        if old is not None:
            self.detaching.append(old)
        self.containers[participant.sid][track.kind] = Element(track)
        if track.kind == "video" and participant is self.activeParticipant:
            self.activeVideo = Element(track)

    def detachTrack(self, track: Any, participant: Any) -> None:
        element = self.containers.get(participant.sid, {}).pop(track.kind, None)
        if element is not None:
            self.detaching.append(element)
        if track.kind == "video" and participant is self.activeParticipant and self.activeVideo is not None:
            self.detaching.append(self.activeVideo)
            self.activeVideo = None

    def participantConnected(self, participant: Any, room: Any) -> None:
        self.setupParticipantContainer(participant, room)
        participant.tracks.forEach(lambda publication: self.trackPublished(publication, participant))
        participant.on("trackPublished", lambda publication: self.trackPublished(publication, participant))

    def participantDisconnected(self, participant: Any, room: Any) -> None:
        if self.activeParticipant is participant and self.isActiveParticipantPinned:
            self.isActiveParticipantPinned = False
            self.setCurrentActiveParticipant(room)
        self.detaching.extend(self.containers.pop(participant.sid, {}).values())

    def trackPublished(self, publication: Any, participant: Any) -> None:
        if publication.track:
            self.attachTrack(publication.track, participant)
        publication.on("subscribed", lambda track: self.attachTrack(track, participant))
        publication.on("unsubscribed", lambda track: self.detachTrack(track, participant))

    async def joinRoom(self, token: str, connectOptions: dict[str, Any]) -> asyncio.Future[None]:
        room = self.room = await Video.connect(token, connectOptions)
        self.localVideoTrack = next(iter(room.localParticipant.videoTracks.values())).track  # Array.from(...)[0]
        self.participantConnected(room.localParticipant, room)
        room.participants.forEach(lambda participant: self.participantConnected(participant, room))
        (room.on("participantConnected", lambda participant: self.participantConnected(participant, room))
             .on("participantDisconnected", lambda participant: self.participantDisconnected(participant, room)))
        self.setCurrentActiveParticipant(room)

        def dominantSpeakerChanged() -> None:  # JS: room.on('dominantSpeakerChanged', () => {...})
            if not self.isActiveParticipantPinned:
                self.setCurrentActiveParticipant(room)

        room.on("dominantSpeakerChanged", dominantSpeakerChanged)
        left: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def disconnected(room: Any, error: Any) -> None:
            self.localVideoTrack.stop()
            self.participantDisconnected(room.localParticipant, room)
            room.participants.forEach(lambda participant: self.participantDisconnected(participant, room))
            if self.activeVideo is not None:
                self.detaching.append(self.activeVideo)
                self.activeVideo = None
            if error:
                left.set_exception(error)
            else:
                left.set_result(None)

        room.once("disconnected", disconnected)
        return left

    async def onvisibilitychange(self, hidden: bool, video: Any) -> None:
        """The mobile branch: stop and unpublish the camera when hidden, re-create it when visible."""
        if hidden:
            self.localVideoTrack.stop()
            self.room.localParticipant.unpublishTrack(self.localVideoTrack)
        else:
            self.localVideoTrack = await Video.createLocalVideoTrack(video)
            await self.room.localParticipant.publishTrack(self.localVideoTrack)

    async def flush(self) -> None:
        """Release what the ported code detached (the browser does that when an element goes)."""
        detaching, self.detaching = self.detaching, []
        for element in detaching:
            await element.detach()


async def frames_flow(element: Element | None, what: str, n: int = 5, timeout: float = 15.0) -> None:
    await wait_for(lambda: element is not None and element.frames >= n, timeout, what)


async def test_quickstart_joinroom(lk_server: LiveKitServer) -> None:
    alice = await lk_server.connect("alice", ROOM)
    app = JoinRoom()
    options = {"name": ROOM, "url": lk_server.url, "audio": True, "video": {"width": 64, "height": 48},
               "dominantSpeaker": True}
    try:
        async with publish_tone(alice, 440), publish_video(alice, 64, 48):
            left = await app.joinRoom(lk_server.token("quickstart-user", ROOM), options)
            room = app.room
            assert app.activeParticipant is room.localParticipant  # nobody has spoken yet
            assert app.localVideoTrack is not None and app.localVideoTrack.kind == "video"
            a = next(p for p in room.participants.values() if p.identity == "alice")
            await wait_for(lambda: set(app.containers.get(a.sid, {})) == {"audio", "video"}, 15, "alice's media attached")
            await frames_flow(app.containers[a.sid]["audio"], "alice's audio frames")
            # alice speaks: the dominant speaker becomes the active participant, her video in the big element
            await wait_for(lambda: app.activeParticipant is a, 15, "alice as the dominant speaker")
            await frames_flow(app.activeVideo, "alice's video in the active element")

            # bob joins and publishes at once (within his join burst): his track is attached too
            bob = rtc.Room()
            await lk_server.connect("bob", ROOM, room_object=bob)
            async with publish_tone(bob, 660, name="bob-mic"):
                await wait_for(lambda: any(p.identity == "bob" for p in room.participants.values()), 10, "bob connected")
                b = next(p for p in room.participants.values() if p.identity == "bob")
                await wait_for(lambda: "audio" in app.containers.get(b.sid, {}), 15, "bob's audio attached")
                await frames_flow(app.containers[b.sid]["audio"], "bob's audio frames")
                # pin bob (click), then unpin (click again): alice (speaking) is active again
                app.click(b)
                assert app.activeParticipant is b and app.isActiveParticipantPinned
                app.click(b)
                assert not app.isActiveParticipantPinned
                assert app.activeParticipant in (a, b, room.localParticipant)
            await bob.disconnect()
            await wait_for(lambda: b.sid not in app.containers, 15, "bob's container removed")

            # the mobile branch: camera off when hidden, a new camera when visible again
            old = app.localVideoTrack
            await app.onvisibilitychange(True, options["video"])
            assert old.isStopped and not room.localParticipant.videoTracks
            await app.onvisibilitychange(False, options["video"])
            assert app.localVideoTrack is not old and len(room.localParticipant.videoTracks) == 1

            room.disconnect()
            await asyncio.wait_for(left, 10)  # resolved: left without an error
            assert app.containers == {} and app.activeVideo is None
            assert app.localVideoTrack.isStopped
            await app.flush()
    finally:
        if app.room is not None:
            app.room.disconnect()
        await app.flush()
        await alice.disconnect()


async def test_quickstart_joinroom_resolves_on_a_rest_kick_and_rejects_on_a_duplicate(lk_server: LiveKitServer) -> None:
    """joinRoom's promise: a REST kick resolves it (Twilio gives no error for that), the same
    identity joining elsewhere rejects it with 53205."""
    kicked = JoinRoom()
    left = await kicked.joinRoom(lk_server.token("kicked-user", ROOM), {"name": ROOM, "url": lk_server.url, "video": True})
    replaced = JoinRoom()
    gone = await replaced.joinRoom(lk_server.token("same-user", ROOM), {"name": ROOM, "url": lk_server.url, "video": True})
    second = None
    try:
        async with lk_server.api() as lkapi:
            await lkapi.room.remove_participant(api.RoomParticipantIdentity(room=ROOM, identity="kicked-user"))
        await asyncio.wait_for(left, 15)  # resolve(): no error
        assert kicked.room.state == "disconnected" and kicked.localVideoTrack.isStopped
        second = await Video.connect(lk_server.token("same-user", ROOM), {"name": ROOM, "url": lk_server.url})
        with pytest.raises(Video.TwilioError) as caught:
            await asyncio.wait_for(gone, 15)  # reject(error)
        assert caught.value.code == 53205
    finally:
        for app in (kicked, replaced):
            app.room.disconnect()
            await app.flush()
        if second is not None:
            second.disconnect()
            await second.wait_closed()


# --- examples/datatracks/src/helpers.js ------------------------------------------------------------


def backend_token(server: LiveKitServer, identity: str, room: str) -> str:
    """What the example's token server mints, with compat's AccessToken drop-in."""
    token = AccessToken("AC" + "0" * 32, server.api_key, server.api_secret, identity=identity, grants=[VideoGrant(room=room)])
    return token.to_jwt()


async def connectToRoomWithDataTrack(token: str, roomName: str, url: str) -> tuple[Any, Any]:
    local_data_track = Video.LocalDataTrack({"name": "chat"})
    room = await Video.connect(token, {"name": roomName, "url": url, "tracks": [local_data_track]})
    return room, local_data_track


def sendChatMessage(dataTrack: Any, message: str) -> None:
    dataTrack.send(message)


def receiveChatMessages(room: Any, onMessageReceived: Any) -> None:
    def each_participant(participant: Any) -> None:
        def each_publication(publication: Any) -> None:
            if publication.isSubscribed and publication.trackName == "chat":
                publication.track.on("message", lambda msg: onMessageReceived(msg, participant))

        participant.dataTracks.forEach(each_publication)

    room.participants.forEach(each_participant)

    async def trackSubscribed(track: Any, publication: Any, participant: Any) -> None:
        # an async handler: its listener is attached before its first await, so no message is missed
        if track.kind == "data" and track.name == "chat":
            track.on("message", lambda msg: onMessageReceived(msg, participant))
        await asyncio.sleep(0)

    room.on("trackSubscribed", trackSubscribed)


async def test_datatracks_example(lk_server: LiveKitServer) -> None:
    got: dict[str, list[tuple[str, str]]] = {"alice": [], "bob": []}
    alice, alice_chat = await connectToRoomWithDataTrack(backend_token(lk_server, "alice", "chat"), "chat", lk_server.url)
    receiveChatMessages(alice, lambda msg, p: got["alice"].append((msg, p.identity)))
    try:
        bob, bob_chat = await connectToRoomWithDataTrack(backend_token(lk_server, "bob", "chat"), "chat", lk_server.url)
        try:
            receiveChatMessages(bob, lambda msg, p: got["bob"].append((msg, p.identity)))
            # alice's chat track is known to bob at connect (announced when published), and
            # bob's reaches alice as trackSubscribed when he publishes it: no message is lost
            a = next(iter(bob.participants.values()))
            assert [pub.trackName for pub in a.dataTracks.values()] == ["chat"]
            await wait_for(lambda: [len(p.dataTracks) for p in alice.participants.values()] == [1], 10, "bob's chat track at alice")
            for i in range(5):
                sendChatMessage(bob_chat, f"bob {i}")
                sendChatMessage(alice_chat, f"alice {i}")
            await wait_for(lambda: len(got["alice"]) == 5 and len(got["bob"]) == 5, 10, f"every message ({got})")
            assert got["alice"] == [(f"bob {i}", "bob") for i in range(5)]
            assert got["bob"] == [(f"alice {i}", "alice") for i in range(5)]
        finally:
            bob.disconnect()
            await bob.wait_closed()
    finally:
        alice.disconnect()
        await alice.wait_closed()


async def test_datatracks_first_message_right_after_connect(lk_server: LiveKitServer) -> None:
    """The receiver listens first; the sender's very first message, sent as soon as its
    connect returns, arrives (the track is announced when published, not with that message)."""
    got: list[tuple[str, str]] = []
    listener, _ = await connectToRoomWithDataTrack(backend_token(lk_server, "listener", "chat2"), "chat2", lk_server.url)
    receiveChatMessages(listener, lambda msg, p: got.append((msg, p.identity)))
    try:
        sender, chat = await connectToRoomWithDataTrack(backend_token(lk_server, "sender", "chat2"), "chat2", lk_server.url)
        try:
            sendChatMessage(chat, "first")
            sendChatMessage(chat, "second")
            await wait_for(lambda: len(got) == 2, 10, f"both messages ({got})")
            assert got == [("first", "sender"), ("second", "sender")]
        finally:
            sender.disconnect()
            await sender.wait_closed()
    finally:
        listener.disconnect()
        await listener.wait_closed()


# --- examples/reconnection/src/helpers.js ----------------------------------------------------------


def setupReconnectionUpdates(room: Any, updateRoomState: Any, log: list[str]) -> None:
    def disconnected(room: Any, error: Any) -> None:
        if error is not None and error.code == 20104:  # the JS reads error.code unguarded
            log.append("Signaling reconnection failed due to expired AccessToken!")
        elif error is not None and error.code == 53000:
            log.append("Signaling reconnection attempts exhausted!")
        elif error is not None and error.code == 53204:
            log.append("Signaling reconnection took too long!")
        updateRoomState(room.state)

    def reconnecting(error: Any) -> None:
        if error.code == 53001:
            log.append("Reconnecting your signaling connection! " + error.message)
        elif error.code == 53405:
            log.append("Reconnecting your media connection! " + error.message)
        updateRoomState(room.state)

    def reconnected() -> None:  # JS: room.on('reconnected', function() {...})
        log.append("Reconnected to the Room!")
        updateRoomState(room.state)

    room.on("disconnected", disconnected).on("reconnected", reconnected).on("reconnecting", reconnecting)


async def test_reconnection_example(lk_server: LiveKitServer) -> None:
    room = await Video.connect(lk_server.token("rc", "reconnect"), {"name": "reconnect", "url": lk_server.url})
    states: list[str] = []
    log: list[str] = []
    setupReconnectionUpdates(room, states.append, log)
    try:
        session = room._session
        assert isinstance(session, rtc_session.RtcSession)
        await session.simulate_scenario("SIGNAL_RECONNECT")
        await wait_for(lambda: states[-1:] == ["connected"], 30, f"reconnected ({states})")
        assert states == ["reconnecting", "connected"]
        assert log[0].startswith("Reconnecting your signaling connection!") and log[1] == "Reconnected to the Room!"
    finally:
        room.disconnect()
        await room.wait_closed()
    assert states[-1] == "disconnected" and len(log) == 2  # a normal leave: no error branch
