"""Fixtures of the dev server's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack
from livekit.protocol import models

from compat.devserver import DevServer
from compat.devserver.aiortc_internals import close_peer_connection
from compat.devserver.auth import VideoGrant
from compat.devserver.media import TrackForwarder
from compat.devserver.room import Participant, Room, RoomManager
from compat.devserver.testing import LiveKitServer


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    """A room of the dev server's model alone, no server: tests of its rules add participants
    with ``add_participant`` and stand-in links."""
    manager = RoomManager(empty_timeout=60, departure_timeout=20, max_participants=0)
    room = manager.get_or_create("r")
    yield room
    room.participants.clear()  # their links cannot be kicked
    await room.close(models.DisconnectReason.ROOM_DELETED)


def add_participant(room: Room, identity: str, link: object) -> Participant:
    """A participant of ``room`` whose connection is ``link`` (a stand-in with only the calls the
    rule under test makes). Not Room.add: no ticker, the test ticks."""
    participant = Participant(room, identity, VideoGrant(room_join=True, room="r"), name="", metadata="",
                              attributes={}, auto_subscribe=True)
    participant.session = link  # type: ignore[assignment]
    room.participants[identity] = participant
    return participant


@pytest.fixture
async def decode_server() -> AsyncIterator[LiveKitServer]:
    """The embedded dev server relaying as before encoded forwarding: decode, then encode per subscriber."""
    async with DevServer(host="127.0.0.1", port=0, empty_timeout=1.0, departure_timeout=1.0, relay="decode") as server:
        yield LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)


@pytest.fixture
async def pcs() -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection]]:
    """Two aiortc PeerConnections, closed after the test (tests of the dev server's aiortc internals);
    each close is bounded, so that a test breaking aiortc's close fails instead of hanging the suite."""
    config = RTCConfiguration(iceServers=[])  # no STUN: nothing leaves the machine
    offerer, answerer = RTCPeerConnection(config), RTCPeerConnection(config)
    try:
        yield offerer, answerer
    finally:
        closed = [await close_peer_connection(pc, timeout=10) for pc in (offerer, answerer)]
        assert all(closed), "a PeerConnection did not close within 10 s"


@pytest.fixture
async def simulcast_forwarder() -> AsyncIterator[TrackForwarder]:
    """A forwarder of VP8 simulcast layers f, h, q on a real (unconnected) aiortc receiver; the
    tests feed it frames themselves."""
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    try:
        yield TrackForwarder(VideoStreamTrack(), "cam", receiver=receiver, mime_type="video/VP8", rids=["f", "h", "q"])
    finally:
        await pc.close()
