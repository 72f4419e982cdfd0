"""opentok 3.x's exception classes (``opentok.exceptions``), same names and hierarchy."""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "ArchiveStreamModeError",
    "AuthError",
    "BroadcastError",
    "ForceDisconnectError",
    "GetStreamError",
    "InvalidMediaModeError",
    "NotFoundError",
    "OpenTokException",
    "RequestError",
    "SessionPlatformError",
    "SetStreamClassError",
    "SignalingError",
    "SipDialError",
]


class OpenTokException(Exception):  # noqa: N818 - opentok's name
    """Defines exceptions thrown by the OpenTok SDK."""


class RequestError(OpenTokException):
    """An error during the request (here: the LiveKit server could not be reached or failed)."""


class AuthError(OpenTokException):
    """The credentials were refused (here: the LiveKit API key/secret)."""


class NotFoundError(OpenTokException):
    """The element requested was not found."""


class ArchiveError(OpenTokException):
    """An archive-specific problem, probably the status of the archive."""


class SignalingError(OpenTokException):
    """A signal parameter is invalid, or the type/data string is too long."""


class GetStreamError(OpenTokException):
    """The request data, the session ID or the stream ID is invalid."""


class ForceDisconnectError(OpenTokException):
    """An argument is invalid, or the connection is not connected to the session."""


class SipDialError(OpenTokException):
    """A SIP dial problem (SIP dial is not supported by compat)."""


class SetStreamClassError(OpenTokException):
    """A set_stream_class_lists problem."""


class BroadcastError(OpenTokException):
    """A broadcast problem (broadcasts are not supported by compat)."""


class ArchiveStreamModeError(OpenTokException):
    """The archive's stream mode does not allow the operation."""


class InvalidMediaModeError(OpenTokException):
    """The session's media mode does not allow the operation."""


class SessionPlatformError(AuthError):
    """compat addition: compat.rollout assigned the session to legacy, so no LiveKit token is
    generated for it. ``code`` is 1004, OpenTok's authentication error (compat.vonage.errors)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
