"""Moderation notices: how every compat client learns what a moderator did.

LiveKit carries out the moderation commands (``forceUnpublish`` revokes the target's
``can_publish`` and restores it; ``forceMuteAll`` has no LiveKit counterpart at all), but its
events do not say why. So the moderator's client first sends a **notice**: one reliable data
packet to every participant on the reserved topic :data:`MODERATION_TOPIC`
(``"compat.vonage.moderation"``), UTF-8 JSON, one of::

    {"v": 1, "op": "forceUnpublish", "connectionId": "PA_...", "streamId": "PA_...-camera"}
    {"v": 1, "op": "muteForced", "active": true, "excludedStreamIds": ["PA_...-camera"]}
    {"v": 1, "op": "muteForced", "active": false, "excludedStreamIds": []}

Receivers act on a notice only when its sender may moderate (its connection has the
``forceUnpublish``/``forceMute`` capability, or the server API sent it); others are logged and
ignored. A plain LiveKit client just sees tracks unpublished or muted. Members not listed are
ignored; a packet that is not such an object is logged and ignored (:func:`decode_notice`).
"""

from __future__ import annotations

import json
from typing import Any, Final

import attrs

from .signal import TOPIC_PREFIX

MODERATION_TOPIC: Final = TOPIC_PREFIX + "moderation"
NOTICE_VERSION: Final = 1
FORCE_UNPUBLISH: Final = "forceUnpublish"
MUTE_FORCED: Final = "muteForced"


@attrs.frozen
class ForceUnpublishNotice:
    connectionId: str
    streamId: str


@attrs.frozen
class MuteForcedNotice:
    active: bool
    excludedStreamIds: tuple[str, ...] = ()


Notice = ForceUnpublishNotice | MuteForcedNotice


def encode_notice(notice: Notice) -> bytes:
    """The payload of a notice packet (module docstring)."""
    body: dict[str, Any] = {"v": NOTICE_VERSION}
    if isinstance(notice, ForceUnpublishNotice):
        body.update(op=FORCE_UNPUBLISH, connectionId=notice.connectionId, streamId=notice.streamId)
    else:
        body.update(op=MUTE_FORCED, active=notice.active, excludedStreamIds=list(notice.excludedStreamIds))
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def decode_notice(payload: bytes) -> Notice | None:
    """Read a notice packet; None (never an exception) for anything else."""
    try:
        body = json.loads(bytes(payload).decode("utf-8"))
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    op = body.get("op")
    if op == FORCE_UNPUBLISH:
        conn, stream = body.get("connectionId"), body.get("streamId")
        if isinstance(conn, str) and isinstance(stream, str):
            return ForceUnpublishNotice(conn, stream)
        return None
    if op == MUTE_FORCED and isinstance(body.get("active"), bool):
        excluded = body.get("excludedStreamIds", [])
        if not isinstance(excluded, list):
            return None
        return MuteForcedNotice(body["active"], tuple(s for s in excluded if isinstance(s, str)))
    return None


__all__ = ["MODERATION_TOPIC", "ForceUnpublishNotice", "MuteForcedNotice", "Notice", "decode_notice", "encode_notice"]
