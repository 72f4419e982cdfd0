"""compat.core: the single boundary to LiveKit (``livekit.rtc``).

Vendor models never import ``livekit.rtc``; they consume the ordered fact stream of a
:class:`Session` and call its commands. :func:`open_session` connects a real room;
:class:`ScriptedSession` lets tests feed facts without LiveKit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .facts import (
    ActiveSpeakersChanged,
    AttributesChanged,
    CommandFailure,
    Connected,
    ConnectFailure,
    ConnectionQualityChanged,
    ConnectionStats,
    DataReceived,
    DisconnectCause,
    Disconnected,
    Fact,
    LocalTrackMuted,
    MetadataChanged,
    ModerationFailure,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantReconnected,
    ParticipantReconnecting,
    ParticipantState,
    Permissions,
    PermissionsChanged,
    PublishFailure,
    PublishSettings,
    Quality,
    Reconnected,
    Reconnecting,
    RecordingStarted,
    RecordingStopped,
    RoomSnapshot,
    RtpStats,
    TrackDimensionsChanged,
    TrackInfo,
    TrackKind,
    TrackMuted,
    TrackPublished,
    TrackStarted,
    TrackSubscribed,
    TrackSubscriptionFailed,
    TrackUnmuted,
    TrackUnpublished,
    TrackUnsubscribed,
    TranscriptionReceived,
)
from .quality import SetupRecord, begin_setup, session_platform
from .session import FrameStream, ScriptedSession, Session

if TYPE_CHECKING:
    from .rtc_session import RtcSession

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
    "FrameStream",
    "LocalTrackMuted",
    "MetadataChanged",
    "ModerationFailure",
    "ParticipantInfo",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantReconnected",
    "ParticipantReconnecting",
    "ParticipantState",
    "Permissions",
    "PermissionsChanged",
    "PublishFailure",
    "PublishSettings",
    "Quality",
    "Reconnected",
    "Reconnecting",
    "RecordingStarted",
    "RecordingStopped",
    "RoomSnapshot",
    "RtpStats",
    "ScriptedSession",
    "Session",
    "SetupRecord",
    "TrackDimensionsChanged",
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
    "TranscriptionReceived",
    "begin_setup",
    "open_session",
    "session_platform",
]


async def open_session(url: str, token: str, **kwargs: Any) -> RtcSession:
    """Connect to LiveKit (imports livekit.rtc on first use); see rtc_session.open_session."""
    from .rtc_session import open_session as _open

    return await _open(url, token, **kwargs)
