"""Access-token verification as LiveKit does it at the signalling handshake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import jwt
from livekit.protocol import models

# canPublishSources names in tokens → TrackSource values.
SOURCE_NAMES: dict[str, models.TrackSource] = {
    "camera": models.TrackSource.CAMERA,
    "microphone": models.TrackSource.MICROPHONE,
    "screen_share": models.TrackSource.SCREEN_SHARE,
    "screen_share_audio": models.TrackSource.SCREEN_SHARE_AUDIO,
}

LEEWAY_SECONDS = 10  # LiveKit tolerates small clock skew between token minter and server


class AuthError(Exception):
    """A refused token: `status` is the HTTP status, the message the plain-text body the SDK shows."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@attrs.frozen
class VideoGrant:
    room_join: bool = False
    room: str = ""
    room_create: bool = False
    room_list: bool = False
    room_admin: bool = False
    room_record: bool = False
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_publish_sources: tuple[models.TrackSource, ...] = ()  # empty = every source
    can_update_own_metadata: bool = False
    hidden: bool = False
    recorder: bool = False

    @classmethod
    def from_claim(cls, video: Mapping[str, Any]) -> VideoGrant:
        def flag(key: str, default: bool) -> bool:
            value = video.get(key)
            return default if value is None else bool(value)

        sources = []
        for name in video.get("canPublishSources") or ():
            if name not in SOURCE_NAMES:
                raise AuthError(401, f"invalid token: unknown canPublishSources entry {name!r}")
            sources.append(SOURCE_NAMES[name])
        return cls(
            room_join=flag("roomJoin", False),
            room=str(video.get("room") or ""),
            room_create=flag("roomCreate", False),
            room_list=flag("roomList", False),
            room_admin=flag("roomAdmin", False),
            room_record=flag("roomRecord", False),
            can_publish=flag("canPublish", True),
            can_subscribe=flag("canSubscribe", True),
            can_publish_data=flag("canPublishData", True),
            can_publish_sources=tuple(sources),
            can_update_own_metadata=flag("canUpdateOwnMetadata", False),
            hidden=flag("hidden", False),
            recorder=flag("recorder", False),
        )

    def permission(self) -> models.ParticipantPermission:
        return models.ParticipantPermission(
            can_subscribe=self.can_subscribe,
            can_publish=self.can_publish,
            can_publish_data=self.can_publish_data,
            can_publish_sources=list(self.can_publish_sources),
            hidden=self.hidden,
            recorder=self.recorder,
            can_update_metadata=self.can_update_own_metadata,
        )


@attrs.frozen
class Claims:
    api_key: str
    identity: str
    name: str
    metadata: str
    attributes: Mapping[str, str]
    video: VideoGrant


def verify(token: str, keys: Mapping[str, str], *, now: float | None = None) -> Claims:
    """Check signature, key, validity window and shape; raise AuthError with LiveKit-like reasons."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthError(401, f"invalid token: malformed ({exc})") from None
    if header.get("alg") != "HS256":
        raise AuthError(401, f"invalid token: unsupported algorithm {header.get('alg')!r}, expected HS256")
    api_key = unverified.get("iss")
    if not isinstance(api_key, str) or not api_key:
        raise AuthError(401, "invalid token: no issuer (API key)")
    secret = keys.get(api_key)
    if secret is None:
        raise AuthError(401, f"invalid API key: {api_key}")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_aud": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "invalid token: token is expired") from None
    except jwt.ImmatureSignatureError:
        raise AuthError(401, "invalid token: token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise AuthError(401, "invalid token: signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(401, f"invalid token: {exc}") from None
    except jwt.PyJWTError as exc:
        raise AuthError(401, f"invalid token: {exc}") from None
    video = claims.get("video") or {}
    if not isinstance(video, dict):
        raise AuthError(401, "invalid token: 'video' grant is not an object")
    attributes = claims.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise AuthError(401, "invalid token: 'attributes' must map strings to strings")
    return Claims(
        api_key=api_key,
        identity=str(claims.get("sub") or ""),
        name=str(claims.get("name") or ""),
        metadata=str(claims.get("metadata") or ""),
        attributes=dict(attributes),
        video=VideoGrant.from_claim(video),
    )


def check_join(claims: Claims, requested_room: str | None) -> str:
    """The room to join, or AuthError when the token does not allow joining it."""
    grant = claims.video
    if not grant.room_join:
        raise AuthError(401, "permissions denied: token has no roomJoin grant")
    if not grant.room:
        raise AuthError(401, "permissions denied: token names no room")
    if requested_room and requested_room != grant.room:
        raise AuthError(401, f"permissions denied: token is for room {grant.room!r}, not {requested_room!r}")
    if not claims.identity:
        raise AuthError(400, "identity cannot be empty: set the token's identity (sub)")
    return grant.room


def bearer_token(authorization: str | None, query_token: str | None) -> str:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if query_token:
        return query_token
    raise AuthError(401, "no authorization: pass the token as 'Authorization: Bearer <jwt>' or access_token=")

