"""compat.vonage: the Vonage Video (OpenTok.js 2.x) client object model on LiveKit.

Port a bot by changing its import::

    from compat import vonage as OT

    session = OT.initSession(api_key, session_id)
    session.on("streamCreated", lambda event: ...)
    await session.connect(token)          # LIVEKIT_URL, or options={"url": ...}

The object model (one module per class, as OpenTok.js): :class:`Session` (:mod:`.session`, with
:func:`initSession`), :class:`Publisher` (:func:`initPublisher`), :class:`Subscriber`,
:class:`Stream`, :class:`Connection`, the event classes (:mod:`.events`) and the dispatcher
(:mod:`.eventing`); ``OT.on("exception", ...)`` (:mod:`.ot`). Around it:

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

from . import events
from .capabilities import DEFAULT_ROLE, NO_CAPABILITIES, ROLES, Capabilities, Role
from .connection import Connection
from .errors import ERROR_NAMES, ExceptionCodes, OTError, getErrorTitleByCode
from .events import (
    ArchiveEvent,
    ConnectionEvent,
    Event,
    ExceptionEvent,
    MuteForcedEvent,
    SessionConnectEvent,
    SessionDisconnectEvent,
    SignalEvent,
    StreamEvent,
    StreamPropertyChangedEvent,
)
from .moderation import MODERATION_TOPIC
from .ot import off, on, once
from .publisher import Publisher, initPublisher
from .session import Session, initSession
from .sessionid import mint_session_id, parse_session_id, room_for_session_id
from .signal import MAX_SIGNAL_DATA_LENGTH, MAX_SIGNAL_TYPE_LENGTH, SIGNAL_TOPIC, TOPIC_PREFIX
from .stream import Stream
from .subscriber import Subscriber
from .token import METADATA_KEY, generate_token, inspect_token

Error = OTError
"""``OT.Error``: the (deprecated in OpenTok.js) error class; the same as :class:`OTError`."""

__all__ = [
    "DEFAULT_ROLE",
    "ERROR_NAMES",
    "MAX_SIGNAL_DATA_LENGTH",
    "MAX_SIGNAL_TYPE_LENGTH",
    "METADATA_KEY",
    "MODERATION_TOPIC",
    "NO_CAPABILITIES",
    "ROLES",
    "SIGNAL_TOPIC",
    "TOPIC_PREFIX",
    "ArchiveEvent",
    "Capabilities",
    "Connection",
    "ConnectionEvent",
    "Error",
    "Event",
    "ExceptionCodes",
    "ExceptionEvent",
    "MuteForcedEvent",
    "OTError",
    "Publisher",
    "Role",
    "Session",
    "SessionConnectEvent",
    "SessionDisconnectEvent",
    "SignalEvent",
    "Stream",
    "StreamEvent",
    "StreamPropertyChangedEvent",
    "Subscriber",
    "events",
    "generate_token",
    "getErrorTitleByCode",
    "initPublisher",
    "initSession",
    "inspect_token",
    "mint_session_id",
    "off",
    "on",
    "once",
    "parse_session_id",
    "room_for_session_id",
]
