"""End-to-end error mappings the dev server can produce."""

from __future__ import annotations

import pytest
from livekit import api

from compat import twilio_video as Video
from compat.devserver.testing import LiveKitServer
from tests.support import EXTERNAL, EventLog
from tests.twilio.helpers import ROOM_EVENTS, close, twilio_connect

pytestmark = pytest.mark.media


async def test_duplicate_identity_kick_gives_53205(lk_server: LiveKitServer) -> None:
    first = await twilio_connect(lk_server, "bot", "e1")
    trace = EventLog(timeout=15.0)
    trace.listen(first, *ROOM_EVENTS)
    trace.listen(first.localParticipant, "disconnected", label="lp")
    second = await twilio_connect(lk_server, "bot", "e1")
    try:
        ((room, error),) = await trace.wait("disconnected")
        assert room is first and first.state == "disconnected"
        assert isinstance(error, Video.ParticipantDuplicateIdentityError) and error.code == 53205
        assert trace.names("lp") == ["disconnected"]
        await first.wait_closed()
        assert first._session.open_resources() == 0
        assert second.state == "connected"
    finally:
        await close(second)
        await close(first)


async def test_wrong_secret_gives_20107(lk_server: LiveKitServer) -> None:
    bad = LiveKitServer(lk_server.url, lk_server.api_key, "not-the-secret-" * 3)
    with pytest.raises(Video.AccessTokenSignatureInvalidError) as info:
        await Video.connect(bad.token("bot", "e2"), url=lk_server.url, name="e2")
    assert info.value.code == 20107


async def test_unknown_api_key_gives_20103(lk_server: LiveKitServer) -> None:
    bad = LiveKitServer(lk_server.url, "APIunknown", lk_server.api_secret)
    with pytest.raises(Video.AccessTokenIssuerInvalidError):
        await Video.connect(bad.token("bot", "e3"), url=lk_server.url, name="e3")


async def test_token_without_join_grant_gives_20106(lk_server: LiveKitServer) -> None:
    with pytest.raises(Video.AccessTokenGrantsInvalidError):
        await Video.connect(lk_server.token("bot", "e4", room_join=False), url=lk_server.url)


async def test_room_deleted_gives_53118_and_kick_gives_none(lk_server: LiveKitServer) -> None:
    deleted = await twilio_connect(lk_server, "a", "e5")
    kicked = await twilio_connect(lk_server, "b", "e6")
    t1, t2 = EventLog(timeout=15.0), EventLog(timeout=15.0)
    t1.listen(deleted, *ROOM_EVENTS)
    t2.listen(kicked, *ROOM_EVENTS)
    lkapi = api.LiveKitAPI(lk_server.http_url(), lk_server.api_key, lk_server.api_secret)
    try:
        await lkapi.room.remove_participant(api.RoomParticipantIdentity(room="e6", identity="b"))
        ((_, error),) = await t2.wait("disconnected")
        assert error is None
        await lkapi.room.delete_room(api.DeleteRoomRequest(room="e5"))
        ((_, error),) = await t1.wait("disconnected")
        assert isinstance(error, Video.RoomCompletedError) and error.code == 53118
    finally:
        await lkapi.aclose()
        await close(deleted)
        await close(kicked)


@pytest.mark.skipif(EXTERNAL, reason="needs an embedded dev server with a participant limit")
async def test_room_full_gives_53105() -> None:
    from compat.devserver import DevServer

    async with DevServer(host="127.0.0.1", port=0, max_participants=1) as server:
        srv = LiveKitServer(server.url, server.api_key, server.api_secret, server)
        first = await twilio_connect(srv, "one", "small")
        try:
            with pytest.raises(Video.RoomMaxParticipantsExceededError) as info:
                await twilio_connect(srv, "two", "small")
            assert info.value.code == 53105
        finally:
            await close(first)
