"""The moderation boundary: LiveKit's RoomService, called by a participant with its own token.

OpenTok moderators (forceDisconnect, forceMuteStream, ...) are clients, and LiveKit clients have
no API secret; but a participant whose token carries a ``roomAdmin`` grant for its room may call
RoomService for that room. So every call here is the real livekit-api client
(:meth:`livekit.api.LiveKitAPI.with_token`, the request types of ``livekit.protocol.room``)
authorised by the session's current token, POSTed to ``{http(s) URL}/twirp/livekit.RoomService/…``.

Every call is bounded (:data:`TIMEOUT`) and every failure is a :class:`ModerationFailure`,
logged at WARNING, whose ``reason`` is ``permission_denied`` (Twirp permission_denied or
unauthenticated, or a plain 401/403: the token lacks roomAdmin for this room),
``not_found`` (no such room, participant or track) or ``failed`` (anything else, timeouts
included).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, NoReturn, TypeVar

import aiohttp
from livekit import api
from livekit.api.room_service import RoomService
from livekit.protocol import models
from livekit.protocol import room as room_pb

from .facts import ModerationFailure, Permissions

logger = logging.getLogger(__name__)

TIMEOUT = 10.0
Reason = Literal["permission_denied", "not_found", "failed"]
R = TypeVar("R")

__all__ = ["TIMEOUT", "mute_published_track", "remove_participant", "update_permissions"]


def _reason(exc: BaseException) -> Reason:
    if isinstance(exc, api.TwirpError):
        if exc.code in ("permission_denied", "unauthenticated") or exc.status in (401, 403):
            return "permission_denied"
        if exc.code == "not_found":
            return "not_found"
    return "failed"


async def _call(url: str, token: str | None, what: str, call: Callable[[RoomService], Awaitable[R]]) -> R:
    """One RoomService call with ``token``; any failure becomes a logged ModerationFailure."""
    if not token:
        _fail(what, "permission_denied", "no access token")
    client = api.LiveKitAPI.with_token(token, url, timeout=aiohttp.ClientTimeout(total=TIMEOUT), failover=False)
    try:
        # An HTTP call, not a native one: cancelling it at the deadline is safe.
        return await asyncio.wait_for(call(client.room), TIMEOUT)
    except (api.TwirpError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        message = f"{exc.code}: {exc.message}" if isinstance(exc, api.TwirpError) else (str(exc) or type(exc).__name__)
        reason = _reason(exc)
        logger.warning("%s refused (%s): %s", what, reason, message)
        raise ModerationFailure(what, message, reason=reason) from None
    finally:
        await client.aclose()


def _fail(what: str, reason: Reason, message: str) -> NoReturn:
    logger.warning("%s refused (%s): %s", what, reason, message)
    raise ModerationFailure(what, message, reason=reason)


async def remove_participant(url: str, token: str | None, room: str, identity: str) -> None:
    await _call(
        url, token, f"RemoveParticipant({identity})",
        lambda svc: svc.remove_participant(room_pb.RoomParticipantIdentity(room=room, identity=identity)),
    )


async def mute_published_track(url: str, token: str | None, room: str, identity: str, track_sid: str, muted: bool) -> None:
    """LiveKit answers an unknown track with an empty response rather than an error: that is
    ``not_found`` here."""
    what = f"MutePublishedTrack({identity}, {track_sid}, muted={muted})"
    res = await _call(
        url, token, what,
        lambda svc: svc.mute_published_track(
            room_pb.MuteRoomTrackRequest(room=room, identity=identity, track_sid=track_sid, muted=muted)
        ),
    )
    if not res.HasField("track"):
        _fail(what, "not_found", f"participant {identity} has no track {track_sid}")


async def update_permissions(
    url: str, token: str | None, room: str, identity: str, permissions: Permissions, base: models.ParticipantPermission
) -> None:
    """UpdateParticipant replaces the whole ParticipantPermission: the fields Permissions does not
    carry (allowed sources, hidden, can_update_metadata, ...) are kept from ``base``, the
    participant's current permission. ``room_admin`` is a token grant, not part of
    ParticipantPermission: it cannot be changed here and is not sent."""
    permission = models.ParticipantPermission()
    permission.CopyFrom(base)
    permission.can_publish = permissions.can_publish
    permission.can_subscribe = permissions.can_subscribe
    permission.can_publish_data = permissions.can_publish_data
    await _call(
        url, token, f"UpdateParticipant({identity}, permissions)",
        lambda svc: svc.update_participant(
            room_pb.UpdateParticipantRequest(room=room, identity=identity, permission=permission)
        ),
    )
