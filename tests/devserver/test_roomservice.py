"""RoomService over Twirp, driven by the real livekit.api client (and raw HTTP for the wire details)."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from livekit import api, rtc
from livekit.protocol import models

from compat.devserver.testing import LiveKitServer, publish_tone
from tests.support import EventLog, wait_for


@pytest.fixture
async def lkapi(dev_server: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    async with dev_server.api() as client:
        yield client


def admin_token(server: LiveKitServer, **grants: Any) -> str:
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity("admin")
        .with_grants(api.VideoGrants(**grants))
        .with_ttl(datetime.timedelta(minutes=5))
        .to_jwt()
    )


async def twirp(
    server: LiveKitServer, method: str, body: Any, *, token: str | None = None, service: str = "RoomService"
) -> tuple[int, Any]:
    """A JSON Twirp call by hand: (HTTP status, decoded body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{server.http_url()}/twirp/livekit.{service}/{method}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.post(url, data=json.dumps(body), headers=headers) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


# ---- without participants ---------------------------------------------------------------------------


async def test_create_list_update_delete_room(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    room = await lkapi.room.create_room(
        api.CreateRoomRequest(name="made", empty_timeout=30, max_participants=3, metadata="m1")
    )
    assert (room.name, room.empty_timeout, room.max_participants, room.metadata) == ("made", 30, 3, "m1")
    assert room.sid.startswith("RM_") and room.creation_time > 0
    assert dev_server.embedded.rooms["made"].info.max_participants == 3

    again = await lkapi.room.create_room(api.CreateRoomRequest(name="made", metadata="m2"))
    assert again.sid == room.sid and again.metadata == "m2" and again.max_participants == 3

    await lkapi.room.create_room(api.CreateRoomRequest(name="other"))
    listed = await lkapi.room.list_rooms(api.ListRoomsRequest())
    assert sorted(r.name for r in listed.rooms) == ["made", "other"]
    only = await lkapi.room.list_rooms(api.ListRoomsRequest(names=["other", "missing"]))
    assert [r.name for r in only.rooms] == ["other"]

    updated = await lkapi.room.update_room_metadata(api.UpdateRoomMetadataRequest(room="made", metadata="m3"))
    assert updated.metadata == "m3"

    await lkapi.room.delete_room(api.DeleteRoomRequest(room="made"))
    listed = await lkapi.room.list_rooms(api.ListRoomsRequest())
    assert [r.name for r in listed.rooms] == ["other"]


async def test_created_room_closes_after_its_empty_timeout(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    await lkapi.room.create_room(api.CreateRoomRequest(name="brief", empty_timeout=1))
    assert "brief" in dev_server.embedded.rooms
    await wait_for(lambda: "brief" not in dev_server.embedded.rooms, 5.0, "the empty room to close")


async def test_not_found_errors(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as err:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room="nope"))
    assert (err.value.status, err.value.code, err.value.message) == (404, "not_found", "requested room does not exist")
    with pytest.raises(api.TwirpError) as err:
        await lkapi.room.update_room_metadata(api.UpdateRoomMetadataRequest(room="nope", metadata="x"))
    assert err.value.code == "not_found"
    await lkapi.room.create_room(api.CreateRoomRequest(name="here"))
    with pytest.raises(api.TwirpError) as err:
        await lkapi.room.get_participant(api.RoomParticipantIdentity(room="here", identity="ghost"))
    assert (err.value.status, err.value.code, err.value.message) == (404, "not_found", "participant does not exist")
    with pytest.raises(api.TwirpError) as err:
        await lkapi.room.remove_participant(api.RoomParticipantIdentity(room="here", identity="ghost"))
    assert err.value.code == "not_found"
    # LiveKit lists an unknown room as having nobody in it.
    empty = await lkapi.room.list_participants(api.ListParticipantsRequest(room="nope"))
    assert list(empty.participants) == []


# One call per RoomService method, and the grant LiveKit checks for it.
CALLS: dict[str, tuple[Callable[[api.LiveKitAPI], Awaitable[Any]], dict[str, Any]]] = {
    "CreateRoom": (lambda c: c.room.create_room(api.CreateRoomRequest(name="r")), {"room_create": True}),
    "ListRooms": (lambda c: c.room.list_rooms(api.ListRoomsRequest()), {"room_list": True}),
    "DeleteRoom": (lambda c: c.room.delete_room(api.DeleteRoomRequest(room="r")), {"room_create": True}),
    "ListParticipants": (
        lambda c: c.room.list_participants(api.ListParticipantsRequest(room="r")),
        {"room_admin": True, "room": "r"},
    ),
    "GetParticipant": (
        lambda c: c.room.get_participant(api.RoomParticipantIdentity(room="r", identity="a")),
        {"room_admin": True, "room": "r"},
    ),
    "RemoveParticipant": (
        lambda c: c.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="a")),
        {"room_admin": True, "room": "r"},
    ),
    "MutePublishedTrack": (
        lambda c: c.room.mute_published_track(api.MuteRoomTrackRequest(room="r", identity="a", track_sid="TR_x", muted=True)),
        {"room_admin": True, "room": "r"},
    ),
    "UpdateParticipant": (
        lambda c: c.room.update_participant(api.UpdateParticipantRequest(room="r", identity="a", metadata="x")),
        {"room_admin": True, "room": "r"},
    ),
    "UpdateSubscriptions": (
        lambda c: c.room.update_subscriptions(api.UpdateSubscriptionsRequest(room="r", identity="a", track_sids=["TR_x"])),
        {"room_admin": True, "room": "r"},
    ),
    "SendData": (
        lambda c: c.room.send_data(api.SendDataRequest(room="r", data=b"x", kind=models.DataPacket.Kind.RELIABLE)),
        {"room_admin": True, "room": "r"},
    ),
    "UpdateRoomMetadata": (
        lambda c: c.room.update_room_metadata(api.UpdateRoomMetadataRequest(room="r", metadata="x")),
        {"room_admin": True, "room": "r"},
    ),
}

# Tokens that lack what each call needs: no grant at all, the other grants, admin of another room.
WRONG_GRANTS: list[dict[str, Any]] = [
    {},
    {"room_join": True, "room": "r"},
    {"room_list": True, "room_record": True},
    {"room_admin": True, "room": "elsewhere"},
]


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_each_method_refuses_a_token_without_its_grant(
    dev_server: LiveKitServer, lkapi: api.LiveKitAPI, method: str
) -> None:
    call, needed = CALLS[method]
    await lkapi.room.create_room(api.CreateRoomRequest(name="r"))
    for grants in WRONG_GRANTS:
        if all(grants.get(k) == v for k, v in needed.items()):
            continue
        client = api.LiveKitAPI.with_token(admin_token(dev_server, **grants), dev_server.url)
        try:
            with pytest.raises(api.TwirpError) as err:
                await call(client)
        finally:
            await client.aclose()
        assert (err.value.status, err.value.code, err.value.message) == (401, "unauthenticated", "permissions denied"), grants
    # With exactly the grant it needs, the call is authorized (it may still find nothing).
    client = api.LiveKitAPI.with_token(admin_token(dev_server, **needed), dev_server.url)
    try:
        try:
            await call(client)
        except api.TwirpError as exc:
            assert exc.code != "unauthenticated"
    finally:
        await client.aclose()


async def test_no_token_is_a_permission_error_and_a_bad_token_a_plain_401(dev_server: LiveKitServer) -> None:
    status, body = await twirp(dev_server, "ListRooms", {})
    assert (status, body) == (401, {"code": "unauthenticated", "msg": "permissions denied"})
    status, body = await twirp(dev_server, "ListRooms", {}, token="not.a.jwt")
    assert status == 401 and isinstance(body, str) and body.startswith("invalid authorization token")
    wrong_secret = api.AccessToken(dev_server.api_key, "another-secret-that-is-long-enough").with_grants(
        api.VideoGrants(room_list=True)
    )
    status, body = await twirp(dev_server, "ListRooms", {}, token=wrong_secret.to_jwt())
    assert status == 401 and "invalid authorization token" in body
    unknown_key = api.AccessToken("nokey", "secret").with_grants(api.VideoGrants(room_list=True))
    status, body = await twirp(dev_server, "ListRooms", {}, token=unknown_key.to_jwt())
    assert (status, body) == (401, "invalid API key")


async def test_json_bodies_and_twirp_route_errors(dev_server: LiveKitServer) -> None:
    token = admin_token(dev_server, room_create=True, room_list=True)
    status, body = await twirp(dev_server, "CreateRoom", {"name": "j", "max_participants": 4}, token=token)
    assert status == 200 and body["name"] == "j" and body["max_participants"] == 4
    status, body = await twirp(dev_server, "ListRooms", {}, token=token)
    assert status == 200 and [r["name"] for r in body["rooms"]] == ["j"]
    status, body = await twirp(dev_server, "NoSuchMethod", {}, token=token)
    assert status == 404 and body["code"] == "bad_route"
    status, body = await twirp(dev_server, "ListRooms", {}, token=token, service="NoService")
    assert status == 404 and body["code"] == "bad_route"
    async with aiohttp.ClientSession() as session:
        url = f"{dev_server.http_url()}/twirp/livekit.RoomService/ListRooms"
        async with session.post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "malformed"
        async with session.post(url, data=b"\xff\xff\xff", headers={"Content-Type": "application/protobuf"}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "malformed"
        async with session.post(url, data=b"{}", headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == "bad_route"
        async with session.get(url) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == "bad_route"


async def test_metadata_limits_are_invalid_argument(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as err:
        await lkapi.room.create_room(api.CreateRoomRequest(name="big", metadata="x" * 70000))
    assert (err.value.status, err.value.code) == (400, "invalid_argument")


# ---- with participants ------------------------------------------------------------------------------


@pytest.mark.media
async def test_list_get_and_update_participants(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    a = await dev_server.connect("a", "r", name="Alice", metadata="m")
    b = await dev_server.connect("b", "r")
    log_a, log_b = EventLog(), EventLog()
    log_b.listen(b, "participant_name_changed", "participant_metadata_changed", "participant_attributes_changed",
                 "room_metadata_changed")
    log_a.listen(a, "participant_permissions_changed")
    try:
        listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room="r"))
        assert sorted(p.identity for p in listed.participants) == ["a", "b"]
        got = await lkapi.room.get_participant(api.RoomParticipantIdentity(room="r", identity="a"))
        assert (got.identity, got.name, got.metadata, got.sid) == ("a", "Alice", "m", a.local_participant.sid)

        info = await lkapi.room.update_participant(
            api.UpdateParticipantRequest(room="r", identity="a", name="Alicia", metadata="m2", attributes={"k": "v"})
        )
        assert (info.name, info.metadata, dict(info.attributes)) == ("Alicia", "m2", {"k": "v"})
        await log_b.wait("participant_name_changed")
        await log_b.wait("participant_metadata_changed")
        await log_b.wait("participant_attributes_changed")
        remote_a = b.remote_participants["a"]
        assert (remote_a.name, remote_a.metadata, remote_a.attributes) == ("Alicia", "m2", {"k": "v"})

        await lkapi.room.update_room_metadata(api.UpdateRoomMetadataRequest(room="r", metadata="room-meta"))
        await log_b.wait("room_metadata_changed")
        assert b.metadata == "room-meta"

        # A permission change reaches the live connection.
        await lkapi.room.update_participant(
            api.UpdateParticipantRequest(
                room="r",
                identity="a",
                permission=models.ParticipantPermission(can_publish=False, can_subscribe=True, can_publish_data=False),
            )
        )
        await log_a.wait("participant_permissions_changed")
        assert a.local_participant.permissions is not None
        assert a.local_participant.permissions.can_publish is False
        assert a.local_participant.permissions.can_publish_data is False
        server_side = dev_server.embedded.rooms["r"].participants["a"].info.permission
        assert not server_side.can_publish and not server_side.can_publish_data
    finally:
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_revoking_publish_unpublishes_and_revoking_subscribe_unsubscribes(
    dev_server: LiveKitServer, lkapi: api.LiveKitAPI
) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "track_subscribed", "track_unsubscribed", "track_unpublished")
    try:
        async with publish_tone(a, 440):
            await log_b.wait("track_subscribed")
            await lkapi.room.update_participant(
                api.UpdateParticipantRequest(
                    room="r", identity="b", permission=models.ParticipantPermission(can_subscribe=False, can_publish=True)
                )
            )
            # livekit.rtc has no event for a server-side unsubscription (it ignores onRemoveTrack): check the server.
            session_b = dev_server.embedded.rooms["r"].participants["b"].session
            await wait_for(lambda: not session_b.subscriptions, 5.0, "b's subscriptions to be dropped")
            # Subscribing again is allowed once the permission returns (auto-subscribe resumes).
            await lkapi.room.update_participant(
                api.UpdateParticipantRequest(
                    room="r", identity="b", permission=models.ParticipantPermission(can_subscribe=True, can_publish=True)
                )
            )
            await log_b.wait("track_subscribed", 2)

            await lkapi.room.update_participant(
                api.UpdateParticipantRequest(
                    room="r", identity="a", permission=models.ParticipantPermission(can_subscribe=True, can_publish=False)
                )
            )
            await log_b.wait("track_unpublished")
            assert not dev_server.embedded.rooms["r"].participants["a"].tracks
    finally:
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_mute_published_track(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "track_subscribed", "track_muted")
    try:
        async with publish_tone(a, 440) as publication:
            await log_b.wait("track_subscribed")
            res = await lkapi.room.mute_published_track(
                api.MuteRoomTrackRequest(room="r", identity="a", track_sid=publication.sid, muted=True)
            )
            assert res.track.sid == publication.sid and res.track.muted
            await log_b.wait("track_muted")
            await wait_for(lambda: publication.muted, 5.0, "the publisher's own track to be muted")
            # Remote unmute is off (LiveKit's default): failed_precondition.
            with pytest.raises(api.TwirpError) as err:
                await lkapi.room.mute_published_track(
                    api.MuteRoomTrackRequest(room="r", identity="a", track_sid=publication.sid, muted=False)
                )
            assert (err.value.status, err.value.code, err.value.message) == (
                412, "failed_precondition", "remote unmute not enabled")
            # An unknown track answers without a track, as LiveKit does.
            none = await lkapi.room.mute_published_track(
                api.MuteRoomTrackRequest(room="r", identity="a", track_sid="TR_unknown", muted=True)
            )
            assert not none.HasField("track")
    finally:
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_update_subscriptions(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "track_subscribed", "track_unsubscribed")
    try:
        async with publish_tone(a, 440) as publication:
            await log_b.wait("track_subscribed")
            await lkapi.room.update_subscriptions(
                api.UpdateSubscriptionsRequest(room="r", identity="b", track_sids=[publication.sid], subscribe=False)
            )
            session_b = dev_server.embedded.rooms["r"].participants["b"].session
            await wait_for(lambda: not session_b.subscriptions, 5.0, "b's subscription to be dropped")
            await lkapi.room.update_subscriptions(
                api.UpdateSubscriptionsRequest(
                    room="r",
                    identity="b",
                    participant_tracks=[models.ParticipantTracks(participant_sid=a.local_participant.sid,
                                                                 track_sids=[publication.sid])],
                    subscribe=True,
                )
            )
            await log_b.wait("track_subscribed", 2)
    finally:
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_send_data_to_all_and_to_identities(dev_server: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    got: dict[str, list[rtc.DataPacket]] = {"a": [], "b": []}
    a.on("data_received", got["a"].append)
    b.on("data_received", got["b"].append)
    try:
        await lkapi.room.send_data(
            api.SendDataRequest(room="r", data=b"everyone", kind=models.DataPacket.Kind.RELIABLE, topic="news")
        )
        await lkapi.room.send_data(
            api.SendDataRequest(room="r", data=b"just-b", kind=models.DataPacket.Kind.RELIABLE,
                                destination_identities=["b"])
        )
        await lkapi.room.send_data(  # addressed to someone absent: nobody gets it
            api.SendDataRequest(room="r", data=b"ghost", kind=models.DataPacket.Kind.RELIABLE,
                                destination_identities=["ghost"])
        )
        await wait_for(lambda: len(got["b"]) == 2 and len(got["a"]) == 1, 10.0, "data packets")
        await asyncio.sleep(0.3)  # nothing else shows up at a
        assert [(p.data, p.topic, p.participant) for p in got["a"]] == [(b"everyone", "news", None)]
        assert sorted(p.data for p in got["b"]) == [b"everyone", b"just-b"]
        assert [p.topic or "" for p in got["b"] if p.data == b"just-b"] == [""]
        with pytest.raises(api.TwirpError) as err:
            await lkapi.room.send_data(api.SendDataRequest(room="gone", data=b"x"))
        assert err.value.code == "not_found"
    finally:
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
async def test_remove_participant_and_delete_room_disconnect_with_their_reasons(
    dev_server: LiveKitServer, lkapi: api.LiveKitAPI
) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    c = await dev_server.connect("c", "r")
    log_a, log_b, log_c = EventLog(), EventLog(), EventLog()
    log_a.listen(a, "disconnected")
    log_b.listen(b, "disconnected", "participant_disconnected")
    log_c.listen(c, "disconnected")
    try:
        await lkapi.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="a"))
        ((reason,),) = await log_a.wait("disconnected")
        assert reason == models.DisconnectReason.PARTICIPANT_REMOVED
        await log_b.wait("participant_disconnected")
        await lkapi.room.delete_room(api.DeleteRoomRequest(room="r"))
        ((reason_b,),) = await log_b.wait("disconnected")
        ((reason_c,),) = await log_c.wait("disconnected")
        assert reason_b == reason_c == models.DisconnectReason.ROOM_DELETED
        assert "r" not in dev_server.embedded.rooms
    finally:
        for room in (a, b, c):
            await room.disconnect()


@pytest.mark.media
async def test_a_participant_token_with_room_admin_moderates_its_own_room_only(dev_server: LiveKitServer) -> None:
    """What an OpenTok moderator does: RoomService called with its own join token (roomAdmin for
    its room), no API secret."""
    token = dev_server.token("mod", "r", room_admin=True)
    mod = await dev_server.connect("mod", "r", room_admin=True)
    a = await dev_server.connect("a", "r")
    log_a = EventLog()
    log_a.listen(a, "disconnected")
    client = api.LiveKitAPI.with_token(token, dev_server.url)
    plain = api.LiveKitAPI.with_token(dev_server.token("a", "r"), dev_server.url)
    try:
        listed = await client.room.list_participants(api.ListParticipantsRequest(room="r"))
        assert {p.identity for p in listed.participants} == {"mod", "a"}
        with pytest.raises(api.TwirpError) as elsewhere:
            await client.room.list_participants(api.ListParticipantsRequest(room="other"))
        assert elsewhere.value.code == "unauthenticated"
        with pytest.raises(api.TwirpError) as not_admin:
            await plain.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="mod"))
        assert not_admin.value.code == "unauthenticated"
        await client.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="a"))
        ((reason,),) = await log_a.wait("disconnected")
        assert reason == models.DisconnectReason.PARTICIPANT_REMOVED
    finally:
        await client.aclose()
        await plain.aclose()
        await a.disconnect()
        await mod.disconnect()
