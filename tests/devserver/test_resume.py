"""Resume: a client whose signalling drops comes back (`/rtc?reconnect=1`) to the same session.

Same participant sid, same publications and subscriptions; the others see no leave and no join,
and media and data go on on the same remote track objects. A client that does not come back
within the grace leaves for real; a resume the server cannot match gets the SDK's fallback, a
full reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit import api, rtc
from livekit.protocol import rtc as proto

from compat.devserver import DevServer
from compat.devserver.session import SignalConnection
from compat.devserver.testing import (
    RESUME_PING_TIMEOUT,
    LiveKitServer,
    dominant_frequency,
    drop_signal,
    publish_tone,
    read_audio,
)
from tests.devserver.test_drop import participant_process
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media

ROOM = "resume"
PEER_CHANGES = ("participant_connected", "participant_disconnected", "track_published", "track_unpublished",
                "track_subscribed", "track_unsubscribed")


@pytest.fixture
async def server() -> AsyncIterator[LiveKitServer]:
    async with DevServer(
        host="127.0.0.1", port=0, ping_interval=1, ping_timeout=RESUME_PING_TIMEOUT, reconnect_grace=10.0
    ) as dev:
        yield LiveKitServer(dev.url, dev.api_key, dev.api_secret, embedded=dev)


async def tone_of(track: rtc.Track) -> float:
    return dominant_frequency(await read_audio(track, 50, timeout=10.0))


async def data_arrives(sender: rtc.Room, receiver_log: list[bytes], payload: bytes) -> None:
    await sender.local_participant.publish_data(payload, reliable=True)
    await wait_for(lambda: payload in receiver_log, 10.0, f"data {payload!r}")


def sync_state_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "sync state" in r.getMessage()]


async def check_resume(server: LiveKitServer, drop: str, caplog: pytest.LogCaptureFixture) -> None:
    """alice publishes a tone; her signalling is dropped (`drop`); bob must see nothing change."""
    dev = server.embedded
    alice, bob = rtc.Room(), rtc.Room()
    alice_log, bob_log = EventLog(timeout=20.0), EventLog(timeout=15.0)
    alice_log.listen(alice, "reconnecting", "reconnected", "disconnected")
    bob_log.listen(bob, *PEER_CHANGES, "track_muted")
    caplog.set_level(logging.INFO, logger="compat.devserver.session")
    to_bob: list[bytes] = []
    to_alice: list[bytes] = []
    bob.on("data_received", lambda pkt: to_bob.append(pkt.data))
    alice.on("data_received", lambda pkt: to_alice.append(pkt.data))
    await server.connect("alice", ROOM, room_object=alice)
    await server.connect("bob", ROOM, room_object=bob)
    try:
        async with publish_tone(alice, 440) as publication:
            ((track, _pub, remote_alice),) = await bob_log.wait("track_subscribed")
            assert await tone_of(track) == pytest.approx(440, abs=10)
            session = dev.rooms[ROOM].participants["alice"].session
            sid = alice.local_participant.sid
            mark = len(bob_log.events)

            if drop == "server":
                await drop_signal(dev, ROOM, "alice")
            else:
                await alice.simulate_scenario(rtc.SimulateScenarioKind.SIMULATE_SIGNAL_RECONNECT)
            await alice_log.wait("reconnected")
            # the client's SyncState agreed with the server (its checks do find a difference)
            await wait_for(lambda: bool(sync_state_logs(caplog)), 10.0, "alice's SyncState")
            assert sync_state_logs(caplog) == ["alice: sync state matches the server's"]
            bogus = proto.SyncState(publish_tracks=[proto.TrackPublishedResponse(cid="x", track={"sid": "TR_bogus"})])
            assert session.sync_state_differences(bogus) == [
                "client publishes tracks the server does not know: ['TR_bogus']",
                f"server has publications the client did not list: ['{publication.sid}']",
            ]

            # the same session, participant and publication on the server and on alice's side
            assert dev.rooms[ROOM].participants["alice"].session is session
            assert alice.local_participant.sid == sid and dev.rooms[ROOM].participants["alice"].sid == sid
            assert publication.sid in dev.rooms[ROOM].participants["alice"].tracks
            # bob: the same remote participant and track object, and the tone goes on on it
            assert bob.remote_participants["alice"] is remote_alice
            assert await tone_of(track) == pytest.approx(440, abs=10)
            # data both ways, and signalling both ways (alice mutes: bob sees it)
            await data_arrives(alice, to_bob, b"after resume, to bob")
            await data_arrives(bob, to_alice, b"after resume, to alice")
            local = publication.track
            assert isinstance(local, rtc.LocalAudioTrack)
            local.mute()
            await bob_log.wait("track_muted")
            assert not [n for _, n, _ in bob_log.events[mark:] if n in PEER_CHANGES], bob_log.events[mark:]
            assert "disconnected" not in alice_log.names()
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_signal_dropped_by_the_server_resumes_the_same_session(
    server: LiveKitServer, caplog: pytest.LogCaptureFixture
) -> None:
    await check_resume(server, "server", caplog)


async def test_the_sdks_signal_reconnect_resumes_the_same_session(
    server: LiveKitServer, caplog: pytest.LogCaptureFixture
) -> None:
    await check_resume(server, "sdk", caplog)


async def test_a_resume_is_told_the_last_reliable_packet_the_server_took(server: LiveKitServer) -> None:
    """ReconnectResponse.last_message_seq is the number of the last reliable packet the server took
    from the client (livekit-server's GetLastReliableSequence), so the SDK resends only what
    followed; it was always 0. Here the resume comes from a plain WebSocket with alice's sid."""
    alice, bob = rtc.Room(), rtc.Room()
    to_bob: list[bytes] = []
    bob.on("data_received", lambda pkt: to_bob.append(pkt.data))
    await server.connect("alice", ROOM, room_object=alice)
    await server.connect("bob", ROOM, room_object=bob)
    try:
        before = [f"before {i}".encode() for i in range(3)]
        for payload in before:
            await alice.local_participant.publish_data(payload, reliable=True)
        await wait_for(lambda: to_bob == before, 10.0, "alice's data at bob")
        token = server.token("alice", ROOM)
        url = f"{server.url}/rtc?reconnect=1&sid={alice.local_participant.sid}&access_token={token}"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            message = await asyncio.wait_for(ws.receive(), 10.0)
        response = proto.SignalResponse()
        response.ParseFromString(message.data)
        assert response.WhichOneof("message") == "reconnect"
        assert response.reconnect.last_message_seq == 3  # the SDK numbers reliable packets from 1
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_a_signal_sent_while_the_signalling_is_down_arrives_after_the_resume(server: LiveKitServer) -> None:
    """The client is frozen while its socket is down; the server asks it to mute its track
    (RoomService), a message only the signalling carries: once thawed, it resumes and mutes."""
    dev = server.embedded
    watcher = await server.connect("watcher", ROOM)
    log = EventLog(timeout=20.0)
    log.listen(watcher, "participant_connected", "participant_disconnected", "track_published")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.devserver.resume_client", server.url, server.token("frozen", ROOM),
        stdout=asyncio.subprocess.PIPE, cwd=os.getcwd(),
    )
    assert proc.stdout is not None
    stdout = proc.stdout

    async def line() -> str:
        return (await asyncio.wait_for(stdout.readline(), 20)).decode().strip()

    try:
        _, sid, track_sid = (await line()).split()
        await log.wait("track_published")
        mark = len(log.events)
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            await drop_signal(dev, ROOM, "frozen")
            session = dev.rooms[ROOM].participants["frozen"].session
            await wait_for(lambda: session.detached, 5.0, "the server to notice the drop")
            async with server.api() as lkapi:
                await lkapi.room.mute_published_track(
                    api.MuteRoomTrackRequest(room=ROOM, identity="frozen", track_sid=track_sid, muted=True)
                )
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        expected = {"reconnected", f"muted frozen {track_sid}"}
        seen: set[str] = set()
        for _ in range(10):  # in either order; the SDK may report the mute more than once
            seen.add(await line())
            if expected <= seen:
                break
        assert seen == expected
        assert dev.rooms[ROOM].participants["frozen"].session is session and not session.detached
        assert dev.rooms[ROOM].participants["frozen"].sid == sid
        assert not [n for _, n, _ in log.events[mark:] if n in PEER_CHANGES], log.events[mark:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await watcher.disconnect()


async def test_no_resume_within_the_grace_is_a_leave_and_a_late_resume_rejoins(dev_server: LiveKitServer) -> None:
    """The client is frozen while its signalling drops: after the grace (3 s here) it leaves for
    real; thawed, its resume is refused and the SDK joins again as a new participant."""
    watcher = await dev_server.connect("watcher", ROOM)
    log = EventLog(timeout=20.0)
    log.listen(watcher, "participant_connected", "participant_disconnected")
    try:
        async with participant_process(dev_server, "frozen", ROOM) as proc:
            ((joined,),) = await log.wait("participant_connected")
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                loop = asyncio.get_running_loop()
                dropped_at = loop.time()
                await drop_signal(dev_server.embedded, ROOM, "frozen")
                ((gone,),) = await log.wait("participant_disconnected")
                assert gone.sid == joined.sid and gone.disconnect_reason == rtc.DisconnectReason.SIGNAL_CLOSE
                assert loop.time() - dropped_at >= 2.5  # not before the grace
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            (again,) = (await log.wait("participant_connected", 2))[-1]
            assert again.identity == "frozen" and again.sid != joined.sid
    finally:
        await watcher.disconnect()


async def test_a_resume_of_an_unknown_session_is_answered_with_leave_reconnect(dev_server: LiveKitServer) -> None:
    """What makes the SDK fall back to a full reconnect: leave{action: RECONNECT} as the first message."""
    token = dev_server.token("ghost", ROOM)
    async with aiohttp.ClientSession() as http:
        url = f"{dev_server.url}/rtc?reconnect=1&sid=PA_unknown&access_token={token}"
        async with http.ws_connect(url) as ws:
            message = await asyncio.wait_for(ws.receive(), 10.0)
    response = proto.SignalResponse()
    response.ParseFromString(message.data)
    assert response.WhichOneof("message") == "leave"
    assert response.leave.action == proto.LeaveRequest.Action.RECONNECT


@contextlib.asynccontextmanager
async def alice_heard_by_bob(server: LiveKitServer) -> AsyncIterator[tuple[rtc.Room, rtc.LocalTrackPublication, EventLog]]:
    """alice publishes a 440 Hz tone that bob is subscribed to; bob's peer changes are logged."""
    alice, bob = rtc.Room(), rtc.Room()
    bob_log = EventLog(timeout=20.0)
    bob_log.listen(bob, *PEER_CHANGES)
    await server.connect("alice", ROOM, room_object=alice)
    await server.connect("bob", ROOM, room_object=bob)
    try:
        async with publish_tone(alice, 440) as publication:
            await bob_log.wait("track_subscribed")
            yield alice, publication, bob_log
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def sync_state(server: LiveKitServer, identity: str, state: proto.SyncState) -> SignalConnection:
    """``state`` handled by ``identity``'s session as if its client had sent it; that session."""
    session = server.embedded.rooms[ROOM].participants[identity].session
    assert isinstance(session, SignalConnection)
    await session._dispatch(proto.SignalRequest(sync_state=state).SerializeToString())
    return session


async def test_a_sync_state_listing_an_unknown_publication_asks_for_a_full_reconnect(dev_server: LiveKitServer) -> None:
    """livekit-server's Room.onSyncState: a publication the server does not know means the two sides
    cannot resume together; the client gets leave{RECONNECT} and joins again as a new participant,
    republishing its tracks (the others see it leave and come back)."""
    async with alice_heard_by_bob(dev_server) as (alice, publication, bob_log):
        old_sid = alice.local_participant.sid
        session = await sync_state(dev_server, "alice", proto.SyncState(publish_tracks=[
            proto.TrackPublishedResponse(cid="mic", track={"sid": publication.sid}),
            proto.TrackPublishedResponse(cid="lost", track={"sid": "TR_lost"}),
        ]))
        assert session.closed
        await bob_log.wait("participant_disconnected")
        await bob_log.wait("participant_connected")
        ((track, _, who),) = (await bob_log.wait("track_subscribed", 2))[1:]
        assert who.identity == "alice" and who.sid != old_sid
        assert await tone_of(track) == pytest.approx(440, abs=10)


async def test_a_sync_state_pauses_what_the_client_paused_and_applies_its_subscriptions(dev_server: LiveKitServer) -> None:
    """The tracks a resumed client lists as disabled are paused, and its subscription list is
    applied (with auto-subscribe, the SDKs list the tracks they unsubscribed from)."""
    async with alice_heard_by_bob(dev_server) as (_, publication, _):
        bob = dev_server.embedded.rooms[ROOM].participants["bob"].session
        assert isinstance(bob, SignalConnection)
        relay = bob.subscriptions[publication.sid].relay
        await sync_state(dev_server, "bob", proto.SyncState(track_sids_disabled=[publication.sid]))
        assert not relay.enabled
        unsubscribed = proto.UpdateSubscription(track_sids=[publication.sid], subscribe=False)
        await sync_state(dev_server, "bob", proto.SyncState(subscription=unsubscribed))
        assert publication.sid not in bob.subscriptions  # (the client believes so already: no event)
        assert not bob.closed
