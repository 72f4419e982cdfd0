"""``twilio.jwt`` on LiveKit: the base of :class:`~compat.twilio_video.jwt.access_token.AccessToken`.

Port a back end by changing its imports::

    from compat.twilio_video.jwt.access_token import AccessToken          # was twilio.jwt.access_token
    from compat.twilio_video.jwt.access_token.grants import VideoGrant    # was twilio.jwt.access_token.grants

The constructor, attributes, ``to_jwt(ttl=None)`` and errors are twilio-python 9.x's; the token
is a **LiveKit** access token (the claim mapping is in ``access_token``'s docstring).
"""

from __future__ import annotations

import time
from typing import Any, Final

import jwt as pyjwt

__all__ = ["MAX_LIFETIME_S", "Jwt"]

MAX_LIFETIME_S: Final = 86400
"""Twilio Video refuses access tokens valid for more than 24 hours (20104 at connect); compat refuses
to mint them (``to_jwt`` raises ValueError), because a LiveKit server would accept them."""


class _Generate:
    def __repr__(self) -> str:
        return "Jwt.GENERATE"


class Jwt:
    """A JSON Web Token with twilio-python's attributes: ``secret_key``, ``issuer``, ``subject``,
    ``algorithm``, ``nbf`` (``Jwt.GENERATE``: now, ``None``: omitted), ``ttl``, ``valid_until``."""

    GENERATE: Final[Any] = _Generate()
    ALGORITHM = "HS256"

    def __init__(
        self,
        secret_key: str | None,
        issuer: str | None,
        subject: str | None = None,
        algorithm: str | None = None,
        nbf: Any = GENERATE,
        ttl: int = 3600,
        valid_until: int | None = None,
    ) -> None:
        self.secret_key = secret_key
        self.issuer = issuer
        self.subject = subject
        self.algorithm = algorithm or self.ALGORITHM
        self.nbf = nbf
        self.ttl = ttl
        self.valid_until = valid_until

    def _generate_payload(self) -> dict[str, Any]:
        raise NotImplementedError("Subclass must provide a payload.")

    def _generate_headers(self) -> dict[str, Any]:
        return {}

    @property
    def payload(self) -> dict[str, Any]:
        """The claims ``to_jwt`` signs (``exp`` from ``ttl``, or ``valid_until`` when set)."""
        now = int(time.time())
        payload = dict(self._generate_payload())
        payload["iss"] = self.issuer
        payload["exp"] = now + self.ttl
        if self.nbf is not None:
            payload["nbf"] = now if self.nbf is self.GENERATE else self.nbf
        if self.valid_until:
            payload["exp"] = self.valid_until
        if self.subject:
            payload["sub"] = self.subject
        return payload

    @property
    def headers(self) -> dict[str, Any]:
        headers = dict(self._generate_headers())
        headers["typ"] = "JWT"
        headers["alg"] = self.algorithm
        return headers

    def to_jwt(self, ttl: int | None = None) -> str:
        """Sign and encode; ``ttl`` overrides the lifetime (``exp = now + ttl``).

        Raises ValueError without a secret (as twilio-python does) and, unlike twilio-python, when
        the token would be valid for more than 24 hours (Twilio refuses it at connect)."""
        if not self.secret_key:
            raise ValueError("JWT does not have a signing key configured.")
        payload = self.payload
        now = int(time.time())
        if ttl:
            payload["exp"] = now + ttl
        _check_lifetime(payload, now)
        return pyjwt.encode(payload, self.secret_key, algorithm=self.algorithm, headers=self.headers)

    def __str__(self) -> str:
        return f"<JWT {self.to_jwt()}>"


def _check_lifetime(payload: dict[str, Any], now: int) -> None:
    start = payload.get("nbf")
    start = max(start, now) if isinstance(start, (int, float)) and not isinstance(start, bool) else now
    exp = payload["exp"]
    if isinstance(exp, (int, float)) and exp - start > MAX_LIFETIME_S:
        raise ValueError(
            f"Access Token expiration date invalid: valid for {int(exp - start)}s, more than Twilio's maximum of "
            f"{MAX_LIFETIME_S}s (24 hours) from now or from nbf. Twilio refuses such tokens at connect (error 20104); "
            "pass ttl <= 86400, or valid_until at most 24 hours ahead."
        )
