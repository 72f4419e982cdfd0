"""What both server façades (opentok ``Client``, vonage-video ``Video``) do on LiveKit.

Every operation is a coroutine on the real ``livekit-api`` client (RoomService, Egress). Failures are
raised as :class:`Problem` carrying the HTTP status OpenTok's REST API would have answered (400 bad
input, 403 credentials, 404 unknown, 409 wrong state, 413 too large, 503/504 LiveKit unreachable or
slow); each façade turns a status into its SDK's exception class, exactly as the originals turn the
REST status codes into theirs. Inputs are checked before the first LiveKit call.

IDs are the client model's (:mod:`compat.vonage.connection`, :mod:`compat.vonage.stream`): a
connection ID is the LiveKit participant SID; a stream ID is ``"<participant SID>-camera"``,
``"<participant SID>-screen"`` or ``"<participant SID>-<track SID>"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import aiohttp
from livekit import api
from livekit.protocol import egress as egress_pb
from livekit.protocol import models

from compat.vonage.errors import OTError
from compat.vonage.moderation import MODERATION_TOPIC, MuteForcedNotice, encode_notice
from compat.vonage.sessionid import mint_session_id, parse_session_id
from compat.vonage.signal import MAX_SIGNAL_DATA_LENGTH, MAX_SIGNAL_TYPE_LENGTH, SIGNAL_TOPIC, encode_signal
from compat.vonage.token import parse_metadata

__all__ = ["ARCHIVE_STATUSES", "Problem", "Service", "StreamRecord"]

T = TypeVar("T")
S = egress_pb.EgressStatus

ARCHIVE_STATUSES = ("available", "expired", "failed", "paused", "started", "stopped", "uploaded")
_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
_SCREEN = (models.TrackSource.SCREEN_SHARE, models.TrackSource.SCREEN_SHARE_AUDIO)


class Problem(Exception):  # noqa: N818 - an internal status carrier, never raised to callers
    """A failed operation, with the HTTP status OpenTok's REST API would have answered."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StreamRecord:
    """One OpenTok stream of a participant (grouped as the client model groups tracks)."""

    def __init__(self, participant: models.ParticipantInfo, slot: str, name: str) -> None:
        self.id = f"{participant.sid}-{slot}"
        self.identity = participant.identity
        self.connection_id = participant.sid
        self.slot = slot
        self.name = name
        self.layout_class_list = list(parse_metadata(participant.metadata).initialLayoutClassList)
        self.audio: models.TrackInfo | None = None
        self.video: models.TrackInfo | None = None

    @property
    def video_type(self) -> str | None:
        if self.video is None:
            return None
        return self.slot if self.slot in ("camera", "screen") else "custom"

    def json(self) -> dict[str, Any]:
        """The REST shape: ``{id, videoType, name, layoutClassList}``."""
        return {"id": self.id, "videoType": self.video_type, "name": self.name, "layoutClassList": self.layout_class_list}


def streams_of(participant: models.ParticipantInfo) -> list[StreamRecord]:
    """A participant's streams, in track order (the rule of :mod:`compat.vonage.stream`)."""
    found: dict[str, StreamRecord] = {}
    for track in participant.tracks:
        if track.type not in (models.TrackType.AUDIO, models.TrackType.VIDEO):
            continue
        slot = "screen" if track.source in _SCREEN else "camera"
        stream = found.get(slot)
        kind = "audio" if track.type == models.TrackType.AUDIO else "video"
        if stream is not None and getattr(stream, kind) is not None:
            slot = track.sid
            stream = None
        if stream is None:
            stream = found[slot] = StreamRecord(participant, slot, track.name)
        setattr(stream, kind, track)
    return list(found.values())


def check_signal(payload: Any) -> tuple[str | None, str]:
    """``(type, data)`` of a server signal payload ``{type?, data}``; Problem 400/413 as OpenTok's REST."""
    if not isinstance(payload, dict):
        raise Problem(400, "the signal payload must be a dict {'type': ..., 'data': ...}")
    type_, data = payload.get("type"), payload.get("data", "")
    if type_ is not None and (not isinstance(type_, str) or not type_ or not set(type_) <= _TYPE_CHARS):
        raise Problem(400, f"invalid signal type {type_!r}")
    if not isinstance(data, str):
        raise Problem(400, f"the signal data must be a string, not a {type(data).__name__}")
    if type_ is not None and len(type_.encode()) > MAX_SIGNAL_TYPE_LENGTH:
        raise Problem(413, "the signal type is longer than 128 bytes")
    if len(json.dumps(data, ensure_ascii=False)) > MAX_SIGNAL_DATA_LENGTH:
        raise Problem(413, "the signal data is larger than 8 kB")
    return type_, data


class Service:
    """The LiveKit connection of one façade, and what it remembers of the archives it started."""

    def __init__(self, url: str, api_key: str, api_secret: str, timeout: float) -> None:
        self.url, self.api_key, self.api_secret, self.timeout = url, api_key, api_secret, timeout
        self.archives: dict[str, dict[str, Any]] = {}  # egress id -> what start_archive was asked
        self.deleted: set[str] = set()
        self.session_ids: dict[str, str] = {}  # room -> the session ID callers used for it

    # ---- plumbing ------------------------------------------------------------------------------

    def room(self, session_id: Any) -> str:
        """The LiveKit room of a session ID (Problem 400 when it names none)."""
        if not isinstance(session_id, str) or not session_id:
            raise Problem(400, f"invalid session ID {session_id!r}")
        try:
            room = parse_session_id(session_id).room
        except OTError as exc:
            raise Problem(400, str(exc.message)) from None
        self.session_ids.setdefault(room, session_id)
        return room

    def session_id(self, room: str) -> str:
        known = self.session_ids.get(room)
        if known is not None:
            return known
        try:
            return mint_session_id(self.api_key, room)
        except OTError:
            return room

    @contextlib.asynccontextmanager
    async def livekit(self) -> AsyncIterator[api.LiveKitAPI]:
        """A livekit-api client for one operation; its failures raised as Problem."""
        client = api.LiveKitAPI(self.url, self.api_key, self.api_secret, timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            yield client
        except api.TwirpError as exc:
            raise _problem(exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise Problem(503, f"cannot reach the LiveKit server at {self.url} ({exc!r}); check api_url / LIVEKIT_URL") from exc
        finally:
            await client.aclose()

    async def bounded(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return await asyncio.wait_for(coro, self.timeout)
        except asyncio.TimeoutError:
            raise Problem(504, f"the LiveKit server at {self.url} did not answer within {self.timeout:g}s") from None

    async def participants(self, room: str) -> list[models.ParticipantInfo]:
        async with self.livekit() as lk:
            try:
                listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
            except api.TwirpError as exc:
                if exc.code == "not_found":
                    return []
                raise
        return [p for p in listed.participants if not p.permission.hidden]

    async def participant(self, room: str, connection_id: str) -> models.ParticipantInfo | None:
        return next((p for p in await self.participants(room) if p.sid == connection_id), None)

    # ---- sessions ------------------------------------------------------------------------------

    async def create_session(self, settings: dict[str, Any]) -> str:
        """A new room (named ``ot-<uuid>``) holding ``settings`` in its metadata; its session ID."""
        room = "ot-" + uuid.uuid4().hex
        session_id = mint_session_id(self.api_key, room)
        meta = json.dumps({"compat.vonage": {"sessionId": session_id, **settings}})
        async with self.livekit() as lk:
            await lk.room.create_room(api.CreateRoomRequest(name=room, metadata=meta))
        self.session_ids[room] = session_id
        return session_id

    # ---- signals, moderation -------------------------------------------------------------------

    async def send_signal(self, session_id: str, payload: Any, connection_id: str | None) -> None:
        room = self.room(session_id)
        type_, data = check_signal(payload)
        destinations: list[str] = []
        if connection_id is not None:
            target = await self.participant(room, connection_id)
            if target is None:
                raise Problem(404, f"connection {connection_id} is not connected to the session")
            destinations = [target.identity]
        request = api.SendDataRequest(room=room, data=encode_signal(type_, data), kind=models.DataPacket.Kind.RELIABLE,
                                      topic=SIGNAL_TOPIC, destination_identities=destinations)
        await self._send(request, connection_id is None)

    async def _send(self, request: api.SendDataRequest, broadcast: bool) -> None:
        async with self.livekit() as lk:
            try:
                await lk.room.send_data(request)
            except api.TwirpError as exc:
                if not (broadcast and exc.code == "not_found"):  # a broadcast to an empty session reaches no one: fine
                    raise

    async def force_disconnect(self, session_id: str, connection_id: str) -> None:
        room = self.room(session_id)
        if not isinstance(connection_id, str) or not connection_id:
            raise Problem(400, f"invalid connection ID {connection_id!r}")
        target = await self.participant(room, connection_id)
        if target is None:
            raise Problem(404, f"connection {connection_id} is not connected to the session")
        async with self.livekit() as lk:
            await lk.room.remove_participant(api.RoomParticipantIdentity(room=room, identity=target.identity))

    async def streams(self, session_id: str) -> list[StreamRecord]:
        room = self.room(session_id)
        return [s for p in await self.participants(room) for s in streams_of(p)]

    async def stream(self, session_id: str, stream_id: str) -> StreamRecord:
        found = next((s for s in await self.streams(session_id) if s.id == stream_id), None)
        if found is None:
            raise Problem(404, f"stream {stream_id} is not in the session")
        return found

    async def mute_stream(self, session_id: str, stream_id: str) -> None:
        stream = await self.stream(session_id, stream_id)
        await self._mute(self.room(session_id), [stream])

    async def mute_all(self, session_id: str, excluded: list[str] | None) -> None:
        """Mute every stream's audio but ``excluded`` now; the notice tells compat clients to mute
        streams published later too, until :meth:`disable_force_mute`."""
        room = self.room(session_id)
        if excluded is not None and not (isinstance(excluded, list) and all(isinstance(s, str) for s in excluded)):
            raise Problem(400, "excluded stream IDs must be a list of strings")
        skip = set(excluded or ())
        streams = [s for s in await self.streams(session_id) if s.id not in skip]
        await self._notify(room, MuteForcedNotice(True, tuple(sorted(skip))))
        await self._mute(room, streams)

    async def disable_force_mute(self, session_id: str) -> None:
        await self._notify(self.room(session_id), MuteForcedNotice(False, ()))

    async def _notify(self, room: str, notice: MuteForcedNotice) -> None:
        request = api.SendDataRequest(room=room, data=encode_notice(notice), kind=models.DataPacket.Kind.RELIABLE,
                                      topic=MODERATION_TOPIC)
        await self._send(request, True)

    async def _mute(self, room: str, streams: list[StreamRecord]) -> None:
        async with self.livekit() as lk:
            for stream in streams:
                if stream.audio is not None and not stream.audio.muted:
                    await lk.room.mute_published_track(api.MuteRoomTrackRequest(
                        room=room, identity=stream.identity, track_sid=stream.audio.sid, muted=True))

    # ---- archives ------------------------------------------------------------------------------

    async def start_archive(self, session_id: str, asked: dict[str, Any]) -> dict[str, Any]:
        room = self.room(session_id)
        if not asked["hasAudio"] and not asked["hasVideo"]:
            raise Problem(400, "an archive needs audio or video (has_audio and has_video are both False)")
        if not await self.participants(room):
            raise Problem(404, "Session not found: no client is connected to it")
        async with self.livekit() as lk:
            active = await lk.egress.list_egress(api.ListEgressRequest(room_name=room, active=True))
            if any(i.WhichOneof("request") == "room_composite" for i in active.items) and not asked.get("multiArchiveTag"):
                raise Problem(409, "the session is already being archived (set multi_archive_tag for simultaneous archives)")
            info = await lk.egress.start_room_composite_egress(self._composite(room, asked))
        self.archives[info.egress_id] = asked
        return self.archive_json(info)

    def _composite(self, room: str, asked: dict[str, Any]) -> api.RoomCompositeEgressRequest:
        output = egress_pb.EncodedFileOutput(file_type=egress_pb.EncodedFileType.MP4, filepath=f"{room}-{int(time.time())}.mp4")
        return api.RoomCompositeEgressRequest(room_name=room, layout="grid", audio_only=not asked["hasVideo"],
                                              video_only=not asked["hasAudio"], file_outputs=[output])

    async def egress(self, archive_id: str) -> egress_pb.EgressInfo:
        if not isinstance(archive_id, str) or not archive_id or archive_id in self.deleted:
            raise Problem(404, "Archive not found")
        async with self.livekit() as lk:
            listed = await lk.egress.list_egress(api.ListEgressRequest(egress_id=archive_id))
        found = [i for i in listed.items if i.egress_id == archive_id and i.WhichOneof("request") == "room_composite"]
        if not found:
            raise Problem(404, "Archive not found")
        return found[0]

    async def stop_archive(self, archive_id: str) -> dict[str, Any]:
        info = await self.egress(archive_id)
        if info.status not in (S.EGRESS_STARTING, S.EGRESS_ACTIVE):
            raise Problem(409, "Archive is not in started state")
        async with self.livekit() as lk:
            stopped = await lk.egress.stop_egress(api.StopEgressRequest(egress_id=archive_id))
        return self.archive_json(stopped)

    async def delete_archive(self, archive_id: str) -> None:
        info = await self.egress(archive_id)
        if self.archive_json(info)["status"] not in ("available", "uploaded", "failed"):
            raise Problem(409, "only an available, uploaded or failed archive can be deleted")
        self.deleted.add(archive_id)

    async def list_archives(self, session_id: str | None) -> list[dict[str, Any]]:
        room = self.room(session_id) if session_id is not None else ""
        async with self.livekit() as lk:
            listed = await lk.egress.list_egress(api.ListEgressRequest(room_name=room))
        infos = [i for i in listed.items if i.WhichOneof("request") == "room_composite" and i.egress_id not in self.deleted]
        infos.sort(key=lambda i: i.started_at or i.updated_at, reverse=True)  # newest first, as OpenTok
        return [self.archive_json(i) for i in infos]

    def archive_json(self, info: egress_pb.EgressInfo) -> dict[str, Any]:
        """The REST shape of an archive (:func:`archive_fields`), with what start_archive was asked."""
        return archive_fields(info, self.archives.get(info.egress_id, {}), self.session_id(info.room_name), self.api_key)


def archive_status(info: egress_pb.EgressInfo) -> tuple[str, str]:
    """``(status, reason)`` of an egress: live -> started; ending -> stopped; complete -> available."""
    if info.status in (S.EGRESS_STARTING, S.EGRESS_ACTIVE):
        return "started", ""
    if info.status == S.EGRESS_ENDING:
        return "stopped", ""
    if info.status == S.EGRESS_COMPLETE:
        return "available", ""
    if info.status == S.EGRESS_LIMIT_REACHED:
        return "available", "maximum duration exceeded"
    return "failed", info.error or S.Name(info.status)


def archive_fields(info: egress_pb.EgressInfo, asked: dict[str, Any], session_id: str, api_key: str) -> dict[str, Any]:
    """An Egress as an OpenTok archive object (REST JSON, camelCase)."""
    status, reason = archive_status(info)
    file = info.file_results[-1] if info.file_results else info.file
    composite = info.room_composite
    return {
        "id": info.egress_id, "event": "archive", "status": status, "name": asked.get("name"), "reason": reason,
        "sessionId": session_id, "partnerId": api_key, "applicationId": api_key, "projectId": api_key,
        "createdAt": int((info.started_at or info.updated_at) / 1e6), "updatedAt": int(info.updated_at / 1e6),
        "size": int(file.size), "duration": int(file.duration / 1e9),
        "hasAudio": asked.get("hasAudio", not composite.video_only), "hasVideo": asked.get("hasVideo", not composite.audio_only),
        "outputMode": "composed", "streamMode": asked.get("streamMode", "auto"), "streams": [],
        "url": (file.location or file.filename or None) if status == "available" else None,
        "resolution": asked.get("resolution") or "640x480", "maxBitrate": asked.get("maxBitrate"),
        "quantizationParameter": asked.get("quantizationParameter"), "multiArchiveTag": asked.get("multiArchiveTag"),
        "hasTranscription": False, "sha256sum": None, "password": None,
    }


def _problem(exc: api.TwirpError) -> Problem:
    if exc.code in ("unauthenticated", "permission_denied") or exc.status == 401:
        return Problem(403, f"the LiveKit server refused the API key/secret ({exc.message}): pass the LiveKit API key and secret")
    if exc.code == "not_found":
        return Problem(404, exc.message)
    if exc.code in ("invalid_argument", "malformed"):
        return Problem(400, exc.message)
    if exc.code in ("failed_precondition", "already_exists"):
        return Problem(409, exc.message)
    return Problem(500, f"LiveKit {exc.code}: {exc.message}")
