"""Fixtures of the dev server's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack

from compat.devserver import DevServer
from compat.devserver.aiortc_internals import close_peer_connection
from compat.devserver.media import TrackForwarder
from compat.devserver.testing import LiveKitServer


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
