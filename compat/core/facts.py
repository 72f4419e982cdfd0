"""Neutral facts: what happened in a room, independent of any vendor's object model.

The core turns LiveKit (`livekit.rtc`) room events into an ordered stream of these
frozen values. Vendor models (``compat.twilio_video``, later ``compat.vonage``)
subscribe to that stream and build their own objects and events from it. Tests can
feed the same values through :class:`compat.core.ScriptedSession` without LiveKit.

Participants are identified by **identity** (LiveKit keys remote participants by
identity), tracks by their LiveKit publication SID.
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs

TrackKind = Literal["audio", "video", "data"]


class DisconnectCause(enum.Enum):
    """Why the local participant's connection ended (mirrors LiveKit's DisconnectReason)."""

    UNKNOWN = "unknown"
    CLIENT_INITIATED = "client_initiated"
    DUPLICATE_IDENTITY = "duplicate_identity"
    SERVER_SHUTDOWN = "server_shutdown"
    PARTICIPANT_REMOVED = "participant_removed"
    ROOM_DELETED = "room_deleted"
    STATE_MISMATCH = "state_mismatch"
    JOIN_FAILURE = "join_failure"
    MIGRATION = "migration"
    SIGNAL_CLOSE = "signal_close"
    ROOM_CLOSED = "room_closed"
    USER_UNAVAILABLE = "user_unavailable"
    USER_REJECTED = "user_rejected"
    SIP_TRUNK_FAILURE = "sip_trunk_failure"
    CONNECTION_TIMEOUT = "connection_timeout"
    MEDIA_FAILURE = "media_failure"
    AGENT_ERROR = "agent_error"


class Quality(enum.Enum):
    """Connection quality buckets as LiveKit reports them."""

    EXCELLENT = "excellent"
    GOOD = "good"
    POOR = "poor"
    LOST = "lost"


@attrs.frozen
class ParticipantInfo:
    sid: str
    identity: str
    name: str = ""
    metadata: str = ""


@attrs.frozen
class TrackInfo:
    sid: str
    name: str
    kind: TrackKind
    muted: bool = False
    source: str = "unknown"


@attrs.frozen
class ParticipantState:
    """A remote participant and its publications, as present when the local side connected."""

    info: ParticipantInfo
    tracks: tuple[TrackInfo, ...] = ()


@attrs.frozen
class RoomSnapshot:
    """State present when connect() returned (LiveKit sends no join/publish events for it)."""

    room_sid: str
    room_name: str
    local: ParticipantInfo
    participants: tuple[ParticipantState, ...] = ()
    is_recording: bool = False


# --- facts -----------------------------------------------------------------------------


@attrs.frozen
class Connected:
    """First fact of every session: the state present at connect (participants and their
    tracks, recording flag), for which LiveKit sends no join or publish events."""

    snapshot: RoomSnapshot


@attrs.frozen
class ParticipantJoined:
    """A remote participant joined after we connected, with the tracks it already had."""

    participant: ParticipantInfo
    tracks: tuple[TrackInfo, ...] = ()


@attrs.frozen
class ParticipantLeft:
    """A remote participant left. Publications it still had vanish with it (no
    TrackUnpublished is sent for them); subscribed tracks may or may not have been
    reported as TrackUnsubscribed before this fact."""

    identity: str
    reason: DisconnectCause | None = None


@attrs.frozen
class TrackPublished:
    identity: str
    track: TrackInfo


@attrs.frozen
class TrackUnpublished:
    identity: str
    track_sid: str


@attrs.frozen
class TrackSubscribed:
    identity: str
    track_sid: str


@attrs.frozen
class TrackUnsubscribed:
    identity: str
    track_sid: str


@attrs.frozen
class TrackSubscriptionFailed:
    identity: str
    track_sid: str
    message: str = ""


@attrs.frozen
class TrackMuted:
    identity: str
    track_sid: str


@attrs.frozen
class TrackUnmuted:
    identity: str
    track_sid: str


@attrs.frozen
class TrackStarted:
    """The first media frame of a subscribed remote track arrived (video: with its size)."""

    identity: str
    track_sid: str
    width: int | None = None
    height: int | None = None


@attrs.frozen
class DataReceived:
    """A data packet; identity is None when the server API sent it."""

    identity: str | None
    data: bytes
    topic: str = ""
    reliable: bool = True


@attrs.frozen
class ActiveSpeakersChanged:
    """Loudest first; may include the local identity."""

    identities: tuple[str, ...]


@attrs.frozen
class ConnectionQualityChanged:
    identity: str
    quality: Quality
    is_local: bool = False


@attrs.frozen
class RecordingStarted:
    """The room started being recorded (LiveKit: an egress became active)."""


@attrs.frozen
class RecordingStopped:
    """The room stopped being recorded."""


@attrs.frozen
class Reconnecting:
    pass


@attrs.frozen
class Reconnected:
    pass


@attrs.frozen
class Disconnected:
    """The connection ended. ``local`` is True when our own disconnect() caused it."""

    reason: DisconnectCause = DisconnectCause.UNKNOWN
    local: bool = False
    was_reconnecting: bool = False


Fact = (
    Connected
    | ParticipantJoined
    | ParticipantLeft
    | TrackPublished
    | TrackUnpublished
    | TrackSubscribed
    | TrackUnsubscribed
    | TrackSubscriptionFailed
    | TrackMuted
    | TrackUnmuted
    | TrackStarted
    | DataReceived
    | ActiveSpeakersChanged
    | ConnectionQualityChanged
    | RecordingStarted
    | RecordingStopped
    | Reconnecting
    | Reconnected
    | Disconnected
)


@attrs.frozen
class ConnectFailure(Exception):  # noqa: N818 - a fact-like outcome, named as the facts are
    """connect() failed. ``status`` is the HTTP status of the signal handshake when known."""

    message: str
    status: int | None = None
    timed_out: bool = False

    def __str__(self) -> str:
        return self.message


@attrs.frozen
class PublishFailure(Exception):  # noqa: N818 - a fact-like outcome, named as the facts are
    message: str

    def __str__(self) -> str:
        return self.message


@attrs.frozen
class CommandFailure(Exception):  # noqa: N818 - a fact-like outcome, named as the facts are
    """A command (unpublish, ...) failed in LiveKit; already logged at WARNING."""

    message: str

    def __str__(self) -> str:
        return self.message


@attrs.frozen
class RtpStats:
    """One RTP stream's counters (a neutral subset of WebRTC stats)."""

    direction: Literal["outbound", "inbound"]
    kind: str
    ssrc: int
    track_sid: str | None
    timestamp_ms: float
    codec: str | None = None
    bytes: int = 0
    packets: int = 0
    packets_lost: int | None = None
    jitter_s: float | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    frames_per_second: float | None = None
    round_trip_time_s: float | None = None


@attrs.frozen
class ConnectionStats:
    """Stats of one peer connection (``publisher`` or ``subscriber``)."""

    peer_connection_id: str
    streams: tuple[RtpStats, ...] = ()


@attrs.frozen
class PublishSettings:
    """How to publish a media track (vendor options reduced to what LiveKit can do)."""

    source: Literal["camera", "microphone", "screen_share", "screen_share_audio", "unknown"] = "unknown"
    max_bitrate: int | None = None
    video_codec: Literal["vp8", "h264", "vp9", "av1"] | None = None
    simulcast: bool | None = None
    dtx: bool | None = None

__all__ = [
    "ActiveSpeakersChanged",
    "CommandFailure",
    "ConnectFailure",
    "Connected",
    "ConnectionQualityChanged",
    "ConnectionStats",
    "DataReceived",
    "DisconnectCause",
    "Disconnected",
    "Fact",
    "ParticipantInfo",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantState",
    "PublishFailure",
    "PublishSettings",
    "Quality",
    "Reconnected",
    "Reconnecting",
    "RecordingStarted",
    "RecordingStopped",
    "RoomSnapshot",
    "RtpStats",
    "TrackInfo",
    "TrackKind",
    "TrackMuted",
    "TrackPublished",
    "TrackStarted",
    "TrackSubscribed",
    "TrackSubscriptionFailed",
    "TrackUnmuted",
    "TrackUnpublished",
    "TrackUnsubscribed",
]
