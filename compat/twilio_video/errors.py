"""TwilioError and the 55 coded error classes of twilio-video.js (``lib/util/twilio-video-errors.js``).

As in the original, every class reports ``name == 'TwilioError'`` (check ``code`` or use
``isinstance``), ``str(err)`` is ``"TwilioError <code>: <message>"``, and
:func:`createTwilioError` maps a code to its class (a plain TwilioError for unknown codes).

twilio-video.js throws JavaScript ``TypeError``/``RangeError`` for bad arguments; here
they are Python's :class:`TypeError` and :class:`RangeError` (a :class:`ValueError`).
"""

from __future__ import annotations

from typing import ClassVar


class RangeError(ValueError):
    """The JavaScript RangeError: a value outside the allowed set."""


class TwilioError(Exception):
    """Base of every Twilio Video error: ``code`` (int) and ``message`` (str)."""

    code: int
    message: str
    default_message: ClassVar[str] = ""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    @property
    def name(self) -> str:
        return "TwilioError"

    def toString(self) -> str:
        return f"TwilioError {self.code}: {self.message}"

    def __str__(self) -> str:
        return self.toString()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code}: {self.message!r}>"


class CodedTwilioError(TwilioError):
    """Base of the 55 coded classes: constructed with an optional message only."""

    CODE: ClassVar[int] = 0

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.CODE, message)


class AccessTokenInvalidError(CodedTwilioError):
    """20101: Invalid Access Token."""

    CODE: ClassVar[int] = 20101
    default_message: ClassVar[str] = 'Invalid Access Token'


class AccessTokenHeaderInvalidError(CodedTwilioError):
    """20102: Invalid Access Token header."""

    CODE: ClassVar[int] = 20102
    default_message: ClassVar[str] = 'Invalid Access Token header'


class AccessTokenIssuerInvalidError(CodedTwilioError):
    """20103: Invalid Access Token issuer/subject."""

    CODE: ClassVar[int] = 20103
    default_message: ClassVar[str] = 'Invalid Access Token issuer/subject'


class AccessTokenExpiredError(CodedTwilioError):
    """20104: Access Token expired or expiration date invalid."""

    CODE: ClassVar[int] = 20104
    default_message: ClassVar[str] = 'Access Token expired or expiration date invalid'


class AccessTokenNotYetValidError(CodedTwilioError):
    """20105: Access Token not yet valid."""

    CODE: ClassVar[int] = 20105
    default_message: ClassVar[str] = 'Access Token not yet valid'


class AccessTokenGrantsInvalidError(CodedTwilioError):
    """20106: Invalid Access Token grants."""

    CODE: ClassVar[int] = 20106
    default_message: ClassVar[str] = 'Invalid Access Token grants'


class AccessTokenSignatureInvalidError(CodedTwilioError):
    """20107: Invalid Access Token signature."""

    CODE: ClassVar[int] = 20107
    default_message: ClassVar[str] = 'Invalid Access Token signature'


class SignalingConnectionError(CodedTwilioError):
    """53000: Signaling connection error."""

    CODE: ClassVar[int] = 53000
    default_message: ClassVar[str] = 'Signaling connection error'


class SignalingConnectionDisconnectedError(CodedTwilioError):
    """53001: Signaling connection disconnected."""

    CODE: ClassVar[int] = 53001
    default_message: ClassVar[str] = 'Signaling connection disconnected'


class SignalingConnectionTimeoutError(CodedTwilioError):
    """53002: Signaling connection timed out."""

    CODE: ClassVar[int] = 53002
    default_message: ClassVar[str] = 'Signaling connection timed out'


class SignalingIncomingMessageInvalidError(CodedTwilioError):
    """53003: Client received an invalid signaling message."""

    CODE: ClassVar[int] = 53003
    default_message: ClassVar[str] = 'Client received an invalid signaling message'


class SignalingOutgoingMessageInvalidError(CodedTwilioError):
    """53004: Client sent an invalid signaling message."""

    CODE: ClassVar[int] = 53004
    default_message: ClassVar[str] = 'Client sent an invalid signaling message'


class SignalingServerBusyError(CodedTwilioError):
    """53006: Video server is busy."""

    CODE: ClassVar[int] = 53006
    default_message: ClassVar[str] = 'Video server is busy'


class RoomNameInvalidError(CodedTwilioError):
    """53100: Room name is invalid."""

    CODE: ClassVar[int] = 53100
    default_message: ClassVar[str] = 'Room name is invalid'


class RoomNameTooLongError(CodedTwilioError):
    """53101: Room name is too long."""

    CODE: ClassVar[int] = 53101
    default_message: ClassVar[str] = 'Room name is too long'


class RoomNameCharsInvalidError(CodedTwilioError):
    """53102: Room name contains invalid characters."""

    CODE: ClassVar[int] = 53102
    default_message: ClassVar[str] = 'Room name contains invalid characters'


class RoomCreateFailedError(CodedTwilioError):
    """53103: Unable to create Room."""

    CODE: ClassVar[int] = 53103
    default_message: ClassVar[str] = 'Unable to create Room'


class RoomConnectFailedError(CodedTwilioError):
    """53104: Unable to connect to Room."""

    CODE: ClassVar[int] = 53104
    default_message: ClassVar[str] = 'Unable to connect to Room'


class RoomMaxParticipantsExceededError(CodedTwilioError):
    """53105: Room contains too many Participants."""

    CODE: ClassVar[int] = 53105
    default_message: ClassVar[str] = 'Room contains too many Participants'


class RoomNotFoundError(CodedTwilioError):
    """53106: Room not found."""

    CODE: ClassVar[int] = 53106
    default_message: ClassVar[str] = 'Room not found'


class RoomMaxParticipantsOutOfRangeError(CodedTwilioError):
    """53107: MaxParticipants is out of range."""

    CODE: ClassVar[int] = 53107
    default_message: ClassVar[str] = 'MaxParticipants is out of range'


class RoomTypeInvalidError(CodedTwilioError):
    """53108: RoomType is not valid."""

    CODE: ClassVar[int] = 53108
    default_message: ClassVar[str] = 'RoomType is not valid'


class RoomTimeoutOutOfRangeError(CodedTwilioError):
    """53109: Timeout is out of range."""

    CODE: ClassVar[int] = 53109
    default_message: ClassVar[str] = 'Timeout is out of range'


class RoomStatusCallbackMethodInvalidError(CodedTwilioError):
    """53110: StatusCallbackMethod is invalid."""

    CODE: ClassVar[int] = 53110
    default_message: ClassVar[str] = 'StatusCallbackMethod is invalid'


class RoomStatusCallbackInvalidError(CodedTwilioError):
    """53111: StatusCallback is invalid."""

    CODE: ClassVar[int] = 53111
    default_message: ClassVar[str] = 'StatusCallback is invalid'


class RoomStatusInvalidError(CodedTwilioError):
    """53112: Status is invalid."""

    CODE: ClassVar[int] = 53112
    default_message: ClassVar[str] = 'Status is invalid'


class RoomRoomExistsError(CodedTwilioError):
    """53113: Room exists."""

    CODE: ClassVar[int] = 53113
    default_message: ClassVar[str] = 'Room exists'


class RoomInvalidParametersError(CodedTwilioError):
    """53114: Room creation parameter(s) incompatible with the Room type."""

    CODE: ClassVar[int] = 53114
    default_message: ClassVar[str] = 'Room creation parameter(s) incompatible with the Room type'


class RoomMediaRegionInvalidError(CodedTwilioError):
    """53115: MediaRegion is invalid."""

    CODE: ClassVar[int] = 53115
    default_message: ClassVar[str] = 'MediaRegion is invalid'


class RoomMediaRegionUnavailableError(CodedTwilioError):
    """53116: There are no media servers available in the MediaRegion."""

    CODE: ClassVar[int] = 53116
    default_message: ClassVar[str] = 'There are no media servers available in the MediaRegion'


class RoomSubscriptionOperationNotSupportedError(CodedTwilioError):
    """53117: The subscription operation requested is not supported for the Room type."""

    CODE: ClassVar[int] = 53117
    default_message: ClassVar[str] = 'The subscription operation requested is not supported for the Room type'


class RoomCompletedError(CodedTwilioError):
    """53118: Room completed."""

    CODE: ClassVar[int] = 53118
    default_message: ClassVar[str] = 'Room completed'


class RoomAudioOnlyFlagNotSupportedError(CodedTwilioError):
    """53124: The AudioOnly flag is not supported for the Room type."""

    CODE: ClassVar[int] = 53124
    default_message: ClassVar[str] = 'The AudioOnly flag is not supported for the Room type'


class RoomTrackKindNotSupportedError(CodedTwilioError):
    """53125: The track kind is not supported by the Room."""

    CODE: ClassVar[int] = 53125
    default_message: ClassVar[str] = 'The track kind is not supported by the Room'


class ParticipantIdentityInvalidError(CodedTwilioError):
    """53200: Participant identity is invalid."""

    CODE: ClassVar[int] = 53200
    default_message: ClassVar[str] = 'Participant identity is invalid'


class ParticipantIdentityTooLongError(CodedTwilioError):
    """53201: Participant identity is too long."""

    CODE: ClassVar[int] = 53201
    default_message: ClassVar[str] = 'Participant identity is too long'


class ParticipantIdentityCharsInvalidError(CodedTwilioError):
    """53202: Participant identity contains invalid characters."""

    CODE: ClassVar[int] = 53202
    default_message: ClassVar[str] = 'Participant identity contains invalid characters'


class ParticipantMaxTracksExceededError(CodedTwilioError):
    """53203: The maximum number of published tracks allowed in the Room at the same time has been reached."""

    CODE: ClassVar[int] = 53203
    default_message: ClassVar[str] = 'The maximum number of published tracks allowed in the Room at the same time has been reached'


class ParticipantNotFoundError(CodedTwilioError):
    """53204: Participant not found."""

    CODE: ClassVar[int] = 53204
    default_message: ClassVar[str] = 'Participant not found'


class ParticipantDuplicateIdentityError(CodedTwilioError):
    """53205: Participant disconnected because of duplicate identity."""

    CODE: ClassVar[int] = 53205
    default_message: ClassVar[str] = 'Participant disconnected because of duplicate identity'


class TrackInvalidError(CodedTwilioError):
    """53300: Track is invalid."""

    CODE: ClassVar[int] = 53300
    default_message: ClassVar[str] = 'Track is invalid'


class TrackNameInvalidError(CodedTwilioError):
    """53301: Track name is invalid."""

    CODE: ClassVar[int] = 53301
    default_message: ClassVar[str] = 'Track name is invalid'


class TrackNameTooLongError(CodedTwilioError):
    """53302: Track name is too long."""

    CODE: ClassVar[int] = 53302
    default_message: ClassVar[str] = 'Track name is too long'


class TrackNameCharsInvalidError(CodedTwilioError):
    """53303: Track name contains invalid characters."""

    CODE: ClassVar[int] = 53303
    default_message: ClassVar[str] = 'Track name contains invalid characters'


class TrackNameIsDuplicatedError(CodedTwilioError):
    """53304: Track name is duplicated."""

    CODE: ClassVar[int] = 53304
    default_message: ClassVar[str] = 'Track name is duplicated'


class TrackServerTrackCapacityReachedError(CodedTwilioError):
    """53305: The server has reached capacity and cannot fulfill this request."""

    CODE: ClassVar[int] = 53305
    default_message: ClassVar[str] = 'The server has reached capacity and cannot fulfill this request'


class MediaClientLocalDescFailedError(CodedTwilioError):
    """53400: Client is unable to create or apply a local media description."""

    CODE: ClassVar[int] = 53400
    default_message: ClassVar[str] = 'Client is unable to create or apply a local media description'


class MediaServerLocalDescFailedError(CodedTwilioError):
    """53401: Server is unable to create or apply a local media description."""

    CODE: ClassVar[int] = 53401
    default_message: ClassVar[str] = 'Server is unable to create or apply a local media description'


class MediaClientRemoteDescFailedError(CodedTwilioError):
    """53402: Client is unable to apply a remote media description."""

    CODE: ClassVar[int] = 53402
    default_message: ClassVar[str] = 'Client is unable to apply a remote media description'


class MediaServerRemoteDescFailedError(CodedTwilioError):
    """53403: Server is unable to apply a remote media description."""

    CODE: ClassVar[int] = 53403
    default_message: ClassVar[str] = 'Server is unable to apply a remote media description'


class MediaNoSupportedCodecError(CodedTwilioError):
    """53404: No supported codec."""

    CODE: ClassVar[int] = 53404
    default_message: ClassVar[str] = 'No supported codec'


class MediaConnectionError(CodedTwilioError):
    """53405: Media connection failed or Media activity ceased."""

    CODE: ClassVar[int] = 53405
    default_message: ClassVar[str] = 'Media connection failed or Media activity ceased'


class MediaDTLSTransportFailedError(CodedTwilioError):
    """53407: Media connection failed due to DTLS handshake failure."""

    CODE: ClassVar[int] = 53407
    default_message: ClassVar[str] = 'Media connection failed due to DTLS handshake failure'


class ConfigurationAcquireFailedError(CodedTwilioError):
    """53500: Unable to acquire configuration."""

    CODE: ClassVar[int] = 53500
    default_message: ClassVar[str] = 'Unable to acquire configuration'


class ConfigurationAcquireTurnFailedError(CodedTwilioError):
    """53501: Unable to acquire TURN credentials."""

    CODE: ClassVar[int] = 53501
    default_message: ClassVar[str] = 'Unable to acquire TURN credentials'


ERRORS_BY_CODE: dict[int, type[CodedTwilioError]] = {
    20101: AccessTokenInvalidError,
    20102: AccessTokenHeaderInvalidError,
    20103: AccessTokenIssuerInvalidError,
    20104: AccessTokenExpiredError,
    20105: AccessTokenNotYetValidError,
    20106: AccessTokenGrantsInvalidError,
    20107: AccessTokenSignatureInvalidError,
    53000: SignalingConnectionError,
    53001: SignalingConnectionDisconnectedError,
    53002: SignalingConnectionTimeoutError,
    53003: SignalingIncomingMessageInvalidError,
    53004: SignalingOutgoingMessageInvalidError,
    53006: SignalingServerBusyError,
    53100: RoomNameInvalidError,
    53101: RoomNameTooLongError,
    53102: RoomNameCharsInvalidError,
    53103: RoomCreateFailedError,
    53104: RoomConnectFailedError,
    53105: RoomMaxParticipantsExceededError,
    53106: RoomNotFoundError,
    53107: RoomMaxParticipantsOutOfRangeError,
    53108: RoomTypeInvalidError,
    53109: RoomTimeoutOutOfRangeError,
    53110: RoomStatusCallbackMethodInvalidError,
    53111: RoomStatusCallbackInvalidError,
    53112: RoomStatusInvalidError,
    53113: RoomRoomExistsError,
    53114: RoomInvalidParametersError,
    53115: RoomMediaRegionInvalidError,
    53116: RoomMediaRegionUnavailableError,
    53117: RoomSubscriptionOperationNotSupportedError,
    53118: RoomCompletedError,
    53124: RoomAudioOnlyFlagNotSupportedError,
    53125: RoomTrackKindNotSupportedError,
    53200: ParticipantIdentityInvalidError,
    53201: ParticipantIdentityTooLongError,
    53202: ParticipantIdentityCharsInvalidError,
    53203: ParticipantMaxTracksExceededError,
    53204: ParticipantNotFoundError,
    53205: ParticipantDuplicateIdentityError,
    53300: TrackInvalidError,
    53301: TrackNameInvalidError,
    53302: TrackNameTooLongError,
    53303: TrackNameCharsInvalidError,
    53304: TrackNameIsDuplicatedError,
    53305: TrackServerTrackCapacityReachedError,
    53400: MediaClientLocalDescFailedError,
    53401: MediaServerLocalDescFailedError,
    53402: MediaClientRemoteDescFailedError,
    53403: MediaServerRemoteDescFailedError,
    53404: MediaNoSupportedCodecError,
    53405: MediaConnectionError,
    53407: MediaDTLSTransportFailedError,
    53500: ConfigurationAcquireFailedError,
    53501: ConfigurationAcquireTurnFailedError,
}


def createTwilioError(code: int, message: str | None = None) -> TwilioError:
    """The coded subclass for ``code``, or a plain TwilioError when the code is unknown."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return TwilioError(code, message or "")
    return cls(message)


__all__ = [
    "ERRORS_BY_CODE",
    "AccessTokenExpiredError",
    "AccessTokenGrantsInvalidError",
    "AccessTokenHeaderInvalidError",
    "AccessTokenInvalidError",
    "AccessTokenIssuerInvalidError",
    "AccessTokenNotYetValidError",
    "AccessTokenSignatureInvalidError",
    "CodedTwilioError",
    "ConfigurationAcquireFailedError",
    "ConfigurationAcquireTurnFailedError",
    "MediaClientLocalDescFailedError",
    "MediaClientRemoteDescFailedError",
    "MediaConnectionError",
    "MediaDTLSTransportFailedError",
    "MediaNoSupportedCodecError",
    "MediaServerLocalDescFailedError",
    "MediaServerRemoteDescFailedError",
    "ParticipantDuplicateIdentityError",
    "ParticipantIdentityCharsInvalidError",
    "ParticipantIdentityInvalidError",
    "ParticipantIdentityTooLongError",
    "ParticipantMaxTracksExceededError",
    "ParticipantNotFoundError",
    "RangeError",
    "RoomAudioOnlyFlagNotSupportedError",
    "RoomCompletedError",
    "RoomConnectFailedError",
    "RoomCreateFailedError",
    "RoomInvalidParametersError",
    "RoomMaxParticipantsExceededError",
    "RoomMaxParticipantsOutOfRangeError",
    "RoomMediaRegionInvalidError",
    "RoomMediaRegionUnavailableError",
    "RoomNameCharsInvalidError",
    "RoomNameInvalidError",
    "RoomNameTooLongError",
    "RoomNotFoundError",
    "RoomRoomExistsError",
    "RoomStatusCallbackInvalidError",
    "RoomStatusCallbackMethodInvalidError",
    "RoomStatusInvalidError",
    "RoomSubscriptionOperationNotSupportedError",
    "RoomTimeoutOutOfRangeError",
    "RoomTrackKindNotSupportedError",
    "RoomTypeInvalidError",
    "SignalingConnectionDisconnectedError",
    "SignalingConnectionError",
    "SignalingConnectionTimeoutError",
    "SignalingIncomingMessageInvalidError",
    "SignalingOutgoingMessageInvalidError",
    "SignalingServerBusyError",
    "TrackInvalidError",
    "TrackNameCharsInvalidError",
    "TrackNameInvalidError",
    "TrackNameIsDuplicatedError",
    "TrackNameTooLongError",
    "TrackServerTrackCapacityReachedError",
    "TwilioError",
    "createTwilioError",
]
