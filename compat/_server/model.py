"""What the webhook translator stores and sends, for every vendor: callbacks and the room/track caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import models

__all__ = ["Callback", "RoomInfo", "TrackInfo", "room_info", "track_info"]


@dataclass(frozen=True)
class RoomInfo:
    """What the translator remembers of a room (from its last event): for egress events."""

    name: str
    sid: str  # LiveKit's
    metadata: str
    created: float


@dataclass(frozen=True)
class TrackInfo:
    sid: str  # LiveKit's
    participant_sid: str
    identity: str
    kind: str
    name: str


@dataclass(frozen=True)
class Callback:
    """One HTTP callback to deliver. ``room_key``: delivery order is per key (one room of one vendor);
    ``numbered``: the parameter that gets the per-key number at commit (None: not numbered);
    ``vendor``: whose hooks sign it; ``format``: ``form`` (urlencoded) or ``json``."""

    room_key: str
    url: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    numbered: str | None = "SequenceNumber"
    vendor: str = "twilio"
    format: str = "form"


def room_info(room: models.Room) -> RoomInfo:
    created = room.creation_time_ms / 1000 if room.creation_time_ms else float(room.creation_time)
    return RoomInfo(room.name, room.sid, room.metadata, created)


def track_info(p: models.ParticipantInfo, t: models.TrackInfo) -> TrackInfo:
    kind = "audio" if t.type == models.TrackType.AUDIO else "video" if t.type == models.TrackType.VIDEO else "data"
    return TrackInfo(t.sid, p.sid, p.identity, kind, t.name)
