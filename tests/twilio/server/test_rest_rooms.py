"""The REST port against the dev server through livekit-api: rooms, errors, SIDs, the sync bridge."""

from __future__ import annotations

import asyncio
import re

import pytest

from compat.devserver.testing import LiveKitServer
from compat.twilio_video.rest import Client, TwilioRestException
from compat.twilio_video.rest.sids import same, to_livekit, to_twilio

ACCOUNT = "AC" + "b" * 32


def client_for(server: LiveKitServer) -> Client:
    return Client(server.api_key, server.api_secret, ACCOUNT, livekit_url=server.url, timeout=10)


def test_sids_are_twilio_shaped_stable_and_reversible() -> None:
    sid = to_twilio("RM", "RM_4f9XkQ2bLm1a")
    assert re.fullmatch(r"RM[0-9a-f]{32}", sid)
    assert sid == to_twilio("RM", "RM_4f9XkQ2bLm1a")
    assert to_livekit(sid) == "RM_4f9XkQ2bLm1a"
    assert to_livekit(to_twilio("MT", "TR_abc")) == "TR_abc"
    assert to_livekit(to_twilio("CJ", "EG_abc")) == "EG_abc"
    long = to_twilio("PA", "PA_" + "x" * 40)
    assert re.fullmatch(r"PA[0-9a-f]{32}", long) and to_livekit(long) is None and same("PA", long, "PA_" + "x" * 40)
    assert to_livekit("RM" + "0" * 32) == "RM_"
    assert to_livekit("RMnot-a-sid") is None


async def test_room_lifecycle(lk_server: LiveKitServer) -> None:
    rooms = client_for(lk_server).video.v1.rooms
    room = await asyncio.to_thread(rooms.create, unique_name="visit-1", status_callback="https://example.test/cb",
                                   max_participants=10, empty_room_timeout=2)
    assert re.fullmatch(r"RM[0-9a-f]{32}", room.sid) and room.unique_name == "visit-1"
    assert (room.status, room.account_sid, room.type, room.max_participants) == ("in-progress", ACCOUNT, "group", 10)
    assert room.status_callback == "https://example.test/cb" and room.status_callback_method == "POST"
    assert room.empty_room_timeout == 2 and room.unused_room_timeout == 5 and room.date_created is not None
    assert room.url.endswith(f"/v1/Rooms/{room.sid}") and room.end_time is None
    lk_sid = to_livekit(room.sid)
    for key in (room.sid, "visit-1", lk_sid):
        assert key is not None
        fetched = await asyncio.to_thread(rooms(key).fetch)
        assert fetched.sid == room.sid and fetched.unique_name == "visit-1"
    listed = await asyncio.to_thread(rooms.list)
    assert [r.sid for r in listed] == [room.sid]
    ended = await rooms(room.sid).update_async(status="completed")
    assert ended.status == "completed" and ended.end_time is not None and ended.duration is not None
    assert (await rooms(room.sid).fetch_async()).status == "completed"
    assert [r.sid for r in await rooms.list_async(status="completed")] == [room.sid]
    assert await rooms.list_async() == []
    with pytest.raises(TwilioRestException) as info:
        await rooms(room.sid).update_async(status="completed")
    assert (info.value.status, info.value.code) == (400, 53112)


async def test_errors_are_twilio_errors_and_nothing_reaches_livekit_half_done(lk_server: LiveKitServer) -> None:
    rooms = client_for(lk_server).video.v1.rooms
    with pytest.raises(TwilioRestException) as info:
        await rooms("RM" + "a" * 32).fetch_async()
    exc = info.value
    assert (exc.status, exc.code, exc.method, exc.uri) == (404, 20404, "GET", "/Rooms/RM" + "a" * 32)
    assert exc.msg == f"Unable to fetch record: The requested resource /Rooms/RM{'a' * 32} was not found"
    with pytest.raises(TwilioRestException) as info:
        await rooms("nowhere").update_async(status="completed")
    assert info.value.code == 20404
    for kwargs, code in (({"type": "huge"}, 53108), ({"status_callback_method": "PUT"}, 53110),
                         ({"status_callback": "ftp://x"}, 53111), ({"max_participants": 51}, 53107),
                         ({"empty_room_timeout": 0}, 53109), ({"video_codecs": ["AV1"]}, 53114),
                         ({"recording_rules": [{"type": "maybe", "all": True}]}, None)):
        with pytest.raises(TwilioRestException) as info:
            await rooms.create_async(unique_name="bad", **kwargs)
        assert (info.value.status, info.value.code) == (400, code), kwargs
    assert await rooms.list_async() == []  # none of them created a room
    await rooms.create_async(unique_name="dup")
    with pytest.raises(TwilioRestException) as info:
        await rooms.create_async(unique_name="dup")
    assert (info.value.status, info.value.code) == (400, 53113)
    with pytest.raises(TwilioRestException) as info:
        await rooms("dup").update_async(status="in-progress")
    assert (info.value.status, info.value.code) == (400, 53112)
    assert [r.status for r in await rooms.list_async()] == ["in-progress"]  # still there


async def test_a_blocking_call_inside_a_running_loop_names_the_async_twin(lk_server: LiveKitServer) -> None:
    rooms = client_for(lk_server).video.v1.rooms
    with pytest.raises(RuntimeError, match=r"fetch_async"):
        rooms("x").fetch()
    with pytest.raises(RuntimeError, match=r"create_async"):
        rooms.create(unique_name="x")


def test_credentials_and_url_are_required() -> None:
    with pytest.raises(Exception, match="LIVEKIT_API_KEY"):
        Client(environment={})
    with pytest.raises(Exception, match="LIVEKIT_URL"):
        Client("k", "s", environment={})


async def test_an_unreachable_server_is_a_503_that_says_where(unused_tcp_port: int) -> None:
    client = Client("k", "s", ACCOUNT, livekit_url=f"ws://127.0.0.1:{unused_tcp_port}", timeout=5)
    with pytest.raises(TwilioRestException, match="cannot reach the LiveKit server") as info:
        await client.video.v1.rooms.list_async()
    assert info.value.status == 503
