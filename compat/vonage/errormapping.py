"""LiveKit outcomes -> OpenTok reasons and errors (the tables are in docs/parity.md).

Reasons (§1.5 of the reference):

=================================== ======================== ===================================
core ``DisconnectCause``            remote leave             own ``sessionDisconnected``
=================================== ======================== ===================================
None, CLIENT_INITIATED              clientDisconnected       clientDisconnected
PARTICIPANT_REMOVED, ROOM_DELETED,  forceDisconnected        forceDisconnected
DUPLICATE_IDENTITY
MIGRATION                           serverRotation           serverRotation
anything else (signal close,        networkDisconnected      networkDisconnected
timeouts, server shutdown, ...)
=================================== ======================== ===================================
"""

from __future__ import annotations

import re

from compat.core import CommandFailure, ConnectFailure, DisconnectCause, ModerationFailure

from .errors import (
    OT_UNEXPECTED_SERVER_RESPONSE,
    ExceptionCodes,
    OTError,
    connect_authentication_error,
    connect_connection_limit_exceeded,
    connect_failed,
    force_disconnect_invalid_parameter,
    force_disconnect_permission_denied,
    force_mute_not_found,
    force_mute_permission_denied,
    force_mute_unexpected,
    force_unpublish_invalid_stream,
    force_unpublish_permission_denied,
    force_unpublish_unexpected,
)

_CLIENT = frozenset({DisconnectCause.CLIENT_INITIATED})
_FORCED = frozenset({DisconnectCause.PARTICIPANT_REMOVED, DisconnectCause.ROOM_DELETED, DisconnectCause.DUPLICATE_IDENTITY})
_FULL = re.compile(r"\bis full\b|max(imum)? ?participants|too many participants|participant limit")


def disconnect_reason(cause: DisconnectCause | None) -> str:
    """The OpenTok reason of a LiveKit disconnect cause (module table)."""
    if cause is None or cause in _CLIENT:
        return "clientDisconnected"
    if cause in _FORCED:
        return "forceDisconnected"
    if cause is DisconnectCause.MIGRATION:
        return "serverRotation"
    return "networkDisconnected"


def connect_error(failure: ConnectFailure) -> OTError:
    """A failed LiveKit connect -> the OTError ``Session.connect`` reports."""
    text = failure.message
    if failure.timed_out:
        return connect_failed(f"Unable to connect to the session within the connect timeout: {text}")
    if _FULL.search(text.lower()):
        return connect_connection_limit_exceeded(f"The session is full: {text}")
    if failure.status in (401, 403):
        return connect_authentication_error(f"The LiveKit server refused the token: {text}")
    return connect_failed(f"Unable to connect to the session: {text}")


def _reason(failure: CommandFailure) -> str:
    return failure.reason if isinstance(failure, ModerationFailure) else "failed"


def force_disconnect_error(failure: CommandFailure) -> OTError:
    """``forceDisconnect`` refused by LiveKit: no roomAdmin -> 1520, unknown connection -> 1011, else 2001."""
    reason = _reason(failure)
    if reason == "permission_denied":
        return force_disconnect_permission_denied()
    if reason == "not_found":
        return force_disconnect_invalid_parameter()
    return OTError(OT_UNEXPECTED_SERVER_RESPONSE, f"An unexpected error occurred: {failure}", ExceptionCodes.UNEXPECTED_SERVER_RESPONSE)


def force_unpublish_error(failure: CommandFailure) -> OTError:
    """``forceUnpublish`` refused by LiveKit: 1530, 1535 (no such stream), else 2001."""
    reason = _reason(failure)
    if reason == "permission_denied":
        return force_unpublish_permission_denied()
    if reason == "not_found":
        return force_unpublish_invalid_stream()
    return force_unpublish_unexpected()


def force_mute_error(failure: CommandFailure) -> OTError:
    """``forceMuteStream`` / ``forceMuteAll`` refused by LiveKit: 1540, OT_NOT_FOUND, else 2001."""
    reason = _reason(failure)
    if reason == "permission_denied":
        return force_mute_permission_denied()
    if reason == "not_found":
        return force_mute_not_found()
    return force_mute_unexpected()


__all__ = ["connect_error", "disconnect_reason", "force_disconnect_error", "force_mute_error", "force_unpublish_error"]
