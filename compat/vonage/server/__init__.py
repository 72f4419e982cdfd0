"""compat.vonage.server: the server SDKs (opentok 3.x ``Client``) on a LiveKit server.

Port a back end by changing its imports::

    from compat.vonage.server import Client, Roles, MediaModes   # was: from opentok import ...
    from compat.vonage.server import OpenTokException            # was: from opentok.exceptions import ...

Sessions are LiveKit rooms (:mod:`compat.vonage.sessionid`), tokens LiveKit tokens
(:mod:`compat.vonage.token`), signals RoomService SendData on the client model's signal topic,
force_disconnect RoomService RemoveParticipant, mutes MutePublishedTrack, archives Egress. What
differs from OpenTok is listed in docs/parity.md.

vonage-video 1.x (``from vonage_video import ...``) lives in :mod:`compat.vonage.server.video`
(``Video`` and its models) and :mod:`compat.vonage.server.video_errors` (its errors and the HTTP
ones); Vonage callbacks from LiveKit webhooks in :mod:`compat.vonage.server.callbacks`.
"""

from __future__ import annotations

from .client import Client, OpenTok
from .enums import ArchiveModes, MediaModes, OutputModes, Roles, StreamModes
from .exceptions import (
    ArchiveError,
    ArchiveStreamModeError,
    AuthError,
    BroadcastError,
    ForceDisconnectError,
    GetStreamError,
    InvalidMediaModeError,
    NotFoundError,
    OpenTokException,
    RequestError,
    SessionPlatformError,
    SetStreamClassError,
    SignalingError,
    SipDialError,
)
from .models import Archive, ArchiveList, Session, Stream, StreamList

__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveList",
    "ArchiveModes",
    "ArchiveStreamModeError",
    "AuthError",
    "BroadcastError",
    "Client",
    "ForceDisconnectError",
    "GetStreamError",
    "InvalidMediaModeError",
    "MediaModes",
    "NotFoundError",
    "OpenTok",
    "OpenTokException",
    "OutputModes",
    "RequestError",
    "Roles",
    "Session",
    "SessionPlatformError",
    "SetStreamClassError",
    "SignalingError",
    "SipDialError",
    "Stream",
    "StreamList",
    "StreamModes",
]
