"""Session IDs: an OpenTok session ID names a LiveKit room. One rule, both ways.

A session ID is either

* **a plain LiveKit room name** (``"clinic-42"``): it names that room, unchanged; or
* **an ID minted by** :func:`mint_session_id`, shaped like an OpenTok one so that apps that
  store, log or validate session IDs keep working::

      "2_" + base64url("compat~1~<apiKey>~<roomName>")   (no "=" padding)

  ``compat`` marks the record as ours, ``1`` is the format version, ``apiKey`` the LiveKit API
  key it was minted for (tokens for it must come from the same key, as OpenTok requires), and
  the room name is everything after the third ``~`` (so it may contain ``~``). Minting is
  deterministic: one room, one ID per API key. IDs are at most 255 characters, as OpenTok's.

An ID minted by OpenTok or Vonage (``1_``/``2_`` followed by base64url of a ``~``-separated record
that is not ours, e.g. ``1~<apiKey>~~<timestamp>~...``) names a session on the old platform, which
has no LiveKit room: it is refused with 1005 ``OT_INVALID_SESSION_ID`` and a message saying how to
make one. Any other string (``"1_lobby"`` included) is a plain room name.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

import attrs

from .errors import connect_invalid_session_id, invalid_parameter

MAX_SESSION_ID_LENGTH: Final = 255
SESSION_ID_PREFIX: Final = "2_"
RECORD_MARK: Final = "compat"
RECORD_VERSION: Final = "1"

_MINTED_SHAPE: Final = re.compile(r"[12]_([A-Za-z0-9_-]+)")

HOW_TO_CREATE_A_SESSION: Final = (
    "compat.vonage connects to a LiveKit server, where a session is a LiveKit room: use the room name "
    "as the session ID, or mint one on your server with compat.vonage.mint_session_id(livekit_api_key, room_name) "
    "(LiveKit creates the room when the first client joins, or create it with livekit.api RoomService.create_room)."
)


@attrs.frozen
class SessionIdInfo:
    """What a session ID names: the LiveKit ``room``, and the API key it was minted for (None if plain)."""

    session_id: str
    room: str
    api_key: str | None

    @property
    def minted(self) -> bool:
        """True for an ID made by :func:`mint_session_id`, False for a plain room name."""
        return self.api_key is not None


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _b64decode(body: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def mint_session_id(api_key: str, room: str) -> str:
    """A session ID for LiveKit ``room``, shaped like an OpenTok one (``"2_..."``); see the module doc.

    The server-side drop-in for ``opentok.Client.create_session().session_id``: no network call,
    the room itself is created by LiveKit on first join.

    :raises compat.vonage.OTError: 1011 ``OT_INVALID_PARAMETER`` for an empty or ``~``-holding API key, an empty
        room name, or a room name too long for a 255-character ID (use the plain room name then).
    """
    if not isinstance(api_key, str) or not api_key or "~" in api_key:
        raise invalid_parameter(f"mint_session_id: the API key must be a non-empty string without '~', got {api_key!r}")
    if not isinstance(room, str) or not room:
        raise invalid_parameter(f"mint_session_id: the room name must be a non-empty string, got {room!r}")
    session_id = SESSION_ID_PREFIX + _b64encode(f"{RECORD_MARK}~{RECORD_VERSION}~{api_key}~{room}")
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise invalid_parameter(
            f"mint_session_id: the room name {room[:40]!r}... is too long for a session ID of at most "
            f"{MAX_SESSION_ID_LENGTH} characters; use a shorter room name, or the room name itself as the session ID"
        )
    return session_id


def parse_session_id(session_id: object) -> SessionIdInfo:
    """Which LiveKit room a session ID names (and the API key it was minted for).

    :raises compat.vonage.OTError: 1005 ``OT_INVALID_SESSION_ID`` for a missing or non-string ID, an ID minted
        by OpenTok/Vonage, or a damaged ID of ours.
    """
    if session_id is None or session_id == "":
        raise connect_invalid_session_id("SessionID is undefined. You must pass a sessionID to initSession.")
    if not isinstance(session_id, str):
        raise connect_invalid_session_id("SessionID is not a string. You must use string as the session ID passed into OT.initSession().")
    shape = _MINTED_SHAPE.fullmatch(session_id)
    record = _b64decode(shape.group(1)) if shape else None
    if record is None or "~" not in record:
        return SessionIdInfo(session_id=session_id, room=session_id, api_key=None)
    mark, _, rest = record.partition("~")
    if mark != RECORD_MARK:
        raise connect_invalid_session_id(
            f"The session ID {_abbrev(session_id)} was created by OpenTok/Vonage Video and names a session on that "
            f"platform, not a LiveKit room. {HOW_TO_CREATE_A_SESSION}"
        )
    version, _, rest = rest.partition("~")
    api_key, sep, room = rest.partition("~")
    if version != RECORD_VERSION or not sep or not api_key or not room:
        raise connect_invalid_session_id(
            f"The session ID {_abbrev(session_id)} looks minted by compat.vonage but is damaged or of an unknown "
            f"version ({version!r}); mint it again with compat.vonage.mint_session_id(livekit_api_key, room_name)."
        )
    return SessionIdInfo(session_id=session_id, room=room, api_key=api_key)


def room_for_session_id(session_id: str) -> str:
    """The LiveKit room a session ID names (see :func:`parse_session_id` for the errors)."""
    return parse_session_id(session_id).room


def _abbrev(session_id: str) -> str:
    return repr(session_id if len(session_id) <= 40 else session_id[:37] + "...")


__all__ = [
    "HOW_TO_CREATE_A_SESSION",
    "MAX_SESSION_ID_LENGTH",
    "SessionIdInfo",
    "mint_session_id",
    "parse_session_id",
    "room_for_session_id",
]
