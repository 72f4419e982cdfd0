"""Twilio-style SIDs for LiveKit ids, derived deterministically (docs/parity.md, "SIDs").

A Twilio SID is two letters and 32 hex digits. compat writes the LiveKit id's suffix into them:

==========  ============================  ===========================================
Twilio      LiveKit                       e.g.
==========  ============================  ===========================================
``RM…``     room sid ``RM_…``             ``RM_4f9XkQ2bLm1a`` ↔ ``RM0c34663958…``
``PA…``     participant sid ``PA_…``
``MT…``     track sid ``TR_…``
``RT…``     track egress id ``EG_…``      a room recording
``CJ…``     room composite egress ``EG_…``  a composition
==========  ============================  ===========================================

The 16 bytes behind the hex digits are ``[n] + suffix + zero padding`` when the suffix (what follows
``RM_``) is at most 15 ASCII characters, as LiveKit's ids are (12), so the LiveKit id can be read
back (:func:`to_livekit`). A longer suffix gets ``"f"`` and 31 hex digits of its SHA-256 instead:
still stable, found by comparing (:func:`same`). Either way the same LiveKit id always gives the
same SID, across processes and restarts.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal

__all__ = ["Kind", "is_sid", "same", "to_livekit", "to_twilio"]

Kind = Literal["RM", "PA", "MT", "RT", "CJ"]

LIVEKIT_PREFIX: Final[dict[str, str]] = {"RM": "RM_", "PA": "PA_", "MT": "TR_", "RT": "EG_", "CJ": "EG_"}
_SID = re.compile(r"^(RM|PA|MT|RT|CJ)[0-9a-f]{32}$")
_MAX_SUFFIX = 15


def to_twilio(kind: Kind, livekit_id: str) -> str:
    """The Twilio SID of a LiveKit id (``to_twilio("RM", room.sid)``)."""
    prefix = LIVEKIT_PREFIX[kind]
    suffix = livekit_id.removeprefix(prefix) if livekit_id.startswith(prefix) else livekit_id
    raw = suffix.encode("utf-8")
    if len(raw) <= _MAX_SUFFIX and suffix.isascii() and livekit_id.startswith(prefix):
        return kind + (bytes([len(raw)]) + raw).ljust(16, b"\0").hex()
    return kind + "f" + hashlib.sha256(livekit_id.encode("utf-8")).hexdigest()[:31]


def to_livekit(sid: str) -> str | None:
    """The LiveKit id a Twilio SID was made from, or None (not a SID of this form, or hashed)."""
    match = _SID.match(sid)
    if match is None:
        return None
    data = bytes.fromhex(sid[2:])
    n = data[0]
    if n > _MAX_SUFFIX or any(data[1 + n:]):
        return None
    try:
        suffix = data[1:1 + n].decode("ascii")
    except UnicodeDecodeError:
        return None
    return LIVEKIT_PREFIX[match.group(1)] + suffix


def same(kind: Kind, key: str, livekit_id: str) -> bool:
    """Whether ``key`` (a Twilio SID, or the LiveKit id itself) names ``livekit_id``."""
    return key == livekit_id or key == to_twilio(kind, livekit_id)


def is_sid(kind: Kind, key: str) -> bool:
    """Whether ``key`` is shaped like a SID of this kind (Twilio's or LiveKit's), not a name."""
    if key.startswith(LIVEKIT_PREFIX[kind]):
        return True
    return bool(_SID.match(key)) and key.startswith(kind)
