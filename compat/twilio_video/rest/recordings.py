"""``rooms(r).recordings`` and ``rooms(r).recording_rules`` on LiveKit track egress, and
``client.video.v1.compositions`` on room composite egress (Egress StartTrackEgress /
StartRoomCompositeEgress / ListEgress / StopEgress)."""

from __future__ import annotations

import builtins
import datetime
import json
import os
from typing import Any

from livekit import api
from livekit.protocol import egress as egress_pb
from livekit.protocol import models

from ._base import BASE_URL, Api, Resource, bad_request, included, not_found, now, parse_rules, twilio_meta, utc
from .participants import track_kind, visible
from .rooms import find_room, live_room
from .sids import same, to_twilio

__all__ = [
    "CompositionContext",
    "CompositionInstance",
    "CompositionList",
    "RecordingRulesInstance",
    "RecordingRulesList",
    "RoomRecordingContext",
    "RoomRecordingInstance",
    "RoomRecordingList",
]

S = egress_pb.EgressStatus
_RUNNING = (S.EGRESS_STARTING, S.EGRESS_ACTIVE, S.EGRESS_ENDING)


def _status(info: egress_pb.EgressInfo, enqueued: str = "processing") -> str:
    if info.status == S.EGRESS_STARTING:
        return enqueued
    if info.status in _RUNNING:
        return "processing"
    return "completed" if info.status == S.EGRESS_COMPLETE else "failed"


def _file(info: egress_pb.EgressInfo) -> egress_pb.FileInfo | None:
    return info.file_results[-1] if info.file_results else (info.file if info.HasField("file") else None)


def _seconds(ns: int) -> float:
    return ns / 1e9


# ---- room recordings ---------------------------------------------------------------------------


class RoomRecordingInstance(Resource):
    class Status:
        PROCESSING = "processing"
        COMPLETED = "completed"
        DELETED = "deleted"
        FAILED = "failed"

    class Type:
        AUDIO = "audio"
        VIDEO = "video"
        DATA = "data"

    account_sid: str
    status: str
    date_created: datetime.datetime | None
    sid: str
    source_sid: str
    size: int | None
    url: str
    type: str | None
    duration: int | None
    container_format: str | None
    codec: str | None
    grouping_sids: dict[str, str]
    track_name: str | None
    offset: int | None
    media_external_location: str | None
    room_sid: str
    links: dict[str, str]


Tracks = dict[str, tuple[models.ParticipantInfo, models.TrackInfo]]


def recording_fields(api_: Api, info: egress_pb.EgressInfo, tracks: Tracks) -> dict[str, Any]:
    """A Twilio recording from a track egress (``tracks``: the room's tracks now, by LiveKit sid)."""
    sid, track_id, file = to_twilio("RT", info.egress_id), info.track.track_id, _file(info)
    owner = tracks.get(track_id)
    location = file.location or file.filename if file is not None else ""
    ext = os.path.splitext(location)[1].lstrip(".").lower() or None
    kind = track_kind(owner[1]) if owner else ("audio" if ext in ("ogg", "mp3", "m4a") else "video" if ext else None)
    room_sid = to_twilio("RM", info.room_id)
    grouping = {"room_sid": room_sid, **({"participant_sid": to_twilio("PA", owner[0].sid)} if owner else {})}
    return {
        "account_sid": api_.account_sid, "status": _status(info), "date_created": utc(_seconds(info.started_at or info.updated_at)),
        "sid": sid, "source_sid": to_twilio("MT", track_id), "size": file.size if file else None,
        "url": f"{BASE_URL}/Recordings/{sid}", "type": kind,
        "duration": int(_seconds(file.duration)) if file else None, "container_format": ext,
        "codec": {"audio": "OPUS", "video": "VP8"}.get(kind or ""), "grouping_sids": grouping,
        "track_name": owner[1].name if owner else None, "offset": None,
        "media_external_location": location or None, "room_sid": room_sid,
        "links": {"media": f"{BASE_URL}/Recordings/{sid}/Media"},
    }


async def _room_tracks(lk: api.LiveKitAPI, room: models.Room, ended: bool) -> Tracks:
    if ended:
        return {}
    return {t.sid: (p, t) for p in await visible(lk, room) for t in p.tracks}


async def _egresses(lk: api.LiveKitAPI, room_name: str = "", *, active: bool = False) -> builtins.list[egress_pb.EgressInfo]:
    return list((await lk.egress.list_egress(api.ListEgressRequest(room_name=room_name, active=active))).items)


class RoomRecordingContext:
    def __init__(self, api_: Api, room_sid: str, sid: str) -> None:
        self._api = api_
        self._solution = {"room_sid": room_sid, "sid": sid}
        self._uri = f"/Rooms/{room_sid}/Recordings/{sid}"

    def fetch(self) -> RoomRecordingInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> RoomRecordingInstance:
        every = await RoomRecordingList(self._api, self._solution["room_sid"])._all(self._uri)
        found = next((r for r in every if same("RT", self._solution["sid"], r.sid)), None)
        if found is None:
            raise not_found(self._uri, "GET")
        return found


class RoomRecordingList:
    """``rooms(r).recordings``: the room's track egresses."""

    def __init__(self, api_: Api, room_sid: str) -> None:
        self._api = api_
        self._room = room_sid
        self._uri = f"/Rooms/{room_sid}/Recordings"

    def __call__(self, sid: str) -> RoomRecordingContext:
        return RoomRecordingContext(self._api, self._room, sid)

    def get(self, sid: str) -> RoomRecordingContext:
        return self(sid)

    async def _all(self, uri: str) -> builtins.list[RoomRecordingInstance]:
        async with self._api.livekit("GET", uri) as lk:
            found = await find_room(lk, self._api, self._room)
            if found is None:
                raise not_found(uri, "GET")
            room, ended = found
            tracks = await _room_tracks(lk, room, ended is not None)
            infos = [i for i in await _egresses(lk, room.name) if i.WhichOneof("request") == "track"]
        return [RoomRecordingInstance(self._api, recording_fields(self._api, i, tracks)) for i in infos]

    def list(self, status: str | None = None, source_sid: str | None = None, date_created_after: datetime.datetime | None = None,
             date_created_before: datetime.datetime | None = None, limit: int | None = None,
             page_size: int | None = None) -> builtins.list[RoomRecordingInstance]:
        coro = self.list_async(status, source_sid, date_created_after, date_created_before, limit, page_size)
        return self._api.run(coro, "list", "GET", self._uri)

    async def list_async(self, status: str | None = None, source_sid: str | None = None,
                         date_created_after: datetime.datetime | None = None,
                         date_created_before: datetime.datetime | None = None, limit: int | None = None,
                         page_size: int | None = None) -> builtins.list[RoomRecordingInstance]:
        found = [r for r in await self._all(self._uri) if (not status or r.status == status)
                 and (not source_sid or r.source_sid == source_sid or same("MT", source_sid, r.source_sid))
                 and _between(r.date_created, date_created_after, date_created_before)]
        return found[:limit] if limit else found

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return iter(self.list(*args, **kwargs))


def _between(when: datetime.datetime | None, after: datetime.datetime | None, before: datetime.datetime | None) -> bool:
    if when is None:
        return True
    tz = datetime.timezone.utc
    return (after is None or when >= (after if after.tzinfo else after.replace(tzinfo=tz))) and (
        before is None or when < (before if before.tzinfo else before.replace(tzinfo=tz)))


# ---- recording rules ---------------------------------------------------------------------------


class RecordingRulesInstance(Resource):
    room_sid: str
    rules: list[dict[str, Any]]
    date_created: datetime.datetime | None
    date_updated: datetime.datetime | None


class RecordingRulesList:
    """``rooms(r).recording_rules``: ``fetch()``, ``update(rules=[...])``.

    ``update`` starts a track egress for each published track the rules include that is not being
    recorded, stops those of tracks they exclude, and keeps the rules in the room's metadata. They
    apply to the tracks published at that moment (docs/parity.md)."""

    def __init__(self, api_: Api, room_sid: str) -> None:
        self._api = api_
        self._room = room_sid
        self._uri = f"/Rooms/{room_sid}/RecordingRules"

    def fetch(self) -> RecordingRulesInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> RecordingRulesInstance:
        async with self._api.livekit("GET", self._uri) as lk:
            room = await live_room(lk, self._api, self._room, self._uri, "GET", "fetch")
        return self._instance(room, twilio_meta(room.metadata).get("recording_rules", []))

    def _instance(self, room: models.Room, rules: builtins.list[dict[str, Any]]) -> RecordingRulesInstance:
        when = utc(room.creation_time) if not rules else now()
        return RecordingRulesInstance(self._api, {"room_sid": to_twilio("RM", room.sid), "rules": rules,
                                                  "date_created": utc(room.creation_time), "date_updated": when})

    def update(self, rules: Any = None) -> RecordingRulesInstance:
        return self._api.run(self.update_async(rules), "update", "POST", self._uri)

    async def update_async(self, rules: Any = None) -> RecordingRulesInstance:
        parsed = parse_rules(rules, self._uri, "update")  # before LiveKit is called
        async with self._api.livekit("POST", self._uri) as lk:
            room = await live_room(lk, self._api, self._room, self._uri, "POST", "update")
            recording = {i.track.track_id: i.egress_id for i in await _egresses(lk, room.name, active=True)
                         if i.WhichOneof("request") == "track"}
            for p in await visible(lk, room):
                for t in p.tracks:
                    wanted = included(parsed, (p.identity, to_twilio("PA", p.sid)), (t.name, to_twilio("MT", t.sid), track_kind(t)))
                    await _apply(lk, room, t.sid, wanted, recording.get(t.sid))
            meta = {**twilio_meta(room.metadata), "recording_rules": parsed}
            room = await lk.room.update_room_metadata(
                api.UpdateRoomMetadataRequest(room=room.name, metadata=json.dumps({"twilio": meta})))
        return self._instance(room, parsed)


async def _apply(lk: api.LiveKitAPI, room: models.Room, track_id: str, wanted: bool, egress_id: str | None) -> None:
    if wanted and egress_id is None:
        output = api.DirectFileOutput(filepath="{room_name}/{track_id}-{time}")
        await lk.egress.start_track_egress(api.TrackEgressRequest(room_name=room.name, track_id=track_id, file=output))
    elif not wanted and egress_id is not None:
        await lk.egress.stop_egress(api.StopEgressRequest(egress_id=egress_id))


# ---- compositions ------------------------------------------------------------------------------


class CompositionInstance(Resource):
    class Format:
        MP4 = "mp4"
        WEBM = "webm"

    class Status:
        ENQUEUED = "enqueued"
        PROCESSING = "processing"
        COMPLETED = "completed"
        DELETED = "deleted"
        FAILED = "failed"

    account_sid: str
    status: str
    date_created: datetime.datetime | None
    date_completed: datetime.datetime | None
    date_deleted: datetime.datetime | None
    sid: str
    room_sid: str
    audio_sources: list[str]
    audio_sources_excluded: list[str]
    video_layout: dict[str, Any]
    resolution: str
    trim: bool
    format: str
    bitrate: int | None
    size: int | None
    duration: int | None
    media_external_location: str | None
    status_callback: str | None
    status_callback_method: str | None
    url: str
    links: dict[str, str]


def composition_fields(api_: Api, info: egress_pb.EgressInfo) -> dict[str, Any]:
    sid, file = to_twilio("CJ", info.egress_id), _file(info)
    asked = api_.compositions.get(info.egress_id, {})
    location = (file.location or file.filename) if file is not None else ""
    done = info.status == S.EGRESS_COMPLETE
    return {
        "account_sid": api_.account_sid, "status": _status(info, "enqueued"),
        "date_created": utc(_seconds(info.started_at or info.updated_at)),
        "date_completed": utc(_seconds(info.ended_at)) if done else None, "date_deleted": None,
        "sid": sid, "room_sid": to_twilio("RM", info.room_id),
        "audio_sources": asked.get("audio_sources", ["*"]), "audio_sources_excluded": asked.get("audio_sources_excluded", []),
        "video_layout": asked.get("video_layout", {}), "resolution": asked.get("resolution", "640x480"),
        "trim": asked.get("trim", True), "format": os.path.splitext(location)[1].lstrip(".") or asked.get("format", "webm"),
        "bitrate": None, "size": file.size if file else None,
        "duration": int(_seconds(file.duration)) if file else None, "media_external_location": location or None,
        "status_callback": asked.get("status_callback"), "status_callback_method": asked.get("status_callback_method", "POST"),
        "url": f"{BASE_URL}/Compositions/{sid}", "links": {"media": f"{BASE_URL}/Compositions/{sid}/Media"},
    }


class CompositionContext:
    def __init__(self, api_: Api, sid: str) -> None:
        self._api = api_
        self._solution = {"sid": sid}
        self._uri = f"/Compositions/{sid}"

    def fetch(self) -> CompositionInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> CompositionInstance:
        async with self._api.livekit("GET", self._uri) as lk:
            infos = await _egresses(lk)
        found = next((i for i in infos if i.WhichOneof("request") == "room_composite"
                      and same("CJ", self._solution["sid"], i.egress_id)), None)
        if found is None:
            raise not_found(self._uri, "GET")
        return CompositionInstance(self._api, composition_fields(self._api, found))


class CompositionList:
    """``client.video.v1.compositions``: a room composite egress of an **in-progress** room
    (LiveKit composes live; Twilio composes a completed room's recordings, docs/parity.md)."""

    def __init__(self, api_: Api) -> None:
        self._api = api_
        self._uri = "/Compositions"

    def __call__(self, sid: str) -> CompositionContext:
        return CompositionContext(self._api, sid)

    def get(self, sid: str) -> CompositionContext:
        return self(sid)

    def create(self, room_sid: str, **kwargs: Any) -> CompositionInstance:
        return self._api.run(self.create_async(room_sid, **kwargs), "create", "POST", self._uri)

    async def create_async(
        self,
        room_sid: str,
        video_layout: Any = None,
        audio_sources: builtins.list[str] | None = None,
        audio_sources_excluded: builtins.list[str] | None = None,
        resolution: str | None = None,
        format: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        trim: bool | None = None,
    ) -> CompositionInstance:
        """Without ``video_layout`` the composition is audio only, as Twilio's is."""
        layout = json.loads(video_layout) if isinstance(video_layout, str) else video_layout
        fmt = format or "webm"
        if fmt not in ("mp4", "webm"):
            raise bad_request(self._uri, "POST", "create", f"Format must be mp4 or webm, not {fmt!r}", None)
        if layout is not None and not isinstance(layout, dict):
            raise bad_request(self._uri, "POST", "create", "VideoLayout must be a JSON object", None)
        output = api.EncodedFileOutput(filepath=f"{{room_name}}-composition-{{time}}.{fmt}")
        async with self._api.livekit("POST", self._uri) as lk:
            room = await live_room(lk, self._api, room_sid, self._uri, "POST", "create")
            request = api.RoomCompositeEgressRequest(room_name=room.name, layout="grid", audio_only=not layout, file_outputs=[output])
            info = await lk.egress.start_room_composite_egress(request)
        asked = {"video_layout": layout or {}, "audio_sources": audio_sources or ["*"],
                 "audio_sources_excluded": audio_sources_excluded or [], "resolution": resolution or "640x480",
                 "format": fmt, "status_callback": status_callback,
                 "status_callback_method": status_callback_method or "POST", "trim": True if trim is None else trim}
        self._api.compositions[info.egress_id] = asked
        return CompositionInstance(self._api, composition_fields(self._api, info))

    def list(self, status: str | None = None, date_created_after: datetime.datetime | None = None,
             date_created_before: datetime.datetime | None = None, room_sid: str | None = None,
             limit: int | None = None, page_size: int | None = None) -> builtins.list[CompositionInstance]:
        coro = self.list_async(status, date_created_after, date_created_before, room_sid, limit, page_size)
        return self._api.run(coro, "list", "GET", self._uri)

    async def list_async(self, status: str | None = None, date_created_after: datetime.datetime | None = None,
                         date_created_before: datetime.datetime | None = None, room_sid: str | None = None,
                         limit: int | None = None, page_size: int | None = None) -> builtins.list[CompositionInstance]:
        async with self._api.livekit("GET", self._uri) as lk:
            infos = [i for i in await _egresses(lk) if i.WhichOneof("request") == "room_composite"]
        found = [CompositionInstance(self._api, composition_fields(self._api, i)) for i in infos
                 if not room_sid or same("RM", room_sid, i.room_id) or i.room_name == room_sid]
        found = [c for c in found if (not status or c.status == status)
                 and _between(c.date_created, date_created_after, date_created_before)]
        return found[:limit] if limit else found

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return iter(self.list(*args, **kwargs))
