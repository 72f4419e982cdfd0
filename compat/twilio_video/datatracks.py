"""How compat participants announce their LocalDataTracks to each other.

LiveKit has data packets, not data tracks. A plain LiveKit participant's data track is
therefore seen with its first message (a packet on a new topic). A compat participant also
announces each LocalDataTrack it publishes in its LiveKit participant attributes, under the
reserved key :data:`ANNOUNCE_KEY` (compat/core/topics.py), so that other compat participants
see it (``trackPublished``, ``trackSubscribed``, ``dataTracks``) when it is published and
``trackUnpublished`` when it is unpublished, as twilio-video.js reports data tracks.

Both sides derive the track's SID from the publisher's participant SID and the track name
(:func:`data_track_sid`), so whichever arrives first, the announcement or a message, makes
the same publication.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping

from compat.core.topics import vendor_key

logger = logging.getLogger(__name__)

ANNOUNCE_KEY = vendor_key("twilio", "dataTracks")
"""Attribute key; its value is a JSON object: track name -> {"reliable": bool}."""


def data_track_sid(participant_sid: str, name: str) -> str:
    """A stable SID for the data track named ``name`` of a participant (both sides agree)."""
    digest = hashlib.sha1(f"{participant_sid}\0{name}".encode()).hexdigest()[:20]
    return f"TR_data_{digest}"


def encode(tracks: Iterable[tuple[str, bool]]) -> str:
    """The attribute value for data tracks given as (name, reliable)."""
    return json.dumps({name: {"reliable": reliable} for name, reliable in tracks}, sort_keys=True)


def decode(attributes: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, bool] | None:
    """Announced data tracks (name -> reliable), or None when the participant announces
    none (a plain LiveKit participant). A malformed value is logged and read as none."""
    value = dict(attributes).get(ANNOUNCE_KEY)
    if value is None:
        return None
    try:
        raw = json.loads(value) if value else {}
        return {str(name): bool(spec.get("reliable", True)) for name, spec in raw.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        logger.warning("malformed %s attribute %r ignored: %s", ANNOUNCE_KEY, value, exc)
        return None

__all__ = ["ANNOUNCE_KEY", "data_track_sid", "decode", "encode"]
