"""The client side of compat.rollout: the platform check both vendors make before joining, and
each session's quality record (setup, TURN relay, reconnects, audio MOS) in the configured store.

Vendors call :func:`session_platform` and refuse a session on legacy with their own error code,
then :func:`begin_setup` and pass the record to ``open_session``: core marks it connected,
counts reconnect episodes and, at teardown, reads the ICE candidate-pair and inbound-audio stats.
The vendor marks a failed setup with its own code. Without a configured store (no
``compat.rollout.configure`` and no ``COMPAT_ROLLOUT_STORE``) nothing is checked or recorded.
A store that cannot be written to loses the record with a logged warning, never the call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from compat.rollout import Store, audio_mos, configured_store

logger = logging.getLogger(__name__)

RELAY_TYPE = 3  # livekit.rtc's IceCandidateType.RELAY


def session_platform(session_key: str) -> str | None:
    """The platform the rollout assigned ``session_key`` to (None: no store, or not assigned).
    A store that cannot be read raises (compat.rollout.RolloutError or the driver's error):
    joining without knowing could cross platforms."""
    store = configured_store()
    return None if store is None else store.platform_of(session_key)


class SetupRecord:
    """One client session's record; every method is a no-op without a store."""

    def __init__(self, store: Store | None, record_id: int | None) -> None:
        self._store, self._id = store, record_id
        self._started = time.monotonic()
        self._done = False

    @property
    def active(self) -> bool:
        return self._store is not None and self._id is not None

    def connected(self) -> None:
        latency = time.monotonic() - self._started
        self._write("setup", lambda store, rid: store.setup_done(rid, setup_s=latency))

    def failed(self, code: int | None) -> None:
        """The setup failed with the vendor's ``code`` (None: the vendor has none; recorded as 0)."""
        self._write("setup", lambda store, rid: store.setup_done(rid, failure_code=0 if code is None else int(code)))

    def reconnecting(self) -> None:
        self._write("reconnect", lambda store, rid: store.add_reconnect(rid))

    def finish(self, stats: Any) -> None:
        """The session ended; ``stats`` is livekit.rtc's ``get_rtc_stats()`` answer (None: unknown)."""
        if self._done:
            return
        self._done = True
        relay, mos = None, None
        try:
            relay, mos = (None, None) if stats is None else media_quality(stats)
        except Exception as exc:  # noqa: BLE001 - an unexpected stats shape loses the numbers, not the teardown
            logger.warning("rollout quality record %s: unreadable stats: %r", self._id, exc)
        self._write("finish", lambda store, rid: store.finish(rid, turn_relay=relay, mos=mos))

    def _write(self, what: str, action: Callable[[Store, int], None]) -> None:
        if self._store is None or self._id is None:
            return
        try:
            action(self._store, self._id)
        except Exception as exc:  # noqa: BLE001 - a quality record never breaks a call
            logger.warning("rollout quality record %s: %s failed: %s", self._id, what, exc)


def begin_setup(session_key: str, vendor: str) -> SetupRecord:
    """A client of ``vendor`` starts joining ``session_key`` (the LiveKit room name)."""
    store = configured_store()
    if store is None:
        return SetupRecord(None, None)
    try:
        return SetupRecord(store, store.begin_setup(session_key, vendor))
    except Exception as exc:  # noqa: BLE001 - a quality record never breaks a call
        logger.warning("rollout quality record for %r not started: %s", session_key, exc)
        return SetupRecord(None, None)


# --- reading livekit.rtc stats (protobuf messages; read by attribute, no import needed) ----------


def media_quality(stats: Any) -> tuple[bool | None, float | None]:
    """(media went through TURN, MOS of the received audio) from a ``get_rtc_stats()`` answer."""
    relays = [relay for pc in (stats.publisher_stats, stats.subscriber_stats) if (relay := _relayed(pc)) is not None]
    rtt = _selected_rtt(stats.subscriber_stats) or _selected_rtt(stats.publisher_stats)
    return (any(relays) if relays else None), _received_audio_mos(stats.subscriber_stats, rtt)


def _of(pc: Any, kind: str) -> list[Any]:
    """The stats of one kind, unwrapped (each wrapper holds ``rtc`` with the id, and the stat)."""
    return [getattr(s, kind) for s in pc if s.WhichOneof("stats") == kind]


def _selected_pair(pc: Any) -> Any | None:
    """The transport's selected candidate pair (else a nominated one)."""
    selected = {t.transport.selected_candidate_pair_id for t in _of(pc, "transport")}
    pairs = _of(pc, "candidate_pair")
    chosen = [p for p in pairs if p.rtc.id in selected] or [p for p in pairs if p.candidate_pair.nominated]
    return chosen[0].candidate_pair if chosen else None


def _relayed(pc: Any) -> bool | None:
    pair = _selected_pair(pc)
    if pair is None:
        return None
    ids = {pair.local_candidate_id, pair.remote_candidate_id}
    candidates = [c for kind in ("local_candidate", "remote_candidate") for c in _of(pc, kind)]
    return any(c.rtc.id in ids and c.candidate.candidate_type == RELAY_TYPE for c in candidates)


def _selected_rtt(pc: Any) -> float | None:
    pair = _selected_pair(pc)
    return pair.current_round_trip_time if pair is not None and pair.current_round_trip_time > 0 else None


def _received_audio_mos(pc: Any, rtt_s: float | None) -> float | None:
    audio = [s for s in _of(pc, "inbound_rtp") if s.stream.kind == "audio"]
    received = sum(a.received.packets_received for a in audio)
    if not audio or received == 0:
        return None
    lost = sum(max(0, a.received.packets_lost) for a in audio)
    jitter_s = max(a.received.jitter for a in audio)
    return audio_mos((rtt_s or 0.0) * 1000, jitter_s * 1000, 100 * lost / (lost + received))

__all__ = ["SetupRecord", "begin_setup", "media_quality", "session_platform"]
