"""``AccessToken`` with twilio-python 9.x's constructor, attributes, ``add_grant`` and
``to_jwt(ttl=None)``, minting a **LiveKit** access token.

The mapping (docs/parity.md, "Access tokens"):

=====================================  ==========================================================
twilio-python                          LiveKit token
=====================================  ==========================================================
``signing_key_sid`` (API key ``SK…``)  ``iss``: the LiveKit API key (use your LiveKit key here)
``secret``                             the HS256 signing secret: the LiveKit API secret
``account_sid``                        private claim ``twilio.account_sid`` (LiveKit ignores it)
``identity``                           ``sub`` (the participant identity)
``VideoGrant(room)``                   ``video: {roomJoin: true, room, canUpdateOwnMetadata: true}``
                                       (the grant lets compat announce published data tracks
                                       in participant attributes, as Twilio announces them)
``nbf``, ``ttl``, ``valid_until``      ``nbf``, ``exp`` exactly as twilio-python computes them
``region``                             private claim ``twilio.region`` (no LiveKit meaning)
other grants                           left out, with an :class:`IgnoredGrantWarning`
=====================================  ==========================================================

The header has no ``cty: twilio-fpa`` (compat.twilio_video.connect refuses Twilio tokens) and the
payload keeps ``jti = "<signing_key_sid>-<now>"``. Differences from twilio-python: ``to_jwt``
raises ValueError for a token valid more than 24 hours (Twilio refuses it at connect with 20104),
and a token without ``VideoGrant(room=...)`` or without ``identity`` cannot join a LiveKit room
(``compat.twilio_video.connect`` says so with 20106 / 20103).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from compat.twilio_video.jwt import Jwt

__all__ = ["AccessToken", "AccessTokenGrant", "IgnoredGrantWarning"]


class IgnoredGrantWarning(UserWarning):
    """A grant with no LiveKit meaning (Chat, Sync, Voice, …) was added: it is left out of the token."""


class AccessTokenGrant:
    """A grant giving access to a resource (the base of every grant in ``.grants``)."""

    @property
    def key(self) -> str:
        raise NotImplementedError("Grant must have a key property.")

    def to_payload(self) -> dict[str, Any]:
        raise NotImplementedError("Grant must implement to_payload.")

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.to_payload()}>"


def _not_a_grant(message: str, grant: object) -> ValueError:
    module = type(grant).__module__
    if module.startswith("twilio."):
        message += (
            f" ({type(grant).__name__} is twilio-python's: import it from "
            "compat.twilio_video.jwt.access_token.grants instead.)"
        )
    return ValueError(message)


def _warn_if_ignored(grant: AccessTokenGrant) -> None:
    from .grants import VideoGrant

    if not isinstance(grant, VideoGrant):
        warnings.warn(
            f"{type(grant).__name__} ({grant.key!r}) has no meaning on LiveKit: it is accepted and left out "
            "of the token. Only VideoGrant is carried.",
            IgnoredGrantWarning,
            stacklevel=3,
        )


class AccessToken(Jwt):
    """Access Token containing one or more AccessTokenGrants: a LiveKit token (module docstring)."""

    ALGORITHM = "HS256"

    def __init__(
        self,
        account_sid: str,
        signing_key_sid: str,
        secret: str,
        grants: list[AccessTokenGrant] | None = None,
        identity: str | None = None,
        nbf: Any = Jwt.GENERATE,
        ttl: int = 3600,
        valid_until: int | None = None,
        region: str | None = None,
    ) -> None:
        grants = grants or []
        bad = next((g for g in grants if not isinstance(g, AccessTokenGrant)), None)
        if bad is not None:
            raise _not_a_grant("Grants must be instances of AccessTokenGrant.", bad)
        for grant in grants:
            _warn_if_ignored(grant)
        self.account_sid = account_sid
        self.signing_key_sid = signing_key_sid
        self.identity = identity
        self.region = region
        self.grants = grants
        super().__init__(
            secret_key=secret,
            algorithm=self.ALGORITHM,
            issuer=signing_key_sid,
            subject=account_sid,  # as in twilio-python; the token's sub is the identity (see payload)
            nbf=nbf,
            ttl=ttl,
            valid_until=valid_until,
        )

    def add_grant(self, grant: AccessTokenGrant) -> None:
        """Add a grant to this AccessToken."""
        if not isinstance(grant, AccessTokenGrant):
            raise _not_a_grant("Grant must be an instance of AccessTokenGrant.", grant)
        _warn_if_ignored(grant)
        self.grants.append(grant)

    def _generate_payload(self) -> dict[str, Any]:
        from .grants import VideoGrant

        payload: dict[str, Any] = {"jti": f"{self.signing_key_sid}-{int(time.time())}"}
        videos = [g for g in self.grants if isinstance(g, VideoGrant)]
        if videos:  # the last one wins, as in twilio-python's {grant.key: ...} mapping
            room = videos[-1].room
            payload["video"] = {"roomJoin": True, **({"room": room} if room else {}), "canUpdateOwnMetadata": True}
        twilio: dict[str, Any] = {"account_sid": self.account_sid}
        if self.region and isinstance(self.region, str):
            twilio["region"] = self.region
        payload["twilio"] = twilio
        return payload

    def to_jwt(self, ttl: int | None = None) -> str:
        """Sign and encode (:meth:`Jwt.to_jwt`). With a compat.rollout store configured, a token for
        a room the rollout assigned to legacy is refused with 20101
        (:func:`compat.twilio_video.errormapping.legacy_token_error`): it could only fail there."""
        from compat import core as C
        from compat.twilio_video.errormapping import legacy_token_error

        from .grants import VideoGrant

        videos = [g for g in self.grants if isinstance(g, VideoGrant)]
        room = videos[-1].room if videos else None  # the last one wins, as in the payload
        if room and C.session_platform(room) == "legacy":
            raise legacy_token_error(room)
        return super().to_jwt(ttl)

    @property
    def payload(self) -> dict[str, Any]:
        """The LiveKit claims: ``sub`` is the identity (the account SID is under ``twilio``)."""
        payload = super().payload
        payload.pop("sub", None)
        if self.identity:
            payload["sub"] = self.identity
        return payload

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.to_jwt()}>"
