"""Roles and moderation against a ScriptedSession (§1.3 force*, §1.4.9, §1.10)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from compat import core as C
from compat import vonage as OT
from compat.vonage.moderation import ForceUnpublishNotice, MuteForcedNotice, decode_notice, encode_notice
from tests.vonage.helpers import PUBLISHER_EVENTS, Recorder, connected, info, snapshot, spin, track

ALICE = C.ParticipantState(info("alice", role="publisher"), (track("TR_am", "audio", "microphone"), track("TR_av", "video", "camera")))
MOD = C.ParticipantState(info("mod", role="moderator"), ())


def test_notice_format_round_trip() -> None:
    n = ForceUnpublishNotice("PA_a", "PA_a-camera")
    assert json.loads(encode_notice(n)) == {"v": 1, "op": "forceUnpublish", "connectionId": "PA_a", "streamId": "PA_a-camera"}
    assert decode_notice(encode_notice(n)) == n
    m = MuteForcedNotice(True, ("s1",))
    assert decode_notice(encode_notice(m)) == m
    assert decode_notice(b"nope") is None and decode_notice(b'{"op":"muteForced"}') is None


@pytest.mark.parametrize(
    ("call", "code"),
    [("forceDisconnect", 1520), ("forceUnpublish", 1530), ("forceMuteStream", 1540), ("forceMuteAll", 1540), ("disableForceMute", 1540)],
)
async def test_non_moderators_are_refused_locally(call: str, code: int) -> None:
    session, core = await connected(snapshot(ALICE), role="publisher")
    stream = session.streams.get("PA_alice-camera")
    assert stream is not None
    args = {"forceDisconnect": (stream.connection,), "forceUnpublish": (stream,), "forceMuteStream": (stream,)}.get(call, ())
    method = getattr(session, call)
    with pytest.raises(OT.OTError) as denied:
        await method(*args)
    assert (denied.value.name, denied.value.code) == ("OT_PERMISSION_DENIED", code)
    assert not [n for n, _ in core.calls if n in ("remove_participant", "update_permissions", "mute_remote_track")]


async def test_not_connected_is_1010() -> None:
    session = OT.Session("devkey", "room")
    for method, args in ((session.forceDisconnect, ("x",)), (session.forceMuteAll, ()), (session.disableForceMute, ())):
        with pytest.raises(OT.OTError) as nc:
            await method(*args)
        assert nc.value.code == 1010


async def test_force_disconnect_calls_remove_participant_and_maps_failures() -> None:
    session, core = await connected(snapshot(ALICE), role="moderator")
    conn = session.connections.get("PA_alice")
    handler: list[Any] = []
    await session.forceDisconnect(conn, handler.append)
    assert handler == [None] and ("remove_participant", ("alice",)) in core.calls
    await session.forceDisconnect("PA_alice")
    with pytest.raises(OT.OTError) as unknown:
        await session.forceDisconnect("PA_nobody")
    assert unknown.value.code == 1011
    for reason, expected in (("permission_denied", 1520), ("not_found", 1011), ("failed", 2001)):
        failing, _ = await connected(snapshot(ALICE), role="moderator", moderation_error=reason)
        with pytest.raises(OT.OTError) as e:
            await failing.forceDisconnect("PA_alice")
        assert e.value.code == expected


async def test_force_unpublish_sends_notice_revokes_and_restores() -> None:
    session, core = await connected(snapshot(ALICE), role="moderator")
    stream = session.streams.get("PA_alice-camera")
    reasons: list[str] = []
    session.on("streamDestroyed", lambda e: reasons.append(e.reason))
    task = asyncio.ensure_future(session.forceUnpublish(stream))
    await spin()
    notice = core.sent_to[0]
    assert notice[1] == OT.MODERATION_TOPIC and decode_notice(notice[0]) == ForceUnpublishNotice("PA_alice", "PA_alice-camera")
    core.feed(C.TrackUnpublished("alice", "TR_am"), C.TrackUnpublished("alice", "TR_av"))
    await task
    perms = [a[1] for n, a in core.calls if n == "update_permissions"]
    assert [p.can_publish for p in perms] == [False, True] and not perms[0].room_admin
    assert reasons == ["forceUnpublished"]


async def test_force_unpublish_errors() -> None:
    session, _ = await connected(snapshot(ALICE), role="moderator")
    with pytest.raises(OT.OTError) as bad:
        await session.forceUnpublish(None)
    assert bad.value.code == 1011
    stream = session.streams.get("PA_alice-camera")
    failing, _ = await connected(snapshot(ALICE), role="moderator", moderation_error="permission_denied")
    with pytest.raises(OT.OTError) as denied:
        await failing.forceUnpublish(failing.streams.get("PA_alice-camera"))
    assert denied.value.code == 1530
    other, _ = await connected(role="moderator")
    with pytest.raises(OT.OTError) as missing:
        await other.forceUnpublish(stream)
    assert (missing.value.name, missing.value.code) == ("OT_NOT_FOUND", 1535)


async def test_remote_clients_learn_force_unpublished_from_the_notice() -> None:
    session, core = await connected(snapshot(ALICE, MOD))
    reasons: list[str] = []
    session.on("streamDestroyed", lambda e: reasons.append(e.reason))
    core.feed(C.DataReceived("mod", encode_notice(ForceUnpublishNotice("PA_alice", "PA_alice-camera")), OT.MODERATION_TOPIC))
    core.feed(C.TrackUnpublished("alice", "TR_am"), C.TrackUnpublished("alice", "TR_av"))
    assert reasons == ["forceUnpublished"]


async def test_notices_from_non_moderators_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    session, core = await connected(snapshot(ALICE))
    reasons: list[str] = []
    session.on("streamDestroyed", lambda e: reasons.append(e.reason))
    core.feed(C.DataReceived("alice", encode_notice(ForceUnpublishNotice("PA_alice", "PA_alice-camera")), OT.MODERATION_TOPIC))
    core.feed(C.TrackUnpublished("alice", "TR_am"), C.TrackUnpublished("alice", "TR_av"))
    assert reasons == ["clientDisconnected"] and "may not moderate" in caplog.text


async def test_target_publisher_sees_force_unpublished_when_publishing_is_revoked() -> None:
    session, core = await connected()
    rec = Recorder()
    publisher = await session.publish({"name": "bot"})
    assert publisher is not None
    rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
    core.feed(C.PermissionsChanged("me", C.Permissions(can_publish=False), True))
    assert rec.events == [("publisher", "streamDestroyed", ("PA_me-camera", "forceUnpublished")), ("publisher", "destroyed", None)]
    assert session.capabilities.publish == 0
    core.feed(C.PermissionsChanged("me", C.Permissions(), True))
    assert session.capabilities.publish == 1


async def test_force_mute_stream_remote_and_target_publisher() -> None:
    session, core = await connected(snapshot(ALICE), role="moderator")
    await session.forceMuteStream(session.streams.get("PA_alice-camera"))
    assert ("mute_remote_track", ("alice", "TR_am", True)) in core.calls
    target, tcore = await connected()
    rec = Recorder()
    publisher = await target.publish({"name": "bot"})
    assert publisher is not None and publisher.stream is not None
    rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
    sid = publisher.stream.audio_track_sid
    assert sid is not None
    tcore.feed(C.LocalTrackMuted(sid, True), C.LocalTrackMuted(sid, True))
    assert rec.events == [("publisher", "muteForced", None)]
    assert not publisher.stream.hasAudio
    expected = (("permission_denied", "OT_PERMISSION_DENIED"), ("not_found", "OT_NOT_FOUND"), ("failed", "OT_UNEXPECTED_SERVER_RESPONSE"))
    for reason, name in expected:
        failing, _ = await connected(snapshot(ALICE), role="moderator", moderation_error=reason)
        with pytest.raises(OT.OTError) as e:
            await failing.forceMuteStream(failing.streams.get("PA_alice-camera"))
        assert e.value.name == name


async def test_force_mute_all_and_later_streams_until_disabled() -> None:
    bob = C.ParticipantState(info("bob"), (track("TR_bm", "audio", "microphone"),))
    session, core = await connected(snapshot(ALICE, bob), role="moderator")
    own = await session.publish({"name": "mod"})
    assert own is not None
    rec = Recorder()
    rec.listen(session, ("muteForced",), "session")
    rec.listen(own, ("muteForced",), "publisher")
    await session.forceMuteAll([session.streams.get("PA_bob-camera")])
    assert rec.events == [("session", "muteForced", True), ("publisher", "muteForced", None)]
    muted = [a for n, a in core.calls if n == "mute_remote_track"]
    assert muted == [("alice", "TR_am", True)]
    assert decode_notice(core.sent_to[-1][0]) == MuteForcedNotice(True, ("PA_bob-camera",))
    core.feed(C.ParticipantJoined(info("carol"), (track("TR_cm", "audio", "microphone"),)))
    await spin()
    assert ("mute_remote_track", ("carol", "TR_cm", True)) in core.calls
    assert core.sent_to[-1][3] == ("carol",)  # the joiner learns that force mute is on
    await session.disableForceMute()
    assert rec.events[-1] == ("session", "muteForced", False)
    core.feed(C.ParticipantJoined(info("dan"), (track("TR_dm", "audio", "microphone"),)))
    await spin()
    assert ("mute_remote_track", ("dan", "TR_dm", True)) not in core.calls


async def test_clients_learn_force_mute_all_and_mute_their_own_later_publishers() -> None:
    session, core = await connected(snapshot(MOD))
    rec = Recorder()
    rec.listen(session, ("muteForced",), "session")
    core.feed(C.DataReceived("mod", encode_notice(MuteForcedNotice(True)), OT.MODERATION_TOPIC))
    publisher = await session.publish({"name": "late"})
    assert publisher is not None and publisher.stream is not None and not publisher.stream.hasAudio
    core.feed(C.DataReceived("mod", encode_notice(MuteForcedNotice(False)), OT.MODERATION_TOPIC))
    assert rec.events == [("session", "muteForced", True), ("session", "muteForced", False)]
    assert ("set_muted", (publisher.stream.audio_track_sid, True)) in core.calls


@pytest.mark.parametrize(
    ("role", "caps"),
    [
        ("subscriber", (0, 1, 0, 0, 0)),
        ("publisher", (1, 1, 0, 0, 0)),
        ("publisheronly", (1, 0, 0, 0, 0)),
        ("moderator", (1, 1, 1, 1, 1)),
    ],
)
async def test_roles_give_capabilities(role: str, caps: tuple[int, ...]) -> None:
    session, _ = await connected(snapshot(C.ParticipantState(info("x", role=role), ())), role=role)
    c = session.capabilities
    assert (c.publish, c.subscribe, c.forceUnpublish, c.forceDisconnect, c.forceMute) == caps
    remote = session.connections.get("PA_x")
    assert remote is not None and remote.permissions == c
