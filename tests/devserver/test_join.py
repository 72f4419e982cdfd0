"""Joining, leaving, kicks and room lifetime through the dev server, with real livekit.rtc clients."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiortc import RTCPeerConnection
from livekit import rtc
from livekit.protocol import rtc as signal

from compat.devserver.session import SignalConnection
from compat.devserver.testing import LiveKitServer, publish_tone
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media


async def test_three_clients_see_each_other_in_join_order(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("alice", "r", name="Alice", metadata="m-a", attributes={"role": "doctor"})
    log_a = EventLog()
    log_a.listen(a, "participant_connected")
    b = await dev_server.connect("bob", "r")
    seen_by_b_at_connect = set(b.remote_participants)
    c = await dev_server.connect("carol", "r")
    try:
        # Those present at connect are in remote_participants...
        assert seen_by_b_at_connect == {"alice"}
        assert set(c.remote_participants) == {"alice", "bob"}
        alice_seen_by_c = c.remote_participants["alice"]
        assert (alice_seen_by_c.name, alice_seen_by_c.metadata) == ("Alice", "m-a")
        assert alice_seen_by_c.attributes == {"role": "doctor"}
        assert alice_seen_by_c.sid.startswith("PA_")
        # ...and later joiners arrive as participant_connected, in order.
        joined = await log_a.wait("participant_connected", 2)
        assert [p.identity for (p,) in joined] == ["bob", "carol"]
        await wait_for(lambda: set(b.remote_participants) == {"alice", "carol"}, what="bob sees carol")
        assert (await a.sid).startswith("RM_")
        assert await a.sid == await c.sid
    finally:
        for room in (a, b, c):
            await room.disconnect()


async def test_leave_is_seen_by_others_and_room_closes_clean(dev_server: LiveKitServer) -> None:
    server = dev_server.embedded
    a = await dev_server.connect("alice", "closing")
    b = await dev_server.connect("bob", "closing")
    log_a = EventLog()
    log_a.listen(a, "participant_disconnected")
    await b.disconnect()
    (gone,) = (await log_a.wait("participant_disconnected"))[0]
    assert gone.identity == "bob"
    assert gone.disconnect_reason == rtc.DisconnectReason.CLIENT_INITIATED
    assert "bob" not in a.remote_participants
    await a.disconnect()
    # departure timeout is 1 s in the dev_server fixture: then the room is closed and nothing is left.
    await wait_for(lambda: "closing" not in server.rooms, 5, "room to close after everyone left")
    await wait_for(lambda: server.stats()["aiortc_tasks"] == 0, 5, "aiortc tasks to end")
    stats = server.stats()
    assert stats["rooms"] == 0
    assert stats["participants"] == 0
    assert stats["peer_connections"] == 0
    assert stats["devserver_tasks"] == 0, stats
    assert not server.sessions


async def _an_audio_offer() -> str:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


async def alice_bob_carol(server: LiveKitServer) -> tuple[rtc.Room, rtc.Room, rtc.Room, EventLog, SignalConnection]:
    """Three in room "r", in that join order; carol's subscriptions logged; alice's server session."""
    a = await server.connect("alice", "r")
    b = await server.connect("bob", "r")
    c = await server.connect("carol", "r")
    log_c = EventLog()
    log_c.listen(c, "track_subscribed")
    session = server.embedded.rooms["r"].participants["alice"].session
    assert isinstance(session, SignalConnection)
    return a, b, c, log_c, session


async def test_a_client_whose_media_closed_before_its_leave_harms_no_one(
        dev_server: LiveKitServer, caplog: pytest.LogCaptureFixture) -> None:
    """A client disconnecting closes its PeerConnections (DTLS close_notify, on which aiortc closes
    the server's end) just before its leave. Meanwhile another's new track is not subscribed to on
    the closed PeerConnection (that failed the other's publish), and the leaving client's own late
    requests are part of its leave: logged at DEBUG, not warned about (seen in every bench run)."""
    a, b, c, log_c, session = await alice_bob_carol(dev_server)
    caplog.set_level(logging.DEBUG, "compat.devserver.session")
    try:
        for pc in (session.subscriber, session.publisher):
            await pc.close()  # what aiortc does when the client's close_notify arrives
        offer = signal.SignalRequest(offer=signal.SessionDescription(type="offer", sdp=await _an_audio_offer(), id=1))
        await session._dispatch(offer.SerializeToString())
        async with publish_tone(b, 440):
            ((track, _, who),) = await log_c.wait("track_subscribed")
            assert (who.identity, track.kind) == ("bob", rtc.TrackKind.KIND_AUDIO)
            assert not session.subscriptions
    finally:
        for room in (a, b, c):
            await room.disconnect()
    loud = [r.getMessage() for r in caplog.records if r.name == "compat.devserver.session" and r.levelno >= logging.WARNING]
    assert loud == []
    assert "alice: publisher offer after the media closed" in caplog.text


async def test_one_subscriber_failing_costs_no_one_else_the_track(
        dev_server: LiveKitServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A subscriber whose subscription raises is logged; the publisher's offer still succeeds and the
    next subscriber (carol, after alice in join order) still gets the track."""
    a, b, c, log_c, session = await alice_bob_carol(dev_server)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("alice cannot subscribe")

    monkeypatch.setattr(session, "subscribe", broken)
    try:
        async with publish_tone(b, 440):
            ((track, _, who),) = await log_c.wait("track_subscribed")
            assert (who.identity, track.kind) == ("bob", rtc.TrackKind.KIND_AUDIO)
    finally:
        for room in (a, b, c):
            await room.disconnect()
    assert "alice: subscribing to bob's" in caplog.text and "alice cannot subscribe" in caplog.text


async def test_duplicate_identity_kicks_the_older_connection(dev_server: LiveKitServer) -> None:
    first = rtc.Room()
    log_first = EventLog()
    log_first.listen(first, "disconnected")
    await dev_server.connect("dup", "r", room_object=first)
    watcher = await dev_server.connect("watcher", "r")
    log_w = EventLog()
    log_w.listen(watcher, "participant_disconnected", "participant_connected")
    second = await dev_server.connect("dup", "r")
    try:
        ((reason,),) = await log_first.wait("disconnected")
        assert reason == rtc.DisconnectReason.DUPLICATE_IDENTITY
        await log_w.wait("participant_connected")
        assert log_w.names() == ["participant_disconnected", "participant_connected"]
        assert watcher.remote_participants["dup"].sid == second.local_participant.sid
    finally:
        await second.disconnect()
        await watcher.disconnect()


async def test_hidden_participant_is_not_announced(dev_server: LiveKitServer) -> None:
    visible = await dev_server.connect("visible", "r")
    log_v = EventLog()
    log_v.listen(visible, "participant_connected")
    recorder = await dev_server.connect("recorder", "r", hidden=True)
    other = await dev_server.connect("other", "r")
    try:
        # The hidden one sees everyone; nobody sees it.
        await wait_for(lambda: set(recorder.remote_participants) == {"visible", "other"}, what="hidden sees all")
        assert set(other.remote_participants) == {"visible"}
        ((joined,),) = await log_v.wait("participant_connected")
        assert joined.identity == "other"
        await asyncio.sleep(0.3)
        assert "recorder" not in visible.remote_participants
    finally:
        for room in (visible, recorder, other):
            await room.disconnect()


async def test_max_participants_refuses_with_reason(lk_server: LiveKitServer) -> None:
    from compat.devserver import DevServer

    async with DevServer(port=0, max_participants=1) as server:
        srv = LiveKitServer(server.url, server.api_key, server.api_secret, server)
        first = await srv.connect("one", "small")
        try:
            with pytest.raises(rtc.ConnectError, match="is full"):
                await srv.connect("two", "small")
        finally:
            await first.disconnect()
