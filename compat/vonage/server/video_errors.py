"""vonage-video's exceptions (``vonage_video.errors``) and the HTTP ones of ``vonage_http_client.errors``.

Same names and hierarchy: ``VonageError`` ⊃ ``VideoError`` ⊃ ``InvalidRoleError``, ``TokenExpiryError``, …;
``VonageError`` ⊃ ``HttpRequestError`` ⊃ ``AuthenticationError``, ``ForbiddenError``, ``NotFoundError``,
``RateLimitedError``, ``ServerError``. The HTTP errors carry ``status_code`` (the status the Vonage
REST API would have answered) instead of the ``requests`` response.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ForbiddenError",
    "HttpRequestError",
    "IndividualArchivePropertyError",
    "InvalidArchiveStateError",
    "InvalidRoleError",
    "NoAudioOrVideoError",
    "NotFoundError",
    "RateLimitedError",
    "RoutedSessionRequiredError",
    "ServerError",
    "SessionPlatformError",
    "TokenExpiryError",
    "VideoError",
    "VonageError",
]


class VonageError(Exception):
    """Base class of every Vonage SDK error."""


class VideoError(VonageError):
    """An error of the Video API package."""


class InvalidRoleError(VideoError):
    """The token role is not valid."""


class TokenExpiryError(VideoError):
    """The token expiry is in the past or more than 30 days ahead."""


class NoAudioOrVideoError(VideoError):
    """An archive needs audio or video."""


class IndividualArchivePropertyError(VideoError):
    """A property that individual archives cannot have (or only they can)."""


class InvalidArchiveStateError(VideoError):
    """The archive is not in a state that allows the operation."""


class RoutedSessionRequiredError(VideoError):
    """The operation needs a routed session."""


class HttpRequestError(VonageError):
    """An HTTP request failed; ``status_code`` is the status the REST API would have answered."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class AuthenticationError(HttpRequestError):
    """401: the credentials were refused."""


class ForbiddenError(HttpRequestError):
    """403: not allowed."""


class NotFoundError(HttpRequestError):
    """404: no such resource."""


class RateLimitedError(HttpRequestError):
    """429: too many requests."""


class ServerError(HttpRequestError):
    """5xx: the server failed (here: the LiveKit server could not be reached, or failed)."""


class SessionPlatformError(VideoError):
    """compat addition: compat.rollout assigned the session to legacy, so no LiveKit token is
    generated for it. ``code`` is 1004, OpenTok's authentication error (compat.vonage.errors)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
