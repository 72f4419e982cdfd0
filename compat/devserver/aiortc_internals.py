"""Every private aiortc attribute the dev server uses, each behind one function.

aiortc has no public API for what these do. They were read on aiortc 1.16.0, and
tests/devserver/test_aiortc_internals.py exercises each on real aiortc objects, so an aiortc
release that renames or retypes one fails there, naming the attribute, instead of breaking
subscriptions in a way only a browser notices.

Version pin (pyproject.toml keeps ``aiortc>=1.16,<2``, no tighter): in aiortc's git history the
msid attributes have not changed since 0.9.17 (2019, "[sdp] use a=msid attribute") and
``RTCRtpTransceiver._codecs`` since 0.4 (2018), through every 1.x minor release and aiortc's main
branch of 2026-07. Nothing shows them to be minor-version sensitive, so pinning to 1.16.x would
only block fixes; the test above is the guard for a minor release, and ``<2`` for a major one.

Encoded forwarding (relay "forward") adds four: the receiver's decoder queue
(``deliver_encoded``), its ``_handle_rtp_packet`` (``on_audio_level``), its ``_send_rtcp_pli``
(``request_keyframe``) and the sender's ``_send_keyframe`` (``on_keyframe_request``). These are
name-mangled or underscore methods of aiortc 1.16's rtcrtpreceiver.py / rtcrtpsender.py and are
more likely to move than the msid attributes: the tests run media between two real
PeerConnections to catch that.

Simulcast and SVC add: the receiver's per-stream state (``__jitter_buffer``, ``__nack_generator``,
``__timestamp_mapper``, swapped per layer by ``receive_layers``), the DTLS transport's header
extension parser and RTP router (``_rtp_header_extensions_map``, ``_rtp_router``), and, for VP9/AV1
passthrough, ``aiortc.codecs.CODECS`` and the module-level ``depayload`` / ``get_encoder`` the
receiver and sender look up (``register_passthrough_codecs``). All are tested the same way.

Forwarded audio adds: ``RtpWriter`` (a subscriber's negotiated codecs and header extensions,
its DTLS transport's outgoing SRTP session, the nominated aioice pair, the sender's report
counters) and ``receive_directly`` (aioice ``Connection.data_received``, the DTLS transport's
incoming SRTP session and header extension map and its ids, ``audio_level_id``, the receiver's
statistics). ``RtpWriter.target`` / ``report`` give compat.devserver.fanout (the native writer,
the one module that knows pylibsrtp's internals) the same parameters and counters.

Switching layers by a subscriber's bandwidth adds the sender's ``_handle_rtcp_packet`` and ``_ssrc``
(``on_remb``, and ``handle_rtcp`` for tests injecting feedback).

Closing a peer connection whose RTCP loop died adds the receivers' and senders' ``__rtcp_task``,
``__rtcp_started`` and ``__rtcp_exited`` (``release_dead_rtcp_loops``).

Sender reports sent in batches add the sender's ``_run_rtcp`` (replaced before ``send()`` starts
it), its ``__started``, ``__rtcp_started`` / ``__rtcp_exited``, ``__cname``, ``__lsr`` / ``__lsr_time``
and report counters, and the DTLS transport's ``_send_rtp`` (``report_senders_together``,
``send_sender_reports``).

Also relied on, though public behaviour rather than a private name: a track's ``recv()`` may return
an encoded ``av.Packet``, which RTCRtpSender packetizes without encoding again (aiortc's own
``MediaPlayer(decode=False)`` does this). Forwarding hands the publisher's frames on this way, and
relay "decode" uses it for Opus (compat.devserver.media.OpusOnce encodes each track once).
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import aioice
import aioice.ice
import aiortc.clock
import aiortc.codecs
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import attrs
import av
import pylibsrtp
from aiortc import RTCIceParameters, RTCIceTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
)
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics, TimestampMapper
from aiortc.rtp import (
    RTCP_PSFB_APP,
    AnyRtcpPacket,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
    is_rtcp,
    unpack_remb_fci,
)

__all__ = [
    "PASSTHROUGH_MIME_TYPES",
    "STATISTICS_NONE",
    "CountedPacket",
    "EncodedFrameSink",
    "EncodedPacket",
    "LayerFrameSink",
    "RtpWriter",
    "WriteTarget",
    "adopt_remote_ice_credentials",
    "audio_level_id",
    "close_peer_connection",
    "deliver_encoded",
    "guard_receiver_srtp",
    "guard_srtp",
    "handle_rtcp",
    "is_keyframe",
    "is_passthrough",
    "join_payloads",
    "negotiated_mime_type",
    "ntp_now",
    "on_keyframe_request",
    "on_remb",
    "on_rtp_packet",
    "parsed",
    "publisher_socket",
    "receive_directly",
    "receive_layers",
    "receiver_srtp",
    "register_passthrough_codecs",
    "report_senders_together",
    "request_keyframe",
    "request_keyframe_of",
    "restore_statistics",
    "send_sender_reports",
    "set_msid",
    "spatial_layer",
    "split_payloads",
    "statistics_state",
]

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    EncodedPacket = av.Packet[Any]  # what a receiver hands on: one encoded frame
else:
    EncodedPacket = av.Packet
EncodedFrameSink = Callable[[EncodedPacket, bool], None]
VIDEO_TIME_BASE = Fraction(1, 90000)
AUDIO_TIME_BASE = Fraction(1, 48000)
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"


def negotiated_mime_type(transceiver: RTCRtpTransceiver) -> str | None:
    """The MIME type of the codec negotiated on a transceiver ("audio/opus", "video/VP8"), or None
    before negotiation.

    Relies on ``RTCRtpTransceiver._codecs``: the list of RTCRtpCodecParameters agreed with the remote
    side, best first, set by setRemoteDescription/setLocalDescription. We need it to report a
    published track's mime_type (TrackInfo.mime_type) the way LiveKit does; aiortc exposes the
    negotiated codecs only through this attribute.
    """
    codecs = transceiver._codecs
    return codecs[0].mimeType if codecs else None


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """Make the next offer's ``a=msid`` line of this sender's m-section read "stream_id track_id".

    Relies on ``RTCRtpSender._stream_id`` and ``RTCRtpSender._track_id``: aiortc writes each m-line's
    msid from them on every createOffer/createAnswer. We need it because LiveKit clients find a
    subscribed track's publication from the msid (stream id "<participant sid>|<track sid>"), and a
    retired m-line must get a fresh msid (libwebrtc rejects an SDP with duplicate msids); aiortc
    otherwise uses a random stream id per connection and the relayed track's own id. Note that
    ``RTCRtpSender.replaceTrack`` resets ``_track_id``, so call this after any replaceTrack.

    Setting a renamed attribute would silently do nothing, so a missing one raises instead.
    """
    for name in ("_stream_id", "_track_id"):
        if not isinstance(getattr(sender, name, None), str):
            raise RuntimeError(
                f"aiortc's RTCRtpSender has no str attribute {name!r} any more: subscribed tracks would get a wrong "
                "msid; see compat/devserver/aiortc_internals.py"
            )
    sender._stream_id = stream_id
    sender._track_id = track_id


PC_CLOSE_TIMEOUT = 10.0  # seconds a caller waits for a peer connection to close
_CLOSING: set[asyncio.Task[None]] = set()  # closes under way (the loop holds tasks only weakly)


async def close_peer_connection(pc: RTCPeerConnection, timeout: float = PC_CLOSE_TIMEOUT) -> bool:
    """Close ``pc`` so that cancelling the caller cannot cut the close short; True once it is closed.

    aiortc's ``RTCPeerConnection.close()`` sets a "closing" future first and resolves it at its very
    end, and a second ``close()`` waits on that future. A close cancelled midway (a session closing
    when the server's stop cancels its tasks) leaves the future unresolved, and every later
    ``close()`` then waits forever. So the close runs in a task of its own that the caller's
    cancellation does not reach, and the caller waits at most ``timeout`` seconds for it (logged,
    False: the close goes on in the background).
    """
    release_dead_rtcp_loops(pc)
    task = asyncio.ensure_future(pc.close())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except asyncio.TimeoutError:
        log.warning("a peer connection did not close within %.0f s; it goes on closing in the background", timeout)
        return False
    return True


def _rtcp_loops(pc: RTCPeerConnection) -> list[tuple[asyncio.Future[None] | None, asyncio.Event, asyncio.Event]]:
    """Each receiver's and sender's RTCP task with its "started" and "exited" events."""
    loops = []
    for transceiver in pc.getTransceivers():
        receiver, sender = transceiver.receiver, transceiver.sender
        loops.append((receiver._RTCRtpReceiver__rtcp_task, receiver._RTCRtpReceiver__rtcp_started,  # type: ignore[attr-defined]
                      receiver._RTCRtpReceiver__rtcp_exited))  # type: ignore[attr-defined]
        loops.append((sender._RTCRtpSender__rtcp_task, sender._RTCRtpSender__rtcp_started,  # type: ignore[attr-defined]
                      sender._RTCRtpSender__rtcp_exited))  # type: ignore[attr-defined]
    return loops


def release_dead_rtcp_loops(pc: RTCPeerConnection) -> int:
    """Mark every RTCP loop of ``pc`` that died of an exception as exited; how many there were.

    aiortc's ``RTCRtpReceiver._run_rtcp`` and ``RTCRtpSender._run_rtcp`` set their ``__rtcp_exited``
    event only when they end by cancellation, and ``stop()`` waits for that event: a loop that died
    of anything else (an empty statistics stream once did, ``int + None``) leaves its receiver or
    sender unstoppable and ``pc.close()`` waiting forever. Such a loop is logged with what killed
    it, and its events set, so that ``stop()`` goes on. Relies on the name-mangled ``__rtcp_task``,
    ``__rtcp_started`` and ``__rtcp_exited`` of both (aiortc 1.16).
    """
    released = 0
    for task, started, exited in _rtcp_loops(pc):
        if task is None or not task.done() or exited.is_set():
            continue
        error = None if task.cancelled() else task.exception()
        log.warning("an RTCP loop had died (%r); marked as exited so that its peer connection can close", error)
        started.set()
        exited.set()
        released += 1
    return released


def _ice_transports(pc: RTCPeerConnection) -> list[RTCIceTransport]:
    """Every distinct ICE transport of a PeerConnection (one with MAX_BUNDLE), through public attributes."""
    transports: list[RTCIceTransport] = []
    dtls = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        dtls.append(pc.sctp.transport)
    for transport in dtls:
        if transport.transport not in transports:
            transports.append(transport.transport)
    return transports


def adopt_remote_ice_credentials(pc: RTCPeerConnection, parameters: RTCIceParameters) -> None:
    """Take the remote side's new ICE username fragment and password (its ICE restart) on a live
    PeerConnection, keeping our own credentials, candidates, selected pair and DTLS session.

    Relies on ``RTCIceTransport._connection``: the aioice ``Connection`` under the transport, whose
    public ``remote_username`` / ``remote_password`` aioice reads for every check it sends
    (USERNAME, MESSAGE-INTEGRITY, consent freshness) and accepts (USERNAME). aiortc sets them only
    in ``RTCIceTransport.start()``, once: a later remote description with new credentials is
    ignored, so after a client's ICE restart (a LiveKit resume) aioice would refuse the client's
    checks and its consent checks would fail until the connection closes. We need it because aiortc
    cannot do an ICE restart itself.

    Setting a renamed attribute would silently do nothing, so a missing one raises instead.
    """
    for ice in _ice_transports(pc):
        connection = getattr(ice, "_connection", None)
        if not isinstance(connection, aioice.Connection):
            raise RuntimeError(
                "aiortc's RTCIceTransport has no aioice Connection in '_connection' any more: a client's ICE "
                "restart cannot be taken; see compat/devserver/aiortc_internals.py"
            )
        connection.remote_username = parameters.usernameFragment
        connection.remote_password = parameters.password

def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Is this reassembled encoded frame decodable on its own?

    VP8: bit 0 of the frame tag is 0 for a key frame (RFC 6386 section 9.1). H.264: aiortc's
    depayloader yields Annex B, so look for an IDR slice (NAL type 5). Audio frames always are.
    An encrypted frame (LiveKit's frame cryptor) keeps these header bytes in the clear.
    """
    mime = mime_type.lower()
    if mime in ("video/vp9", "video/av1"):
        return passthrough_keyframe(mime, data)
    if mime == "video/vp8":
        return bool(data) and data[0] & 0x01 == 0
    if mime == "video/h264":
        return any(part[:1] and part[0] & 0x1F == 5 for part in data.split(b"\x00\x00\x01")[1:])
    return True


class _EncodedTap:
    """Stands in for RTCRtpReceiver's decoder queue: encoded frames go to the sink, not the decoder.

    The receiver's event loop puts (codec, JitterFrame) on it; the decoder thread, which still runs,
    only ever gets the end-of-stream None, so it ends the receiver's track as before.
    """

    def __init__(self, original: Any, sink: EncodedFrameSink) -> None:
        self._original = original
        self._sink = sink

    def put(self, item: tuple[RTCRtpCodecParameters, Any] | None) -> None:
        if item is None:
            self._original.put(None)
            return
        codec, frame = item
        video = codec.mimeType.lower().startswith("video/")
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = VIDEO_TIME_BASE if video else AUDIO_TIME_BASE
        self._sink(packet, is_keyframe(codec.mimeType, frame.data))

    def get(self) -> Any:
        return self._original.get()


def deliver_encoded(receiver: RTCRtpReceiver, sink: EncodedFrameSink) -> None:
    """Hand each encoded frame the receiver reassembles to ``sink(packet, keyframe)`` instead of decoding it.

    Relies on ``RTCRtpReceiver._RTCRtpReceiver__decoder_queue``: ``_handle_rtp_packet`` puts
    ``(codec, JitterFrame)`` there (JitterFrame.data = the depayloaded frame, .timestamp = its RTP
    timestamp, unwrapped from 0) for the ``decoder_worker`` thread, and ``__stop_decoder`` puts None
    there to end it. The queue is read by the thread only through ``get()``, so it can be replaced
    before or after ``receive()`` starts the thread. The packet's pts is the RTP timestamp, in
    1/90000 for video and 1/48000 for Opus, which is what the encoders' ``pack()`` expects.
    Call it from the PeerConnection's "track" event, before any media is decoded.
    """
    original = getattr(receiver, _DECODER_QUEUE, None)
    if original is None or not callable(getattr(original, "put", None)):
        raise RuntimeError(
            f"aiortc's RTCRtpReceiver has no {_DECODER_QUEUE!r} queue any more: encoded forwarding cannot work; "
            "see compat/devserver/aiortc_internals.py"
        )
    setattr(receiver, _DECODER_QUEUE, _EncodedTap(original, sink))


def on_rtp_packet(receiver: RTCRtpReceiver, callback: Callable[[RtpPacket], bool]) -> None:
    """Call ``callback(packet)`` with each RTP packet routed to the receiver, as it arrives, before
    the receiver itself handles it. When the callback returns False the receiver only counts the
    packet (the source it came from and the statistics its RTCP receiver reports carry) and does
    not reassemble it into a frame: forwarded audio needs frames only while a recorder listens.

    Relies on ``RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)``, which the DTLS transport
    calls for every packet routed to the receiver, after SRTP and parsing: ``packet`` is an aiortc
    ``RtpPacket`` whose ``extensions.audio_level`` is the RFC 6464 level, (voice activity, 0 loud …
    127 silent in -dBov), when ``urn:ietf:params:rtp-hdrext:ssrc-audio-level`` was negotiated
    (aiortc does for audio) and the sender set it. Counting uses the receiver's ``__active_ssrc``,
    ``__codecs`` and ``__remote_streams`` (``StreamStatistics`` per SSRC), as its first steps do.
    """
    handle = receiver._handle_rtp_packet
    count = _packet_counter(receiver)

    async def handle_or_count(packet: RtpPacket, arrival_time_ms: int) -> None:
        if callback(packet):
            await handle(packet, arrival_time_ms)
        else:
            count(packet)

    receiver._handle_rtp_packet = handle_or_count  # type: ignore[method-assign]


def _packet_counter(receiver: RTCRtpReceiver) -> Callable[[RtpPacket | CountedPacket], None]:
    """What ``_handle_rtp_packet`` does first: note the source and add the packet to the
    statistics the receiver's RTCP reports carry."""
    private: Any = receiver
    active = private._RTCRtpReceiver__active_ssrc
    codecs = private._RTCRtpReceiver__codecs
    streams = private._RTCRtpReceiver__remote_streams

    def count(packet: RtpPacket | CountedPacket) -> None:
        active[packet.ssrc] = aiortc.clock.current_datetime()
        codec = codecs.get(packet.payload_type)
        if codec is not None:
            stats = streams.get(packet.ssrc)
            if stats is None:
                stats = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
            stats.add(packet)  # it reads sequence_number and timestamp only

    return count


_DIRECT = "_compat_direct_rtp"  # our table on an aioice Connection: SSRC → (wanted, receive)


class CountedPacket:
    """What the receiver's statistics read of a packet, for a datagram not parsed into an RtpPacket."""

    __slots__ = ("payload_type", "sequence_number", "ssrc", "timestamp")

    def __init__(self, ssrc: int) -> None:
        self.ssrc = ssrc
        self.payload_type = 0
        self.sequence_number = 0
        self.timestamp = 0


DirectReceive = Callable[[bytes, pylibsrtp.Session], "RtpPacket | CountedPacket | None"]


def receive_directly(receiver: RTCRtpReceiver, ssrc: int, wanted: Callable[[], bool], receive: DirectReceive) -> None:
    """Hand the SRTP datagrams of ``ssrc`` to ``receive(data, srtp_session)`` as they arrive, while
    ``wanted()``: it unprotects and handles one and returns what the receiver's statistics count
    (None: dropped), so the receiver gets no packet (no jitter buffer, no frames). Otherwise they
    take aiortc's path. A datagram that does not authenticate or parse (pylibsrtp.Error,
    ValueError) is dropped, as aiortc drops it. ``parsed(receiver, handle)`` makes a ``receive``
    that parses as aiortc does.

    aiortc's path costs a queue hand-off and a task wake-up per datagram before SRTP
    (aioice ``Connection.data_received`` → ``RTCDtlsTransport._recv_next``): most of the ≈ 180 µs a
    received audio packet took. Relies on ``Connection.data_received(data, component)``, which
    aioice's protocol calls for each non-STUN datagram (replaced on the instance), on
    ``RTCIceTransport._connection`` and ``RTCDtlsTransport._rx_srtp`` (its incoming SRTP session).
    """
    dtls: Any = receiver.transport
    connection: Any = dtls.transport._connection
    if connection is None:
        return
    table: dict[int, tuple[Callable[[], bool], Callable[[bytes, pylibsrtp.Session], None]]] | None
    table = getattr(connection, _DIRECT, None)
    if table is None:
        table = {}
        setattr(connection, _DIRECT, table)
        original = connection.data_received

        def data_received(data: bytes, component: int) -> None:
            entry = table.get(int.from_bytes(data[8:12], "big")) if len(data) >= 12 and 127 < data[0] < 192 else None
            srtp = dtls._rx_srtp
            if entry is None or is_rtcp(data) or srtp is None or not entry[0]():
                original(data, component)
                return
            try:
                entry[1](data, srtp)
            except (pylibsrtp.Error, ValueError):
                return  # as aiortc: a packet that does not authenticate or parse is dropped

        connection.data_received = data_received
    count = _packet_counter(receiver)

    def receive_and_count(data: bytes, srtp: pylibsrtp.Session) -> None:
        packet = receive(data, srtp)
        if packet is not None:
            count(packet)

    table[ssrc] = (wanted, receive_and_count)


def parsed(receiver: RTCRtpReceiver, handle: Callable[[RtpPacket], None]) -> DirectReceive:
    """A ``receive`` for ``receive_directly`` that unprotects and parses as aiortc does, then calls
    ``handle(packet)``. Relies on the DTLS transport's ``_rtp_header_extensions_map``, which
    ``RtpPacket.parse`` reads extensions with."""
    extensions = receiver.transport._rtp_header_extensions_map

    def receive(data: bytes, srtp: pylibsrtp.Session) -> RtpPacket:
        packet = RtpPacket.parse(srtp.unprotect(data), extensions)
        handle(packet)
        return packet

    return receive


def audio_level_id(receiver: RTCRtpReceiver) -> int:
    """The header extension id negotiated for RFC 6464 audio levels on the receiver's transport, 0 for none.

    Relies on ``_rtp_header_extensions_map``'s name-mangled ``__ids`` (an ``rtp.HeaderExtensions``
    of ids, set by ``configure`` at negotiation)."""
    extensions: Any = receiver.transport._rtp_header_extensions_map
    ids = extensions._HeaderExtensionsMap__ids
    level: int | None = ids.audio_level
    return level or 0


def guard_srtp(dtls: Any, guard: Callable[[pylibsrtp.Session], pylibsrtp.Session]) -> None:
    """Replace a DTLS transport's incoming and outgoing SRTP sessions by ``guard(session)``: an
    object with pylibsrtp.Session's protect / protect_rtcp / unprotect / unprotect_rtcp, which
    aiortc then calls instead (``guard`` returns a guarded session unchanged). Relies on
    ``RTCDtlsTransport._rx_srtp`` / ``_tx_srtp``, read by aiortc at each packet."""
    for name in ("_rx_srtp", "_tx_srtp"):
        session = getattr(dtls, name)
        if session is not None:
            setattr(dtls, name, guard(session))


def receiver_srtp(receiver: RTCRtpReceiver) -> pylibsrtp.Session | None:
    """The incoming SRTP session of the receiver's transport (None before DTLS is up)."""
    session: pylibsrtp.Session | None = receiver.transport._rx_srtp
    return session


def guard_receiver_srtp(receiver: RTCRtpReceiver, guard: Callable[[pylibsrtp.Session], pylibsrtp.Session]) -> None:
    """``guard_srtp`` on the receiver's DTLS transport."""
    guard_srtp(receiver.transport, guard)


def publisher_socket(receiver: RTCRtpReceiver) -> tuple[Any, asyncio.DatagramTransport] | None:
    """The aioice protocol and the asyncio transport of the socket the receiver's media arrives on
    (its ICE connection's nominated pair), or None when there is none or it is not a host socket.

    Relies on ``RTCIceTransport._connection`` and aioice's ``Connection._nominated`` pairs and
    their ``protocol.transport``; the protocol's ``datagram_received(data, addr)`` is what asyncio
    calls for each datagram read."""
    connection: Any = receiver.transport.transport._connection
    if connection is None:
        return None
    pair = connection._nominated.get(1)
    if pair is None or type(pair.protocol) is not aioice.ice.StunProtocol:
        return None
    transport = pair.protocol.transport
    if transport is None or transport.is_closing():
        return None
    return pair.protocol, transport


STATISTICS_NONE = -1  # a None field of a receiver statistics state


def statistics_state(receiver: RTCRtpReceiver, ssrc: int, payload_type: int) -> tuple[float, tuple[int, ...]] | None:
    """The clock rate and the state of the receiver's statistics for ``ssrc`` (those of a fresh
    ``StreamStatistics`` before its first packet; None for a payload type it did not negotiate):
    the fields ``StreamStatistics.add`` keeps, in the order ``_fanout.Pump.route`` takes, None as -1.
    A stream is not added to the receiver before it has a packet (``restore_statistics``): aiortc's
    RTCP loop would fail on it, and a receiver whose RTCP loop failed never stops.

    Relies on the receiver's ``__codecs`` and ``__remote_streams`` and StreamStatistics'
    ``base_seq``, ``max_seq``, ``cycles``, ``packets_received``, ``_jitter_q4``,
    ``_last_arrival`` and ``_last_timestamp`` (rtcrtpreceiver.py)."""
    private: Any = receiver
    codec = private._RTCRtpReceiver__codecs.get(payload_type)
    if codec is None:
        return None
    stats = private._RTCRtpReceiver__remote_streams.get(ssrc) or StreamStatistics(codec.clockRate)
    fields = (stats.packets_received, stats.base_seq, stats.max_seq, stats.cycles, stats._jitter_q4,
              stats._last_arrival, stats._last_timestamp)
    return float(codec.clockRate), tuple(STATISTICS_NONE if value is None else value for value in fields)


def restore_statistics(receiver: RTCRtpReceiver, ssrc: int, state: tuple[int, ...], clock_rate: float) -> None:
    """Put a state from ``statistics_state`` (as a native receiver went on counting it) back in
    the receiver's statistics for ``ssrc`` (adding them as aiortc's ``_handle_rtp_packet`` does at
    the first packet), and note the source as heard now. A state with no packet yet changes
    nothing: aiortc's receiver reports read ``max_seq`` and ``base_seq`` as numbers."""
    received, base, highest, cycles, jitter, arrival, timestamp = state
    if base == STATISTICS_NONE or highest == STATISTICS_NONE:
        return
    private: Any = receiver
    streams = private._RTCRtpReceiver__remote_streams
    stats = streams.get(ssrc)
    if stats is None:
        stats = streams[ssrc] = StreamStatistics(int(clock_rate))
    stats.packets_received = received
    stats.base_seq = base
    stats.max_seq = highest
    stats.cycles = cycles
    stats._jitter_q4 = jitter
    stats._last_arrival = None if arrival == STATISTICS_NONE else arrival
    stats._last_timestamp = None if timestamp == STATISTICS_NONE else timestamp
    private._RTCRtpReceiver__active_ssrc[ssrc] = aiortc.clock.current_datetime()


_RTP_HEADER = struct.Struct("!BBHII")
_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


def ntp_now() -> int:
    """The current time as a 64-bit NTP timestamp, as aiortc's senders put in their RTCP SR."""
    return aiortc.clock.current_ntp_time()


@attrs.frozen
class WriteTarget:
    """A subscriber's transport and stream, as a native fan-out writes to it."""

    session: pylibsrtp.Session  # its DTLS transport's outgoing SRTP session
    fd: int  # the socket of its nominated ICE pair
    host: str
    port: int
    ssrc: int
    payload_type: int
    extension: bytes  # the one-byte header extension block with its mid (empty: none negotiated)
    seq_offset: int
    ts_offset: int


class RtpWriter:
    """Sends forwarded RTP packets as a subscriber's RTCRtpSender would, without its send loop.

    aiortc's sender takes one task wake-up, an ``RtpPacket`` build and serialization and three
    coroutine calls per packet (``_run_rtp`` → ``RTCDtlsTransport._send_rtp`` → aioice's
    ``Connection.sendto``), about 85 µs per packet per subscriber here. This writes the
    publisher's packet with the sender's SSRC, the sender's payload type, sequence numbers and
    timestamps shifted by a fixed offset (gaps and order stay the publisher's, as in LiveKit's
    forwarder) and the subscriber's ``mid`` header extension, SRTP-protects it and sends it on
    the nominated ICE pair, synchronously.

    Relies on: ``RTCRtpTransceiver._codecs`` / ``_headerExtensions`` (negotiated codecs and
    header extension ids), ``RTCRtpSender._ssrc``, ``RTCDtlsTransport._state`` / ``_tx_srtp``
    (its outgoing SRTP session), ``RTCIceTransport._connection`` (aioice ``Connection``), its
    ``_nominated`` pairs and their ``protocol.transport``, and the sender's RTCP sender-report
    counters (``__ntp_timestamp``, ``__rtp_timestamp``, ``__packet_count``, ``__octet_count``),
    kept up to date so that its sender reports stay true. The sender's own loop stays idle.
    """

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        self._transceiver = transceiver
        self._sender: Any = transceiver.sender  # its name-mangled report counters are set below
        self._first_byte = 0x80
        self._payload_type = 0
        self._ssrc = 0
        self._extension = b""
        self._dtls: Any = None  # set once the negotiated parameters are read (_resolve)
        self._nominated: dict[int, Any] = {}
        self._seq_offset: int | None = None
        self._ts_offset = 0
        self.packets = 0
        self.failures = 0

    def _resolve(self) -> bool:
        """Read the negotiated parameters once the subscriber's transport is up."""
        transceiver = self._transceiver
        dtls = self._sender.transport
        codecs = transceiver._codecs
        if not codecs or codecs[0].payloadType is None or transceiver.mid is None or dtls._state is not DtlsState.CONNECTED:
            return False
        connection = dtls.transport._connection
        if connection is None:
            return False
        self._payload_type = codecs[0].payloadType
        self._ssrc = self._sender._ssrc
        mid_id = next((e.id for e in transceiver._headerExtensions if e.uri == _MID_URI), None)
        if mid_id is not None:
            mid = transceiver.mid.encode()
            element = bytes([mid_id << 4 | (len(mid) - 1)]) + mid
            element += bytes(-len(element) % 4)
            self._extension = b"\xbe\xde" + struct.pack("!H", len(element) // 4) + element
            self._first_byte = 0x90
        self._nominated = connection._nominated
        self._dtls = dtls  # last: it marks the writer ready
        return True

    def _offsets(self, sequence_number: int, timestamp: int) -> tuple[int, int]:
        """The shifts of this subscriber's sequence numbers and timestamps, drawn at its first packet."""
        if self._seq_offset is None:
            self._seq_offset = random.getrandbits(16) - sequence_number
            self._ts_offset = random.getrandbits(32) - timestamp
        return self._seq_offset, self._ts_offset

    def _nominated_pair(self) -> Any | None:
        """The ICE pair to write on, once the subscriber's transport is up (None before)."""
        if self._dtls is None and not self._resolve():
            return None
        if self._dtls._state is not DtlsState.CONNECTED:
            return None
        return self._nominated.get(1)

    def target(self, sequence_number: int, timestamp: int) -> WriteTarget | None:
        """Where and how a native fan-out writes this subscriber's copies (compat.devserver.fanout),
        or None while its transport is not up, or not on a host pair. The arguments are the
        publisher's current packet's, from which the first packet's shifts are drawn."""
        pair = self._nominated_pair()
        if pair is None or type(pair.protocol) is not aioice.ice.StunProtocol or self._dtls._tx_srtp is None:
            return None
        transport = pair.protocol.transport
        if transport is None or transport.is_closing():
            return None
        seq_offset, ts_offset = self._offsets(sequence_number, timestamp)
        host, port = pair.remote_addr
        return WriteTarget(
            session=self._dtls._tx_srtp,
            fd=transport.get_extra_info("socket").fileno(),
            host=host,
            port=port,
            ssrc=self._ssrc,
            payload_type=self._payload_type,
            extension=self._extension,
            seq_offset=seq_offset & 0xFFFF,
            ts_offset=ts_offset & 0xFFFFFFFF,
        )

    def guard_srtp(self, guard: Callable[[pylibsrtp.Session], pylibsrtp.Session]) -> None:
        """Replace the subscriber's SRTP sessions, as its DTLS transport uses them, by ``guard(session)``
        (see ``guard_srtp``); nothing before the transport is up."""
        if self._dtls is not None:
            guard_srtp(self._dtls, guard)

    def report(self, packets: int, octets: int, rtp_timestamp: int, ntp: int) -> None:
        """What a native fan-out sent so far, for the sender's RTCP sender reports (as ``write`` keeps them)."""
        sender = self._sender
        sender._RTCRtpSender__ntp_timestamp = ntp
        sender._RTCRtpSender__rtp_timestamp = rtp_timestamp
        sender._RTCRtpSender__packet_count = packets
        sender._RTCRtpSender__octet_count = octets
        self.packets = packets

    def write(self, packet: RtpPacket, ntp: int) -> None:
        """Send one of the publisher's packets to this subscriber (dropped until its transport is up)."""
        pair = self._nominated_pair()
        if pair is None:
            return
        seq_offset, ts_offset = self._offsets(packet.sequence_number, packet.timestamp)
        timestamp = (packet.timestamp + ts_offset) & 0xFFFFFFFF
        payload = packet.payload
        # This runs inside the publisher's receive path: one subscriber's broken transport must
        # cost that subscriber this packet, not the publisher its connection.
        try:
            data = self._dtls._tx_srtp.protect(  # read each time: compat.devserver.fanout may guard it
                _RTP_HEADER.pack(
                    self._first_byte,
                    packet.marker << 7 | self._payload_type,
                    (packet.sequence_number + seq_offset) & 0xFFFF,
                    timestamp,
                    self._ssrc,
                )
                + self._extension
                + payload
            )
            protocol = pair.protocol
            if type(protocol) is not aioice.ice.StunProtocol:  # the dev server has no ICE servers: host pairs only
                raise RuntimeError(f"cannot write RTP on a {type(protocol).__name__} (TURN) pair")
            protocol.transport.sendto(data, pair.remote_addr)
        except Exception:
            self.failures += 1
            log.log(logging.WARNING if self.failures == 1 else logging.DEBUG,
                    "forwarding a packet to a subscriber failed (%d so far)", self.failures, exc_info=True)
            return
        sender = self._sender
        sender._RTCRtpSender__ntp_timestamp = ntp
        sender._RTCRtpSender__rtp_timestamp = timestamp
        sender._RTCRtpSender__packet_count += 1
        sender._RTCRtpSender__octet_count += len(payload)
        self.packets += 1


def request_keyframe(receiver: RTCRtpReceiver) -> Coroutine[Any, Any, None] | None:
    """A PLI to the sender of the newest SSRC the receiver heard, or None before any packet.

    Relies on ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)`` (a coroutine; it sends nothing until the
    receiver knows its own RTCP SSRC) and the public ``getSynchronizationSources()``.
    """
    sources = receiver.getSynchronizationSources()
    if not sources:
        return None
    newest = max(sources, key=lambda source: source.timestamp)
    result: Coroutine[Any, Any, None] = receiver._send_rtcp_pli(newest.source)
    return result


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback()`` when the remote side asks this sender for a keyframe (RTCP PLI or FIR).

    Relies on ``RTCRtpSender._send_keyframe()``, which ``_handle_rtcp_packet`` calls for both; it
    would only make aiortc's own encoder emit a keyframe, which a sender that packs encoded frames
    does not have, so the request goes to ``callback`` (which asks the publisher) instead.
    """
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise RuntimeError(
            "aiortc's RTCRtpSender has no _send_keyframe any more: subscribers' keyframe requests would be lost; "
            "see compat/devserver/aiortc_internals.py"
        )
    sender._send_keyframe = callback  # type: ignore[method-assign]


def on_remb(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """Call ``callback(bitrate_bps)`` for each REMB (receiver estimated maximum bitrate) naming this
    sender's SSRC: the remote side's estimate of the bandwidth it can receive, for all its streams.

    Relies on ``RTCRtpSender._handle_rtcp_packet(packet)``, which the DTLS transport awaits for each
    RTCP packet routed to the sender (REMBs by the SSRCs in their FCI), and ``RTCRtpSender._ssrc``.
    aiortc only hands the estimate to an encoder's ``target_bitrate``; a sender that packs the
    publisher's frames has no encoder, so the estimate goes to ``callback`` (then to aiortc as before).
    """
    handle = sender._handle_rtcp_packet
    if not isinstance(getattr(sender, "_ssrc", None), int):
        raise RuntimeError(
            "aiortc's RTCRtpSender has no int _ssrc any more: subscribers' bandwidth estimates would be lost; "
            "see compat/devserver/aiortc_internals.py"
        )

    async def handle_with_remb(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:  # an application-layer feedback that is not a REMB
                bitrate, ssrcs = 0, []
            if sender._ssrc in ssrcs:
                callback(bitrate)
        await handle(packet)

    sender._handle_rtcp_packet = handle_with_remb  # type: ignore[method-assign]


def handle_rtcp(sender: RTCRtpSender, packet: AnyRtcpPacket) -> Coroutine[Any, Any, None]:
    """Handle ``packet`` as if the remote side had sent it to this sender
    (``RTCRtpSender._handle_rtcp_packet``); tests inject receiver feedback (REMB) with it."""
    result: Coroutine[Any, Any, None] = sender._handle_rtcp_packet(packet)
    return result


# ---- sender reports: batched per subscriber, as livekit-server sends them -------------------------

_REPORTED_TOGETHER: weakref.WeakSet[RTCRtpSender] = weakref.WeakSet()
SENDER_REPORT_BATCH = 20  # sender reports per compound RTCP packet: livekit-server's sdBatchSize


def report_senders_together(sender: RTCRtpSender) -> None:
    """Keep aiortc from sending this sender's RTCP sender reports: ``send_sender_reports`` sends them,
    several senders' in one packet. Call before the sender starts (its first negotiation).

    aiortc's ``RTCRtpSender._run_rtcp``, which ``send()`` starts, sends an SR and an SDES every
    0.5–1.5 s for each sender: a task wake-up, serialization, SRTCP and a datagram per sender, the
    largest thing the event loop does while the native fan-out forwards audio (124 a second at 32
    participants listening to 4). Its place is taken by a loop that only waits and, when the sender
    stops, says RTCP BYE as aiortc's does. Relies on ``send()`` starting ``self._run_rtcp()`` and
    ``stop()`` waiting on the name-mangled ``__rtcp_started`` / ``__rtcp_exited`` events.
    """
    started = getattr(sender, "_RTCRtpSender__rtcp_started", None)
    exited = getattr(sender, "_RTCRtpSender__rtcp_exited", None)
    if not isinstance(started, asyncio.Event) or not isinstance(exited, asyncio.Event) or not callable(
            getattr(sender, "_send_rtcp", None)):
        raise RuntimeError(
            "aiortc's RTCRtpSender has no __rtcp_started/__rtcp_exited events or _send_rtcp any more: "
            "its RTCP loop cannot be replaced; see compat/devserver/aiortc_internals.py"
        )
    if getattr(sender, "_RTCRtpSender__started", False):
        raise RuntimeError("the sender already runs aiortc's RTCP loop: take its reports before it starts")

    async def wait_then_say_bye() -> None:
        started.set()
        try:
            await asyncio.get_running_loop().create_future()  # until stop() cancels it
        except asyncio.CancelledError:
            pass
        try:
            await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        finally:  # stop() waits for this: a BYE that fails or is cancelled must not leave it waiting
            exited.set()

    sender._run_rtcp = wait_then_say_bye  # type: ignore[method-assign]
    _REPORTED_TOGETHER.add(sender)


def _sender_report(sender: Any) -> tuple[RtcpSrPacket, RtcpSourceInfo] | None:
    """The sender's SR and SDES CNAME chunk, as aiortc's RTCP loop makes them; None before it sent a
    packet (livekit-server's DownTrack reports nothing then either). Notes the SR for the RTT
    aiortc reads from the receiver's next report (``__lsr``, ``__lsr_time``)."""
    packets = sender._RTCRtpSender__packet_count
    cname = sender._RTCRtpSender__cname
    if not packets or cname is None:
        return None
    ntp = sender._RTCRtpSender__ntp_timestamp
    report = RtcpSrPacket(
        ssrc=sender._ssrc,
        sender_info=RtcpSenderInfo(
            ntp_timestamp=ntp,
            rtp_timestamp=sender._RTCRtpSender__rtp_timestamp,
            packet_count=packets & 0xFFFFFFFF,
            octet_count=sender._RTCRtpSender__octet_count & 0xFFFFFFFF,
        ),
    )
    sender._RTCRtpSender__lsr = (ntp >> 16) & 0xFFFFFFFF
    sender._RTCRtpSender__lsr_time = time.time()
    return report, RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode("utf8"))])


async def send_sender_reports(senders: list[RTCRtpSender]) -> int:
    """Send the sender reports of those ``senders`` taken by ``report_senders_together``, those of
    one transport together: up to SENDER_REPORT_BATCH SRs and their SDES chunks per compound RTCP
    packet, as livekit-server's ``ParticipantImpl.downTracksRTCPWorker`` (pkg/rtc/participant.go)
    batches each subscriber's. Returns how many reports were sent; a closed transport's are dropped."""
    by_transport: dict[Any, list[tuple[RtcpSrPacket, RtcpSourceInfo]]] = {}
    for sender in senders:
        if sender not in _REPORTED_TOGETHER:
            continue
        report = _sender_report(sender)
        if report is not None:
            by_transport.setdefault(sender.transport, []).append(report)
    sent = 0
    for transport, reports in by_transport.items():
        for start in range(0, len(reports), SENDER_REPORT_BATCH):
            batch = reports[start:start + SENDER_REPORT_BATCH]
            packets: list[AnyRtcpPacket] = [sr for sr, _ in batch]
            packets.append(RtcpSdesPacket(chunks=[chunk for _, chunk in batch]))
            try:
                await transport._send_rtp(b"".join(bytes(p) for p in packets))
            except ConnectionError:  # the subscriber's transport closed: nobody to report to
                break
            sent += len(batch)
    return sent


# ---- simulcast: one receiver, several layers --------------------------------------------------

LayerFrameSink = Callable[[str, int, EncodedPacket, bool], None]
"""``sink(rid, ssrc, packet, keyframe)``: one encoded frame of one simulcast layer."""

_RECEIVER_STATE = ("_RTCRtpReceiver__jitter_buffer", "_RTCRtpReceiver__nack_generator", "_RTCRtpReceiver__timestamp_mapper")
_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
_REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"


class _LayerTap(_EncodedTap):
    """The decoder-queue stand-in of a simulcast receiver: frames go to the sink with their layer."""

    def __init__(self, original: Any, sink: LayerFrameSink) -> None:
        super().__init__(original, lambda packet, keyframe: sink(self.rid, self.ssrc, packet, keyframe))
        self.rid = ""
        self.ssrc = 0


def receive_layers(receiver: RTCRtpReceiver, extension_ids: Mapping[str, int], sink: LayerFrameSink) -> None:
    """Receive a simulcast publication's layers on one receiver, each reassembled on its own.

    aiortc has no simulcast: it would feed every layer's packets into one jitter buffer. Each
    layer (RTP stream) is told by its ``rid`` (the rtp-stream-id header extension, RFC 8852, which
    libwebrtc sends until the stream is acknowledged; later packets are known by SSRC). For each
    packet this swaps in that layer's own jitter buffer, NACK generator and timestamp mapper
    (``RTCRtpReceiver.__jitter_buffer``, ``__nack_generator``, ``__timestamp_mapper``, all created in
    ``__init__`` and only used by ``_handle_rtp_packet``, which the DTLS transport awaits packet by
    packet, so no two packets interleave) and then runs aiortc's own handling: statistics, REMB,
    NACKs and PLIs stay aiortc's, per SSRC. Reassembled frames go to ``sink(rid, ssrc, packet,
    keyframe)``, as ``deliver_encoded`` does. Packets of no known layer (e.g. RTX, which aiortc
    cannot map without ``a=ssrc-group`` lines) are handled with a scratch state and discarded.

    ``extension_ids`` maps header extension URIs to the ids the publisher's offer gave them: aiortc
    does not negotiate the rid extensions, so they are added to the transport's parser
    (``RTCDtlsTransport._rtp_header_extensions_map.configure``, which only adds ids). Packets of
    SSRCs aiortc has not seen go to the receiver whose mid they carry (see ``_route_by_mid``).
    """
    for name in _RECEIVER_STATE:
        if not hasattr(receiver, name):
            raise RuntimeError(
                f"aiortc's RTCRtpReceiver has no {name!r} any more: simulcast layers cannot be received; "
                "see compat/devserver/aiortc_internals.py"
            )
    transport = receiver.transport
    transport._rtp_header_extensions_map.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=ext_id, uri=uri)
                for uri, ext_id in extension_ids.items()
                if uri in (_RID_URI, _REPAIRED_RID_URI)
            ]
        )
    )
    _route_by_mid(transport)
    original = getattr(receiver, _DECODER_QUEUE, None)
    if original is None or not callable(getattr(original, "put", None)):
        raise RuntimeError(
            f"aiortc's RTCRtpReceiver has no {_DECODER_QUEUE!r} queue any more: encoded forwarding cannot work; "
            "see compat/devserver/aiortc_internals.py"
        )
    tap = _LayerTap(original, sink)
    setattr(receiver, _DECODER_QUEUE, tap)

    def new_state() -> tuple[Any, Any, Any]:
        return JitterBuffer(capacity=512, is_video=True), NackGenerator(), TimestampMapper()

    states: dict[int, tuple[Any, Any, Any]] = {}
    rids: dict[int, str] = {}
    scratch = new_state()
    handle = receiver._handle_rtp_packet

    async def handle_layer(packet: Any, arrival_time_ms: int) -> None:
        rid = packet.extensions.rtp_stream_id
        if rid:
            rids[packet.ssrc] = rid
        else:
            rid = rids.get(packet.ssrc)
        if rid is None:
            state = scratch
            tap.rid, tap.ssrc = "", 0
        else:
            state = states.get(packet.ssrc) or states.setdefault(packet.ssrc, new_state())
            tap.rid, tap.ssrc = rid, packet.ssrc
        for name, value in zip(_RECEIVER_STATE, state, strict=True):
            setattr(receiver, name, value)
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_layer  # type: ignore[method-assign]


def _route_by_mid(transport: Any) -> None:
    """Route packets of unknown SSRCs by their mid header extension (once per transport).

    Relies on ``RTCDtlsTransport._rtp_router`` (``RtpRouter``: ``route_rtp(packet)``,
    ``mid_table``, ``ssrc_table``). aiortc routes an unknown SSRC by payload type only when a
    single receiver has that type; two simulcast video publications of one client share it, and
    their layers announce no SSRC in the SDP.
    """
    router = transport._rtp_router
    if getattr(router, "_compat_routes_by_mid", False):
        return
    route = router.route_rtp

    def route_rtp(packet: Any) -> Any:
        mid = packet.extensions.mid
        if packet.ssrc not in router.ssrc_table and mid is not None and mid in router.mid_table:
            router.ssrc_table[packet.ssrc] = router.mid_table[mid]
        return route(packet)

    router.route_rtp = route_rtp
    router._compat_routes_by_mid = True


def request_keyframe_of(receiver: RTCRtpReceiver, ssrc: int) -> Coroutine[Any, Any, None]:
    """A PLI for one RTP stream (``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``), e.g. one simulcast layer."""
    result: Coroutine[Any, Any, None] = receiver._send_rtcp_pli(ssrc)
    return result


# ---- VP9 and AV1: forwarded as the publisher packetized them -------------------------------------

PASSTHROUGH_MIME_TYPES = ("video/VP9", "video/AV1")
_PASSTHROUGH_PAYLOAD_TYPES = {"video/VP9": 103, "video/AV1": 105}  # after aiortc's own 96..102


def is_passthrough(mime_type: str) -> bool:
    """Whether aiortc only forwards this codec (VP9, AV1): it can neither decode nor encode it."""
    return mime_type.lower() in {m.lower() for m in PASSTHROUGH_MIME_TYPES}


def _is_passthrough(codec: Any) -> bool:
    return is_passthrough(str(codec.mimeType))


def split_payloads(data: bytes) -> list[bytes]:
    """The RTP payloads of one passthrough frame, as ``register_passthrough_codecs`` keeps them."""
    payloads = []
    at = 0
    while at + 2 <= len(data):
        size = int.from_bytes(data[at : at + 2], "big")
        payloads.append(data[at + 2 : at + 2 + size])
        at += 2 + size
    return payloads


def join_payloads(payloads: list[bytes]) -> bytes:
    return b"".join(len(payload).to_bytes(2, "big") + payload for payload in payloads)


class PassthroughEncoder:
    """The "encoder" of a subscriber's sender for VP9/AV1: it sends the publisher's RTP payloads
    unchanged (its own SSRC, sequence numbers and timestamps; marker on the frame's last packet)."""

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise ValueError("a passthrough codec has no encoder: only encoded frames can be forwarded")

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        timestamp = int(packet.pts or 0) * 90000 * packet.time_base.numerator // packet.time_base.denominator
        return split_payloads(bytes(packet)), timestamp


def register_passthrough_codecs() -> None:
    """Let aiortc negotiate VP9 and AV1, which it can neither decode nor encode, for forwarding only.

    Relies on ``aiortc.codecs.CODECS`` (the codecs aiortc offers and accepts, read at each
    negotiation), ``aiortc.rtcrtpreceiver.depayload`` (the receiver's per-packet depacketizer, looked
    up in that module at each packet) and ``aiortc.rtcrtpsender.get_encoder`` (looked up when a sender
    first sends). For these codecs the receiver keeps each RTP payload whole, length-prefixed, so the
    reassembled frame still holds the publisher's packets (with their VP9 payload descriptors or AV1
    aggregation headers, which say the spatial layer of each), and the sender sends them as they
    are. A PeerConnection that must decode or encode (relay "decode") must not be offered them:
    set its codec preferences. Idempotent.
    """
    video = aiortc.codecs.CODECS["video"]
    if any(_is_passthrough(codec) for codec in video):
        return
    for name in ("depayload", "get_encoder"):
        module = aiortc.rtcrtpreceiver if name == "depayload" else aiortc.rtcrtpsender
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f"aiortc has no {module.__name__}.{name} any more: VP9/AV1 cannot be forwarded")
    for mime_type, payload_type in _PASSTHROUGH_PAYLOAD_TYPES.items():
        feedback = [RTCRtcpFeedback(type="nack"), RTCRtcpFeedback(type="nack", parameter="pli"), RTCRtcpFeedback(type="goog-remb")]
        video.append(RTCRtpCodecParameters(mimeType=mime_type, clockRate=90000, payloadType=payload_type, rtcpFeedback=feedback))
        rtx = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=payload_type + 1, parameters={"apt": payload_type})
        video.append(rtx)
    depayload = aiortc.rtcrtpreceiver.depayload  # type: ignore[attr-defined]
    get_encoder = aiortc.rtcrtpsender.get_encoder  # type: ignore[attr-defined]

    def keep_payload(codec: Any, payload: bytes) -> bytes:
        return join_payloads([payload]) if _is_passthrough(codec) else depayload(codec, payload)

    def passthrough_or_encoder(codec: Any) -> Any:
        return PassthroughEncoder() if _is_passthrough(codec) else get_encoder(codec)

    aiortc.rtcrtpreceiver.depayload = keep_payload  # type: ignore[attr-defined]
    aiortc.rtcrtpsender.get_encoder = passthrough_or_encoder  # type: ignore[attr-defined]


def spatial_layer(mime_type: str, payload: bytes, previous: int) -> int:
    """The spatial layer of one RTP payload of an SVC frame (``previous``: that of the packet before,
    for an AV1 packet continuing an OBU).

    VP9 (RFC 9628 section 4.2): the SID of the layer indices, present when the L bit is set.
    AV1 (RTP payload format, section 4.4): the spatial_id of the first OBU's extension header.
    """
    if not payload:
        return previous
    if mime_type.lower() == "video/vp9":
        flags = payload[0]
        if not flags & 0x20:  # no layer indices: a single-layer stream
            return 0
        at = 1
        if flags & 0x80:  # picture id: 7 or 15 bits
            at += 2 if len(payload) > 1 and payload[1] & 0x80 else 1
        return (payload[at] >> 1) & 0x07 if at < len(payload) else previous
    aggregation = payload[0]
    if aggregation & 0x80:  # Z: continues an OBU of the previous packet
        return previous
    at = 1
    if (aggregation >> 4) & 0x03 != 1:  # W != 1: the first element has a leb128 length
        while at < len(payload) and payload[at] & 0x80:
            at += 1
        at += 1
    if at >= len(payload):
        return previous
    header = payload[at]
    if header & 0x04 and at + 1 < len(payload):  # obu_extension_flag
        return (payload[at + 1] >> 3) & 0x03
    return 0


def passthrough_keyframe(mime_type: str, data: bytes) -> bool:
    """Is this passthrough frame a keyframe? VP9: the first packet is not inter-picture predicted
    (P bit clear); AV1: the first packet starts a coded video sequence (N bit set)."""
    payloads = split_payloads(data)
    if not payloads or not payloads[0]:
        return False
    first = payloads[0][0]
    if mime_type.lower() == "video/vp9":
        return not first & 0x40
    return bool(first & 0x08)
