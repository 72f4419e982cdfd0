"""The native audio fan-out (compat.devserver.fanout, built from _fanout.c): what a subscriber
receives from it is what RtpWriter would have sent, and a datagram is read as aiortc reads it.

The media tests send between two real aiortc PeerConnections (run through scripts/test, in a
network namespace); the others only use pylibsrtp sessions in process.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import threading
from collections.abc import Iterator

import pylibsrtp
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from compat.devserver import fanout
from compat.devserver.aiortc_internals import RtpWriter, WriteTarget
from compat.devserver.fanout import SYNC_EVERY, AudioFanout
from tests.devserver.test_aiortc_internals import SilentTrack, arrivals, negotiate
from tests.support import wait_for

LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
LEVEL_ID = 3

pytestmark = pytest.mark.skipif(os.environ.get("COMPAT_DEVSERVER_NATIVE") == "0", reason="native fan-out turned off")


class Subscriber:
    def __init__(self, writer: RtpWriter | None) -> None:
        self.writer = writer
        self.enabled = True


def srtp_pair() -> tuple[pylibsrtp.Session, pylibsrtp.Session]:
    key = os.urandom(30)  # AES-CM-128 key and salt, as DTLS-SRTP derives them
    outbound = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    inbound = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))
    return outbound, inbound


def extensions_map(uri: str = LEVEL_URI) -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=LEVEL_ID, uri=uri)]))
    return extensions


def publishers_packet(sequence_number: int, *, level: int | None = None, padding: int = 0,
                      csrc: list[int] | None = None, payload: bytes = b"opus" * 10) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=sequence_number, timestamp=960 * sequence_number,
                       ssrc=4321, payload=payload, marker=int(sequence_number == 0))
    if level is not None:
        packet.extensions.audio_level = (True, level)
    packet.padding_size = padding
    packet.csrc = csrc or []
    return packet


def test_the_install_built_the_native_fan_out() -> None:
    # scripts/bootstrap installs with a C compiler: without the extension the dev server falls back
    # to Python (correct, ~3x more CPU per forwarded audio stream), which must not happen silently here.
    assert fanout.available()


def test_receive_reads_the_header_as_aiortc_does_and_drops_what_does_not_authenticate() -> None:
    outbound, inbound = srtp_pair()
    native = AudioFanout(lambda: (), LEVEL_ID)
    extensions = extensions_map()
    plain = publishers_packet(7, level=42, padding=5, csrc=[1, 2])
    assert native.receive(outbound.protect(plain.serialize(extensions)), inbound) == (7, 960 * 7, 42)
    assert native.receive(outbound.protect(publishers_packet(8).serialize(extensions)), inbound) == (8, 960 * 8, -1)
    # An RFC 8285 two-byte header (more than 16 bytes in some element) is read too.
    two_byte = publishers_packet(9, level=10)
    two_byte.extensions.mid = "m" * 17
    mapped = HeaderExtensionsMap()
    mapped.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=LEVEL_ID, uri=LEVEL_URI),
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    ]))
    assert native.receive(outbound.protect(two_byte.serialize(mapped)), inbound) == (9, 960 * 9, 10)
    tampered = bytearray(outbound.protect(publishers_packet(10, level=1).serialize(extensions)))
    tampered[-1] ^= 1
    assert native.receive(bytes(tampered), inbound) is None
    with pytest.raises(ValueError, match="too long"):
        native.receive(bytes(1501), inbound)
    # Another session's address: the level id is the receiver's, a level under another id is none.
    other = AudioFanout(lambda: (), LEVEL_ID + 1)
    assert other.receive(outbound.protect(publishers_packet(11, level=5).serialize(extensions)), inbound) == (
        11, 960 * 11, -1)


def test_a_subscriber_that_cannot_be_written_to_is_logged_once_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    outbound, _ = srtp_pair()

    class Unwritable:
        asked = 0

        def target(self, sequence_number: int, timestamp: int) -> WriteTarget:
            self.asked += 1
            return WriteTarget(session=fanout.guard(outbound), fd=-1, host="10.253.0.2", port=9, ssrc=1, payload_type=111,
                               extension=b"", seq_offset=0, ts_offset=0)  # no such file descriptor to dup

        def report(self, packets: int, octets: int, rtp_timestamp: int, ntp: int) -> None:
            raise AssertionError("nothing was sent to report")

    writer = Unwritable()
    subscriber = Subscriber(writer)  # type: ignore[arg-type]
    native = AudioFanout(lambda: (subscriber,), LEVEL_ID)
    for n in range(3):
        native.forward(False, n, 960 * n, b"x")  # the publisher's packets go on; nothing raised
    assert native.targets() == 0
    assert writer.asked == 3  # looked at again at every packet, as a transport not up yet
    assert [r.levelname for r in caplog.records if "cannot forward audio" in r.message] == ["WARNING"]


@pytest.mark.media
async def test_subscribers_get_the_publishers_packets_as_their_sender_would_send_them(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    offerer, answerer = pcs
    arrived = arrivals(answerer, reassemble=False)  # counted, not decoded: these payloads are no Opus
    sending = offerer.addTransceiver(SilentTrack(), direction="sendonly")
    subscriber = Subscriber(RtpWriter(sending))
    native = AudioFanout(lambda: (subscriber,), LEVEL_ID)
    outbound, inbound = srtp_pair()
    extensions = extensions_map()
    native.receive(outbound.protect(publishers_packet(0, level=3).serialize(extensions)), inbound)
    assert native.targets() == 0  # before negotiation: nobody to send to, nothing raised
    await negotiate(offerer, answerer)
    await wait_for(lambda: offerer.connectionState == "connected", what="PeerConnections connected")

    sent = [publishers_packet(n, level=3, padding=4 * (n % 2)) for n in range(1, 6)]
    del sent[2]  # a packet the publisher lost: the gap is forwarded as a gap
    for packet in sent:  # both ways in: straight from the transport, and already parsed (a recorder listens)
        if packet.sequence_number % 2:
            native.receive(outbound.protect(packet.serialize(extensions)), inbound)
        else:
            native.forward(bool(packet.marker), packet.sequence_number, packet.timestamp, packet.payload)
        assert native.targets() == 1  # found at its first packet
    await wait_for(lambda: len(arrived) == len(sent), what="the forwarded packets")
    assert {p.ssrc for p in arrived} == {sending.sender._ssrc}
    assert {p.payload_type for p in arrived} == {sending._codecs[0].payloadType}
    assert [p.payload for p in arrived] == [p.payload for p in sent]  # the publisher's padding is not forwarded
    assert {p.extensions.mid for p in arrived} == {sending.mid}
    seqs = [p.sequence_number for p in arrived]
    assert [(b - seqs[0]) % 65536 for b in seqs] == [0, 1, 3, 4]
    stamps = [p.timestamp for p in arrived]
    assert [(b - stamps[0]) % 2**32 for b in stamps] == [0, 960, 2880, 3840]

    # The counts reach the sender's RTCP reports at each look (every SYNC_EVERY packets, and on a change).
    for n in range(6, 6 + SYNC_EVERY):
        native.forward(False, n, 960 * n, b"opus" * 10)
    await wait_for(lambda: len(arrived) == len(sent) + SYNC_EVERY, what="the next packets")
    native.changed()
    native.forward(False, 6 + SYNC_EVERY, 960 * (6 + SYNC_EVERY), b"opus" * 10)
    stats = await sending.sender.getStats()
    outbound_stats = next(s for s in stats.values() if s.type == "outbound-rtp")
    assert outbound_stats.packetsSent == len(sent) + SYNC_EVERY
    assert outbound_stats.bytesSent == 40 * outbound_stats.packetsSent

    subscriber.enabled = False  # UpdateTrackSettings.disabled
    native.changed()
    native.forward(False, 100, 96000, b"x")
    assert native.targets() == 0
    subscriber.enabled = True
    native.changed()
    native.forward(False, 101, 96960, b"y")
    await wait_for(lambda: arrived[-1].payload == b"y", what="the re-enabled subscriber's packet")
    assert (arrived[-1].sequence_number - seqs[0]) % 65536 == 101 - 1  # the same shift as before
    native.changed()
    native.forward(False, 102, 97920, b"w")
    stats = await sending.sender.getStats()
    outbound_stats = next(s for s in stats.values() if s.type == "outbound-rtp")
    assert outbound_stats.packetsSent == len(sent) + SYNC_EVERY + 2  # its reports count on across the pause

    await offerer.close()  # a subscriber that went away: dropped at the next look, the publisher goes on
    native.changed()
    for n in itertools.count(103):
        native.forward(False, n, 960 * n, b"z")
        if native.targets() == 0 or n > 200:
            break
    assert native.targets() == 0
    native.close()


# ---- the publisher's socket read on a native thread (_fanout.Pump) ---------------------------------------------
# Plain UDP on loopback: no WebRTC here, so no network namespace is needed.

NO_STATISTICS = (0, -1, -1, 0, 0, -1, -1)  # a fresh StreamStatistics, as statistics_state gives it


class Loopback:
    """A publisher, the server's socket it sends to (read by a Pump) and one subscriber."""

    def __init__(self) -> None:
        self.publisher_out, server_in = srtp_pair()
        server_out, self.subscriber_in = srtp_pair()
        self.server_in, self.server_out = fanout.guard(server_in), fanout.guard(server_out)
        self.sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
        for each in self.sockets:
            each.bind(("127.0.0.1", 0))
            each.settimeout(5)
        self.publisher, self.server, self.subscriber = self.sockets
        target = WriteTarget(session=self.server_out, fd=self.server.fileno(), host="127.0.0.1",
                             port=self.subscriber.getsockname()[1], ssrc=777, payload_type=109, extension=b"",
                             seq_offset=0, ts_offset=0)

        class Writer:
            def target(self, sequence_number: int, timestamp: int) -> WriteTarget:
                return target

            def report(self, packets: int, octets: int, rtp_timestamp: int, ntp: int) -> None:
                pass

        self.fanout = AudioFanout(lambda: (Subscriber(Writer()),), LEVEL_ID)  # type: ignore[arg-type]
        self.fanout.sent(0, 0, 0)  # its first look: the subscriber becomes a target
        assert self.fanout.targets() == 1
        module = fanout._NATIVE[0]  # type: ignore[index]
        self.pump = module.Pump(self.server.fileno(), fanout.guard_of(self.server_in))
        self.extensions = extensions_map()

    def send(self, data: bytes) -> None:
        self.publisher.sendto(data, self.server.getsockname())

    def send_rtp(self, packet: RtpPacket) -> bytes:
        data = self.publisher_out.protect(packet.serialize(self.extensions))
        self.send(data)
        return data

    def received(self, count: int) -> list[RtpPacket]:
        return [RtpPacket.parse(self.subscriber_in.unprotect(self.subscriber.recv(2048))) for _ in range(count)]

    def taken(self, count: int) -> list[tuple[bytes, tuple[str, int]]]:
        taken: list[tuple[bytes, tuple[str, int]]] = []
        while len(taken) < count:
            readable, _, _ = select.select([self.pump.fileno()], [], [], 5)
            assert readable, f"the pump queued {len(taken)} of {count} datagrams for the event loop"
            taken += self.pump.take()
        return taken

    def close(self) -> None:
        self.pump.close()
        self.fanout.close()
        for each in self.sockets:
            each.close()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    made = Loopback()
    yield made
    made.close()


def test_a_pump_fans_routed_audio_out_on_its_thread_and_queues_the_rest_in_order(loopback: Loopback) -> None:
    loopback.pump.route(4321, loopback.fanout._native, 48000.0, NO_STATISTICS)
    stun_like = b"\x00\x01\x00\x00" + os.urandom(16)
    loopback.send(stun_like)
    sent = [publishers_packet(n, level=20 + n) for n in range(5)]
    del sent[2]  # lost on the way: forwarded as a gap
    for packet in sent:
        loopback.send_rtp(packet)
    other = publishers_packet(9)
    other.ssrc = 999  # not routed (video, say): the event loop's
    other_data = loopback.send_rtp(other)
    rtcp_like = bytes([0x80, 200]) + os.urandom(26)  # an SR's type: RTCP always goes to the event loop
    loopback.send(rtcp_like)

    copies = loopback.received(len(sent))
    assert [(p.ssrc, p.payload_type, p.sequence_number, p.timestamp) for p in copies] == [
        (777, 109, p.sequence_number, p.timestamp) for p in sent]
    assert [p.payload for p in copies] == [p.payload for p in sent]
    address = loopback.publisher.getsockname()
    assert loopback.taken(3) == [(stun_like, address), (other_data, address), (rtcp_like, address)]

    # What the thread counted, as aiortc's receiver statistics count the same packets.
    ((ssrc, packets, level, last_seq, last_ts, state),) = loopback.pump.report()
    expected = StreamStatistics(48000)
    for packet in sent:
        expected.add(packet)
    assert (ssrc, packets, level, last_seq, last_ts) == (4321, 4, 20, 4, 960 * 4)  # level: the loudest, 0 loud
    assert state[:4] == (expected.packets_received, expected.base_seq, expected.max_seq, expected.cycles)
    assert state[6] == expected._last_timestamp
    assert loopback.pump.report() == []  # nothing since

    assert loopback.pump.unroute(4321)[:4] == state[:4]
    again = loopback.send_rtp(publishers_packet(5))
    assert loopback.taken(1) == [(again, address)]  # unrouted: the event loop gets it, as sent
    assert loopback.pump.counters() == (4, 0, 0)


def test_a_pump_drops_what_does_not_authenticate_and_stops_when_closed(loopback: Loopback) -> None:
    loopback.pump.route(4321, loopback.fanout._native, 48000.0, NO_STATISTICS)
    replayed = loopback.send_rtp(publishers_packet(1))
    loopback.send(replayed)  # a replay does not authenticate twice
    tampered = bytearray(loopback.publisher_out.protect(publishers_packet(2).serialize(loopback.extensions)))
    tampered[-1] ^= 1
    loopback.send(bytes(tampered))
    loopback.send_rtp(publishers_packet(3))
    assert [p.sequence_number for p in loopback.received(2)] == [1, 3]
    ((_, packets, *_),) = loopback.pump.report()
    assert packets == 2
    loopback.pump.close()
    loopback.pump.close()  # again: nothing
    loopback.send_rtp(publishers_packet(4))
    loopback.subscriber.settimeout(0.3)
    with pytest.raises(TimeoutError):
        loopback.subscriber.recv(2048)  # nobody reads the server's socket any more
    assert loopback.pump.take() == []


async def test_a_pump_counts_what_the_event_loop_did_not_take_in_time(loopback: Loopback) -> None:
    # Bounded as a socket buffer is: past 4096 queued datagrams the newest are dropped and counted.
    total = 4096 + 100
    for start in range(0, total, 200):  # paced, so that the kernel's own buffer never overflows first
        for n in range(start, min(start + 200, total)):
            loopback.send(b"\x00\x01" + n.to_bytes(4, "big"))
        read = min(start + 200, total)
        reading = lambda: sum(loopback.pump.counters()[:2]) == read  # noqa: B023, E731 - awaited in this iteration
        await wait_for(reading, what="the pump's thread reading them")
    assert loopback.pump.counters()[:2] == (4096, 100)
    taken = loopback.pump.take()
    assert [int.from_bytes(data[2:], "big") for data, _ in taken] == list(range(4096))  # the oldest, in order


def test_a_guarded_session_does_what_pylibsrtp_does() -> None:
    outbound, inbound = srtp_pair()
    plain_outbound, plain_inbound = srtp_pair()
    guarded_outbound, guarded_inbound = fanout.guard(outbound), fanout.guard(inbound)
    assert fanout.guard(guarded_outbound) is guarded_outbound
    rtp = publishers_packet(1).serialize(extensions_map())
    rtcp = bytes([0x81, 201, 0, 7]) + os.urandom(28)
    assert guarded_inbound.unprotect(guarded_outbound.protect(rtp)) == rtp
    assert guarded_inbound.unprotect_rtcp(guarded_outbound.protect_rtcp(rtcp)) == rtcp
    protected = guarded_outbound.protect(publishers_packet(2).serialize(extensions_map()))
    guarded_inbound.unprotect(protected)
    with pytest.raises(pylibsrtp.Error) as guarded_error:
        guarded_inbound.unprotect(protected)
    plain = plain_outbound.protect(publishers_packet(2).serialize(extensions_map()))
    plain_inbound.unprotect(plain)
    with pytest.raises(pylibsrtp.Error) as plain_error:
        plain_inbound.unprotect(plain)
    assert str(guarded_error.value) == str(plain_error.value)  # "replay check failed"
    with pytest.raises(TypeError):
        guarded_outbound.protect("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too long"):
        guarded_outbound.protect(bytes(1500))


def test_a_pump_and_the_event_loop_share_srtp_sessions_safely(loopback: Loopback) -> None:
    # The thread protects with the server's outgoing session while Python protects RTCP and other
    # RTP with it (aiortc's sender reports, video): every packet must still authenticate.
    loopback.pump.route(4321, loopback.fanout._native, 48000.0, NO_STATISTICS)
    loopback.subscriber.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    count = 600
    done = threading.Event()
    failed: list[Exception] = []

    def python_side() -> None:
        n = 0
        try:
            while not done.is_set():
                loopback.server_out.protect_rtcp(bytes([0x80, 200, 0, 6]) + (123).to_bytes(4, "big") + bytes(20))
                video = RtpPacket(payload_type=96, sequence_number=n & 0xFFFF, timestamp=n, ssrc=555, payload=b"v" * 900)
                loopback.server_out.protect(video.serialize())
                n += 1
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            failed.append(error)

    thread = threading.Thread(target=python_side)
    thread.start()
    try:
        for n in range(count):
            loopback.send_rtp(publishers_packet(n))
            if n % 50 == 49:
                assert len(loopback.received(50)) == 50  # unprotected fine: the counter and keys held
    finally:
        done.set()
        thread.join()
    assert not failed
