"""The server API over Twirp: `POST /twirp/livekit.<Service>/<Method>`, and RoomService.

Requests come as protobuf (`application/protobuf`, what livekit-api sends) or JSON
(`application/json`); the answer uses the request's encoding. Errors are Twirp JSON bodies
(`{"code": ..., "msg": ...}`) with the HTTP status Twirp assigns to each code, and the texts
LiveKit's RoomService uses. A malformed or unverifiable token is refused before routing with a
plain-text 401, as LiveKit's auth middleware does; a request without a token reaches the method
and fails its grant check ("permissions denied").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit.protocol import models, rtc
from livekit.protocol import room as room_pb

from compat.devserver.auth import AuthError, Claims, VideoGrant, verify
from compat.devserver.room import Participant, Room, RoomManager

log = logging.getLogger(__name__)

PREFIX = "/twirp"
MAX_METADATA_SIZE = 64000  # bytes, LiveKit's default limits.max_metadata_size
MAX_NAME_LENGTH = 256
MAX_ATTRIBUTES_SIZE = 64000

# Twirp error code → HTTP status (the Twirp specification's table).
STATUS: Mapping[str, int] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}


class TwirpError(Exception):
    """An error answered as a Twirp JSON body."""

    def __init__(self, code: str, msg: str, meta: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        if code not in STATUS:
            raise ValueError(f"unknown twirp code {code!r}")
        self.code = code
        self.msg = msg
        self.meta = dict(meta or {})

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def response(self) -> web.Response:
        body: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.meta:
            body["meta"] = self.meta
        return web.Response(status=self.status, text=json.dumps(body), content_type="application/json")


def permission_denied() -> TwirpError:
    # LiveKit wraps every failed grant check as twirp Unauthenticated("permissions denied").
    return TwirpError("unauthenticated", "permissions denied")


def invalid_argument(argument: str, reason: str) -> TwirpError:
    return TwirpError("invalid_argument", f"{argument} {reason}", {"argument": argument})


ROOM_NOT_FOUND = ("not_found", "requested room does not exist")
PARTICIPANT_NOT_FOUND = ("not_found", "participant does not exist")


def room_not_found() -> TwirpError:
    return TwirpError(*ROOM_NOT_FOUND)


def participant_not_found() -> TwirpError:
    return TwirpError(*PARTICIPANT_NOT_FOUND)


M = TypeVar("M", bound=Message)
Handler = Callable[[Any, "Grants"], Awaitable[Message]]


class Grants:
    """The caller's grants (None when the request carried no token)."""

    def __init__(self, claims: Claims | None) -> None:
        self.claims = claims

    @property
    def video(self) -> VideoGrant | None:
        return self.claims.video if self.claims is not None else None

    def require_create(self) -> None:
        if self.video is None or not self.video.room_create:
            raise permission_denied()

    def require_list(self) -> None:
        if self.video is None or not self.video.room_list:
            raise permission_denied()

    def require_record(self) -> None:
        if self.video is None or not self.video.room_record:
            raise permission_denied()

    def require_admin(self, room: str) -> None:
        video = self.video
        if video is None or not video.room_admin or video.room != room:
            raise permission_denied()


class TwirpRouter:
    """Routes `/twirp/livekit.<Service>/<Method>` to registered handlers."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self.keys = keys
        self._methods: dict[tuple[str, str], tuple[type[Message], Handler]] = {}

    def register(self, service: str, method: str, request_type: type[M], handler: Callable[[M, Grants], Awaitable[Message]]) -> None:
        self._methods[(service, method)] = (request_type, handler)

    def install(self, app: web.Application) -> None:
        app.router.add_route("*", PREFIX + "/{service}/{method}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if request.method != "POST":
            return TwirpError(
                "bad_route",
                f"unsupported method {request.method} (only POST is allowed)",
                {"twirp_invalid_route": f"{request.method} {path}"},
            ).response()
        service = request.match_info["service"]
        method = request.match_info["method"]
        found = self._methods.get((service.removeprefix("livekit."), method)) if service.startswith("livekit.") else None
        if found is None:
            return TwirpError(
                "bad_route", f"no handler for path {path!r}", {"twirp_invalid_route": f"POST {path}"}
            ).response()
        content_type = request.content_type
        if content_type not in ("application/protobuf", "application/json"):
            return TwirpError(
                "bad_route",
                f"unexpected Content-Type: {request.headers.get('Content-Type', '')!r}",
                {"twirp_invalid_route": f"POST {path}"},
            ).response()
        # Authentication before routing, like LiveKit's APIKeyAuthMiddleware (plain-text 401s).
        try:
            grants = Grants(self._claims(request))
        except AuthError as exc:
            return web.Response(status=401, text=exc.reason)
        request_type, handler = found
        body = await request.read()
        as_json = content_type == "application/json"
        message = request_type()
        try:
            if as_json:
                json_format.Parse(body.decode() or "{}", message, ignore_unknown_fields=True)
            else:
                message.ParseFromString(body)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            what = "the json request could not be decoded" if as_json else "the protobuf request could not be decoded"
            return TwirpError("malformed", f"{what}: {exc}").response()
        try:
            result = await handler(message, grants)
        except TwirpError as exc:
            log.info("%s/%s: %s", service, method, exc)
            return exc.response()
        except Exception as exc:  # a bug here must still answer the way Twirp does
            log.exception("%s/%s failed", service, method)
            return TwirpError("internal", str(exc) or type(exc).__name__).response()
        if as_json:
            return web.Response(text=message_to_json(result), content_type="application/json")
        return web.Response(body=result.SerializeToString(), content_type="application/protobuf")

    def _claims(self, request: web.Request) -> Claims | None:
        header = request.headers.get("Authorization")
        if header:
            if not header.startswith("Bearer "):
                raise AuthError(401, "invalid authorization header. Must start with Bearer ")
            token = header[len("Bearer "):]
        else:
            token = request.query.get("access_token", "")
        if not token:
            return None
        try:
            return verify(token, self.keys)
        except AuthError as exc:
            if exc.reason.startswith("invalid API key"):
                raise AuthError(401, "invalid API key") from None
            raise AuthError(401, "invalid authorization token: " + exc.reason.removeprefix("invalid token: ")) from None


def message_to_json(message: Message) -> str:
    """Twirp's JSON: proto field names, fields at their defaults included (protobuf 5+ option name)."""
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


# ---- RoomService ---------------------------------------------------------------------------------


class RoomService:
    """livekit.RoomService on the dev server's rooms."""

    def __init__(self, manager: RoomManager, *, enable_remote_unmute: bool = False) -> None:
        self.manager = manager
        self.enable_remote_unmute = enable_remote_unmute

    def register(self, router: TwirpRouter) -> None:
        svc = "RoomService"
        router.register(svc, "CreateRoom", room_pb.CreateRoomRequest, self.create_room)
        router.register(svc, "ListRooms", room_pb.ListRoomsRequest, self.list_rooms)
        router.register(svc, "DeleteRoom", room_pb.DeleteRoomRequest, self.delete_room)
        router.register(svc, "ListParticipants", room_pb.ListParticipantsRequest, self.list_participants)
        router.register(svc, "GetParticipant", room_pb.RoomParticipantIdentity, self.get_participant)
        router.register(svc, "RemoveParticipant", room_pb.RoomParticipantIdentity, self.remove_participant)
        router.register(svc, "MutePublishedTrack", room_pb.MuteRoomTrackRequest, self.mute_published_track)
        router.register(svc, "UpdateParticipant", room_pb.UpdateParticipantRequest, self.update_participant)
        router.register(svc, "UpdateSubscriptions", room_pb.UpdateSubscriptionsRequest, self.update_subscriptions)
        router.register(svc, "SendData", room_pb.SendDataRequest, self.send_data)
        router.register(svc, "UpdateRoomMetadata", room_pb.UpdateRoomMetadataRequest, self.update_room_metadata)

    # ---- lookups ---------------------------------------------------------------------------------

    def _room(self, name: str) -> Room:
        room = self.manager.get(name)
        if room is None or room.closed:
            raise room_not_found()
        return room

    def _participant(self, room_name: str, identity: str) -> tuple[Room, Participant]:
        room = self._room(room_name)
        participant = room.participants.get(identity)
        if participant is None:
            raise participant_not_found()
        return room, participant

    # ---- rooms ---------------------------------------------------------------------------------

    async def create_room(self, req: room_pb.CreateRoomRequest, grants: Grants) -> models.Room:
        grants.require_create()
        if not req.name:
            raise TwirpError("invalid_argument", "no room name")
        if len(req.name) > MAX_NAME_LENGTH:
            raise TwirpError("invalid_argument", f"room name length exceeds limits: max length {MAX_NAME_LENGTH}")
        if len(req.metadata.encode()) > MAX_METADATA_SIZE:
            raise invalid_argument("metadata size exceeds limits", str(MAX_METADATA_SIZE))
        manager = self.manager
        room = manager.get(req.name)
        if room is None or room.closed:
            return manager.get_or_create(
                req.name,
                empty_timeout=float(req.empty_timeout) if req.empty_timeout > 0 else None,
                departure_timeout=float(req.departure_timeout) if req.departure_timeout > 0 else None,
                max_participants=req.max_participants if req.max_participants > 0 else None,
                metadata=req.metadata,
            ).snapshot()
        # An existing room takes the settings the request sets (LiveKit updates it in place).
        room.configure(
            empty_timeout=float(req.empty_timeout) if req.empty_timeout > 0 else None,
            departure_timeout=float(req.departure_timeout) if req.departure_timeout > 0 else None,
            max_participants=req.max_participants if req.max_participants > 0 else None,
            metadata=req.metadata or None,
        )
        return room.snapshot()

    async def list_rooms(self, req: room_pb.ListRoomsRequest, grants: Grants) -> room_pb.ListRoomsResponse:
        grants.require_list()
        names = set(req.names)
        rooms = [
            room.snapshot()
            for room in self.manager.rooms.values()
            if not room.closed and (not names or room.name in names)
        ]
        return room_pb.ListRoomsResponse(rooms=rooms)

    async def delete_room(self, req: room_pb.DeleteRoomRequest, grants: Grants) -> room_pb.DeleteRoomResponse:
        grants.require_create()
        room = self._room(req.room)
        await room.close(models.DisconnectReason.ROOM_DELETED)
        return room_pb.DeleteRoomResponse()

    async def update_room_metadata(self, req: room_pb.UpdateRoomMetadataRequest, grants: Grants) -> models.Room:
        if len(req.metadata.encode()) > MAX_METADATA_SIZE:
            raise invalid_argument("metadata size exceeds limits", str(MAX_METADATA_SIZE))
        grants.require_admin(req.room)
        room = self._room(req.room)
        room.set_metadata(req.metadata)
        return room.snapshot()

    # ---- participants ----------------------------------------------------------------------------

    async def list_participants(
        self, req: room_pb.ListParticipantsRequest, grants: Grants
    ) -> room_pb.ListParticipantsResponse:
        grants.require_admin(req.room)
        room = self.manager.get(req.room)
        if room is None:  # LiveKit answers an unknown room with an empty list
            return room_pb.ListParticipantsResponse()
        return room_pb.ListParticipantsResponse(participants=[p.snapshot() for p in room.participants.values()])

    async def get_participant(self, req: room_pb.RoomParticipantIdentity, grants: Grants) -> models.ParticipantInfo:
        grants.require_admin(req.room)
        _, participant = self._participant(req.room, req.identity)
        return participant.snapshot()

    async def remove_participant(
        self, req: room_pb.RoomParticipantIdentity, grants: Grants
    ) -> room_pb.RemoveParticipantResponse:
        grants.require_admin(req.room)
        room, participant = self._participant(req.room, req.identity)
        await room.kick(participant, models.DisconnectReason.PARTICIPANT_REMOVED)
        return room_pb.RemoveParticipantResponse()

    async def mute_published_track(
        self, req: room_pb.MuteRoomTrackRequest, grants: Grants
    ) -> room_pb.MuteRoomTrackResponse:
        grants.require_admin(req.room)
        room, participant = self._participant(req.room, req.identity)
        if not req.muted and not self.enable_remote_unmute:
            raise TwirpError("failed_precondition", "remote unmute not enabled")
        track = participant.tracks.get(req.track_sid)
        if track is None:  # LiveKit answers with no track rather than an error
            return room_pb.MuteRoomTrackResponse()
        # The publisher is told to (un)mute its track, and everyone sees the new state.
        participant.send(rtc.SignalResponse(mute=rtc.MuteTrackRequest(sid=track.sid, muted=req.muted)))
        room.set_muted(participant, track, req.muted)
        info = models.TrackInfo()
        info.CopyFrom(track.info)
        return room_pb.MuteRoomTrackResponse(track=info)

    async def update_participant(
        self, req: room_pb.UpdateParticipantRequest, grants: Grants
    ) -> models.ParticipantInfo:
        if len(req.name) > MAX_NAME_LENGTH:
            raise invalid_argument("name length exceeds limits", str(MAX_NAME_LENGTH))
        if len(req.metadata.encode()) > MAX_METADATA_SIZE:
            raise invalid_argument("metadata size exceeds limits", str(MAX_METADATA_SIZE))
        if sum(len(k) + len(v) for k, v in req.attributes.items()) > MAX_ATTRIBUTES_SIZE:
            raise invalid_argument("attribute size exceeds limits", str(MAX_ATTRIBUTES_SIZE))
        grants.require_admin(req.room)
        room, participant = self._participant(req.room, req.identity)
        changed = participant.update_info(req.name, req.metadata, req.attributes)
        if req.HasField("permission"):
            await room.set_permission(participant, req.permission)
            changed = True
        if changed:
            participant.bump()
            room.broadcast_participant(participant)
        return participant.snapshot()

    async def update_subscriptions(
        self, req: room_pb.UpdateSubscriptionsRequest, grants: Grants
    ) -> room_pb.UpdateSubscriptionsResponse:
        grants.require_admin(req.room)
        room, participant = self._participant(req.room, req.identity)
        session = participant.session
        if session is None:
            return room_pb.UpdateSubscriptionsResponse()
        sids = list(req.track_sids)
        for pt in req.participant_tracks:
            sids.extend(pt.track_sids)
        for sid in sids:
            if req.subscribe:
                if not participant.info.permission.can_subscribe:
                    continue
                found = room.find_track(sid, excluding=participant)
                if found is not None:
                    session.subscribe(*found)
            else:
                session.unsubscribe(sid)
        return room_pb.UpdateSubscriptionsResponse()

    async def send_data(self, req: room_pb.SendDataRequest, grants: Grants) -> room_pb.SendDataResponse:
        grants.require_admin(req.room)
        if len(req.nonce) not in (0, 16):
            raise TwirpError("invalid_argument", f"nonce should be 16-bytes or not present, got: {len(req.nonce)} bytes")
        room = self._room(req.room)
        destinations = set(req.destination_identities)
        if req.destination_sids:
            wanted = set(req.destination_sids)
            destinations.update(p.identity for p in room.participants.values() if p.sid in wanted)
        if (req.destination_identities or req.destination_sids) and not destinations & set(room.participants):
            return room_pb.SendDataResponse()  # addressed to nobody present: nobody gets it
        room.send_data(
            req.data,
            reliable=req.kind != models.DataPacket.Kind.LOSSY,
            destination_identities=destinations,
            topic=req.topic if req.HasField("topic") else None,
        )
        return room_pb.SendDataResponse()
