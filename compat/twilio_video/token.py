"""Checks on the access token before anything is sent to the server.

LiveKit tokens are HS256 JWTs: ``iss`` = API key, ``sub`` = identity, grants under
``video`` (``roomJoin``, ``room``). A Twilio token (header ``cty: twilio-fpa;v=1``) is
refused at once with 20101 and instructions; other problems that can be seen without the
secret get their own code (20101-20106). The signature (20107) is the server's to check.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import attrs

from .errors import (
    AccessTokenExpiredError,
    AccessTokenGrantsInvalidError,
    AccessTokenHeaderInvalidError,
    AccessTokenInvalidError,
    AccessTokenIssuerInvalidError,
    AccessTokenNotYetValidError,
)

LEEWAY_S = 10

TWILIO_TOKEN_MESSAGE = (
    "Invalid Access Token: this is a Twilio access token (cty twilio-fpa), but compat.twilio_video "
    "connects to a LiveKit server and needs a LiveKit access token. Mint one on your server with "
    "livekit-api: livekit.api.AccessToken(api_key, api_secret).with_identity(identity)"
    ".with_grants(livekit.api.VideoGrants(room_join=True, room=room_name)).to_jwt()"
)


@attrs.frozen
class TokenClaims:
    identity: str
    room: str | None
    api_key: str


def _b64json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def inspect_token(token: str, room_name: str | None = None, *, now: float | None = None) -> TokenClaims:
    """Decode (without verifying) and check a LiveKit token; raise the Twilio error otherwise."""
    if not isinstance(token, str):
        raise TypeError("token must be a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise AccessTokenInvalidError("Invalid Access Token: not a JWT (expected three dot-separated parts)")
    try:
        header = _b64json(parts[0])
        payload = _b64json(parts[1])
    except (ValueError, UnicodeError) as exc:
        raise AccessTokenInvalidError(f"Invalid Access Token: cannot decode it ({exc})") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise AccessTokenInvalidError("Invalid Access Token: header and payload must be JSON objects")
    if str(header.get("cty", "")).startswith("twilio-fpa"):
        raise AccessTokenInvalidError(TWILIO_TOKEN_MESSAGE)
    if header.get("alg") != "HS256":
        raise AccessTokenHeaderInvalidError(f"Invalid Access Token header: alg must be HS256, got {header.get('alg')!r}")
    iss, sub = payload.get("iss"), payload.get("sub")
    if not isinstance(iss, str) or not iss:
        raise AccessTokenIssuerInvalidError("Invalid Access Token issuer/subject: iss (the LiveKit API key) is missing")
    if not isinstance(sub, str) or not sub:
        raise AccessTokenIssuerInvalidError("Invalid Access Token issuer/subject: sub (the participant identity) is missing")
    t = time.time() if now is None else now
    exp, nbf = payload.get("exp"), payload.get("nbf")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp + LEEWAY_S < t:
        raise AccessTokenExpiredError()
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and nbf - LEEWAY_S > t:
        raise AccessTokenNotYetValidError()
    video = payload.get("video")
    if not isinstance(video, dict) or video.get("roomJoin") is not True:
        raise AccessTokenGrantsInvalidError("Invalid Access Token grants: the video grant must have roomJoin=true")
    room = video.get("room") or None
    if not isinstance(room, (str, type(None))):
        raise AccessTokenGrantsInvalidError("Invalid Access Token grants: video.room must be a string")
    if room_name is not None:
        if room is None:
            raise AccessTokenGrantsInvalidError(
                "Invalid Access Token grants: a LiveKit token must name its room (video.room); "
                f"options.name={room_name!r} cannot choose it"
            )
        if room_name != room:
            raise AccessTokenGrantsInvalidError(
                f"Invalid Access Token grants: the token is for room {room!r}, options.name is {room_name!r}"
            )
    elif room is None:
        raise AccessTokenGrantsInvalidError("Invalid Access Token grants: the video grant names no room")
    return TokenClaims(identity=sub, room=room, api_key=iss)

__all__ = ["LEEWAY_S", "TWILIO_TOKEN_MESSAGE", "TokenClaims", "inspect_token"]
