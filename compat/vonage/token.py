"""Tokens: a LiveKit access token carries the OpenTok connection data and role.

:func:`generate_token` is the server-side drop-in for ``opentok.Client.generate_token`` /
vonage-video ``generate_client_token``. It mints a LiveKit access token (HS256, signed with the
LiveKit API secret, via ``livekit.api.AccessToken``) for the room the session ID names
(:mod:`compat.vonage.sessionid`), with the role's grants (:mod:`compat.vonage.capabilities`), and
participant metadata holding what OpenTok keeps in the token, under one reserved key::

    {"compat.vonage": {"v": 1, "role": "publisher", "data": "<connection data or null>",
                       "initialLayoutClassList": ["focus"]}}

``connection.data`` is ``data``. Every other top-level key of the metadata object is yours (pass
``metadata={...}``) and is kept. A participant whose metadata is not such an object (a plain
LiveKit client) has that metadata string as its connection data (:func:`parse_metadata`).

:func:`inspect_token` is what ``Session.connect`` runs **before any network call**: it decodes
the token without verifying it (the signature is the server's to check) and fails fast with
1004 ``OT_AUTHENTICATION_ERROR`` and a message saying what the token is and how to mint the right
one, for: a legacy OpenTok ``T1==`` token, an OpenTok JWT (HS256, ``ist: "project"``,
``scope: "session.connect"``), a Vonage JWT (RS256, ``application_id``, ``subject: "video"``), a
Twilio access token (``cty: "twilio-fpa;v=1"``), anything that is not a JWT, a LiveKit token
without a room grant, expired or not yet valid, for another room than the session ID names, or
from another API key than the session ID was minted for.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime
import json
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from livekit import api

from compat import core as C

from .capabilities import DEFAULT_ROLE, ROLES, Capabilities, Role, capabilities_for_role, grants_for_role, normalize_role, role_for_grants
from .errors import connect_authentication_error, invalid_parameter, legacy_token_error
from .sessionid import parse_session_id

METADATA_KEY: Final = "compat.vonage"
"""The key of the participant metadata object under which compat.vonage keeps its fields."""

METADATA_VERSION: Final = 1
MAX_CONNECTION_DATA_LENGTH: Final = 1000
MAX_LAYOUT_CLASS_LIST_LENGTH: Final = 1000
DEFAULT_EXPIRE_S: Final = 24 * 3600
"""Default token lifetime: 24 hours, as opentok's ``generate_token``."""
MAX_EXPIRE_S: Final = 30 * 24 * 3600
LEEWAY_S: Final = 10
"""Clock skew allowed when checking ``exp``/``nbf`` before connecting."""

MINT_HINT: Final = (
    "Mint a LiveKit token on your server with compat.vonage.generate_token(livekit_api_key, livekit_api_secret, "
    "session_id, role='publisher', data=...) (or livekit.api.AccessToken with a video grant for the session's room)."
)


# --- metadata -------------------------------------------------------------------------------------


@attrs.frozen
class ConnectionMetadata:
    """What a participant's metadata says: OpenTok connection ``data``, ``role`` (None if not ours)."""

    data: str | None = None
    role: Role | None = None
    initialLayoutClassList: tuple[str, ...] = ()


def build_metadata(
    data: str | None,
    role: object = DEFAULT_ROLE,
    initial_layout_class_list: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """The participant metadata string of a token: ``metadata`` plus our reserved key (module doc)."""
    out: dict[str, Any] = dict(metadata or {})
    if METADATA_KEY in out:
        raise invalid_parameter(f"Cannot generate token, the metadata key {METADATA_KEY!r} is reserved for compat.vonage")
    out[METADATA_KEY] = {
        "v": METADATA_VERSION,
        "role": normalize_role(role),
        "data": data,
        "initialLayoutClassList": list(initial_layout_class_list),
    }
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def parse_metadata(metadata: str | None) -> ConnectionMetadata:
    """Read a participant's metadata; never raises (it runs on every remote participant).

    Ours (a JSON object with :data:`METADATA_KEY`) gives its fields; anything else is a plain
    LiveKit participant's, whose whole metadata string is the connection data ("" -> None).
    """
    if not metadata:
        return ConnectionMetadata()
    try:
        obj = json.loads(metadata)
    except (ValueError, RecursionError):
        obj = None
    entry = obj.get(METADATA_KEY) if isinstance(obj, dict) else None
    if not isinstance(entry, dict):
        return ConnectionMetadata(data=metadata)
    data = entry.get("data")
    role = entry.get("role")
    layout = entry.get("initialLayoutClassList")
    return ConnectionMetadata(
        data=data if isinstance(data, str) else None,
        role=normalize_role(role) if isinstance(role, str) and role in ROLES else None,
        initialLayoutClassList=tuple(c for c in layout if isinstance(c, str)) if isinstance(layout, list) else (),
    )


# --- generate_token -------------------------------------------------------------------------------


def _expire_time(expire_time: object, now: float) -> int:
    if expire_time is None:
        return int(now) + DEFAULT_EXPIRE_S
    if isinstance(expire_time, datetime.datetime):
        value = calendar.timegm(expire_time.utctimetuple())
    else:
        try:
            value = int(expire_time)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise invalid_parameter(
                f"Cannot generate token, invalid expire time {expire_time!r}: give seconds since the epoch or a datetime"
            ) from None
    if value < int(now):
        raise invalid_parameter(f"Cannot generate token, expire_time is not in the future {value}")
    if value > int(now) + MAX_EXPIRE_S:
        raise invalid_parameter(f"Cannot generate token, expire_time is not in the next 30 days {value}")
    return value


def _layout_list(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split() if isinstance(value, str) else list(value)
    if not all(isinstance(c, str) for c in items):
        raise invalid_parameter("Cannot generate token, all items in initial_layout_class_list must be strings")
    if len(" ".join(items)) > MAX_LAYOUT_CLASS_LIST_LENGTH:
        raise invalid_parameter("Cannot generate token, initial_layout_class_list must be less than 1000 characters")
    return tuple(items)


def generate_token(
    api_key: str,
    api_secret: str,
    session_id: str,
    role: object = DEFAULT_ROLE,
    expire_time: int | float | datetime.datetime | None = None,
    data: str | None = None,
    initial_layout_class_list: Sequence[str] | str | None = None,
    identity: str | None = None,
    *,
    name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Mint the LiveKit token a client passes to ``session.connect(token)``; no network call.

    Mirrors ``opentok.Client.generate_token(session_id, role, expire_time, data,
    initial_layout_class_list)`` with the LiveKit key and secret first. ``role`` is a string or an
    opentok/vonage role enum; ``expire_time`` is seconds since the epoch or a datetime (default
    24 h, at most 30 days ahead); ``data`` (≤ 1000 characters) becomes ``connection.data``.
    Additions: ``identity`` (the LiveKit identity, default a UUID), ``name`` (the LiveKit
    participant name) and ``metadata`` (your own keys in the participant metadata object).

    :raises compat.vonage.OTError: 1011 ``OT_INVALID_PARAMETER`` for a bad argument (message as
        opentok's ``"Cannot generate token, ..."``); 1005 ``OT_INVALID_SESSION_ID`` for a session ID
        that names no LiveKit room (e.g. one minted by OpenTok); 1004 ``OT_AUTHENTICATION_ERROR``
        (:class:`compat.vonage.errors.LegacyPlatformError`) for a session compat.rollout assigned to legacy.
    """
    if not isinstance(api_key, str) or not api_key:
        raise invalid_parameter("Cannot generate token, api_key must be your LiveKit API key (a non-empty string)")
    if not isinstance(api_secret, str) or not api_secret:
        raise invalid_parameter("Cannot generate token, api_secret must be your LiveKit API secret (a non-empty string)")
    now = time.time()
    exp = _expire_time(expire_time, now)
    info = parse_session_id(session_id)
    if info.api_key is not None and info.api_key != api_key:
        raise invalid_parameter(
            f"Cannot generate token, the session_id {session_id} does not belong to the api_key {api_key} "
            f"(it was minted for {info.api_key})"
        )
    if C.session_platform(info.room) == "legacy":
        raise legacy_token_error(info.room)
    r = normalize_role(role)
    if data is not None and not isinstance(data, str):
        raise invalid_parameter(f"Cannot generate token, data must be a string, not a {type(data).__name__}")
    if data and len(data) > MAX_CONNECTION_DATA_LENGTH:
        raise invalid_parameter("Cannot generate token, data must be less than 1000 characters")
    layout = _layout_list(initial_layout_class_list)
    if identity is not None and (not isinstance(identity, str) or not identity):
        raise invalid_parameter(f"Cannot generate token, identity must be a non-empty string, got {identity!r}")
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity or str(uuid.uuid4()))
        .with_grants(grants_for_role(r, info.room))
        .with_metadata(build_metadata(data or None, r, layout, metadata))
        .with_ttl(datetime.timedelta(seconds=exp - now))
    )
    if name:
        token = token.with_name(name)
    return token.to_jwt()


# --- inspect_token --------------------------------------------------------------------------------


@attrs.frozen
class TokenInfo:
    """What a LiveKit token grants, read before connecting."""

    identity: str
    room: str
    api_key: str
    role: Role
    capabilities: Capabilities
    data: str | None
    name: str
    metadata: str
    initialLayoutClassList: tuple[str, ...]
    expires_at: int


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _legacy_message(token: str) -> str:
    details = ""
    try:
        decoded = base64.b64decode(token[4:] + "=" * (-len(token[4:]) % 4)).decode("utf-8")
        head, _, payload = decoded.partition(":")
        fields = {**urllib.parse.parse_qs(head), **urllib.parse.parse_qs(payload)}
        partner = fields.get("partner_id", ["?"])[0]
        role = fields.get("role", ["?"])[0]
        details = f" for OpenTok API key {partner}, role {role}"
    except (binascii.Error, ValueError):
        pass
    return (
        f"This is a legacy OpenTok token (T1==...){details}, minted by the opentok server SDK for the OpenTok "
        f"platform. compat.vonage connects to a LiveKit server and needs a LiveKit access token. {MINT_HINT}"
    )


def _old_platform_kind(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    if str(header.get("cty", "")).startswith("twilio-fpa") or isinstance(payload.get("grants"), dict):
        return "a Twilio Video access token (cty twilio-fpa), minted for Twilio"
    vonage = "application_id" in payload or payload.get("subject") == "video"
    opentok = payload.get("ist") == "project" or payload.get("scope") == "session.connect"
    if vonage:
        return (
            f"a Vonage Video JWT ({header.get('alg', '?')}, application_id {payload.get('application_id', '?')}), "
            "minted by the vonage server SDK for the Vonage platform"
        )
    if opentok:
        return (
            f"an OpenTok JWT ({header.get('alg', '?')}, API key {payload.get('iss', '?')}), minted by the opentok "
            "server SDK for the OpenTok platform"
        )
    return None


def inspect_token(token: object, session_id: str, *, now: float | None = None) -> TokenInfo:
    """Check a token for ``session_id`` before connecting; the ``TokenInfo`` or 1004 with what to do.

    Decodes without verifying the signature (the LiveKit server checks it). ``session_id`` must
    parse (:func:`compat.vonage.sessionid.parse_session_id`, 1005 otherwise).

    :raises compat.vonage.OTError: 1004 ``OT_AUTHENTICATION_ERROR`` (see the module doc for the cases).
    """
    auth = connect_authentication_error
    session = parse_session_id(session_id)
    if isinstance(token, (bytes, bytearray)):  # vonage-video's generate_client_token returns bytes
        token = bytes(token).decode("ascii", errors="replace")
    if not isinstance(token, str) or not token:
        raise auth(f"Token is undefined or not a string ({type(token).__name__}). {MINT_HINT}")
    if token.startswith("T1=="):
        raise auth(_legacy_message(token))
    parts = token.split(".")
    if len(parts) != 3:
        raise auth(f"This token is not a LiveKit access token: it is not a JWT (three dot-separated parts). {MINT_HINT}")
    try:
        header, payload = _b64json(parts[0]), _b64json(parts[1])
    except (binascii.Error, ValueError, RecursionError):
        raise auth(f"This token is not a LiveKit access token: its JWT header or claims cannot be decoded. {MINT_HINT}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise auth(f"This token is not a LiveKit access token: its JWT header and claims must be JSON objects. {MINT_HINT}")
    kind = _old_platform_kind(header, payload)
    if kind is not None:
        raise auth(f"This is {kind}. compat.vonage connects to a LiveKit server and needs a LiveKit access token. {MINT_HINT}")
    if header.get("alg") != "HS256":
        raise auth(f"This token is not a LiveKit access token: LiveKit tokens are HS256, this one is {header.get('alg')!r}. {MINT_HINT}")
    iss, sub = payload.get("iss"), payload.get("sub")
    if not isinstance(iss, str) or not iss:
        raise auth(f"This LiveKit token has no issuer (iss, the LiveKit API key). {MINT_HINT}")
    if not isinstance(sub, str) or not sub:
        raise auth(f"This LiveKit token has no identity (sub). {MINT_HINT}")
    video = payload.get("video")
    room = video.get("room") if isinstance(video, dict) else None
    if not isinstance(video, dict) or video.get("roomJoin") is not True or not isinstance(room, str) or not room:
        raise auth(f"This LiveKit token cannot join a room: it needs a video grant with roomJoin and a room. {MINT_HINT}")
    t = time.time() if now is None else now
    exp, nbf = payload.get("exp"), payload.get("nbf")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise auth(f"This LiveKit token has no expiry (exp). {MINT_HINT}")
    if exp + LEEWAY_S < t:
        when = datetime.datetime.fromtimestamp(exp, datetime.timezone.utc).isoformat()
        raise auth(f"This LiveKit token expired at {when}. Mint a new one: tokens are short-lived. {MINT_HINT}")
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and nbf - LEEWAY_S > t:
        when = datetime.datetime.fromtimestamp(nbf, datetime.timezone.utc).isoformat()
        raise auth(f"This LiveKit token is not valid before {when}; check the clocks of your server and this machine.")
    if room != session.room:
        raise auth(
            f"This LiveKit token is for room {room!r}, but the session ID {session.session_id!r} names room "
            f"{session.room!r}. Mint the token for this session: generate_token(api_key, api_secret, session_id, ...)."
        )
    if session.api_key is not None and iss != session.api_key:
        raise auth(
            f"This LiveKit token was minted with API key {iss!r}, but the session ID was minted for API key "
            f"{session.api_key!r}. Mint both with the same LiveKit API key."
        )
    raw_metadata = payload.get("metadata")
    metadata_str = raw_metadata if isinstance(raw_metadata, str) else ""
    meta = parse_metadata(metadata_str)
    if meta.data is not None and len(meta.data) > MAX_CONNECTION_DATA_LENGTH and meta.role is not None:
        raise auth(f"This token's connection data is {len(meta.data)} characters; the limit is {MAX_CONNECTION_DATA_LENGTH}.")
    role = role_for_grants(video)
    name = payload.get("name")
    return TokenInfo(
        identity=sub,
        room=room,
        api_key=iss,
        role=role,
        capabilities=capabilities_for_role(role),
        data=meta.data,
        name=name if isinstance(name, str) else "",
        metadata=metadata_str,
        initialLayoutClassList=meta.initialLayoutClassList,
        expires_at=int(exp),
    )


__all__ = [
    "DEFAULT_EXPIRE_S",
    "LEEWAY_S",
    "MAX_CONNECTION_DATA_LENGTH",
    "MAX_EXPIRE_S",
    "MAX_LAYOUT_CLASS_LIST_LENGTH",
    "METADATA_KEY",
    "MINT_HINT",
    "ConnectionMetadata",
    "TokenInfo",
    "build_metadata",
    "generate_token",
    "inspect_token",
    "parse_metadata",
]
