"""Issue 10, point 3: the containers behave as JS Maps and stay Python mappings; toJSON has the
shape of twilio-video.js's lib/util/index.js valueToJSON."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from compat import core as C
from compat import twilio_video as Video
from compat.twilio_video.connect import connect_session
from compat.twilio_video.networkquality import NetworkQualityMediaStats, NetworkQualityStats
from compat.twilio_video.util import JSMap, valueToJSON


def snapshot() -> C.RoomSnapshot:
    alice = C.ParticipantState(C.ParticipantInfo("PA_a", "alice"), (C.TrackInfo("TR_mic", "mic", "audio"),))
    bob = C.ParticipantState(C.ParticipantInfo("PA_b", "bob"))
    return C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), (alice, bob))


async def room_with_tracks(**options: Any) -> tuple[C.ScriptedSession, Video.Room]:
    session = C.ScriptedSession(snapshot())
    room = await connect_session(session, options)
    await asyncio.sleep(0.01)
    session.feed(C.TrackSubscribed("alice", "TR_mic"))
    return session, room


async def test_room_participants_is_a_js_map_and_a_dict() -> None:
    _, room = await room_with_tracks()
    ps = room.participants
    alice, bob = ps["PA_a"], ps["PA_b"]
    # JS Map
    assert ps.size == 2 and ps.get("PA_a") is alice and ps.get("PA_x") is None
    assert ps.has("PA_b") and not ps.has("PA_x")
    assert list(ps.keys()) == ["PA_a", "PA_b"] and list(ps.values()) == [alice, bob]
    assert list(ps.entries()) == [("PA_a", alice), ("PA_b", bob)]
    seen: list[Any] = []
    ps.forEach(lambda p: seen.append(p.identity))
    ps.forEach(lambda p, sid: seen.append(sid))
    ps.forEach(lambda p, sid, m: seen.append(m is ps))
    assert seen == ["alice", "bob", "PA_a", "PA_b", True, True]
    # An async callback runs up to its first await within forEach, as a JS async function does.
    order: list[str] = []

    async def visit(p: Any) -> None:
        order.append("start " + p.identity)
        await asyncio.sleep(0)
        order.append("end " + p.identity)

    ps.forEach(visit)
    assert order == ["start alice", "start bob"]
    await asyncio.sleep(0.01)
    assert order == ["start alice", "start bob", "end alice", "end bob"]
    # Python mapping
    assert isinstance(ps, dict) and len(ps) == 2 and list(ps) == ["PA_a", "PA_b"] and "PA_a" in ps
    assert dict(ps.items()) == {"PA_a": alice, "PA_b": bob} and ps == {"PA_a": alice, "PA_b": bob}


async def test_publication_maps_are_js_maps() -> None:
    session, room = await room_with_tracks(tracks=[Video.LocalDataTrack(name="chat")])
    alice = room.participants["PA_a"]
    pub = alice.tracks["TR_mic"]
    assert isinstance(alice.tracks, JSMap) and alice.tracks.size == 1 and alice.audioTracks.get("TR_mic") is pub
    assert alice.videoTracks.size == 0 and alice.dataTracks.size == 0
    tracks: list[Any] = []
    alice.tracks.forEach(lambda publication: tracks.append(publication.track))
    assert tracks == [pub.track] and pub.track is not None
    lp = room.localParticipant
    for m in (lp.tracks, lp.audioTracks, lp.videoTracks, lp.dataTracks):
        assert isinstance(m, JSMap)
    assert lp.dataTracks.size == 1 and [p.trackName for p in lp.dataTracks.values()] == ["chat"]
    session.feed(C.DataReceived("bob", b"hi", "news", True))
    bob = room.participants["PA_b"]
    assert bob.dataTracks.size == 1 and bob.tracks.has(next(iter(bob.dataTracks)))


def test_js_map_set_and_delete() -> None:
    m: JSMap[str, int] = JSMap()
    assert m.set("a", 1).set("b", 2) is m and m == {"a": 1, "b": 2}
    assert m.delete("a") is True and m.delete("a") is False and m.size == 1


async def test_room_to_json_is_value_to_json() -> None:
    """The expected dict written from lib/util/index.js valueToJSON and the enumerable own
    properties each class defines (lib/room.js, lib/participant.js, lib/localparticipant.js,
    lib/media/track/*.js): Maps become objects keyed like the Map, objects are recursed."""
    chat = Video.LocalDataTrack(name="chat")
    _, room = await room_with_tracks(tracks=[chat])
    (chat_sid,) = room.localParticipant.tracks
    mic_track = {
        "kind": "audio", "name": "mic",  # Track
        "isStarted": False, "mediaStreamTrack": None, "processedTrack": None,  # MediaTrack
        "isEnabled": True, "isSwitchedOff": False, "priority": None, "sid": "TR_mic",  # RemoteMediaTrack
    }  # fmt: skip
    mic = {
        "trackName": "mic", "trackSid": "TR_mic",  # TrackPublication
        "isSubscribed": True, "isTrackEnabled": True, "kind": "audio", "publishPriority": "standard", "track": mic_track,
    }  # fmt: skip
    chat_pub = {
        "trackName": "chat", "trackSid": chat_sid,
        "isTrackEnabled": True, "kind": "data", "priority": "standard",  # LocalTrackPublication
        "track": {
            "kind": "data", "name": "chat",
            "id": chat.id, "maxPacketLifeTime": None, "maxRetransmits": None, "ordered": True, "reliable": True,
        },
    }  # fmt: skip

    def participant(sid: str, identity: str, audio: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {
            "audioTracks": audio, "dataTracks": data, "identity": identity, "networkQualityLevel": None,
            "networkQualityStats": None, "sid": sid, "state": "connected", "tracks": {**audio, **data}, "videoTracks": {},
        }  # fmt: skip

    expected = {
        "dominantSpeaker": None,
        "isRecording": False,
        "localParticipant": {**participant("PA_me", "me", {}, {chat_sid: chat_pub}), "signalingRegion": "gll"},
        "name": "room",
        "participants": {
            "PA_a": participant("PA_a", "alice", {"TR_mic": mic}, {}),
            "PA_b": participant("PA_b", "bob", {}, {}),
        },
        "sid": "RM_1",
        "state": "connected",
        "mediaRegion": None,
    }
    assert room.toJSON() == expected
    alice = room.participants["PA_a"]
    assert alice.toJSON() == expected["participants"]["PA_a"]  # type: ignore[index]
    assert alice.tracks["TR_mic"].toJSON() == mic
    assert alice.tracks["TR_mic"].track.toJSON() == mic_track
    assert room.localParticipant.tracks[chat_sid].toJSON() == chat_pub


def test_local_media_tracks_to_json() -> None:
    mic, cam = Video.LocalAudioTrack(name="mic"), Video.LocalVideoTrack(name="cam", width=320, height=240)
    media = {"isStarted": True, "mediaStreamTrack": None, "processedTrack": None}
    local = {"isEnabled": True, "isMuted": False, "isStopped": False}
    assert mic.toJSON() == {"kind": "audio", "name": "mic", **media, "id": mic.id, **local, "noiseCancellation": None}
    assert cam.toJSON() == {
        "kind": "video", "name": "cam", **media, "id": cam.id, **local,
        "dimensions": {"width": 320, "height": 240}, "processor": None,
    }  # fmt: skip


def test_value_to_json_recurses_and_drops_functions_and_private_state() -> None:
    class Thing:
        def __init__(self) -> None:
            self.a = [1, (2, 3)]
            self.m = JSMap({"k": {4}})
            self._private = "hidden"
            self.method = print

    stats = NetworkQualityStats(3, NetworkQualityMediaStats(2, 1))
    assert valueToJSON(Thing()) == {"a": [1, [2, 3]], "m": {"k": [4]}}
    assert valueToJSON(stats) == {"level": 3, "audio": {"send": 2, "recv": 1, "sendStats": None, "recvStats": None}, "video": None}


async def test_a_failing_async_for_each_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    _, room = await room_with_tracks()

    async def fail(p: Any) -> None:
        await asyncio.sleep(0)
        raise ValueError("boom " + p.identity)

    room.participants.forEach(fail)
    await asyncio.sleep(0.01)
    failures = [r for r in caplog.records if "async forEach callback" in r.getMessage()]
    assert [str(r.exc_info[1]) for r in failures if r.exc_info] == ["boom alice", "boom bob"]
