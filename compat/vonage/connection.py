"""``Connection``: one client in the session (OpenTok.js ``ot/connection.js``).

On LiveKit a connection is a participant: ``connectionId`` (also ``id``) is the participant SID
(``PA_...``; the core keeps it stable across reconnects), ``creationTime`` LiveKit's ``joined_at``
in ms (the time this client first saw it when LiveKit gives none), ``data`` the token's connection
data (:func:`compat.vonage.token.parse_metadata`: a plain LiveKit participant's whole metadata
string), ``permissions`` its :class:`Capabilities`. ``livekit_identity`` (an addition) is the
participant identity, which signals address.
"""

from __future__ import annotations

import time

import attrs

from compat.core import ParticipantInfo, Permissions

from .capabilities import Capabilities, Role, capabilities_for_role, role_for_grants
from .signal import SignalTarget
from .token import parse_metadata


@attrs.frozen
class ConnectionCapabilities:
    """``connection.capabilities``: ``{supportsWebRTC}`` (1: the LiveKit client does WebRTC)."""

    supportsWebRTC: int = 1


def role_of(info: ParticipantInfo) -> Role:
    """The OpenTok role of a participant: from its LiveKit permissions, or, when the core reports
    the default permissions, from the role compat.vonage put in its token metadata."""
    perms = info.permissions
    meta_role = parse_metadata(info.metadata).role
    if perms == Permissions() and meta_role is not None:
        return meta_role
    return permissions_role(perms)


def effective_permissions(info: ParticipantInfo) -> Permissions:
    """A participant's LiveKit permissions; from its token role when the core reports the defaults."""
    meta_role = parse_metadata(info.metadata).role
    if info.permissions == Permissions() and meta_role is not None:
        return permissions_for_role(meta_role)
    return info.permissions


def permissions_for_role(role: Role) -> Permissions:
    """The LiveKit permissions a token of this role grants (:func:`compat.vonage.capabilities.grants_for_role`)."""
    return Permissions(
        can_publish=role != "subscriber",
        can_subscribe=role != "publisheronly",
        can_publish_data=role != "publisheronly",
        room_admin=role == "moderator",
    )


def permissions_role(perms: Permissions) -> Role:
    """LiveKit permissions -> OpenTok role (the rule of :mod:`compat.vonage.capabilities`)."""
    return role_for_grants({"roomAdmin": perms.room_admin, "canPublish": perms.can_publish, "canSubscribe": perms.can_subscribe})


class Connection(SignalTarget):
    """``OT.Connection``: ``connectionId``/``id``, ``creationTime``, ``data``, ``capabilities``, ``permissions``."""

    def __init__(self, connectionId: str, identity: str, creationTime: float, data: str | None, permissions: Capabilities) -> None:
        self.connectionId = connectionId
        self.id = connectionId
        self.livekit_identity = identity
        self.creationTime = creationTime
        self.data = data
        self.capabilities = ConnectionCapabilities()
        self.permissions = permissions
        self._destroyed_reason: str | None = None

    @classmethod
    def from_participant(cls, info: ParticipantInfo) -> Connection:
        """The Connection of a LiveKit participant (see the module docstring)."""
        created = info.joined_at_ms or time.time() * 1000.0
        return cls(info.sid, info.identity, created, parse_metadata(info.metadata).data, capabilities_for_role(role_of(info)))

    def destroyed(self) -> bool:
        """Internal in OpenTok.js: whether the connection has gone."""
        return self._destroyed_reason is not None

    def destroyedReason(self) -> str | None:
        return self._destroyed_reason

    def __repr__(self) -> str:
        return f"Connection({self.connectionId!r}, identity={self.livekit_identity!r})"


__all__ = ["Connection", "ConnectionCapabilities", "effective_permissions", "permissions_for_role", "permissions_role", "role_of"]
