"""LiveKit failures -> Twilio error codes (the table is in docs/parity.md)."""

from __future__ import annotations

import re

from compat.core import ConnectFailure, DisconnectCause

from .errors import (
    AccessTokenExpiredError,
    AccessTokenGrantsInvalidError,
    AccessTokenHeaderInvalidError,
    AccessTokenInvalidError,
    AccessTokenIssuerInvalidError,
    AccessTokenNotYetValidError,
    AccessTokenSignatureInvalidError,
    CodedTwilioError,
    MediaConnectionError,
    ParticipantDuplicateIdentityError,
    RoomCompletedError,
    RoomConnectFailedError,
    RoomMaxParticipantsExceededError,
    RoomNotFoundError,
    SignalingConnectionDisconnectedError,
    SignalingConnectionError,
    TrackInvalidError,
    TwilioError,
)

# (pattern in the server's reason, error class), first match wins.
_TOKEN_RULES: tuple[tuple[re.Pattern[str], type[CodedTwilioError]], ...] = (
    (re.compile(r"\bexpired?\b"), AccessTokenExpiredError),
    (re.compile(r"not (yet )?valid( yet)?|\bnbf\b|immature"), AccessTokenNotYetValidError),
    (re.compile(r"\bsignature\b"), AccessTokenSignatureInvalidError),
    (re.compile(r"\balg(orithm)?\b|\bheader\b"), AccessTokenHeaderInvalidError),
    (re.compile(r"\bissuer\b|\bapi ?key\b|\biss\b|\bsub\b|\bsubject\b|\bidentity\b"), AccessTokenIssuerInvalidError),
    (re.compile(r"\bgrants?\b|\bpermissions?\b|roomjoin|\bno room\b|not allowed"), AccessTokenGrantsInvalidError),
)

_FULL = re.compile(r"\bis full\b|max(imum)? ?participants|too many participants|participant limit")


def connect_error(failure: ConnectFailure) -> TwilioError:
    """A failed LiveKit connect -> the TwilioError twilio-video.js would reject with."""
    text = failure.message
    low = text.lower()
    if failure.timed_out:
        return SignalingConnectionError(f"Signaling connection error: {text}")
    if _FULL.search(low):
        return RoomMaxParticipantsExceededError(f"Room contains too many Participants ({text})")
    if failure.status in (400, 401, 403) or "unauthorized" in low or "invalid token" in low:
        for pattern, cls in _TOKEN_RULES:
            if pattern.search(low):
                return cls(f"{cls.default_message} ({text})")
        return AccessTokenInvalidError(f"Invalid Access Token ({text})")
    if failure.status is None:
        return SignalingConnectionError(f"Signaling connection error ({text})")
    return RoomConnectFailedError(f"Unable to connect to Room ({text})")


_DISCONNECT: dict[DisconnectCause, type[CodedTwilioError] | None] = {
    DisconnectCause.CLIENT_INITIATED: None,
    DisconnectCause.PARTICIPANT_REMOVED: None,
    DisconnectCause.DUPLICATE_IDENTITY: ParticipantDuplicateIdentityError,
    DisconnectCause.ROOM_DELETED: RoomCompletedError,
    DisconnectCause.ROOM_CLOSED: RoomCompletedError,
    DisconnectCause.SIGNAL_CLOSE: SignalingConnectionDisconnectedError,
    DisconnectCause.CONNECTION_TIMEOUT: SignalingConnectionDisconnectedError,
    DisconnectCause.MEDIA_FAILURE: MediaConnectionError,
    DisconnectCause.SERVER_SHUTDOWN: SignalingConnectionError,
    DisconnectCause.STATE_MISMATCH: SignalingConnectionError,
    DisconnectCause.JOIN_FAILURE: SignalingConnectionError,
    DisconnectCause.MIGRATION: SignalingConnectionError,
    DisconnectCause.USER_UNAVAILABLE: SignalingConnectionError,
    DisconnectCause.USER_REJECTED: SignalingConnectionError,
    DisconnectCause.SIP_TRUNK_FAILURE: SignalingConnectionError,
    DisconnectCause.AGENT_ERROR: SignalingConnectionError,
}


def disconnect_error(cause: DisconnectCause, was_reconnecting: bool = False) -> TwilioError | None:
    """Why LiveKit disconnected us -> the ``error`` of Room ``disconnected(room, error)``.

    A kick (RemoveParticipant) gives None, as a REST kick does in Twilio; an unknown
    reason gives None, or 53001 when it ends a reconnection attempt."""
    if cause is DisconnectCause.UNKNOWN:
        return SignalingConnectionDisconnectedError() if was_reconnecting else None
    cls = _DISCONNECT.get(cause, SignalingConnectionError)
    return cls() if cls is not None else None


def reconnecting_error() -> TwilioError:
    """twilio-video.js (lib/signaling/room.js, room state update) reconnects with 53001 when
    the signalling connection dropped (and the LocalParticipant goes ``reconnecting``:
    lib/signaling/v2/room.js, ``signalingConnectionStateChanged``), with 53405
    MediaConnectionError when only media did. livekit.rtc 1.2.1's ``reconnecting`` carries
    nothing, and every LiveKit reconnection (resume or full) dials the signalling connection
    again: each is reported as a signalling drop; a media-only drop cannot be told apart."""
    return SignalingConnectionDisconnectedError()


def subscription_error(message: str) -> TwilioError:
    return TrackInvalidError(f"Track is invalid: subscription failed ({message})" if message else None)



# --- compat.rollout -------------------------------------------------------------------------------
# A session the rollout put on the old platform does not exist on LiveKit. A client joining it gets
# 53106 "Room not found", what Twilio answers for a room that is not on its platform (client-side
# room creation off, as back ends that create rooms do); a token minted for it is refused with
# 20101 "Invalid Access Token", the code the token would meet on the platform it crosses to.


def legacy_room_error(room: str) -> RoomNotFoundError:
    """``connect`` to a room compat.rollout assigned to legacy: 53106 "Room not found", what Twilio
    answers for a room that does not exist on its platform (with client-side room creation off, as
    back ends that create rooms run it): the room lives on the other platform."""
    return RoomNotFoundError(
        f"Room not found: room {room!r} is on platform 'legacy' (compat.rollout assigned it there); "
        "join it with the legacy twilio-video SDK, or end the session and assign it again"
    )


def legacy_token_error(room: str) -> AccessTokenInvalidError:
    """``AccessToken.to_jwt`` for a room compat.rollout assigned to legacy: 20101 "Invalid Access
    Token", the code the token would meet on the platform it crosses to (twilio-python itself never
    refuses to mint; refusing here keeps the mistake in the back end, where it is made)."""
    return AccessTokenInvalidError(
        f"Invalid Access Token: room {room!r} is on platform 'legacy' (compat.rollout assigned it there); "
        "mint its token with twilio-python's AccessToken, not compat's"
    )

__all__ = ["connect_error", "disconnect_error", "legacy_room_error", "legacy_token_error", "reconnecting_error", "subscription_error"]
