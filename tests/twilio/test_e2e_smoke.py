"""End-to-end: the Twilio model on the dev server with real rtc participants as the remote side."""

from __future__ import annotations

import pytest

from tests.media import publish_tone
from tests.support import LiveKitServer
from tests.twilio.helpers import ROOM_EVENTS, Trace, close, twilio_connect

pytestmark = pytest.mark.media


async def test_connect_sees_present_participant_without_events(lk_server: LiveKitServer) -> None:
    remote = await lk_server.connect("alice", "r1")
    try:
        async with publish_tone(remote, 440):
            room = await twilio_connect(lk_server, "bot", "r1")
            trace = Trace()
            trace.watch(room, "room", ROOM_EVENTS)
            try:
                assert room.state == "connected"
                assert room.name == "r1"
                assert room.localParticipant.identity == "bot"
                (alice,) = room.participants.values()
                assert alice.identity == "alice"
                (pub,) = alice.tracks.values()
                assert pub.trackName == "mic" and pub.kind == "audio"
                ((track, pub2, p),) = await trace.wait("trackSubscribed")
                assert pub2 is pub and p is alice and pub.track is track
                assert "participantConnected" not in trace.names()
                assert "trackPublished" not in trace.names()
            finally:
                await close(room)
            assert room._session.open_resources() == 0
    finally:
        await remote.disconnect()
