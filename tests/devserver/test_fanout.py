"""The native audio fan-out (compat.devserver.fanout, built from _fanout.c): what a subscriber
receives from it is what RtpWriter would have sent, and a datagram is read as aiortc reads it.

The media tests send between two real aiortc PeerConnections (run through scripts/test, in a
network namespace); the others only use pylibsrtp sessions in process.
"""

from __future__ import annotations

import itertools
import os

import pylibsrtp
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
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
            return WriteTarget(session=outbound, fd=-1, host="10.253.0.2", port=9, ssrc=1, payload_type=111,
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
