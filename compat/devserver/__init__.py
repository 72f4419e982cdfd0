"""compat.devserver: an embedded LiveKit-compatible server for development and tests.

The server (aiortc, av) loads on first use of ``DevServer``, so that importing the testing kit
(``compat.devserver.testing``) in a plain ``livekit.rtc`` bot does not load the SFU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compat.devserver.auth import AuthError

if TYPE_CHECKING:
    from compat.devserver.server import DEFAULT_KEYS, DevServer

__all__ = ["DEFAULT_KEYS", "AuthError", "DevServer"]


def __getattr__(name: str) -> Any:
    if name in ("DEFAULT_KEYS", "DevServer"):
        from compat.devserver import server

        return getattr(server, name)
    raise AttributeError(f"module 'compat.devserver' has no attribute {name!r}")
