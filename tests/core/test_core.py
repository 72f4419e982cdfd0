"""compat.core without a server: frame streams, scripted sessions, and the rtc-event
translation (join/leave bursts) driven with stand-ins for rtc objects."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from livekit import rtc

from compat import core as C
from compat.core import rtc_session as R


async def test_frame_stream_bounds_and_counts_drops() -> None:
    stream: C.FrameStream[int] = C.FrameStream(3, track_sid="TR_x")
    for i in range(10):
        stream.put(i)
    assert stream.received == 10 and stream.dropped == 7
    assert [await stream.__anext__() for _ in range(3)] == [7, 8, 9]
    stream.put(None)
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_frame_stream_wakes_a_waiting_consumer_on_end() -> None:
    stream: C.FrameStream[int] = C.FrameStream(2)
    got: list[int] = []

    async def consume() -> None:
        async for item in stream:
            got.append(item)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    stream.put(1)
    await asyncio.sleep(0)
    await stream.aclose()
    await asyncio.wait_for(task, 1)
    assert got == [1]


def test_frame_stream_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        C.FrameStream(0)


async def test_scripted_session_backlog_and_stream_ownership() -> None:
    snap = C.RoomSnapshot("RM", "r", C.ParticipantInfo("PA_me", "me"))
    session = C.ScriptedSession(snap)
    session.feed(C.TrackSubscribed("a", "TR_1"))  # before start: kept
    seen: list[C.Fact] = []
    session.start(seen.append)
    assert seen == [C.Connected(snap), C.TrackSubscribed("a", "TR_1")]
    session.set_track_owner("TR_1", "a")
    s1 = session.open_audio_frames("TR_1", sample_rate=48000, num_channels=1, capacity=4, frame_size_ms=None)
    s2 = session.open_video_frames("TR_1", capacity=2, rgba=False)
    assert session.open_resources() == 2
    session.feed(C.ParticipantLeft("a"))
    assert s1.closed and s2.closed and session.open_resources() == 0
    session.disconnect()
    session.feed(C.TrackSubscribed("a", "TR_2"))
    assert seen[-1] == C.ParticipantLeft("a")


def test_connect_failure_status_parsing() -> None:
    f = R.connect_failure("engine: signal failure: client error: 401 Unauthorized - invalid token: token is expired")
    assert f.status == 401
    assert R.connect_failure("IO error: Connection refused (os error 111)").status is None


def test_disconnect_reason_mapping() -> None:
    assert R.disconnect_cause(rtc.DisconnectReason.DUPLICATE_IDENTITY) is C.DisconnectCause.DUPLICATE_IDENTITY
    assert R.disconnect_cause(rtc.DisconnectReason.ROOM_DELETED) is C.DisconnectCause.ROOM_DELETED
    assert R.disconnect_cause(0) is C.DisconnectCause.UNKNOWN
    assert R.disconnect_cause(None) is C.DisconnectCause.UNKNOWN
    assert R.disconnect_cause(999) is C.DisconnectCause.UNKNOWN


# --- burst translation with stand-ins for rtc objects ------------------------------------


@attrs.define
class FakePub:
    sid: str
    name: str = "mic"
    kind: int = rtc.TrackKind.KIND_AUDIO
    muted: bool = False
    source: int = rtc.TrackSource.SOURCE_MICROPHONE
    width: int = 0
    height: int = 0
    track: Any = None  # not subscribed


@attrs.define
class FakeParticipant:
    identity: str
    sid: str = "PA_x"
    name: str = ""
    metadata: str = ""
    state: int = rtc.ParticipantState.PARTICIPANT_STATE_ACTIVE
    disconnect_reason: Any = None
    track_publications: dict[str, FakePub] = attrs.Factory(dict)
    joined_at: Any = None
    attributes: dict[str, str] = attrs.Factory(dict)
    permissions: Any = attrs.Factory(lambda: type("P", (), {"can_publish": True, "can_subscribe": True, "can_publish_data": True})())


async def make_session() -> tuple[R.RtcSession, list[C.Fact]]:
    session = R.RtcSession(loop=asyncio.get_running_loop())
    session._snapshot = C.RoomSnapshot("RM", "r", C.ParticipantInfo("PA_me", "me"))
    facts: list[C.Fact] = []
    session.start(facts.append)  # (no Connected fact: the snapshot was set by hand)
    return session, facts


async def test_join_burst_becomes_one_fact_with_tracks() -> None:
    s, facts = await make_session()
    p: Any = FakeParticipant("alice", "PA_a")
    s._on_participant_connected(p)
    s._on_track_published(FakePub("TR_1"), p)  # type: ignore[arg-type]
    s._on_track_published(FakePub("TR_2", "cam", rtc.TrackKind.KIND_VIDEO), p)  # type: ignore[arg-type]
    assert facts == []  # still in the burst
    await asyncio.sleep(R.BURST_WINDOW * 2)
    assert facts == [
        C.ParticipantJoined(
            C.ParticipantInfo("PA_a", "alice"),
            (C.TrackInfo("TR_1", "mic", "audio", source="microphone"), C.TrackInfo("TR_2", "cam", "video", source="microphone")),
            published=("TR_1", "TR_2"),  # reported by track_published, after participant_connected
        )
    ]
    # a publish after the burst is a TrackPublished
    s._on_track_published(FakePub("TR_3"), p)  # type: ignore[arg-type]
    assert isinstance(facts[-1], C.TrackPublished) and facts[-1].track.sid == "TR_3"


async def test_tracks_present_at_participant_connected_are_not_marked_published() -> None:
    s, facts = await make_session()
    p: Any = FakeParticipant("alice", "PA_a", track_publications={"TR_0": FakePub("TR_0")})
    s._on_participant_connected(p)
    s._on_track_published(FakePub("TR_1"), p)  # type: ignore[arg-type]
    s._flush()
    (joined,) = facts
    assert isinstance(joined, C.ParticipantJoined)
    assert [t.sid for t in joined.tracks] == ["TR_0", "TR_1"] and joined.published == ("TR_1",)


async def test_attribute_changes_are_facts_with_the_whole_set() -> None:
    s, facts = await make_session()
    p: Any = FakeParticipant("alice", "PA_a", attributes={"a": "1"})
    s._on_participant_connected(p)
    s._flush()
    assert facts[0].participant.attributes == (("a", "1"),)  # type: ignore[union-attr]
    p.attributes = {"a": "1", "compat.twilio.dataTracks": "{}"}
    s._on_attributes_changed({"compat.twilio.dataTracks": "{}"}, p)
    s._on_attributes_changed({}, p)  # no change: no fact
    assert facts[1:] == [C.AttributesChanged("alice", (("a", "1"), ("compat.twilio.dataTracks", "{}")), False)]
    assert s._reported["alice"].info.attributes == (("a", "1"), ("compat.twilio.dataTracks", "{}"))


async def test_unrelated_event_ends_a_join_burst_in_order() -> None:
    s, facts = await make_session()
    a: Any = FakeParticipant("alice", "PA_a")
    b: Any = FakeParticipant("bob", "PA_b")
    s._on_participant_connected(a)
    s._on_track_published(FakePub("TR_b"), b)  # type: ignore[arg-type]
    assert [type(f) for f in facts] == [C.ParticipantJoined, C.TrackPublished]


async def test_leave_burst_drops_unpublishes() -> None:
    s, facts = await make_session()
    p: Any = FakeParticipant("alice", "PA_a")
    for sid in ("TR_1", "TR_2"):
        s._on_track_unsubscribed(None, FakePub(sid), p)  # type: ignore[arg-type]
        s._on_track_unpublished(FakePub(sid), p)  # type: ignore[arg-type]
    s._on_participant_disconnected(p)
    assert facts == [
        C.TrackUnsubscribed("alice", "TR_1"),
        C.TrackUnsubscribed("alice", "TR_2"),
        C.ParticipantLeft("alice"),
    ]


async def test_plain_unpublish_is_reported_after_the_window() -> None:
    s, facts = await make_session()
    p: Any = FakeParticipant("alice", "PA_a")
    s._on_track_unsubscribed(None, FakePub("TR_1"), p)  # type: ignore[arg-type]
    s._on_track_unpublished(FakePub("TR_1"), p)  # type: ignore[arg-type]
    assert facts == []  # a leave starts like this: held until the burst tells
    await asyncio.sleep(R.BURST_WINDOW * 2)
    assert facts == [C.TrackUnsubscribed("alice", "TR_1"), C.TrackUnpublished("alice", "TR_1")]


async def test_unpublish_of_a_disconnected_participant_is_dropped_at_once() -> None:
    s, facts = await make_session()
    p: Any = FakeParticipant("alice", "PA_a", state=rtc.ParticipantState.PARTICIPANT_STATE_DISCONNECTED)
    s._on_track_unpublished(FakePub("TR_1"), p)  # type: ignore[arg-type]
    s._on_participant_disconnected(p)
    assert facts == [C.ParticipantLeft("alice")]


async def _alice_with_a_track(s: R.RtcSession) -> Any:
    p: Any = FakeParticipant("alice", "PA_a")
    s._on_participant_connected(p)
    s._on_track_published(FakePub("TR_1"), p)  # type: ignore[arg-type]
    s._flush()
    return p


def _leaves_as_duplicate(s: R.RtcSession, p: Any) -> None:
    s._on_track_unpublished(FakePub("TR_1"), p)  # type: ignore[arg-type]
    p.disconnect_reason = rtc.DisconnectReason.DUPLICATE_IDENTITY
    s._on_participant_disconnected(p)


async def test_a_duplicate_identity_leave_is_a_reconnect() -> None:
    s, facts = await make_session()
    p = await _alice_with_a_track(s)
    mark = len(facts)
    _leaves_as_duplicate(s, p)
    assert facts[mark:] == [C.ParticipantReconnecting("alice")]
    back: Any = FakeParticipant("alice", "PA_a2")
    s._on_participant_connected(back)
    s._on_track_published(FakePub("TR_9"), back)  # type: ignore[arg-type]
    await asyncio.sleep(R.BURST_WINDOW * 2)
    assert facts[mark:] == [C.ParticipantReconnecting("alice"), C.ParticipantReconnected("alice")]
    assert s._reported["alice"].lk_sid == "PA_a2" and s._v("TR_9") == "TR_1"  # vendor SIDs kept
    assert not s._carry and s._grace is None  # nothing left to wait for


async def test_a_duplicate_identity_leave_without_return_is_reported_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "REJOIN_GRACE", 0.1)
    s, facts = await make_session()
    p = await _alice_with_a_track(s)
    mark = len(facts)
    _leaves_as_duplicate(s, p)
    await asyncio.sleep(0.3)
    assert facts[mark:] == [C.ParticipantReconnecting("alice"), C.ParticipantLeft("alice", C.DisconnectCause.DUPLICATE_IDENTITY)]
    assert "alice" not in s._reported and not s._carry and not s._missing and not s._unbound


class FakeNativeStream:
    """A stream without livekit-rtc's internal ring: the core must pump it."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.closed = False

    def __aiter__(self) -> FakeNativeStream:
        return self

    async def __anext__(self) -> Any:
        await asyncio.sleep(0)
        if not self.frames:
            await asyncio.Event().wait()  # like a VideoStream: never ends by itself
        return type("Event", (), {"frame": self.frames.pop(0)})()

    async def aclose(self) -> None:
        self.closed = True


async def test_fallback_pump_delivers_and_is_cancelled_on_close() -> None:
    s, _facts = await make_session()
    native = FakeNativeStream(["f1", "f2"])
    s._remote_tracks["TR_1"] = ("alice", object())  # type: ignore[assignment]
    stream = s._open("TR_1", 4, lambda track: native)
    assert [await stream.__anext__(), await stream.__anext__()] == ["f1", "f2"]
    assert s.open_resources() == 1
    s._close_track("TR_1")
    assert stream.closed and not s._pumps and s.open_resources() == 0
    await asyncio.sleep(0.05)
    assert native.closed
