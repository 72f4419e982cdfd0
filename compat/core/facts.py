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
class Permissions:
    """What a participant's grants allow (LiveKit's ParticipantPermission)."""

    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    room_admin: bool = False  # may call RoomService for its room (OpenTok moderator)


@attrs.frozen
class ParticipantInfo:
    sid: str
    identity: str
    name: str = ""
    metadata: str = ""
    joined_at_ms: float = 0.0  # when LiveKit says it joined (OpenTok Connection.creationTime)
    permissions: Permissions = Permissions()
    attributes: tuple[tuple[str, str], ...] = ()  # LiveKit participant attributes, sorted by key


@attrs.frozen
class TrackInfo:
    sid: str
    name: str
    kind: TrackKind
    muted: bool = False
    source: str = "unknown"
    width: int = 0  # video: the publisher's announced dimensions (0 when unknown)
    height: int = 0


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
    """A remote participant joined after we connected, with its tracks: those it had when it
    joined, and those it published during the join burst (``published``: their SIDs, in
    the order LiveKit reported them). livekit.rtc 1.2.1 builds a joining participant
    without its publications and reports each with its own ``track_published`` right
    after ``participant_connected``, so in practice every track of a join is in
    ``published``; only publications the participant already had at ``participant_connected``
    are not (a vendor model that tells "present when it connected" from "published after"
    uses this)."""

    participant: ParticipantInfo
    tracks: tuple[TrackInfo, ...] = ()
    published: tuple[str, ...] = ()


@attrs.frozen
class ParticipantLeft:
    """A remote participant left. Publications it still had vanish with it (no
    TrackUnpublished is sent for them); subscribed tracks may or may not have been
    reported as TrackUnsubscribed before this fact."""

    identity: str
    reason: DisconnectCause | None = None


@attrs.frozen
class ParticipantReconnecting:
    """A remote participant is reconnecting: it left because its identity joined again (a full
    reconnect; LiveKit's DUPLICATE_IDENTITY). Its tracks stay reported; within the core's grace
    it comes back (ParticipantReconnected) or is reported left (TrackUnsubscribed..., ParticipantLeft)."""

    identity: str


@attrs.frozen
class ParticipantReconnected:
    """A reconnecting remote participant is back: same participant and vendor SIDs; what really
    changed follows as facts (TrackPublished, TrackUnpublished, TrackMuted, ...)."""

    identity: str


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
class TranscriptionReceived:
    """One LiveKit transcription segment: an ``lk.transcription`` text stream, read to its end
    (LiveKit Agents' and egress's transcription convention). ``identity`` sent it; ``track_sid``
    is the transcribed track (its ``lk.transcribed_track_id``, as a vendor SID; "" when not named);
    ``final`` is ``lk.transcription_final``; ``segment_id`` is ``lk.segment_id`` (else the stream's ID:
    interim and final versions of one segment share it)."""

    identity: str
    track_sid: str
    segment_id: str
    text: str
    final: bool


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
class TrackDimensionsChanged:
    """A subscribed remote video track's frames changed size after its first frame
    (TrackStarted carries the first size).

    Source: the decoded frames themselves, compared with the last size seen as they pass
    through a video frame stream that is open anyway (``RtcSession``'s ``_Sink``). LiveKit's
    announced dimensions (``TrackInfo.width/height``) are the publisher's at publish time and
    livekit.rtc 1.2.1 never updates them, so they cannot report a change. Hence: no extra
    per-frame work for tracks nobody reads, and **changes are reported only while a video
    frame stream is open on the track** (a renderer, a recorder, a vendor's videoElement)."""

    identity: str
    track_sid: str
    width: int
    height: int


@attrs.frozen
class LocalTrackMuted:
    """The server muted or unmuted one of our own tracks (a moderator's RoomService
    MutePublishedTrack): not reported for our own set_muted calls."""

    track_sid: str
    muted: bool


@attrs.frozen
class PermissionsChanged:
    """A participant's permissions changed (UpdateParticipant); ``identity`` is ours for the
    local participant."""

    identity: str
    permissions: Permissions
    is_local: bool


@attrs.frozen
class MetadataChanged:
    """A participant's metadata changed (ours too: ``is_local``)."""

    identity: str
    metadata: str
    is_local: bool


@attrs.frozen
class AttributesChanged:
    """A participant's LiveKit attributes changed (ours too: ``is_local``); ``attributes`` is
    the whole set after the change, sorted by key. Keys starting with
    :data:`compat.core.topics.RESERVED_PREFIX` belong to a vendor model (see topics.py)."""

    identity: str
    attributes: tuple[tuple[str, str], ...]
    is_local: bool


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
    | ParticipantReconnecting
    | ParticipantReconnected
    | TrackPublished
    | TrackUnpublished
    | TrackSubscribed
    | TrackUnsubscribed
    | TrackSubscriptionFailed
    | TrackMuted
    | TrackUnmuted
    | TrackStarted
    | DataReceived
    | TranscriptionReceived
    | ActiveSpeakersChanged
    | ConnectionQualityChanged
    | RecordingStarted
    | RecordingStopped
    | Reconnecting
    | Reconnected
    | TrackDimensionsChanged
    | LocalTrackMuted
    | PermissionsChanged
    | MetadataChanged
    | AttributesChanged
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
    """A session command (unpublish, a test hook, ...) failed or did not finish in time in
    LiveKit. ``command`` names it; ``timed_out`` tells a timeout from a native error. The
    core has already logged it at WARNING; the vendor maps it to its own error."""

    command: str
    message: str
    timed_out: bool = False

    def __str__(self) -> str:
        return f"{self.command}: {self.message}"


@attrs.frozen
class ModerationFailure(CommandFailure):
    """A moderation command (RoomService through the session's own token) failed.
    ``reason``: ``permission_denied`` (the token lacks roomAdmin), ``not_found`` (no such
    participant or track), or ``failed`` (anything else, timeouts included)."""

    reason: Literal["permission_denied", "not_found", "failed"] = "failed"


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
    # video: what the encoder gives up first under CPU or bandwidth pressure (None: LiveKit's
    # default, which scales the resolution down); "maintain_resolution" keeps the frame size.
    degradation_preference: Literal["balanced", "maintain_framerate", "maintain_resolution"] | None = None

__all__ = [
    "ActiveSpeakersChanged",
    "AttributesChanged",
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
    "ParticipantReconnected",
    "ParticipantReconnecting",
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
