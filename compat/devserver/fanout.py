"""Forwarded audio written below Python: the native fan-out (``_fanout``, built from _fanout.c).

Per received datagram of a forwarded audio track, one native call unprotects it and writes one
SRTP copy per subscriber (the subscriber's SSRC, payload type, ``mid`` extension, shifted
sequence numbers and timestamps) straight to that subscriber's socket: what ``RtpWriter`` does
in Python, without ≈ 30 µs of Python per copy. Every ``SYNC_EVERY`` packets, and whenever the
subscribers change, Python re-reads each subscriber's transport (a resumed client's new ICE
pair, a closed transport) and hands the copies' counts to the subscribers' RTCP sender reports.
Where the datagram is received by the event loop (asyncio, aioice), ``AudioFanout.receive`` is
that call; where a native thread reads the publisher's socket (below), it makes the call itself.

The native part uses pylibsrtp's own libsrtp: the addresses of ``srtp_protect`` /
``srtp_unprotect`` and of each session's ``srtp_t``, read from pylibsrtp's cffi binding
(``pylibsrtp._binding.ffi`` / ``lib``, ``Session._srtp``). This module is the only one that
relies on them; it checks their C signatures at import and, if anything differs or the
extension was not built (no C compiler at install), ``available()`` is False and the dev
server forwards audio in Python (``RtpWriter.write``). ``COMPAT_DEVSERVER_NATIVE=0`` chooses the
Python path too (bench/devserver.py compares them).

A publisher's socket is also read below Python (``PublisherSocket``, a ``_fanout.Pump``): a
native thread reads each datagram, fans out the RTP of the publisher's forwarded audio itself and
queues everything else (STUN, DTLS, RTCP, video) for the event loop, in arrival order, to the
aioice protocol that asyncio would have given it. So a forwarded audio packet costs no event loop
wake-up and no Python at all; every ``REPORT_EVERY`` seconds Python takes what the thread counted
(the receiver's RTCP statistics, the loudest level, packets) and refreshes the subscribers. The
thread and the event loop share SRTP sessions, so every session a thread may use is guarded
(``GuardedSession``): aiortc's own protect / unprotect calls on it take the thread's lock.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import pylibsrtp
from aiortc import RTCRtpReceiver

from compat.devserver.aiortc_internals import (
    RtpWriter,
    WriteTarget,
    guard_receiver_srtp,
    ntp_now,
    publisher_socket,
    receiver_srtp,
    restore_statistics,
    statistics_state,
)

log = logging.getLogger(__name__)

__all__ = [
    "REPORT_EVERY",
    "SYNC_EVERY",
    "AudioFanout",
    "GuardedSession",
    "PublisherSocket",
    "Subscriber",
    "available",
    "guard",
    "guard_of",
]

SYNC_EVERY = 25  # packets between refreshes: 0.5 s of 20 ms Opus
REPORT_EVERY = 0.1  # seconds between a PublisherSocket's reports: levels and RTCP statistics this fresh

_SRTP_SIGNATURE = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"  # libsrtp 2, as pylibsrtp 1 binds it


_FUNCTIONS = ("srtp_unprotect", "srtp_protect", "srtp_unprotect_rtcp", "srtp_protect_rtcp")


def _load() -> tuple[Any, int, int, int, int] | None:
    """The native module and the addresses of libsrtp's functions in ``_FUNCTIONS``' order, or None."""
    if os.environ.get("COMPAT_DEVSERVER_NATIVE", "1") == "0":
        return None
    try:
        from pylibsrtp._binding import ffi, lib  # type: ignore[import-not-found]

        from compat.devserver import _fanout
    except ImportError:
        return None
    addresses = []
    for name in _FUNCTIONS:
        function = ffi.addressof(lib, name)
        if ffi.typeof(function).cname != _SRTP_SIGNATURE:
            log.warning("pylibsrtp's %s is %s, not %s: forwarding audio in Python", name, ffi.typeof(function).cname,
                        _SRTP_SIGNATURE)
            return None
        addresses.append(int(ffi.cast("uintptr_t", function)))
    return _fanout, addresses[0], addresses[1], addresses[2], addresses[3]


_NATIVE = _load()


def available() -> bool:
    """Whether forwarded audio is written natively (else in Python, by RtpWriter.write)."""
    return _NATIVE is not None


def _address(session: pylibsrtp.Session) -> int:
    """The address of a pylibsrtp Session's ``srtp_t`` (valid while the Session lives)."""
    from pylibsrtp._binding import ffi

    return int(ffi.cast("uintptr_t", session._srtp[0]))


# pylibsrtp's buffer room for the SRTP / SRTCP trailer (SRTP_MAX_TRAILER_LEN, SRTP_MAX_SRTCP_TRAILER_LEN)
_TRAILER = 16 + 128
_RTCP_TRAILER = 4 + 16 + 128


class GuardedSession(pylibsrtp.Session):
    """A pylibsrtp Session that pump threads use too: its protect / unprotect calls (aiortc's)
    take the session's lock (``_fanout.Guard``), as the threads do, and do what pylibsrtp's do
    (same checks, same errors)."""

    def __init__(self, session: pylibsrtp.Session) -> None:  # no super().__init__: it wraps ``session``
        assert _NATIVE is not None
        self.guard = _NATIVE[0].Guard(session, _address(session))  # keeps the session alive

    def protect(self, packet: bytes) -> bytes:
        return self._call(1, packet, _TRAILER)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._call(3, packet, _RTCP_TRAILER)

    def unprotect(self, packet: bytes) -> bytes:
        return self._call(0, packet, 0)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        return self._call(2, packet, 0)

    def add_stream(self, policy: pylibsrtp.Policy) -> None:
        raise NotImplementedError("a guarded SRTP session's streams are fixed")

    def remove_stream(self, ssrc: int) -> None:
        raise NotImplementedError("a guarded SRTP session's streams are fixed")

    def _call(self, function: int, packet: bytes, trailer: int) -> bytes:
        assert _NATIVE is not None
        result: bytes | int = self.guard.call(_NATIVE[1 + function], packet, trailer)
        if isinstance(result, int):
            errors: list[str] = pylibsrtp.ERRORS
            raise pylibsrtp.Error(errors[result] if 0 <= result < len(errors) else f"libsrtp error {result}")
        return result


def guard(session: pylibsrtp.Session) -> pylibsrtp.Session:
    """``session`` as a GuardedSession (itself if it is one)."""
    return session if isinstance(session, GuardedSession) else GuardedSession(session)


def guard_of(session: pylibsrtp.Session) -> Any:
    """The ``_fanout.Guard`` of a session. Its users all reach it through the same GuardedSession
    (the DTLS transport's, see ``guard_srtp``): a second Guard of one session would be a second lock."""
    guarded = guard(session)
    assert isinstance(guarded, GuardedSession)
    return guarded.guard


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
        module, unprotect, protect = _NATIVE[:3]
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
        self._rx_guard: Any = None
        self._pumped = 0  # how many PublisherSockets route to it: then nothing calls receive() per packet
        self._scheduled = False
        self._closed = False

    def changed(self) -> None:
        self._dirty = True
        if self._pumped and not self._scheduled and not self._closed:
            # A pump thread writes without asking: refresh now, not at its next report.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._refresh_now)

    def sent(self, packets: int, sequence_number: int, timestamp: int) -> None:
        """A pump thread sent ``packets`` since its last report, the last one with these numbers."""
        if self._closed:
            return
        if self._dirty:  # a subscriber whose transport was not up yet: look again
            self._refresh(sequence_number, timestamp)
        self._after_send(sequence_number, timestamp, packets)

    def _refresh_now(self) -> None:
        self._scheduled = False
        if self._dirty and not self._closed:
            self._refresh(*self._last)

    def receive(self, data: bytes, session: pylibsrtp.Session) -> tuple[int, int, int] | None:
        """Unprotect a publisher's SRTP datagram and send every subscriber its copy.

        Returns (sequence number, timestamp, RFC 6464 level or -1), or None when the datagram does
        not authenticate or parse (dropped, as aiortc drops it). Raises ValueError for a datagram
        over 1500 bytes, as pylibsrtp does.
        """
        if session is not self._rx_session:
            self._rx_session, self._rx_guard = session, guard_of(session)
        if self._dirty:
            self._refresh(*self._last)
        result: tuple[int, int, int] | None = self._native.receive(data, self._rx_guard)
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
        self._closed = True
        for key in self._targets:
            self._native.discard(key)
        self._targets.clear()

    def _after_send(self, sequence_number: int, timestamp: int, packets: int = 1) -> None:
        self._last = (sequence_number, timestamp)
        self._countdown -= packets
        if self._countdown <= 0:
            self._refresh(sequence_number, timestamp)

    def _refresh(self, sequence_number: int, timestamp: int) -> None:
        """Match the native targets to the subscribers' transports; report what was sent."""
        self._countdown = SYNC_EVERY
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
            if target is not None and not isinstance(target.session, GuardedSession):
                writer.guard_srtp(guard)  # pump threads may write with it from now on
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
            self._native.add(key, guard_of(target.session), target.fd, target.host,
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


class PublisherSocket:
    """A publisher's socket read by a native thread (``_fanout.Pump``) instead of the event loop.

    The RTP of routed SSRCs (forwarded audio nobody records) is fanned out on the thread; every
    other datagram reaches the socket's aioice protocol through the event loop, in order, as if
    asyncio had read it. Every ``REPORT_EVERY`` seconds the thread's counts go back to Python: the
    receiver's statistics (its RTCP receiver reports), ``on_packets(packets, level)`` and the
    fan-out's ``sent``. It hands the socket back to asyncio when its last route goes, when the
    socket closes, or when the publisher's ICE connection moves to another socket.
    """

    def __init__(self, receiver: RTCRtpReceiver, protocol: Any, transport: Any) -> None:
        assert _NATIVE is not None
        self._receiver = receiver
        self._protocol = protocol
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        guard_receiver_srtp(receiver, guard)
        session = receiver_srtp(receiver)
        assert session is not None
        socket = transport.get_extra_info("socket")
        self._pump = _NATIVE[0].Pump(socket.fileno(), guard_of(session))
        self._routes: dict[int, tuple[AudioFanout, Callable[[int, int], None], float]] = {}  # by SSRC, with its clock rate
        self._dropped = 0  # datagrams the thread dropped because the event loop did not take them
        self.closed = False
        try:
            self._loop.add_reader(self._pump.fileno(), self._deliver)
            transport.pause_reading()
        except BaseException:
            self._loop.remove_reader(self._pump.fileno())
            self._pump.close()
            raise
        _Reports.of(self._loop).add(self)
        _open_sockets.add(self)

    @classmethod
    def of(cls, receiver: RTCRtpReceiver) -> PublisherSocket | None:
        """The socket the receiver's media arrives on, read natively (None if not available)."""
        if _NATIVE is None:
            return None
        found = publisher_socket(receiver)
        if found is None or receiver_srtp(receiver) is None:
            return None
        protocol, transport = found
        if not hasattr(transport, "pause_reading"):  # asyncio's selector transports have it
            return None
        existing = _by_transport.get(transport)
        if existing is not None and not existing.closed:
            return existing
        try:
            made = cls(receiver, protocol, transport)
        except OSError:  # e.g. no file descriptor or thread left; tried again every SYNC_EVERY packets
            global _warned
            log.log(logging.DEBUG if _warned else logging.WARNING,
                    "cannot read a publisher's socket natively; its audio is forwarded from the event loop",
                    exc_info=True)
            _warned = True
            return None
        _by_transport[transport] = made
        return made

    def route(self, ssrc: int, payload_type: int, fanout: AudioFanout, on_packets: Callable[[int, int], None]) -> bool:
        """Fan ``ssrc``'s RTP out on the thread from now on; False if the receiver did not negotiate
        ``payload_type`` (then its packets keep coming through the event loop)."""
        if self.closed or ssrc in self._routes:
            return ssrc in self._routes
        found = statistics_state(self._receiver, ssrc, payload_type)
        if found is None:
            return False
        clockrate, state = found
        self._pump.route(ssrc, fanout._native, clockrate, state)
        self._routes[ssrc] = (fanout, on_packets, clockrate)
        fanout._pumped += 1
        return True

    def unroute(self, ssrc: int) -> None:
        """``ssrc``'s RTP goes through the event loop again; the receiver's statistics are brought up to date."""
        route = self._routes.pop(ssrc, None)
        if route is None:
            return
        route[0]._pumped -= 1
        self._deliver()  # what the thread queued before this SSRC's next packets
        state = self._pump.unroute(ssrc)
        if state is not None:
            restore_statistics(self._receiver, ssrc, state, route[2])
        if not self._routes:
            self.close()

    def close(self) -> None:
        """Stop the thread, deliver what it queued and give the socket back to asyncio."""
        if self.closed:
            return
        self.closed = True
        _Reports.of(self._loop).sockets.discard(self)
        self._loop.remove_reader(self._pump.fileno())
        self._pump.close()
        for ssrc in list(self._routes):
            fanout, _, clockrate = self._routes.pop(ssrc)
            fanout._pumped -= 1
            state = self._pump.unroute(ssrc)
            if state is not None:
                restore_statistics(self._receiver, ssrc, state, clockrate)
        self._deliver()
        if not self._transport.is_closing():
            self._transport.resume_reading()
        if _by_transport.get(self._transport) is self:
            del _by_transport[self._transport]
        _open_sockets.discard(self)

    def _deliver(self) -> None:
        """The datagrams the thread queued, to the aioice protocol, as asyncio's reader would."""
        for data, address in self._pump.take():
            if self._transport.is_closing():
                return  # asyncio reads nothing from a closing transport either
            try:
                self._protocol.datagram_received(data, address)
            except Exception:  # as asyncio's loop: one bad datagram must not stop the others
                log.exception("a publisher's datagram could not be handled")

    def _report(self) -> None:
        found = publisher_socket(self._receiver)
        if found is None or found[1] is not self._transport:
            self.close()  # closed, or the publisher's ICE connection moved (an ICE restart)
            return
        for ssrc, packets, level, sequence_number, timestamp, state in self._pump.report():
            route = self._routes.get(ssrc)
            if route is None:
                continue
            restore_statistics(self._receiver, ssrc, state, route[2])
            route[1](packets, level)
            route[0].sent(packets, sequence_number, timestamp)
        dropped = self._pump.counters()[1]
        if dropped > self._dropped:
            log.warning("the event loop fell %d datagrams behind a publisher's socket: dropped, as by a full socket "
                        "buffer (%d so far)", dropped - self._dropped, dropped)
            self._dropped = dropped


class _Reports:
    """One timer per event loop for all its PublisherSockets' reports: a wake-up costs ~100 µs here."""

    _per_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reports]] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.sockets: set[PublisherSocket] = set()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Reports:
        reports = cls._per_loop.get(loop)
        if reports is None:
            reports = cls._per_loop[loop] = cls(loop)
        return reports

    def add(self, socket: PublisherSocket) -> None:
        self.sockets.add(socket)
        if self._timer is None:
            self._timer = self._loop.call_later(REPORT_EVERY, self._tick)

    def _tick(self) -> None:
        for socket in list(self.sockets):
            try:
                socket._report()
            except Exception:  # one socket's failure must not stop the others' reports
                log.exception("reporting a natively read publisher socket failed")
                socket.close()
        self._timer = self._loop.call_later(REPORT_EVERY, self._tick) if self.sockets else None


_warned = False  # about a socket that could not be read natively (logged once)
_by_transport: weakref.WeakKeyDictionary[asyncio.DatagramTransport, PublisherSocket] = weakref.WeakKeyDictionary()
_open_sockets: weakref.WeakSet[PublisherSocket] = weakref.WeakSet()


@atexit.register
def _stop_threads() -> None:
    """Threads still reading at exit would outlive the SRTP sessions they use."""
    for socket in list(_open_sockets):
        socket._pump.close()
