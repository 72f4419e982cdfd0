"""compat.vonage: the Vonage Video (OpenTok.js 2.x) client object model on LiveKit.

Port a bot by changing its import::

    from compat import vonage as OT

    session = OT.initSession(api_key, session_id)   # (Session comes in a later step)

What exists so far is the network-free foundation:

* errors: :class:`OTError` (also ``OT.Error``), :class:`ExceptionCodes`, :func:`getErrorTitleByCode`;
  the ``OT_*`` names and the per-method error builders live in :mod:`compat.vonage.errors`;
* :class:`Capabilities` and the token roles (:mod:`compat.vonage.capabilities`);
* session IDs (:func:`mint_session_id`, :func:`room_for_session_id`) and tokens
  (:func:`generate_token`, :func:`inspect_token`): the server-side drop-ins for
  ``opentok.Client.create_session`` / ``generate_token`` (no network call);
* the ``session.signal`` rules and wire format (:mod:`compat.vonage.signal`, :data:`SIGNAL_TOPIC`).

Names follow OpenTok.js (camelCase); Python additions use PEP 8 names.
"""

from __future__ import annotations

from .capabilities import DEFAULT_ROLE, NO_CAPABILITIES, ROLES, Capabilities, Role
from .errors import ERROR_NAMES, ExceptionCodes, OTError, getErrorTitleByCode
from .sessionid import mint_session_id, parse_session_id, room_for_session_id
from .signal import MAX_SIGNAL_DATA_LENGTH, MAX_SIGNAL_TYPE_LENGTH, SIGNAL_TOPIC, TOPIC_PREFIX
from .token import METADATA_KEY, generate_token, inspect_token

Error = OTError
"""``OT.Error``: the (deprecated in OpenTok.js) error class; the same as :class:`OTError`."""

__all__ = [
    "DEFAULT_ROLE",
    "ERROR_NAMES",
    "MAX_SIGNAL_DATA_LENGTH",
    "MAX_SIGNAL_TYPE_LENGTH",
    "METADATA_KEY",
    "NO_CAPABILITIES",
    "ROLES",
    "SIGNAL_TOPIC",
    "TOPIC_PREFIX",
    "Capabilities",
    "Error",
    "ExceptionCodes",
    "OTError",
    "Role",
    "generate_token",
    "getErrorTitleByCode",
    "inspect_token",
    "mint_session_id",
    "parse_session_id",
    "room_for_session_id",
]
