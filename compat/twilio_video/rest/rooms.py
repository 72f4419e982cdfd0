"""``client.video.v1.rooms``: Rooms on LiveKit rooms (RoomService CreateRoom / ListRooms / DeleteRoom).

A room's Twilio settings (status callback, type, …) ride in the LiveKit room's metadata as
``{"twilio": {...}}``, where compat.twilio_video.webhooks finds the room's StatusCallback. LiveKit
forgets a room once it ends, so ``completed`` rooms are those this Client ended (docs/parity.md).
"""

from __future__ import annotations

import builtins
import datetime
import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from livekit import api
from livekit.protocol import models

from ._base import BASE_URL, Api, Resource, bad_request, not_found, now, twilio_meta, utc
from .sids import is_sid, same, to_twilio

if TYPE_CHECKING:
    from .participants import ParticipantList
    from .recordings import RecordingRulesList, RoomRecordingList

__all__ = ["RoomContext", "RoomInstance", "RoomList"]

ROOM_TYPES = ("group", "group-small", "peer-to-peer", "go")
MAX_NAME = 128
DEFAULT_TIMEOUT_MIN = 5  # Twilio's empty and unused room timeouts for REST-created rooms


@dataclass
class EndedRoom:
    room: models.Room
    ended_at: float


class RoomInstance(Resource):
    """A Room, with twilio-python's fields."""

    class RoomStatus:
        IN_PROGRESS = "in-progress"
        COMPLETED = "completed"
        FAILED = "failed"

    class RoomType:
        GROUP = "group"
        GO = "go"
        PEER_TO_PEER = "peer-to-peer"
        GROUP_SMALL = "group-small"

    class VideoCodec:
        VP8 = "VP8"
        H264 = "H264"

    sid: str
    status: str
    date_created: datetime.datetime | None
    date_updated: datetime.datetime | None
    account_sid: str
    enable_turn: bool
    unique_name: str
    status_callback: str | None
    status_callback_method: str | None
    end_time: datetime.datetime | None
    duration: int | None
    type: str
    max_participants: int
    max_participant_duration: int
    max_concurrent_published_tracks: int
    record_participants_on_connect: bool
    video_codecs: list[str]
    media_region: str
    audio_only: bool
    empty_room_timeout: int
    unused_room_timeout: int
    large_room: bool
    url: str
    links: dict[str, str]

    @property
    def _proxy(self) -> RoomContext:
        return RoomContext(self._api, self.sid)

    def fetch(self) -> RoomInstance:
        return self._proxy.fetch()

    async def fetch_async(self) -> RoomInstance:
        return await self._proxy.fetch_async()

    def update(self, status: str) -> RoomInstance:
        return self._proxy.update(status)

    async def update_async(self, status: str) -> RoomInstance:
        return await self._proxy.update_async(status)

    @property
    def participants(self) -> ParticipantList:
        return self._proxy.participants

    @property
    def recordings(self) -> RoomRecordingList:
        return self._proxy.recordings

    @property
    def recording_rules(self) -> RecordingRulesList:
        return self._proxy.recording_rules


def room_fields(api_: Api, room: models.Room, ended: EndedRoom | None = None) -> dict[str, Any]:
    meta = twilio_meta(room.metadata)
    sid = to_twilio("RM", room.sid)
    created = room.creation_time_ms / 1000 if room.creation_time_ms else float(room.creation_time)
    url = f"{BASE_URL}/Rooms/{sid}"
    return {
        "sid": sid,
        "status": "completed" if ended else "in-progress",
        "date_created": utc(created),
        "date_updated": utc(ended.ended_at if ended else created),
        "account_sid": meta.get("account_sid") or api_.account_sid,
        "enable_turn": True,
        "unique_name": room.name,
        "status_callback": meta.get("status_callback"),
        "status_callback_method": meta.get("status_callback_method", "POST"),
        "end_time": utc(ended.ended_at) if ended else None,
        "duration": int(ended.ended_at - created) if ended else None,
        "type": meta.get("type", "group"),
        "max_participants": room.max_participants,
        "max_participant_duration": meta.get("max_participant_duration", 14400),
        "max_concurrent_published_tracks": 0,
        "record_participants_on_connect": bool(meta.get("record_participants_on_connect", False)),
        "video_codecs": meta.get("video_codecs", ["VP8", "H264"]),
        "media_region": meta.get("media_region", "gll"),
        "audio_only": bool(meta.get("audio_only", False)),
        "empty_room_timeout": math.ceil(room.departure_timeout / 60),
        "unused_room_timeout": math.ceil(room.empty_timeout / 60),
        "large_room": bool(meta.get("large_room", False)),
        "url": url,
        "links": {name: f"{url}/{path}" for name, path in
                  (("participants", "Participants"), ("recordings", "Recordings"), ("recording_rules", "RecordingRules"))},
    }


async def find_room(lk: api.LiveKitAPI, api_: Api, key: str) -> tuple[models.Room, EndedRoom | None] | None:
    """The room a SID (Twilio's or LiveKit's) or unique name addresses: live, or ended by this Client."""
    if is_sid("RM", key):
        rooms = (await lk.room.list_rooms(api.ListRoomsRequest())).rooms
        live = next((r for r in rooms if same("RM", key, r.sid)), None)
        if live is not None:
            return live, None
        ended = next((e for e in api_.ended_rooms.values() if same("RM", key, e.room.sid)), None)
        return (ended.room, ended) if ended is not None else None
    rooms = (await lk.room.list_rooms(api.ListRoomsRequest(names=[key]))).rooms
    return (rooms[0], None) if rooms else None


async def live_room(lk: api.LiveKitAPI, api_: Api, key: str, uri: str, method: str, verb: str) -> models.Room:
    """The in-progress room ``key`` names, or 20404."""
    found = await find_room(lk, api_, key)
    if found is None or found[1] is not None:
        raise not_found(uri, method, verb)
    return found[0]


class RoomContext:
    """``rooms(sid_or_unique_name)``."""

    def __init__(self, api_: Api, sid: str) -> None:
        self._api = api_
        self._solution = {"sid": sid}
        self._uri = f"/Rooms/{sid}"

    def fetch(self) -> RoomInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> RoomInstance:
        async with self._api.livekit("GET", self._uri) as lk:
            found = await find_room(lk, self._api, self._solution["sid"])
        if found is None:
            raise not_found(self._uri, "GET")
        return RoomInstance(self._api, room_fields(self._api, *found))

    def update(self, status: str) -> RoomInstance:
        return self._api.run(self.update_async(status), "update", "POST", self._uri)

    async def update_async(self, status: str) -> RoomInstance:
        """Only ``status="completed"`` (DeleteRoom: everyone is disconnected with 53118)."""
        if status != "completed":
            raise bad_request(self._uri, "POST", "update", f"Invalid Status {status!r}: only 'completed' is allowed", 53112)
        async with self._api.livekit("POST", self._uri) as lk:
            found = await find_room(lk, self._api, self._solution["sid"])
            if found is None:
                raise not_found(self._uri, "POST", "update")
            room, ended = found
            if ended is not None:
                raise bad_request(self._uri, "POST", "update", "Room is not in-progress (already completed)", 53112)
            await lk.room.delete_room(api.DeleteRoomRequest(room=room.name))
        record = EndedRoom(room, time.time())
        self._api.ended_rooms[room.sid] = record
        return RoomInstance(self._api, room_fields(self._api, room, record))

    @property
    def participants(self) -> ParticipantList:
        from .participants import ParticipantList

        return ParticipantList(self._api, self._solution["sid"])

    @property
    def recordings(self) -> RoomRecordingList:
        from .recordings import RoomRecordingList

        return RoomRecordingList(self._api, self._solution["sid"])

    @property
    def recording_rules(self) -> RecordingRulesList:
        from .recordings import RecordingRulesList

        return RecordingRulesList(self._api, self._solution["sid"])

    def __repr__(self) -> str:
        return f"<Twilio.Video.V1.RoomContext sid={self._solution['sid']}>"


class RoomList:
    """``client.video.v1.rooms``."""

    def __init__(self, api_: Api) -> None:
        self._api = api_
        self._uri = "/Rooms"

    def __call__(self, sid: str) -> RoomContext:
        return RoomContext(self._api, sid)

    def get(self, sid: str) -> RoomContext:
        return RoomContext(self._api, sid)

    def create(self, **kwargs: Any) -> RoomInstance:
        """See :meth:`create_async` for the parameters (twilio-python's, by keyword)."""
        return self._api.run(self.create_async(**kwargs), "create", "POST", self._uri)

    async def create_async(
        self,
        enable_turn: bool | None = None,
        type: str | None = None,
        unique_name: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        max_participants: int | None = None,
        record_participants_on_connect: bool | None = None,
        transcribe_participants_on_connect: bool | None = None,
        video_codecs: list[str] | None = None,
        media_region: str | None = None,
        recording_rules: Any = None,
        transcriptions_configuration: Any = None,
        audio_only: bool | None = None,
        max_participant_duration: int | None = None,
        empty_room_timeout: int | None = None,
        unused_room_timeout: int | None = None,
        large_room: bool | None = None,
    ) -> RoomInstance:
        """Create a room (every check is made before LiveKit is called: nothing is half done).

        ``unique_name`` is the LiveKit room name (a generated one when omitted); an in-progress room
        of that name gives 53113. ``max_participants`` and the two timeouts are enforced by LiveKit;
        the other settings are kept in the room's metadata (docs/parity.md says which act)."""
        settings = {
            "type": type, "status_callback": status_callback, "status_callback_method": status_callback_method,
            "record_participants_on_connect": record_participants_on_connect, "video_codecs": video_codecs,
            "media_region": media_region, "audio_only": audio_only, "max_participant_duration": max_participant_duration,
            "large_room": large_room, "transcribe_participants_on_connect": transcribe_participants_on_connect,
        }
        meta: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
        self._check(meta, unique_name, max_participants, empty_room_timeout, unused_room_timeout)
        meta["account_sid"] = self._api.account_sid
        if recording_rules is not None:
            from ._base import parse_rules

            meta["recording_rules"] = parse_rules(recording_rules, self._uri, "create")
        name = unique_name or uuid.uuid4().hex
        request = api.CreateRoomRequest(
            name=name,
            empty_timeout=60 * (unused_room_timeout or DEFAULT_TIMEOUT_MIN),
            departure_timeout=60 * (empty_room_timeout or DEFAULT_TIMEOUT_MIN),
            max_participants=max_participants or 0,
            metadata=json.dumps({"twilio": meta}),
        )
        async with self._api.livekit("POST", self._uri) as lk:
            if (await lk.room.list_rooms(api.ListRoomsRequest(names=[name]))).rooms:
                raise bad_request(self._uri, "POST", "create", f"Room exists: {name!r} is in progress", 53113)
            room = await lk.room.create_room(request)
        return RoomInstance(self._api, room_fields(self._api, room))

    def _check(
        self, meta: dict[str, Any], name: str | None, max_participants: int | None, empty: int | None, unused: int | None
    ) -> None:
        def fail(message: str, code: int) -> None:
            raise bad_request(self._uri, "POST", "create", message, code)

        if meta.get("type", "group") not in ROOM_TYPES:
            fail(f"RoomType is not valid: {meta['type']!r} (group, group-small, peer-to-peer or go)", 53108)
        if str(meta.get("status_callback_method", "POST")).upper() not in ("GET", "POST"):
            fail("StatusCallbackMethod is invalid: use GET or POST", 53110)
        callback = meta.get("status_callback")
        if callback is not None and (urlparse(str(callback)).scheme not in ("http", "https") or len(str(callback)) > 1024):
            fail(f"StatusCallback is invalid: {callback!r} is not an http(s) URL", 53111)
        limit = 50 if not meta.get("large_room") else 10000
        if max_participants is not None and not 1 <= max_participants <= limit:
            fail(f"MaxParticipants is out of range: {max_participants} (1 to {limit})", 53107)
        for label, minutes in (("EmptyRoomTimeout", empty), ("UnusedRoomTimeout", unused)):
            if minutes is not None and not 1 <= minutes <= 60:
                fail(f"Timeout is out of range: {label} {minutes} (1 to 60 minutes)", 53109)
        if not 0 < int(meta.get("max_participant_duration", 14400)) <= 86400:
            fail("Timeout is out of range: MaxParticipantDuration (up to 86400 seconds)", 53109)
        if not set(meta.get("video_codecs") or ()) <= {"VP8", "H264"}:
            fail(f"VideoCodecs must be VP8 and/or H264: {meta['video_codecs']!r}", 53114)
        if name is not None and (not name or len(name) > MAX_NAME):
            fail(f"Room name is too long or empty: at most {MAX_NAME} characters", 53101)

    def list(
        self,
        status: str | None = None,
        unique_name: str | None = None,
        date_created_after: datetime.datetime | None = None,
        date_created_before: datetime.datetime | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> builtins.list[RoomInstance]:
        coro = self.list_async(status, unique_name, date_created_after, date_created_before, limit, page_size)
        return self._api.run(coro, "list", "GET", self._uri)

    async def list_async(
        self,
        status: str | None = None,
        unique_name: str | None = None,
        date_created_after: datetime.datetime | None = None,
        date_created_before: datetime.datetime | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> builtins.list[RoomInstance]:
        """``status`` defaults to in-progress; ``completed`` lists the rooms this Client ended."""
        status = status or "in-progress"
        if status == "in-progress":
            async with self._api.livekit("GET", self._uri) as lk:
                names = [unique_name] if unique_name else []
                rooms = (await lk.room.list_rooms(api.ListRoomsRequest(names=names))).rooms
            found = [RoomInstance(self._api, room_fields(self._api, r)) for r in rooms]
        else:
            ended = [e for e in self._api.ended_rooms.values() if not unique_name or e.room.name == unique_name]
            found = [RoomInstance(self._api, room_fields(self._api, e.room, e)) for e in ended] if status == "completed" else []
        found = [r for r in found if _created_between(r.date_created, date_created_after, date_created_before)]
        found.sort(key=lambda r: r.date_created or now(), reverse=True)
        return found[:limit] if limit else found

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return iter(self.list(*args, **kwargs))

    def __repr__(self) -> str:
        return "<Twilio.Video.V1.RoomList>"


def _created_between(
    created: datetime.datetime | None, after: datetime.datetime | None, before: datetime.datetime | None
) -> bool:
    if created is None:
        return True
    return (after is None or created >= _aware(after)) and (before is None or created < _aware(before))


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
