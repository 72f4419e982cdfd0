"""compat.rollout: the back end's platform router for the hybrid period of a migration.

Each session is assigned to ``"legacy"`` (Twilio / Vonage) or ``"livekit"`` by the cohort rules
of the current stage (:data:`STAGES`: internal users, new users only, 5 %, 25 %, 50 %, 100 %),
and stays there until :func:`end` (sessions drain; a stage change never moves one). The stage
moves forward only through :func:`advance`, refused while a quality gate fails, and back at
once through :func:`rollback`. compat's client models
and server drop-ins consult the configured store: they refuse a session assigned to legacy
(a token never crosses platforms) and record each session's setup, TURN use, reconnects and
audio MOS into it. docs/migration.md shows the whole procedure.

The store is a SQLite file (default) or PostgreSQL (a ``postgresql://`` URL), configured with
:func:`configure` or the environment variable ``COMPAT_ROLLOUT_STORE``.
"""

from __future__ import annotations

import os
import threading

from .quality import Gates, Summary, audio_mos
from .stages import STAGES, Platform
from .store import GateFailed, RolloutError, Store, open_store

__all__ = [
    "ENV_VAR",
    "STAGES",
    "GateFailed",
    "Gates",
    "Platform",
    "RolloutError",
    "Store",
    "Summary",
    "advance",
    "assign",
    "audio_mos",
    "configure",
    "configured_store",
    "end",
    "open_store",
    "record",
    "rollback",
]

ENV_VAR = "COMPAT_ROLLOUT_STORE"

_lock = threading.Lock()
_configured: Store | None = None
_from_env: tuple[str, Store] | None = None


def configure(store: Store | str | os.PathLike[str] | None) -> Store | None:
    """Use ``store`` (a Store, a SQLite path or a PostgreSQL URL) in this process; None: go back to
    ``COMPAT_ROLLOUT_STORE`` (unset: no rollout, nothing refused or recorded)."""
    global _configured, _from_env
    with _lock:
        if _from_env is not None:  # reread COMPAT_ROLLOUT_STORE on next use
            _from_env[1].close()
            _from_env = None
        _configured = open_store(store) if isinstance(store, (str, os.PathLike)) else store
        return _configured


def configured_store() -> Store | None:
    """The store of :func:`configure`, else the one ``COMPAT_ROLLOUT_STORE`` names, else None."""
    global _from_env
    with _lock:
        if _configured is not None:
            return _configured
        location = os.environ.get(ENV_VAR)
        if not location:
            return None
        if _from_env is None or _from_env[0] != location:
            _from_env = (location, open_store(location))
        return _from_env[1]


def _store() -> Store:
    store = configured_store()
    if store is None:
        raise RolloutError(f"no rollout store: call compat.rollout.configure(path_or_url) or set {ENV_VAR}")
    return store


def assign(session_key: str, *, user: str | None = None, is_new_user: bool = False, internal: bool = False) -> Platform:
    """The platform of ``session_key`` (:meth:`Store.assign` on the configured store)."""
    return _store().assign(session_key, user=user, is_new_user=is_new_user, internal=internal)


def end(session_key: str) -> None:
    """The session is over (:meth:`Store.end`)."""
    _store().end(session_key)


def advance(gates: Gates | None = None) -> str:
    """Next stage, unless a gate fails (:meth:`Store.advance`)."""
    return _store().advance(gates)


def rollback(to: str | None = None) -> str:
    """Back to ``to`` (default: the previous stage), with no gate (:meth:`Store.rollback`)."""
    return _store().rollback(to)


def record(session_key: str, *, vendor: str, platform: str = "legacy", setup_s: float | None = None,
           failure_code: int | None = None, turn_relay: bool | None = None, reconnects: int = 0,
           mos: float | None = None) -> int:
    """Record a whole session, e.g. a legacy one from the back end (:meth:`Store.record`)."""
    return _store().record(session_key, vendor=vendor, platform=platform, setup_s=setup_s, failure_code=failure_code,
                           turn_relay=turn_relay, reconnects=reconnects, mos=mos)
