"""OTError, the ``OT_*`` error names, ``ExceptionCodes`` and the per-method errors of OpenTok.js.

Mirrors OpenTok.js 2.35.2: ``ot/Errors.js`` (the 74 ``OT_*`` names), ``ot/exception_codes.js``
(``OT.ExceptionCodes``), ``helpers/errorCodeToErrorTitleMap.js`` (``OT.getErrorTitleByCode``),
``helpers/otError.js`` (an error is named ``OT_*`` and carries a numeric ``code``) and the error
paths of ``ot/session/index.js`` (``connect``, ``publish``, ``subscribe``, ``signal``,
``forceDisconnect``, ``forceUnpublish``, ``forceMuteStream``/``forceMuteAll``/``disableForceMute``).

As in OpenTok.js, test ``error.name`` (the ``OT_*`` string), not ``error.code``: the same name comes
with different codes depending on the method (``OT_PERMISSION_DENIED`` is 1500 from ``publish``,
1520 from ``forceDisconnect``, 1530 from ``forceUnpublish``, 1540 from ``forceMute*``, 403 from
``signal``). Every error this package raises or reports is an :class:`OTError`.

The per-method builders below (PEP 8 names: they are additions) carry the OpenTok.js message and,
where our LiveKit mapping needs it, a sentence saying what to do.
"""

from __future__ import annotations

import enum
from typing import Any, Final

# --- the OT_* names of ot/Errors.js, in its order ---------------------------------------------

OT_AUTHENTICATION_ERROR: Final = "OT_AUTHENTICATION_ERROR"
OT_BADLY_FORMED_RESPONSE: Final = "OT_BADLY_FORMED_RESPONSE"
OT_CHROME_MICROPHONE_ACQUISITION_ERROR: Final = "OT_CHROME_MICROPHONE_ACQUISITION_ERROR"
OT_CONNECT_FAILED: Final = "OT_CONNECT_FAILED"
OT_CONNECTION_LIMIT_EXCEEDED: Final = "OT_CONNECTION_LIMIT_EXCEEDED"
OT_CONSTRAINTS_NOT_SATISFIED: Final = "OT_CONSTRAINTS_NOT_SATISFIED"
OT_CREATE_PEER_CONNECTION_FAILED: Final = "OT_CREATE_PEER_CONNECTION_FAILED"
OT_DISCONNECTED: Final = "OT_DISCONNECTED"
OT_EMPTY_RESPONSE_BODY: Final = "OT_EMPTY_RESPONSE_BODY"
OT_GET_RTC_STATS_REPORT_NOT_SUPPORTED: Final = "OT_GET_RTC_STATS_REPORT_NOT_SUPPORTED"
OT_HARDWARE_UNAVAILABLE: Final = "OT_HARDWARE_UNAVAILABLE"
OT_ICE_WORKFLOW_FAILED: Final = "OT_ICE_WORKFLOW_FAILED"
OT_INVALID_HTTP_STATUS: Final = "OT_INVALID_HTTP_STATUS"
OT_INVALID_PARAMETER: Final = "OT_INVALID_PARAMETER"
OT_INVALID_SESSION_ID: Final = "OT_INVALID_SESSION_ID"
OT_MEDIA_ERR_ABORTED: Final = "OT_MEDIA_ERR_ABORTED"
OT_MEDIA_ERR_DECODE: Final = "OT_MEDIA_ERR_DECODE"
OT_MEDIA_ERR_NETWORK: Final = "OT_MEDIA_ERR_NETWORK"
OT_MEDIA_ERR_SRC_NOT_SUPPORTED: Final = "OT_MEDIA_ERR_SRC_NOT_SUPPORTED"
OT_MEDIA_ENDED: Final = "OT_MEDIA_ENDED"
OT_NO_DEVICES_FOUND: Final = "OT_NO_DEVICES_FOUND"
OT_NO_VALID_CONSTRAINTS: Final = "OT_NO_VALID_CONSTRAINTS"
OT_NOT_CONNECTED: Final = "OT_NOT_CONNECTED"
OT_NOT_FOUND: Final = "OT_NOT_FOUND"
OT_NOT_SUPPORTED: Final = "OT_NOT_SUPPORTED"
OT_PEER_CONNECTION_NOT_CONNECTED: Final = "OT_PEER_CONNECTION_NOT_CONNECTED"
OT_PERMISSION_DENIED: Final = "OT_PERMISSION_DENIED"
OT_RATE_LIMIT_EXCEEDED: Final = "OT_RATE_LIMIT_EXCEEDED"
OT_REPORT_ISSUE_FAILED: Final = "OT_REPORT_ISSUE_FAILED"
OT_SCREEN_SHARING_EXTENSION_NOT_INSTALLED: Final = "OT_SCREEN_SHARING_EXTENSION_NOT_INSTALLED"
OT_SCREEN_SHARING_EXTENSION_NOT_REGISTERED: Final = "OT_SCREEN_SHARING_EXTENSION_NOT_REGISTERED"
OT_SCREEN_SHARING_NOT_SUPPORTED: Final = "OT_SCREEN_SHARING_NOT_SUPPORTED"
OT_SET_REMOTE_DESCRIPTION_FAILED: Final = "OT_SET_REMOTE_DESCRIPTION_FAILED"
OT_FAILED_SET_CONFIGURATION: Final = "OT_FAILED_SET_CONFIGURATION"
OT_SOCKET_ALREADY_CONNECTED_CONNECTING: Final = "OT_SOCKET_ALREADY_CONNECTED_CONNECTING"
OT_SOCKET_CLOSE_ABNORMAL: Final = "OT_SOCKET_CLOSE_ABNORMAL"
OT_SOCKET_CLOSE_CONNECT_EXCEPTION: Final = "OT_SOCKET_CLOSE_CONNECT_EXCEPTION"
OT_SOCKET_CLOSE_CONNECTIVITY_LOSS: Final = "OT_SOCKET_CLOSE_CONNECTIVITY_LOSS"
OT_SOCKET_CLOSE_FALLBACK_CODE: Final = "OT_SOCKET_CLOSE_FALLBACK_CODE"
OT_SOCKET_CLOSE_INCONSISTENT_DATA: Final = "OT_SOCKET_CLOSE_INCONSISTENT_DATA"
OT_SOCKET_CLOSE_NO_STATUS: Final = "OT_SOCKET_CLOSE_NO_STATUS"
OT_SOCKET_CLOSE_POLICY_VIOLATION: Final = "OT_SOCKET_CLOSE_POLICY_VIOLATION"
OT_SOCKET_CLOSE_GOING_AWAY: Final = "OT_SOCKET_CLOSE_GOING_AWAY"
OT_SOCKET_CLOSE_PROTOCOL_ERROR: Final = "OT_SOCKET_CLOSE_PROTOCOL_ERROR"
OT_SOCKET_CLOSE_TIMEOUT: Final = "OT_SOCKET_CLOSE_TIMEOUT"
OT_SOCKET_CLOSE_TOO_LARGE: Final = "OT_SOCKET_CLOSE_TOO_LARGE"
OT_SOCKET_CLOSE_UNEXPECTED_CONDITION: Final = "OT_SOCKET_CLOSE_UNEXPECTED_CONDITION"
OT_SOCKET_CLOSE_UNSUPPORTED: Final = "OT_SOCKET_CLOSE_UNSUPPORTED"
OT_STREAM_CREATE_FAILED: Final = "OT_STREAM_CREATE_FAILED"
OT_STREAM_DESTROYED: Final = "OT_STREAM_DESTROYED"
OT_STREAM_LIMIT_EXCEEDED: Final = "OT_STREAM_LIMIT_EXCEEDED"
OT_STREAM_NOT_FOUND: Final = "OT_STREAM_NOT_FOUND"
OT_UNABLE_TO_SUBSCRIBE: Final = "OT_UNABLE_TO_SUBSCRIBE"
OT_TERMS_OF_SERVICE_FAILURE: Final = "OT_TERMS_OF_SERVICE_FAILURE"
OT_TIMEOUT: Final = "OT_TIMEOUT"
OT_CANCEL: Final = "OT_CANCEL"
OT_UNABLE_TO_CAPTURE_MEDIA: Final = "OT_UNABLE_TO_CAPTURE_MEDIA"
OT_UNABLE_TO_CAPTURE_SCREEN: Final = "OT_UNABLE_TO_CAPTURE_SCREEN"
OT_UNEXPECTED_ERROR_CODE: Final = "OT_UNEXPECTED_ERROR_CODE"
OT_UNEXPECTED_HTTP_STATUS: Final = "OT_UNEXPECTED_HTTP_STATUS"
OT_UNEXPECTED_SERVER_RESPONSE: Final = "OT_UNEXPECTED_SERVER_RESPONSE"
OT_UNKNOWN_HTTP_ERROR: Final = "OT_UNKNOWN_HTTP_ERROR"
OT_UNSUPPORTED_BROWSER: Final = "OT_UNSUPPORTED_BROWSER"
OT_USER_MEDIA_ACCESS_DENIED: Final = "OT_USER_MEDIA_ACCESS_DENIED"
OT_XDOMAIN_OR_PARSING_ERROR: Final = "OT_XDOMAIN_OR_PARSING_ERROR"
OT_API_KEY_DISABLED: Final = "OT_API_KEY_DISABLED"
OT_UNABLE_TO_ACCESS_MEDIA_ENGINE: Final = "OT_UNABLE_TO_ACCESS_MEDIA_ENGINE"
OT_SET_PROXY_URL_TIMING_ERROR: Final = "OT_SET_PROXY_URL_TIMING_ERROR"
OT_PROXY_URL_ALREADY_SET_ERROR: Final = "OT_PROXY_URL_ALREADY_SET_ERROR"
OT_SET_VIDEO_SOURCE_FAILURE: Final = "OT_SET_VIDEO_SOURCE_FAILURE"
OT_INVALID_VIDEO_SOURCE: Final = "OT_INVALID_VIDEO_SOURCE"
OT_REQUESTED_DEVICE_PERMISSION_DENIED: Final = "OT_REQUESTED_DEVICE_PERMISSION_DENIED"
OT_INVALID_AUDIO_OUTPUT_SOURCE: Final = "OT_INVALID_AUDIO_OUTPUT_SOURCE"
OT_INVALID_ENCRYPTION_SECRET: Final = "OT_INVALID_ENCRYPTION_SECRET"

ERROR_NAMES: Final[tuple[str, ...]] = (
    OT_AUTHENTICATION_ERROR,
    OT_BADLY_FORMED_RESPONSE,
    OT_CHROME_MICROPHONE_ACQUISITION_ERROR,
    OT_CONNECT_FAILED,
    OT_CONNECTION_LIMIT_EXCEEDED,
    OT_CONSTRAINTS_NOT_SATISFIED,
    OT_CREATE_PEER_CONNECTION_FAILED,
    OT_DISCONNECTED,
    OT_EMPTY_RESPONSE_BODY,
    OT_GET_RTC_STATS_REPORT_NOT_SUPPORTED,
    OT_HARDWARE_UNAVAILABLE,
    OT_ICE_WORKFLOW_FAILED,
    OT_INVALID_HTTP_STATUS,
    OT_INVALID_PARAMETER,
    OT_INVALID_SESSION_ID,
    OT_MEDIA_ERR_ABORTED,
    OT_MEDIA_ERR_DECODE,
    OT_MEDIA_ERR_NETWORK,
    OT_MEDIA_ERR_SRC_NOT_SUPPORTED,
    OT_MEDIA_ENDED,
    OT_NO_DEVICES_FOUND,
    OT_NO_VALID_CONSTRAINTS,
    OT_NOT_CONNECTED,
    OT_NOT_FOUND,
    OT_NOT_SUPPORTED,
    OT_PEER_CONNECTION_NOT_CONNECTED,
    OT_PERMISSION_DENIED,
    OT_RATE_LIMIT_EXCEEDED,
    OT_REPORT_ISSUE_FAILED,
    OT_SCREEN_SHARING_EXTENSION_NOT_INSTALLED,
    OT_SCREEN_SHARING_EXTENSION_NOT_REGISTERED,
    OT_SCREEN_SHARING_NOT_SUPPORTED,
    OT_SET_REMOTE_DESCRIPTION_FAILED,
    OT_FAILED_SET_CONFIGURATION,
    OT_SOCKET_ALREADY_CONNECTED_CONNECTING,
    OT_SOCKET_CLOSE_ABNORMAL,
    OT_SOCKET_CLOSE_CONNECT_EXCEPTION,
    OT_SOCKET_CLOSE_CONNECTIVITY_LOSS,
    OT_SOCKET_CLOSE_FALLBACK_CODE,
    OT_SOCKET_CLOSE_INCONSISTENT_DATA,
    OT_SOCKET_CLOSE_NO_STATUS,
    OT_SOCKET_CLOSE_POLICY_VIOLATION,
    OT_SOCKET_CLOSE_GOING_AWAY,
    OT_SOCKET_CLOSE_PROTOCOL_ERROR,
    OT_SOCKET_CLOSE_TIMEOUT,
    OT_SOCKET_CLOSE_TOO_LARGE,
    OT_SOCKET_CLOSE_UNEXPECTED_CONDITION,
    OT_SOCKET_CLOSE_UNSUPPORTED,
    OT_STREAM_CREATE_FAILED,
    OT_STREAM_DESTROYED,
    OT_STREAM_LIMIT_EXCEEDED,
    OT_STREAM_NOT_FOUND,
    OT_UNABLE_TO_SUBSCRIBE,
    OT_TERMS_OF_SERVICE_FAILURE,
    OT_TIMEOUT,
    OT_CANCEL,
    OT_UNABLE_TO_CAPTURE_MEDIA,
    OT_UNABLE_TO_CAPTURE_SCREEN,
    OT_UNEXPECTED_ERROR_CODE,
    OT_UNEXPECTED_HTTP_STATUS,
    OT_UNEXPECTED_SERVER_RESPONSE,
    OT_UNKNOWN_HTTP_ERROR,
    OT_UNSUPPORTED_BROWSER,
    OT_USER_MEDIA_ACCESS_DENIED,
    OT_XDOMAIN_OR_PARSING_ERROR,
    OT_API_KEY_DISABLED,
    OT_UNABLE_TO_ACCESS_MEDIA_ENGINE,
    OT_SET_PROXY_URL_TIMING_ERROR,
    OT_PROXY_URL_ALREADY_SET_ERROR,
    OT_SET_VIDEO_SOURCE_FAILURE,
    OT_INVALID_VIDEO_SOURCE,
    OT_REQUESTED_DEVICE_PERMISSION_DENIED,
    OT_INVALID_AUDIO_OUTPUT_SOURCE,
    OT_INVALID_ENCRYPTION_SECRET,
)
"""Every ``OT_*`` name of ``ot/Errors.js`` (2.35.2), in its order."""

Errors: Final[dict[str, str]] = {name[3:]: name for name in ERROR_NAMES}
"""``ot/Errors.js`` itself: short name -> ``OT_*`` name (``Errors["NOT_CONNECTED"] == "OT_NOT_CONNECTED"``)."""


class ExceptionCodes(enum.IntEnum):
    """``OT.ExceptionCodes`` (``ot/exception_codes.js``): the numeric codes with a symbolic name.

    Members compare equal to their int (``ExceptionCodes.NOT_CONNECTED == 1010``). Codes that
    OpenTok.js uses without a name here (signal's 400/404/413/429/500, 1535) are plain ints.
    """

    JS_EXCEPTION = 2000
    AUTHENTICATION_ERROR = 1004
    INVALID_SESSION_ID = 1005
    CONNECT_FAILED = 1006
    CONNECT_REJECTED = 1007
    CONNECTION_TIMEOUT = 1008
    NOT_CONNECTED = 1010
    INVALID_PARAMETER = 1011
    P2P_CONNECTION_FAILED = 1013
    API_RESPONSE_FAILURE = 1014
    PEER_CONNECTION_NOT_CONNECTED = 1015
    TERMS_OF_SERVICE_FAILURE = 1026
    CONNECTION_LIMIT_EXCEEDED = 1027
    UNABLE_TO_PUBLISH = 1500
    UNABLE_TO_SUBSCRIBE = 1501
    UNSUPPORTED_VIDEO_CODEC = 1502
    UNABLE_TO_FORCE_DISCONNECT = 1520
    UNABLE_TO_FORCE_UNPUBLISH = 1530
    UNABLE_TO_FORCE_MUTE = 1540
    PUBLISHER_ICE_WORKFLOW_FAILED = 1553
    SUBSCRIBER_ICE_WORKFLOW_FAILED = 1554
    STREAM_LIMIT_EXCEEDED = 1605
    UNEXPECTED_SERVER_RESPONSE = 2001
    REPORT_ISSUE_ERROR = 2011
    SET_PROXY_URL_TIMING_ERROR = 2021
    PROXY_URL_ALREADY_SET_ERROR = 2022
    GET_RTC_STATS_REPORT_NOT_SUPPORTED = 2031
    ANVIL_BADLY_FORMED_RESPONSE = 3001
    ANVIL_INVALID_HTTP_STATUS = 3002
    ANVIL_XDOMAIN_OR_PARSING_ERROR = 3003
    ANVIL_UNKNOWN_HTTP_ERROR = 3004
    ANVIL_UNEXPECTED_ERROR_CODE = 3005
    ANVIL_EMPTY_RESPONSE_BODY = 3006
    ANVIL_CONNECT_FAILED = 3007
    UNABLE_TO_ACCESS_MEDIA_ENGINE = 5001


FORCE_UNPUBLISH_INVALID_STREAM: Final = 1535
"""The exception code OpenTok.js documents for ``forceUnpublish`` of a stream not in the session (no name)."""

ERROR_TITLES: Final[dict[int, str]] = {
    1004: "Authentication error",
    1005: "Invalid Session ID",
    1006: "Connect Failed",
    1007: "Connect Rejected",
    1008: "Connect Time-out",
    1009: "Security Error",
    1010: "Not Connected",
    1011: "Invalid Parameter",
    1012: "Peer-to-peer Stream Play Failed",
    1013: "Connection Failed",
    1014: "API Response Failure",
    1015: "PeerConnection not connected, cannot call this method",
    1021: "Request Timeout",
    1026: "Terms of Service Violation: Export Compliance",
    1027: "Connection Limit Exceeded",
    1040: "Set Video Source Failure",
    1041: "Invalid Video Source",
    1500: "Unable to Publish",
    1501: "Unable to Subscribe",
    1502: "Unsupported Video Codec",
    1503: "No TURN server found",
    1520: "Unable to Force Disconnect",
    1530: "Unable to Force Unpublish",
    1540: "Unable to Force Mute",
    1553: "Publisher ICEWorkflow failed",
    1554: "Subscriber ICEWorkflow failed",
    1600: "createOffer, createAnswer, setLocalDescription, setRemoteDescription",
    1605: "Stream Limit Exceeded",
    2000: "Internal Error",
    2001: "Unexpected Server Response",
    2021: "Proxy URL Timing Error",
    2022: "Proxy URL Already Set Error",
    2031: "getRtcStatsReport is not supported in this browser",
    4000: "WebSocket Connection Failed",
    4001: "WebSocket Network Disconnected",
    5001: "Unable to access media engine",
}
"""``helpers/errorCodeToErrorTitleMap.js``: the title of each code that has one."""


def getErrorTitleByCode(code: int | str | None) -> str | None:
    """``OT.getErrorTitleByCode(code)``: the title of a code, e.g. ``1006 -> 'Connect Failed'``.

    Mirrors ``OTErrorClass.getTitleByCode``, which looks up ``+code``: a numeric string works too.
    A code without a title (1535, the signal codes, unknown codes) gives ``None`` (``undefined``).
    """
    if isinstance(code, bool) or code is None:
        return None
    if isinstance(code, str):
        try:
            code = int(code.strip() or "x")
        except ValueError:
            return None
    if not isinstance(code, int):
        return None
    return ERROR_TITLES.get(int(code))


class OTError(Exception):
    """An OpenTok error: ``name`` (an ``OT_*`` string), ``code`` (int, or None) and ``message``.

    Mirrors the ``OT.Error`` objects built by ``helpers/otError.js``: ``name`` identifies the error
    (test it, not ``code``), ``code`` is the exception code (``None`` where OpenTok.js sets none),
    ``message`` says what happened. ``str(error)`` is ``"OT_NAME (code): message"``;
    :meth:`toString` gives the JavaScript form ``"OT_NAME: message"``.

    :raises ValueError: ``name`` is not one of :data:`ERROR_NAMES` (as ``otError`` refuses one).
    """

    name: str
    code: int | None
    message: str

    def __init__(self, name: str, message: str, code: int | None = None) -> None:
        if name not in _NAME_SET:
            raise ValueError(f"Attempt to use invalid error name ({name!r}). Original message: {message}")
        self.name = name
        self.code = None if code is None else int(code)
        self.message = message
        super().__init__(message)

    @property
    def title(self) -> str | None:
        """The title of ``code`` (``getErrorTitleByCode``), as an ``exception`` event carries it."""
        return getErrorTitleByCode(self.code)

    def toString(self) -> str:
        """JavaScript's ``String(error)``: ``"OT_NAME: message"``."""
        return f"{self.name}: {self.message}"

    def __str__(self) -> str:
        code = "" if self.code is None else f" ({self.code})"
        return f"{self.name}{code}: {self.message}"

    def __repr__(self) -> str:
        return f"OTError({self.name!r}, {self.message!r}, code={self.code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.message, self.code))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OTError):
            return NotImplemented
        return (self.name, self.code, self.message) == (other.name, other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.name, self.code, self.message))


_NAME_SET: Final = frozenset(ERROR_NAMES)

# --- Session.connect (session/index.js `connect`) ------------------------------------------------


def connect_missing_api_key() -> OTError:
    """``connect`` with no API key: 1004 ``OT_AUTHENTICATION_ERROR``."""
    return OTError(
        OT_AUTHENTICATION_ERROR,
        "API Key is undefined. You must pass an API Key to initSession.",
        ExceptionCodes.AUTHENTICATION_ERROR,
    )


def connect_invalid_session_id(message: str) -> OTError:
    """A missing, non-string or unusable session ID: 1005 ``OT_INVALID_SESSION_ID``."""
    return OTError(OT_INVALID_SESSION_ID, message, ExceptionCodes.INVALID_SESSION_ID)


def connect_authentication_error(message: str) -> OTError:
    """A token that cannot connect (wrong kind, expired, another room): 1004 ``OT_AUTHENTICATION_ERROR``."""
    return OTError(OT_AUTHENTICATION_ERROR, message, ExceptionCodes.AUTHENTICATION_ERROR)


def connect_failed(message: str) -> OTError:
    """The server could not be reached or refused the connection: 1006 ``OT_CONNECT_FAILED``.

    1006 is also OpenTok.js's default code for a connect failure without one.
    """
    return OTError(OT_CONNECT_FAILED, message, ExceptionCodes.CONNECT_FAILED)


def connect_connection_limit_exceeded(message: str) -> OTError:
    """The session is full: 1027 ``OT_CONNECTION_LIMIT_EXCEEDED``."""
    return OTError(OT_CONNECTION_LIMIT_EXCEEDED, message, ExceptionCodes.CONNECTION_LIMIT_EXCEEDED)


# --- Session.publish ------------------------------------------------------------------------------


def publish_not_connected() -> OTError:
    """``publish`` before ``sessionConnected``: 1010 ``OT_NOT_CONNECTED`` (publish returns None)."""
    return OTError(
        OT_NOT_CONNECTED,
        "We need to be connected before you can publish",
        ExceptionCodes.NOT_CONNECTED,
    )


def publish_permission_denied() -> OTError:
    """``publish`` with a ``subscriber`` token: ``OT_PERMISSION_DENIED``, code 1500."""
    return OTError(
        OT_PERMISSION_DENIED,
        "This token does not allow publishing. The role must be at least `publisher` to enable this functionality",
        ExceptionCodes.UNABLE_TO_PUBLISH,
    )


def publish_invalid_parameter(message: str) -> OTError:
    """A bad ``publish`` argument (not a Publisher, already published): ``OT_INVALID_PARAMETER``, code 1500."""
    return OTError(OT_INVALID_PARAMETER, message, ExceptionCodes.UNABLE_TO_PUBLISH)


# --- Session.subscribe ----------------------------------------------------------------------------


def subscribe_not_connected() -> OTError:
    """``subscribe`` without a connection: ``OT_NOT_CONNECTED``, code 1501."""
    return OTError(
        OT_NOT_CONNECTED,
        "Session.subscribe :: Connection required to subscribe",
        ExceptionCodes.UNABLE_TO_SUBSCRIBE,
    )


def subscribe_invalid_parameter(message: str) -> OTError:
    """A null or invalid stream passed to ``subscribe``: ``OT_INVALID_PARAMETER``, code 1501."""
    return OTError(OT_INVALID_PARAMETER, message, ExceptionCodes.UNABLE_TO_SUBSCRIBE)


def subscribe_permission_denied() -> OTError:
    """``subscribe`` with a ``publisheronly`` token: ``OT_PERMISSION_DENIED``, code 1501.

    OpenTok.js has no local check (the server refuses); this is the error we give instead.
    """
    return OTError(
        OT_PERMISSION_DENIED,
        "This token does not allow subscribing: its role is `publisheronly`. Mint a token with the role "
        "`subscriber`, `publisher` or `moderator` to subscribe",
        ExceptionCodes.UNABLE_TO_SUBSCRIBE,
    )


# --- Session.forceDisconnect ----------------------------------------------------------------------

_INVALID_PARAMETER_MESSAGE: Final = "Invalid Parameter. Check that you have passed valid parameter values into the method call."


def force_disconnect_not_connected() -> OTError:
    """``forceDisconnect`` while not connected: 1010 ``OT_NOT_CONNECTED``."""
    return OTError(
        OT_NOT_CONNECTED,
        "Cannot call forceDisconnect(). You are not connected to the session.",
        ExceptionCodes.NOT_CONNECTED,
    )


def force_disconnect_invalid_parameter() -> OTError:
    """``forceDisconnect`` without a connection id, or the server refused it: 1011 ``OT_INVALID_PARAMETER``."""
    return OTError(OT_INVALID_PARAMETER, _INVALID_PARAMETER_MESSAGE, ExceptionCodes.INVALID_PARAMETER)


def force_disconnect_permission_denied() -> OTError:
    """``forceDisconnect`` without the moderator role: ``OT_PERMISSION_DENIED``, code 1520."""
    return OTError(
        OT_PERMISSION_DENIED,
        "This token does not allow forceDisconnect. The role must be at least `moderator` to enable this functionality",
        ExceptionCodes.UNABLE_TO_FORCE_DISCONNECT,
    )


# --- Session.forceUnpublish -----------------------------------------------------------------------


def force_unpublish_invalid_parameter() -> OTError:
    """``forceUnpublish`` without a stream: 1011 ``OT_INVALID_PARAMETER``."""
    return OTError(OT_INVALID_PARAMETER, _INVALID_PARAMETER_MESSAGE, ExceptionCodes.INVALID_PARAMETER)


def force_unpublish_not_connected() -> OTError:
    """``forceUnpublish`` while not connected: 1010 ``OT_NOT_CONNECTED``."""
    return OTError(
        OT_NOT_CONNECTED,
        "Cannot call forceUnpublish(). You are not connected to the session.",
        ExceptionCodes.NOT_CONNECTED,
    )


def force_unpublish_permission_denied() -> OTError:
    """``forceUnpublish`` without the moderator role: ``OT_PERMISSION_DENIED``, code 1530."""
    return OTError(
        OT_PERMISSION_DENIED,
        "This token does not allow forceUnpublish. The role must be at least `moderator` to enable this functionality",
        ExceptionCodes.UNABLE_TO_FORCE_UNPUBLISH,
    )


def force_unpublish_invalid_stream() -> OTError:
    """``forceUnpublish`` of a stream that is not in the session: ``OT_NOT_FOUND``, code 1535.

    OpenTok.js 2.35.2 gives this error no ``code`` and documents 1535 ("Force Unpublish on Invalid
    Stream") for the matching ``exception`` event; we set 1535 so the code is never missing.
    """
    return OTError(OT_NOT_FOUND, "The stream does not exist.", FORCE_UNPUBLISH_INVALID_STREAM)


def force_unpublish_unexpected() -> OTError:
    """The server failed ``forceUnpublish`` otherwise: 2001 ``OT_UNEXPECTED_SERVER_RESPONSE``."""
    return OTError(OT_UNEXPECTED_SERVER_RESPONSE, "An unexpected error occurred.", ExceptionCodes.UNEXPECTED_SERVER_RESPONSE)


# --- Session.forceMuteStream / forceMuteAll / disableForceMute (session/forceMuteErrors.js) -------


def force_mute_not_connected() -> OTError:
    """A ``forceMute*`` call while not connected: 1010 ``OT_NOT_CONNECTED``."""
    return OTError(
        OT_NOT_CONNECTED,
        "Cannot use forceMute functionality. You are not connected to the session.",
        ExceptionCodes.NOT_CONNECTED,
    )


def force_mute_permission_denied() -> OTError:
    """A ``forceMute*`` call without the moderator role: ``OT_PERMISSION_DENIED``, code 1540."""
    return OTError(
        OT_PERMISSION_DENIED,
        "This token does not allow forceMute usage. The role must be at least `moderator` to enable this functionality",
        ExceptionCodes.UNABLE_TO_FORCE_MUTE,
    )


def force_mute_invalid_parameter() -> OTError:
    """A stream without an id, or ``excludedStreams`` that are not Streams: 1011 ``OT_INVALID_PARAMETER``."""
    return OTError(OT_INVALID_PARAMETER, _INVALID_PARAMETER_MESSAGE, ExceptionCodes.INVALID_PARAMETER)


def force_mute_not_found() -> OTError:
    """``forceMuteStream`` of a stream the server does not know: ``OT_NOT_FOUND`` (no code, as in OpenTok.js)."""
    return OTError(OT_NOT_FOUND, "The stream does not exist.")


def force_mute_unexpected() -> OTError:
    """Any other server failure of a ``forceMute*`` call: 2001 ``OT_UNEXPECTED_SERVER_RESPONSE``."""
    return OTError(OT_UNEXPECTED_SERVER_RESPONSE, "An unexpected error occurred.", ExceptionCodes.UNEXPECTED_SERVER_RESPONSE)


# --- Session.signal -------------------------------------------------------------------------------

SIGNAL_ERROR_NAMES: Final[dict[int, str]] = {
    400: OT_INVALID_PARAMETER,
    413: OT_INVALID_PARAMETER,
    429: OT_RATE_LIMIT_EXCEEDED,
    404: OT_NOT_FOUND,
    500: OT_NOT_CONNECTED,
    403: OT_PERMISSION_DENIED,
    2001: OT_UNEXPECTED_SERVER_RESPONSE,
}
"""``getErrorNameFromCode`` of ``session.signal``: the name that goes with each signal error code."""


def signal_error(code: int, message: str) -> OTError:
    """The error of a failed ``session.signal``: the ``OT_*`` name that OpenTok.js gives ``code``.

    400 and 413 are ``OT_INVALID_PARAMETER``, 404 ``OT_NOT_FOUND``, 429 ``OT_RATE_LIMIT_EXCEEDED``,
    403 ``OT_PERMISSION_DENIED``, 500 ``OT_NOT_CONNECTED``, 2001 ``OT_UNEXPECTED_SERVER_RESPONSE``.

    :raises ValueError: ``code`` is not one of those (OpenTok.js would pass a nameless error on).
    """
    name = SIGNAL_ERROR_NAMES.get(code)
    if name is None:
        raise ValueError(f"{code} is not a Session.signal error code (one of {sorted(SIGNAL_ERROR_NAMES)})")
    return OTError(name, message, code)


def signal_not_connected() -> OTError:
    """``signal`` while not connected: ``OT_NOT_CONNECTED`` with code **500** (not 1010)."""
    return signal_error(500, "Unable to send signal - you are not connected to the session.")


def signal_permission_denied() -> OTError:
    """``signal`` with a ``publisheronly`` token: 403 ``OT_PERMISSION_DENIED`` (the server's answer in OpenTok)."""
    return signal_error(
        403,
        "This token does not allow signaling: its role is `publisheronly`, which cannot send signals. "
        "Mint a token with the role `subscriber`, `publisher` or `moderator` to signal",
    )


def signal_connection_not_found(connection_id: str) -> OTError:
    """``signal`` to a connection that is not in the session: 404 ``OT_NOT_FOUND``."""
    return signal_error(404, f"The signal to connection {connection_id!r} does not exist in this session")


def signal_rate_limit_exceeded() -> OTError:
    """``signal`` refused for sending too fast: 429 ``OT_RATE_LIMIT_EXCEEDED``."""
    return signal_error(429, "The signal could not be sent due to the rate limit. Send fewer signals and try again.")


def signal_unexpected(message: str = "Signal Failed. Unexpected response from the server.") -> OTError:
    """``signal`` failed in the transport: 2001 ``OT_UNEXPECTED_SERVER_RESPONSE``."""
    return signal_error(2001, message)


def invalid_parameter(message: str) -> OTError:
    """A bad argument to any method: 1011 ``OT_INVALID_PARAMETER``."""
    return OTError(OT_INVALID_PARAMETER, message, ExceptionCodes.INVALID_PARAMETER)

# --- compat.rollout -------------------------------------------------------------------------------
# A session the rollout put on the old platform has no LiveKit room. A client joining it gets 1005
# OT_INVALID_SESSION_ID, what OpenTok.js reports when the session-info request answers 404 for a
# session its platform does not host (mapStatusCodeToErrorCode.js: 404 -> 1005). A token minted for
# it is refused with 1004 OT_AUTHENTICATION_ERROR, the code such a token meets on the platform it
# crosses to (a token the session's API key did not sign).


class LegacyPlatformError(OTError):
    """compat.rollout assigned the session to ``legacy``: a token for it is refused (1004)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_legacy_platform_error, (self.message,))


def _legacy_platform_error(message: str) -> LegacyPlatformError:
    return LegacyPlatformError(OT_AUTHENTICATION_ERROR, message, ExceptionCodes.AUTHENTICATION_ERROR)


def legacy_token_error(room: str) -> LegacyPlatformError:
    """``generate_token`` for a session compat.rollout assigned to legacy: 1004
    ``OT_AUTHENTICATION_ERROR``, what a token not signed for the session's platform meets there."""
    return _legacy_platform_error(
        f"Cannot generate token: the session of room {room!r} is on platform 'legacy' (compat.rollout assigned it there); "
        "generate its token with the legacy OpenTok / Vonage SDK, not compat's"
    )


def connect_legacy_session(room: str) -> OTError:
    """``connect`` to a session compat.rollout assigned to legacy: 1005 ``OT_INVALID_SESSION_ID``,
    OpenTok.js's code when session info answers 404 (mapStatusCodeToErrorCode.js): the session is
    not hosted on this platform."""
    return connect_invalid_session_id(
        f"Invalid Session ID: the session of room {room!r} is on platform 'legacy' (compat.rollout assigned it there); "
        "join it with the legacy OpenTok SDK, or end the session and assign it again"
    )


__all__ = [
    "LegacyPlatformError",
    "connect_legacy_session",
    "legacy_token_error",
    "ERROR_NAMES",
    "ERROR_TITLES",
    "FORCE_UNPUBLISH_INVALID_STREAM",
    "SIGNAL_ERROR_NAMES",
    "Errors",
    "ExceptionCodes",
    "OTError",
    "connect_authentication_error",
    "connect_connection_limit_exceeded",
    "connect_failed",
    "connect_invalid_session_id",
    "connect_missing_api_key",
    "force_disconnect_invalid_parameter",
    "force_disconnect_not_connected",
    "force_disconnect_permission_denied",
    "force_mute_invalid_parameter",
    "force_mute_not_connected",
    "force_mute_not_found",
    "force_mute_permission_denied",
    "force_mute_unexpected",
    "force_unpublish_invalid_parameter",
    "force_unpublish_invalid_stream",
    "force_unpublish_not_connected",
    "force_unpublish_permission_denied",
    "force_unpublish_unexpected",
    "getErrorTitleByCode",
    "invalid_parameter",
    "publish_invalid_parameter",
    "publish_not_connected",
    "publish_permission_denied",
    "signal_connection_not_found",
    "signal_error",
    "signal_not_connected",
    "signal_permission_denied",
    "signal_rate_limit_exceeded",
    "signal_unexpected",
    "subscribe_invalid_parameter",
    "subscribe_not_connected",
    "subscribe_permission_denied",
    *ERROR_NAMES,
]
