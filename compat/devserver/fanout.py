"""Forwarded audio written below Python: the native fan-out (``_fanout``, built from _fanout.c).

Per received datagram of a forwarded audio track, one native call unprotects it and writes one
SRTP copy per subscriber (the subscriber's SSRC, payload type, ``mid`` extension, shifted
sequence numbers and timestamps) straight to that subscriber's socket: what ``RtpWriter`` does
in Python, without ≈ 30 µs of Python per copy. Python still receives the datagram (asyncio,
aioice), counts it in the receiver's statistics and takes its level; every ``SYNC_EVERY``
packets, and whenever the subscribers change, it re-reads each subscriber's transport (a
resumed client's new ICE pair, a closed transport) and hands the copies' counts to the
subscribers' RTCP sender reports.

The native part uses pylibsrtp's own libsrtp: the addresses of ``srtp_protect`` /
``srtp_unprotect`` and of each session's ``srtp_t``, read from pylibsrtp's cffi binding
(``pylibsrtp._binding.ffi`` / ``lib``, ``Session._srtp``). This module is the only one that
relies on them; it checks their C signatures at import and, if anything differs or the
extension was not built (no C compiler at install), ``available()`` is False and the dev
server forwards audio in Python (``RtpWriter.write``). ``COMPAT_DEVSERVER_NATIVE=0`` chooses the
Python path too (bench/devserver.py compares them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pylibsrtp

from compat.devserver.aiortc_internals import RtpWriter, WriteTarget, ntp_now

log = logging.getLogger(__name__)

__all__ = ["SYNC_EVERY", "AudioFanout", "Subscriber", "available", "session_address"]

SYNC_EVERY = 25  # packets between refreshes: 0.5 s of 20 ms Opus

_SRTP_SIGNATURE = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"  # libsrtp 2, as pylibsrtp 1 binds it


def _load() -> tuple[Any, int, int] | None:
    """The native module and the addresses of srtp_unprotect / srtp_protect, or None."""
    if os.environ.get("COMPAT_DEVSERVER_NATIVE", "1") == "0":
        return None
    try:
        from pylibsrtp._binding import ffi, lib  # type: ignore[import-not-found]

        from compat.devserver import _fanout
    except ImportError:
        return None
    addresses = []
    for name in ("srtp_unprotect", "srtp_protect"):
        function = ffi.addressof(lib, name)
        if ffi.typeof(function).cname != _SRTP_SIGNATURE:
            log.warning("pylibsrtp's %s is %s, not %s: forwarding audio in Python", name, ffi.typeof(function).cname,
                        _SRTP_SIGNATURE)
            return None
        addresses.append(int(ffi.cast("uintptr_t", function)))
    return _fanout, addresses[0], addresses[1]


_NATIVE = _load()


def available() -> bool:
    """Whether forwarded audio is written natively (else in Python, by RtpWriter.write)."""
    return _NATIVE is not None


def session_address(session: pylibsrtp.Session) -> int:
    """The address of a pylibsrtp Session's ``srtp_t`` (valid while the Session lives)."""
    from pylibsrtp._binding import ffi

    return int(ffi.cast("uintptr_t", session._srtp[0]))


class Subscriber(Protocol):
    """A subscriber's copy of the track, as the forwarder keeps it (media.RelayTrack)."""

    @property
    def writer(self) -> RtpWriter | None: ...

    @property
    def enabled(self) -> bool: ...


class AudioFanout:
    """One forwarded audio track's subscribers, written by the native fan-out.

    ``subscribers()`` gives the forwarder's current subscribers; call ``changed()`` when that
    set, or one's ``enabled``, changes.
    """

    def __init__(self, subscribers: Callable[[], Sequence[Subscriber]], level_id: int) -> None:
        if _NATIVE is None:
            raise RuntimeError("the native audio fan-out is not available: see compat.devserver.fanout.available()")
        module, unprotect, protect = _NATIVE
        self._native = module.Fanout(unprotect, protect, level_id)
        self._subscribers = subscribers
        # Keyed by id(subscriber); the subscriber is held so that its id is not reused while keyed.
        self._targets: dict[int, tuple[Subscriber, WriteTarget]] = {}
        self._failures: dict[int, int] = {}
        self._earlier: dict[int, tuple[int, int, int]] = {}  # counts of a subscriber's dropped targets
        self._unwritable: set[int] = set()  # subscribers whose target could not be made (logged once)
        self._dirty = True
        self._countdown = SYNC_EVERY
        self._last = (0, 0)  # the last packet's sequence number and timestamp
        self._rx_session: pylibsrtp.Session | None = None
        self._rx_address = 0

    def changed(self) -> None:
        self._dirty = True

    def receive(self, data: bytes, session: pylibsrtp.Session) -> tuple[int, int, int] | None:
        """Unprotect a publisher's SRTP datagram and send every subscriber its copy.

        Returns (sequence number, timestamp, RFC 6464 level or -1), or None when the datagram does
        not authenticate or parse (dropped, as aiortc drops it). Raises ValueError for a datagram
        over 1500 bytes, as pylibsrtp does.
        """
        if session is not self._rx_session:
            self._rx_session, self._rx_address = session, session_address(session)
        if self._dirty:
            self._refresh(*self._last)
        result: tuple[int, int, int] | None = self._native.receive(data, self._rx_address)
        if result is not None:
            self._after_send(result[0], result[1])
        return result

    def forward(self, marker: bool, sequence_number: int, timestamp: int, payload: bytes) -> None:
        """Send every subscriber a copy of an already unprotected packet (aiortc's receive path)."""
        if self._dirty:
            self._refresh(*self._last)
        self._native.forward(marker, sequence_number, timestamp, payload)
        self._after_send(sequence_number, timestamp)

    def targets(self) -> int:
        """How many subscribers get copies now."""
        count: int = self._native.targets()
        return count

    def close(self) -> None:
        for key in self._targets:
            self._native.discard(key)
        self._targets.clear()

    def _after_send(self, sequence_number: int, timestamp: int) -> None:
        self._last = (sequence_number, timestamp)
        self._countdown -= 1
        if self._countdown <= 0:
            self._countdown = SYNC_EVERY
            self._refresh(sequence_number, timestamp)

    def _refresh(self, sequence_number: int, timestamp: int) -> None:
        """Match the native targets to the subscribers' transports; report what was sent."""
        pending = False
        present: set[int] = set()
        current: set[int] = set()
        ntp = ntp_now()
        for subscriber in self._subscribers():
            key = id(subscriber)
            present.add(key)
            writer = subscriber.writer
            if writer is None or not subscriber.enabled:
                continue
            target = writer.target(sequence_number, timestamp)
            if target is None or not self._register(key, subscriber, target):
                pending = True  # its transport is not up (yet): look again at the next packet
                continue
            current.add(key)
            self._report(key, writer, target, timestamp, ntp)
        for key in set(self._targets) - current:
            self._earlier[key] = self._counts(key)  # disabled for now: its reports go on counting from here
            self._native.discard(key)
            del self._targets[key]
        for key in set(self._earlier) - present:
            del self._earlier[key]
        self._unwritable &= present
        self._dirty = pending

    def _register(self, key: int, subscriber: Subscriber, target: WriteTarget) -> bool:
        known = self._targets.get(key)
        if known is not None and known[1] == target:
            return True
        try:
            self._native.add(key, target.session, session_address(target.session), target.fd, target.host,
                             target.port, target.ssrc, target.payload_type, target.extension,
                             target.seq_offset, target.ts_offset)
        except (OSError, ValueError):  # e.g. no file descriptor left to dup the socket with
            log.log(logging.DEBUG if key in self._unwritable else logging.WARNING,
                    "cannot forward audio to a subscriber at %s:%d", target.host, target.port, exc_info=True)
            self._unwritable.add(key)
            return False
        self._targets[key] = (subscriber, target)
        return True

    def _counts(self, key: int) -> tuple[int, int, int]:
        """Packets, octets and failed sends to a subscriber, over all its native targets."""
        earlier = self._earlier.get(key, (0, 0, 0))
        now = self._native.counters(key)
        if now is None:
            return earlier
        return earlier[0] + now[0], earlier[1] + now[1], earlier[2] + now[2]

    def _report(self, key: int, writer: RtpWriter, target: WriteTarget, timestamp: int, ntp: int) -> None:
        packets, octets, failures = self._counts(key)
        writer.report(packets, octets, (timestamp + target.ts_offset) & 0xFFFFFFFF, ntp)
        before = self._failures.get(key, 0)
        if failures > before:
            self._failures[key] = failures
            counters = self._native.counters(key)
            error = counters[3] if counters is not None else 0
            log.log(logging.WARNING if before == 0 else logging.DEBUG,
                    "forwarding packets to a subscriber failed (%d so far; last error: %s)", failures,
                    os.strerror(error) if error else "SRTP protect failed")
