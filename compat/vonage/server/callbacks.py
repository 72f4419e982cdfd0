"""Vonage callbacks from LiveKit webhooks: session monitoring and archive status (reference §6).

:class:`VonageCallbacks` is a vendor of the shared translator (:mod:`compat._server.translator`):
run both vendors in one service with ``compat webhooks``, or this one alone with
:func:`vonage_translator`. Each callback is a JSON POST, delivered in order per session, retried
until delivered (or moved to the outbox's ``dead`` table with a WARNING).

==================================  ==================================================================
LiveKit webhook                     Vonage callback (``session_callback``)
==================================  ==================================================================
``room_started``                    ``sessionCreated`` (LiveKit: when the room is created, which
                                    ``create_session`` does, or on the first join)
``room_finished``                   ``sessionDestroyed`` (``reason`` "")
``participant_joined``              ``connectionCreated{connection{id, createdAt, data}}``
``participant_left``                ``connectionDestroyed{reason}``: clientDisconnected,
                                    forceDisconnected (removed / room deleted), networkDisconnected
``track_published``                 ``streamCreated`` when the track opens a stream (the stream IDs of
                                    :mod:`compat.vonage.stream`)
``track_unpublished``               ``streamDestroyed{reason}`` when it was the stream's last track
``egress_*`` (room composite)       archive callbacks (``archive_callback``): ``started``, then
                                    ``stopped`` and ``available`` (or ``failed``)
==================================  ==================================================================

The session ID in each callback is the one ``create_session`` kept in the room metadata, else the
one :func:`compat.vonage.mint_session_id` gives the room. Callbacks are not signed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from livekit.protocol import egress as egress_pb
from livekit.protocol import models
from livekit.protocol import webhook as webhook_pb

from compat._server.model import Callback, RoomInfo, TrackInfo
from compat._server.outbox import Row
from compat._server.translator import DeliverySettings, WebhookTranslator
from compat.vonage.errors import OTError
from compat.vonage.sessionid import mint_session_id
from compat.vonage.token import parse_metadata

from ._service import archive_fields, streams_of

__all__ = ["VonageCallbacks", "vonage_translator"]

S = egress_pb.EgressStatus
R = models.DisconnectReason
_FORCED = (R.PARTICIPANT_REMOVED, R.ROOM_DELETED)
_CLIENT = (R.CLIENT_INITIATED,)


class VonageCallbacks:
    """The Vonage vendor: ``session_callback`` (session monitoring) and ``archive_callback`` URLs."""

    name = "vonage"

    def __init__(self, api_key: str, *, session_callback: str | None = None, archive_callback: str | None = None,
                 project_id: str | None = None) -> None:
        if not session_callback and not archive_callback:
            raise ValueError("give a session callback URL, an archive callback URL, or both")
        self.api_key = api_key
        self.project_id = project_id or api_key
        self.session_callback = session_callback
        self.archive_callback = archive_callback

    def translate(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None, tracks: dict[str, TrackInfo]) -> list[Callback]:
        kind = event.event
        if kind.startswith("egress_"):
            return self._archive(kind, event.egress_info, room)
        if room is None or not self.session_callback:
            return []
        base = {"sessionId": self.session_id(room.name, room.metadata), "projectId": self.project_id,
                "timestamp": int((event.created_at or time.time()) * 1000)}
        return [self._callback(room.name, self.session_callback, {**base, **body}) for body in _session_events(event)]

    def headers(self, url: str, row: Row) -> dict[str, str]:
        return {}

    def explain(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None) -> None:
        return None

    def session_id(self, room: str, metadata: str) -> str:
        try:
            meta = json.loads(metadata) if metadata else {}
        except ValueError:
            meta = {}
        entry = meta.get("compat.vonage") if isinstance(meta, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("sessionId"), str):
            return str(entry["sessionId"])
        try:
            return mint_session_id(self.api_key, room)
        except OTError:
            return room

    def _callback(self, room: str, url: str, body: dict[str, Any]) -> Callback:
        return Callback("vonage:" + room, url, "POST", body, numbered=None, vendor=self.name, format="json")

    def _archive(self, kind: str, info: egress_pb.EgressInfo, room: RoomInfo | None) -> list[Callback]:
        if not self.archive_callback or info.WhichOneof("request") != "room_composite":
            return []
        session_id = self.session_id(info.room_name, room.metadata if room else "")
        fields = archive_fields(info, {}, session_id, self.project_id)
        if kind == "egress_started":
            statuses = ["started"]
        elif kind == "egress_ended":
            statuses = ["stopped", fields["status"]] if fields["status"] != "failed" else ["failed"]
        else:
            return []
        return [self._callback(info.room_name, self.archive_callback, {**fields, "status": s}) for s in statuses]


def _connection(p: models.ParticipantInfo) -> dict[str, Any]:
    created = p.joined_at_ms or p.joined_at * 1000
    return {"id": p.sid, "createdAt": int(created), "data": parse_metadata(p.metadata).data or ""}


def _reason(p: models.ParticipantInfo) -> str:
    if p.disconnect_reason in _FORCED:
        return "forceDisconnected"
    if p.disconnect_reason in _CLIENT:
        return "clientDisconnected"
    return "networkDisconnected" if p.disconnect_reason else "clientDisconnected"


def _session_events(event: webhook_pb.WebhookEvent) -> list[dict[str, Any]]:
    kind, p = event.event, event.participant
    if kind == "room_started":
        return [{"event": "sessionCreated"}]
    if kind == "room_finished":
        return [{"event": "sessionDestroyed", "reason": ""}]
    if kind == "participant_joined":
        return [{"event": "connectionCreated", "connection": _connection(p)}]
    if kind == "participant_left":
        return [{"event": "connectionDestroyed", "reason": _reason(p), "connection": _connection(p)}]
    if kind in ("track_published", "track_unpublished"):
        return _stream_event(kind, p, event.track)
    return []


def _stream_event(kind: str, p: models.ParticipantInfo, track: models.TrackInfo) -> list[dict[str, Any]]:
    """streamCreated when the track opens its stream; streamDestroyed when it was the stream's last."""
    others = models.ParticipantInfo()
    others.CopyFrom(p)
    del others.tracks[:]
    others.tracks.extend(t for t in p.tracks if t.sid != track.sid)
    with_it = models.ParticipantInfo()
    with_it.CopyFrom(others)
    with_it.tracks.append(track)
    stream = next((s for s in streams_of(with_it) if track.sid in (t.sid for t in (s.audio, s.video) if t is not None)), None)
    if stream is None or any(s.id == stream.id for s in streams_of(others)):
        return []
    body: dict[str, Any] = {"id": stream.id, "connection": _connection(p), "createdAt": int(time.time() * 1000),
                            "name": stream.name}
    if stream.video_type is not None:
        body["videoType"] = stream.video_type
    if kind == "track_published":
        return [{"event": "streamCreated", "stream": body}]
    reason = "forceDisconnected" if p.disconnect_reason in _FORCED else "clientDisconnected"
    return [{"event": "streamDestroyed", "reason": reason, "stream": body}]


def vonage_translator(db_path: str, api_key: str, api_secret: str, *, session_callback: str | None = None,
                      archive_callback: str | None = None, delivery: DeliverySettings | None = None) -> WebhookTranslator:
    """The translator serving Vonage callbacks only (``.app``: POST /livekit; ``start()``, ``close()``)."""
    vendor = VonageCallbacks(api_key, session_callback=session_callback, archive_callback=archive_callback)
    return WebhookTranslator(db_path, api_key, api_secret, [vendor], delivery=delivery)
