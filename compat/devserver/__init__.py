"""compat.devserver: an embedded LiveKit-compatible server for development and tests."""

from compat.devserver.auth import AuthError
from compat.devserver.server import DEFAULT_KEYS, DevServer

__all__ = ["DEFAULT_KEYS", "AuthError", "DevServer"]
