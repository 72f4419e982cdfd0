"""LiveKit webhook events → Twilio status callbacks (the form fields of reference §7.4).

Pure functions: the caller gives the event, the room's cached settings (for egress events, which
carry no room) and the track cache, and gets the callbacks (without ``SequenceNumber``, which the
outbox assigns at commit time).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from livekit.protocol import egress as egress_pb
from livekit.protocol import models
from livekit.protocol import webhook as webhook_pb

from compat._server.model import Callback, RoomInfo, TrackInfo, track_info
from compat.twilio_video.rest._base import twilio_meta
from compat.twilio_video.rest.sids import to_twilio

__all__ = ["Callback", "Defaults", "RoomInfo", "TrackInfo", "translate"]

S = egress_pb.EgressStatus


@dataclass(frozen=True)
class Defaults:
    callback_url: str | None
    account_sid: str


def timestamp(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def translate(
    event: webhook_pb.WebhookEvent, room: RoomInfo | None, tracks: dict[str, TrackInfo], defaults: Defaults
) -> list[Callback]:
    """The callbacks for one LiveKit event ([] for events Twilio has no callback for)."""
    if room is None:
        return []
    meta = twilio_meta(room.metadata)
    url = meta.get("status_callback") or defaults.callback_url
    if not url:
        return []
    when = float(event.created_at) if event.created_at else datetime.datetime.now().timestamp()
    base = {
        "AccountSid": str(meta.get("account_sid") or defaults.account_sid),
        "RoomName": room.name,
        "RoomSid": to_twilio("RM", room.sid),
        "RoomStatus": "completed" if event.event == "room_finished" else "in-progress",
        "RoomType": str(meta.get("type", "group")),
        "Timestamp": timestamp(when),
    }
    found = [{**base, **fields} for fields in _fields(event, room, tracks, when)]
    method = str(meta.get("status_callback_method", "POST")).upper()
    return [Callback(base["RoomSid"], str(url), method, f) for f in found]


def _fields(event: webhook_pb.WebhookEvent, room: RoomInfo, tracks: dict[str, TrackInfo], when: float) -> list[dict[str, str]]:
    kind = event.event
    if kind == "room_started":
        return [{"StatusCallbackEvent": "room-created"}]
    if kind == "room_finished":
        return [{"StatusCallbackEvent": "room-ended", "RoomDuration": str(max(0, int(when - room.created)))}]
    if kind in ("participant_joined", "participant_left"):
        return [_participant(event.participant, kind == "participant_joined", when)]
    if kind in ("track_published", "track_unpublished"):
        t = track_info(event.participant, event.track)
        name = "track-added" if kind == "track_published" else "track-removed"
        return [{"StatusCallbackEvent": name, **_who(t), "TrackSid": to_twilio("MT", t.sid), "TrackKind": t.kind, "TrackName": t.name}]
    if kind.startswith("egress_"):
        return _egress(kind, event.egress_info, tracks)
    return []


def _participant(p: models.ParticipantInfo, joined: bool, when: float) -> dict[str, str]:
    fields = {
        "StatusCallbackEvent": "participant-connected" if joined else "participant-disconnected",
        "ParticipantSid": to_twilio("PA", p.sid),
        "ParticipantIdentity": p.identity,
        "ParticipantStatus": "connected" if joined else "disconnected",
    }
    if not joined:
        start = p.joined_at_ms / 1000 if p.joined_at_ms else float(p.joined_at)
        fields["ParticipantDuration"] = str(max(0, int(when - start)))
    return fields


def _who(t: TrackInfo) -> dict[str, str]:
    return {"ParticipantSid": to_twilio("PA", t.participant_sid), "ParticipantIdentity": t.identity}


def _egress(kind: str, info: egress_pb.EgressInfo, tracks: dict[str, TrackInfo]) -> list[dict[str, str]]:
    request = info.WhichOneof("request")
    if request == "track":
        return _recording(kind, info, tracks.get(info.track.track_id))
    if request == "room_composite":
        return _composition(kind, info)
    return []


def _file(info: egress_pb.EgressInfo) -> dict[str, str]:
    file = info.file_results[-1] if info.file_results else info.file
    location = file.location or file.filename
    ext = os.path.splitext(location)[1].lstrip(".")
    return {"Container": ext, "Duration": str(int(file.duration / 1e9)), "Size": str(file.size), "MediaExternalLocation": location}


def _recording(kind: str, info: egress_pb.EgressInfo, track: TrackInfo | None) -> list[dict[str, str]]:
    sid = to_twilio("RT", info.egress_id)
    fields = {"RecordingSid": sid, "RecordingUri": f"/v1/Recordings/{sid}", "SourceSid": to_twilio("MT", info.track.track_id)}
    if track is not None:
        fields.update(_who(track), Type=track.kind, TrackName=track.name)
    if kind == "egress_started":
        return [{"StatusCallbackEvent": "recording-started", **fields}]
    if kind != "egress_ended":
        return []
    if info.status != S.EGRESS_COMPLETE:
        return [{"StatusCallbackEvent": "recording-failed", **fields, "FailedOperation": info.error or S.Name(info.status)}]
    codec = {"audio": "OPUS", "video": "VP8"}.get(track.kind if track else "", "")
    media = {**_file(info), "Codec": codec, "MediaUri": f"/v1/Recordings/{sid}/Media"}
    return [{"StatusCallbackEvent": "recording-completed", **fields, **media}]


def _composition(kind: str, info: egress_pb.EgressInfo) -> list[dict[str, str]]:
    sid = to_twilio("CJ", info.egress_id)
    fields = {"CompositionSid": sid, "CompositionUri": f"/v1/Compositions/{sid}"}
    if kind == "egress_started":
        return [{"StatusCallbackEvent": "composition-enqueued", **fields}]
    if kind == "egress_updated":
        return [{"StatusCallbackEvent": "composition-started", **fields}] if info.status == S.EGRESS_ACTIVE else []
    if info.status != S.EGRESS_COMPLETE:
        return [{"StatusCallbackEvent": "composition-failed", **fields, "ErrorMessage": info.error or S.Name(info.status)}]
    file = _file(info)
    media = {"MediaUri": f"/v1/Compositions/{sid}/Media", "Duration": file["Duration"], "Size": file["Size"],
             "MediaExternalLocation": file["MediaExternalLocation"]}
    return [{"StatusCallbackEvent": "composition-available", **fields, **media}]
