"""Token roles, ``Capabilities`` (``session.capabilities``) and the LiveKit grants of each role.

OpenTok has four token roles; LiveKit has per-token grants. The mapping is one rule, both ways:

============== ========================================= =================================
role           OpenTok rights                            LiveKit ``VideoGrants``
============== ========================================= =================================
subscriber     subscribe (and signal)                    ``can_publish=False``
publisher      publish, subscribe, signal (the default)  the defaults
publisheronly  publish only: no subscribe, no signal     ``can_subscribe=False``, ``can_publish_data=False``
moderator      publisher + forceDisconnect,              ``room_admin=True``
               forceUnpublish, forceMute
============== ========================================= =================================

and back: ``room_admin`` -> moderator, else ``can_publish`` false -> subscriber, else
``can_subscribe`` false -> publisheronly, else publisher. Every role can join (``room_join``).

``Capabilities`` mirrors ``ot/capabilities.js``: each right is 1 or 0, derived from the server's
permission strings (``publish``, ``subscribe``, ``forceunpublish``, ``forcedisconnect``,
``forcemute``), and ``permittedTo(action)`` checks one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import attrs
from livekit import api

from .errors import invalid_parameter

Role = Literal["subscriber", "publisher", "publisheronly", "moderator"]

ROLES: Final[tuple[Role, ...]] = ("subscriber", "publisher", "publisheronly", "moderator")
"""The four token roles, as OpenTok spells them on the wire."""

DEFAULT_ROLE: Final[Role] = "publisher"

ROLE_PERMISSIONS: Final[dict[Role, tuple[str, ...]]] = {
    "subscriber": ("subscribe",),
    "publisher": ("publish", "subscribe"),
    "publisheronly": ("publish",),
    "moderator": ("publish", "subscribe", "forceunpublish", "forcedisconnect", "forcemute"),
}
"""The OpenTok server permission strings each role carries (what ``Capabilities`` is built from)."""

_ACTIONS: Final = ("publish", "subscribe", "forceUnpublish", "forceDisconnect", "forceMute", "supportsE2ee", "supportsWebRTC")


@attrs.frozen
class Capabilities:
    """``session.capabilities`` / ``connection.permissions``: what the token allows, each 1 or 0.

    Mirrors ``Capabilities(permissions)`` of ``ot/capabilities.js``. ``supportsWebRTC`` is 1 (the
    LiveKit client does WebRTC); ``supportsE2ee`` is 0 (end-to-end encryption is not supported).
    """

    publish: int = 0
    subscribe: int = 0
    forceUnpublish: int = 0
    forceDisconnect: int = 0
    forceMute: int = 0
    supportsE2ee: int = 0
    supportsWebRTC: int = 1

    @classmethod
    def fromPermissions(cls, permissions: Iterable[str]) -> Capabilities:
        """Build from the server permission strings (``'publish'``, ``'forcemute'``, ...), as OpenTok.js does."""
        granted = set(permissions)
        return cls(
            publish=int("publish" in granted),
            subscribe=int("subscribe" in granted),
            forceUnpublish=int("forceunpublish" in granted),
            forceDisconnect=int("forcedisconnect" in granted),
            forceMute=int("forcemute" in granted),
        )

    def permittedTo(self, action: str) -> bool:
        """``capabilities.permittedTo(action)``: True when ``action`` is a capability set to 1."""
        return action in _ACTIONS and getattr(self, action) == 1


NO_CAPABILITIES: Final = Capabilities()
"""What ``session.capabilities`` holds before ``sessionConnected``: all 0 (supportsWebRTC still 1)."""


def normalize_role(role: object) -> Role:
    """Accept a role as a string, or an enum whose ``value`` is one (``opentok.Roles``, vonage ``TokenRole``).

    ``opentok.Roles.publisher_only`` has the value ``'publisheronly'``, so it maps too.

    :raises compat.vonage.OTError: 1011 ``OT_INVALID_PARAMETER`` when it is none of the four roles.
    """
    value = getattr(role, "value", role)
    if isinstance(value, str) and value in ROLES:
        return value
    raise invalid_parameter(f"{role!r} is not a valid role: use one of {', '.join(ROLES)} (default {DEFAULT_ROLE})")


def capabilities_for_role(role: object) -> Capabilities:
    """The ``Capabilities`` a connection with this role has once connected."""
    return Capabilities.fromPermissions(ROLE_PERMISSIONS[normalize_role(role)])


def role_can_signal(role: object) -> bool:
    """Whether the role may send signals: every role but ``publisheronly`` (which gets 403)."""
    return normalize_role(role) != "publisheronly"


def grants_for_role(role: object, room: str) -> api.VideoGrants:
    """The LiveKit ``VideoGrants`` of a token with this role for ``room`` (see the module table)."""
    r = normalize_role(role)
    return api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=r != "subscriber",
        can_subscribe=r != "publisheronly",
        can_publish_data=r != "publisheronly",
        room_admin=True if r == "moderator" else None,
    )


def _grant(grants: api.VideoGrants | Mapping[str, Any], snake: str, camel: str, default: bool) -> bool:
    if isinstance(grants, api.VideoGrants):
        value = getattr(grants, snake)
    else:
        value = grants.get(camel, grants.get(snake))
    return default if value is None else bool(value)


def role_for_grants(grants: api.VideoGrants | Mapping[str, Any]) -> Role:
    """The role a LiveKit grant set amounts to: the reverse of :func:`grants_for_role`.

    ``grants`` is a ``VideoGrants`` or the ``video`` claim of a token (camelCase keys, as in the
    JWT). Missing ``canPublish``/``canSubscribe`` mean True, as on the LiveKit server.
    """
    if _grant(grants, "room_admin", "roomAdmin", False):
        return "moderator"
    if not _grant(grants, "can_publish", "canPublish", True):
        return "subscriber"
    if not _grant(grants, "can_subscribe", "canSubscribe", True):
        return "publisheronly"
    return "publisher"


def capabilities_for_grants(grants: api.VideoGrants | Mapping[str, Any]) -> Capabilities:
    """``Capabilities`` of a LiveKit grant set, via :func:`role_for_grants`."""
    return capabilities_for_role(role_for_grants(grants))


__all__ = [
    "DEFAULT_ROLE",
    "NO_CAPABILITIES",
    "ROLES",
    "ROLE_PERMISSIONS",
    "Capabilities",
    "Role",
    "capabilities_for_grants",
    "capabilities_for_role",
    "grants_for_role",
    "normalize_role",
    "role_can_signal",
    "role_for_grants",
]
