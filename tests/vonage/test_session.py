"""Session against a ScriptedSession: connect order, streams, leaves, disconnect, reconnect (§1.3, §1.4)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from compat import core as C
from compat import vonage as OT
from compat.vonage.session import connect_session
from tests.vonage.helpers import (
    KEY,
    ROOM,
    SESSION_EVENTS,
    SUBSCRIBER_EVENTS,
    Recorder,
    connected,
    info,
    snapshot,
    spin,
    token,
    track,
)

ALICE = C.ParticipantState(
    info("alice", role="publisher", data="alice-data"),
    (track("TR_am", "audio", "microphone"), track("TR_av", "video", "camera"), track("TR_as", "video", "screen_share")),
)
BOB = C.ParticipantState(info("bob"), ())


def recorded(rec: Recorder) -> Any:
    def before(session: OT.Session) -> None:
        rec.listen(session, SESSION_EVENTS, "session")

    return before


async def test_connect_order_with_completion_handler_inside_session_connected() -> None:
    rec, order = Recorder(), list[Any]()
    core = C.ScriptedSession(snapshot(ALICE, BOB, recording=True))
    session = OT.Session(KEY, ROOM)
    session.on("sessionConnected", lambda e: order.append("first listener"))
    rec.listen(session, SESSION_EVENTS, "session")
    await connect_session(session, core, token(), lambda err: order.append(("handler", err)))
    session.on("sessionConnected", lambda e: order.append("too late"))
    assert order == ["first listener", ("handler", None)]
    assert rec.names() == [
        "sessionConnected",
        "connectionCreated",
        "connectionCreated",
        "connectionCreated",
        "streamCreated",
        "streamCreated",
        "archiveStarted",
    ]
    conns = [s for _, t, s in rec.events if t == "connectionCreated"]
    assert conns == [("PA_me", None), ("PA_alice", None), ("PA_bob", None)]
    streams = [s for _, t, s in rec.events if t == "streamCreated"]
    assert streams == [("PA_alice-camera", None), ("PA_alice-screen", None)]
    assert session.isConnected() and session.connection is not None
    assert session.connection.connectionId == "PA_me"
    assert session.connections.length() == 3
    cam = session.streams.get("PA_alice-camera")
    assert cam is not None and cam.hasAudio and cam.hasVideo and cam.videoType == "camera"
    assert cam.connection.data == "alice-data"
    scr = session.streams.get("PA_alice-screen")
    assert scr is not None and not scr.hasAudio and scr.videoType == "screen"


async def test_own_connection_and_capabilities() -> None:
    session, _ = await connected(role="subscriber")
    assert session.capabilities.publish == 0 and session.capabilities.subscribe == 1
    assert session.connection is not None and session.connection.permissions == session.capabilities


async def test_connection_events_suppressed() -> None:
    rec = Recorder()
    core = C.ScriptedSession(snapshot(ALICE))
    session = OT.initSession(KEY, "suppressed-room", {"connectionEventsSuppressed": True})
    rec.listen(session, SESSION_EVENTS, "session")
    await connect_session(session, core, OT.generate_token(KEY, "secret-secret-secret-secret-secret", "suppressed-room"))
    assert rec.names() == ["sessionConnected", "streamCreated", "streamCreated"]


def test_init_session_returns_one_session_per_id() -> None:
    a = OT.initSession(KEY, "same-id")
    assert OT.initSession(KEY, "same-id") is a
    assert OT.initSession(KEY, "other-id") is not a
    legacy = OT.initSession("legacy-id")
    assert legacy.sessionId == "legacy-id" and legacy.apiKey is None


async def test_connect_errors_before_any_network_call() -> None:
    session = OT.Session(KEY, ROOM)
    with pytest.raises(OT.OTError) as info_:
        await session.connect("T1==abc")
    assert info_.value.code == 1004
    seen: list[Any] = []
    await OT.Session(None, ROOM).connect(token(), seen.append)
    assert seen[0].code == 1004 and seen[0].name == "OT_AUTHENTICATION_ERROR"
    with pytest.raises(OT.OTError) as bad:
        await OT.Session(KEY, None).connect(token())
    assert bad.value.code == 1005
    with pytest.raises(OT.OTError) as other_key:
        await OT.Session("otherkey", ROOM).connect(token())
    assert other_key.value.code == 1004


async def test_connect_failure_goes_to_handler_and_exception_event() -> None:
    exceptions: list[OT.ExceptionEvent] = []
    OT.on("exception", exceptions.append)
    try:
        session = OT.Session(KEY, ROOM, {"url": "ws://127.0.0.1:9", "connectTimeout": 2})
        errors: list[Any] = []
        await session.connect(token(), errors.append)
        assert errors[0].name == "OT_CONNECT_FAILED" and errors[0].code == 1006
        assert exceptions[-1].code == 1006 and exceptions[-1].title == "Connect Failed"
        assert session.currentState == "disconnected"
    finally:
        OT.off("exception")


async def test_no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEKIT_URL", raising=False)
    assert "LIVEKIT_URL" not in os.environ
    with pytest.raises(OT.OTError) as e:
        await OT.Session(KEY, ROOM).connect(token())
    assert "LIVEKIT_URL" in e.value.message


async def test_remote_join_publish_leave_order_and_reasons() -> None:
    rec = Recorder()
    session, core = await connected(before=recorded(rec))
    rec.events.clear()
    core.feed(C.ParticipantJoined(info("carol"), (track("TR_cm", "audio", "microphone"),)))
    core.feed(C.TrackPublished("carol", track("TR_cv", "video", "camera")))
    core.feed(C.TrackMuted("carol", "TR_cm"))
    core.feed(C.TrackDimensionsChanged("carol", "TR_cv", 640, 480))
    core.feed(C.ParticipantLeft("carol", C.DisconnectCause.PARTICIPANT_REMOVED))
    sid = "PA_carol-camera"
    assert rec.events == [
        ("session", "connectionCreated", ("PA_carol", None)),
        ("session", "streamCreated", (sid, None)),
        ("session", "streamPropertyChanged", (sid, "hasVideo", False, True)),
        ("session", "streamPropertyChanged", (sid, "videoType", None, "camera")),
        ("session", "streamPropertyChanged", (sid, "hasAudio", True, False)),
        ("session", "streamPropertyChanged", (sid, "videoDimensions", None, {"width": 640, "height": 480})),
        ("session", "streamDestroyed", (sid, "forceDisconnected")),
        ("session", "connectionDestroyed", ("PA_carol", "forceDisconnected")),
    ]
    assert session.connections.length() == 1 and session.streams.length() == 0


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (None, "clientDisconnected"),
        (C.DisconnectCause.CLIENT_INITIATED, "clientDisconnected"),
        (C.DisconnectCause.PARTICIPANT_REMOVED, "forceDisconnected"),
        (C.DisconnectCause.SIGNAL_CLOSE, "networkDisconnected"),
        (C.DisconnectCause.CONNECTION_TIMEOUT, "networkDisconnected"),
    ],
)
async def test_leave_reasons(cause: C.DisconnectCause | None, reason: str) -> None:
    rec = Recorder()
    _session, core = await connected(snapshot(BOB), before=recorded(rec))
    core.feed(C.ParticipantLeft("bob", cause))
    assert rec.events[-1] == ("session", "connectionDestroyed", ("PA_bob", reason))


async def test_unpublish_all_tracks_destroys_stream_with_client_disconnected() -> None:
    rec = Recorder()
    _session, core = await connected(snapshot(ALICE), before=recorded(rec))
    rec.events.clear()
    core.feed(C.TrackUnpublished("alice", "TR_av"), C.TrackUnpublished("alice", "TR_am"))
    sid = "PA_alice-camera"
    assert rec.events == [
        ("session", "streamPropertyChanged", (sid, "hasVideo", True, False)),
        ("session", "streamPropertyChanged", (sid, "videoType", "camera", None)),
        ("session", "streamDestroyed", (sid, "clientDisconnected")),
    ]


async def test_extra_track_in_a_taken_slot_is_its_own_stream() -> None:
    session, core = await connected(snapshot(ALICE))
    core.feed(C.TrackPublished("alice", track("TR_a2", "audio", "microphone")))
    extra = session.streams.get("PA_alice-TR_a2")
    assert extra is not None and extra.hasAudio and extra.videoType is None


async def test_local_disconnect_order_no_per_remote_events() -> None:
    rec = Recorder()
    session, core = await connected(snapshot(ALICE), before=recorded(rec))
    publisher = await session.publish({"name": "bot"})
    assert publisher is not None
    rec.listen(publisher, ("streamDestroyed", "destroyed"), "publisher")
    sub = await subscribe(session, core, "PA_alice-camera")
    rec.listen(sub, SUBSCRIBER_EVENTS, "subscriber")
    rec.events.clear()
    closed = session.disconnect()
    assert not session.isConnected() and rec.events == []
    await closed
    assert rec.events == [
        ("session", "sessionDisconnected", "clientDisconnected"),
        ("publisher", "streamDestroyed", ("PA_me-camera", "clientDisconnected")),
        ("publisher", "destroyed", None),
        ("subscriber", "destroyed", "clientDisconnected"),
    ]
    assert session.connection is None and session.connections.length() == 0
    assert core.open_resources() == 0
    assert ("disconnect", ()) in core.calls


async def test_session_disconnected_prevent_default_keeps_subscribers() -> None:
    session, core = await connected(snapshot(ALICE))
    sub = await subscribe(session, core, "PA_alice-camera")
    session.on("sessionDisconnected", lambda e: e.preventDefault())
    await session.disconnect()
    assert not sub._destroyed


async def test_remote_caused_disconnect_reasons() -> None:
    rec = Recorder()
    _session, core = await connected(before=recorded(rec))
    core.feed(C.Disconnected(C.DisconnectCause.PARTICIPANT_REMOVED))
    await spin()
    assert rec.events[-1] == ("session", "sessionDisconnected", "forceDisconnected")
    rec2 = Recorder()
    _, core2 = await connected(before=recorded(rec2))
    core2.feed(C.Reconnecting(), C.Disconnected(C.DisconnectCause.UNKNOWN, was_reconnecting=True))
    await spin()
    assert rec2.names()[-2:] == ["sessionReconnecting", "sessionDisconnected"]
    assert rec2.events[-1][2] == "networkDisconnected"


async def test_disconnect_when_not_connected_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    await OT.Session(KEY, ROOM).disconnect()
    assert "not connected" in caplog.text


async def test_reconnect_events_and_subscriber_link_events() -> None:
    rec = Recorder()
    session, core = await connected(snapshot(ALICE), before=recorded(rec))
    sub = await subscribe(session, core, "PA_alice-camera")
    rec.listen(sub, SUBSCRIBER_EVENTS, "subscriber")
    rec.events.clear()
    core.feed(C.Reconnecting(), C.Reconnected())
    assert rec.names() == ["sessionReconnecting", "disconnected", "sessionReconnected", "connected"]
    assert session.isConnected()


async def test_recording_archive_events_have_stable_ids() -> None:
    rec = Recorder()
    _session, core = await connected(before=recorded(rec))
    core.feed(C.RecordingStarted(), C.RecordingStopped(), C.RecordingStarted())
    assert rec.names() == ["sessionConnected", "connectionCreated", "archiveStarted", "archiveStopped", "archiveStarted"]
    ids = {s for _, t, s in rec.events if t.startswith("archive")}
    assert len(ids) == 1
    archive = rec.raw[-1][1]
    assert isinstance(archive, OT.ArchiveEvent) and archive.name == ROOM


async def test_a_handler_that_disconnects_stops_the_burst() -> None:
    rec = Recorder()

    def before(session: OT.Session) -> None:
        session.on("sessionConnected", lambda e: session.disconnect())
        rec.listen(session, SESSION_EVENTS, "session")

    _session, _ = await connected(snapshot(ALICE), before=before)
    await spin()
    assert rec.names() == ["sessionConnected", "sessionDisconnected"]


async def subscribe(session: OT.Session, core: C.ScriptedSession, stream_id: str, **props: Any) -> OT.Subscriber:
    """subscribe() and feed the TrackSubscribed facts the core would send."""
    import asyncio

    stream = session.streams.get(stream_id)
    assert stream is not None
    task = asyncio.ensure_future(session.subscribe(stream, None, props or None))
    await spin()
    for name, args in core.calls:
        if name == "set_subscribed" and args[1]:
            core.feed(C.TrackSubscribed(stream.connection.livekit_identity, args[0]))
    sub = await task
    assert sub is not None
    return sub


async def test_a_session_connected_again_starts_from_a_clean_slate() -> None:
    """initSession returns the same Session for a session id: its second connection must not
    inherit the first one's streams, subscribers or stream slots."""
    session, _core = await connected(snapshot(ALICE))
    first = sorted(s.streamId for s in session.streams.where(lambda s: True))
    assert "PA_alice-camera" in first
    await session.disconnect()
    core2 = C.ScriptedSession(snapshot(ALICE))
    await connect_session(session, core2, token())
    assert sorted(s.streamId for s in session.streams.where(lambda s: True)) == first
    assert session.connections.length() == 2  # alice and ourselves, once each
