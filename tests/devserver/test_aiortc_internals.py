"""The private aiortc attributes of compat.devserver.aiortc_internals, checked on real PeerConnections.

A failure here means the installed aiortc changed an internal the dev server depends on: update
compat/devserver/aiortc_internals.py (and its version pin reasoning) before anything else.
Most tests only exchange an offer and an answer in-process; those marked media connect two
PeerConnections and send RTP between them (run through scripts/test, in a network namespace).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from fractions import Fraction
from typing import Any

import aiortc
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import av
import pylibsrtp
import pytest
from aiortc import (
    RTCIceParameters,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    AnyRtcpPacket,
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
)

from compat.devserver.aiortc_internals import (
    EncodedPacket,
    RtpWriter,
    adopt_remote_ice_credentials,
    close_peer_connection,
    deliver_encoded,
    handle_rtcp,
    is_keyframe,
    join_payloads,
    negotiated_mime_type,
    ntp_now,
    on_keyframe_request,
    on_remb,
    on_rtp_packet,
    parsed,
    passthrough_keyframe,
    receive_directly,
    receive_layers,
    register_passthrough_codecs,
    release_dead_rtcp_loops,
    report_senders_together,
    request_keyframe,
    request_keyframe_of,
    restore_statistics,
    send_sender_reports,
    set_msid,
    spatial_layer,
    statistics_state,
)
from tests.support import wait_for

CHANGED = f"aiortc {aiortc.__version__} changed an internal the dev server relies on (see compat/devserver/aiortc_internals.py)"


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


def transceiver_of(pc: RTCPeerConnection, kind: str) -> RTCRtpTransceiver:
    return next(t for t in pc.getTransceivers() if t.kind == kind)


async def test_negotiated_mime_type_reads_the_agreed_codec_on_both_sides(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    offerer, answerer = pcs
    offerer.addTransceiver(AudioStreamTrack(), direction="sendonly")
    offerer.addTransceiver(VideoStreamTrack(), direction="sendonly")
    # The dev server reads it on the answering side (the client publishes; it offers).
    await negotiate(offerer, answerer)
    for pc in (answerer, offerer):
        assert negotiated_mime_type(transceiver_of(pc, "audio")) == "audio/opus", CHANGED
        assert negotiated_mime_type(transceiver_of(pc, "video")) == "video/VP8", CHANGED


async def test_negotiated_mime_type_is_none_before_negotiation(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    offerer, _ = pcs
    transceiver = offerer.addTransceiver("audio", direction="sendonly")
    assert negotiated_mime_type(transceiver) is None, CHANGED


async def test_set_msid_is_what_the_next_offer_says(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, answerer = pcs
    transceiver = offerer.addTransceiver(AudioStreamTrack(), direction="sendonly")
    set_msid(transceiver.sender, "PA_one|TR_one", "TR_one")
    await negotiate(offerer, answerer)
    assert offerer.localDescription is not None
    assert "a=msid:PA_one|TR_one TR_one" in offerer.localDescription.sdp.splitlines(), CHANGED

    # Retiring an m-line: a renegotiation carries the new msid, not the old one.
    set_msid(transceiver.sender, "-", "retired_x")
    await offerer.setLocalDescription(await offerer.createOffer())
    lines = offerer.localDescription.sdp.splitlines()
    assert "a=msid:- retired_x" in lines and "a=msid:PA_one|TR_one TR_one" not in lines, CHANGED


def test_set_msid_refuses_a_sender_without_the_attributes() -> None:
    class NotASender:
        pass

    with pytest.raises(RuntimeError, match="_stream_id"):
        set_msid(NotASender(), "s", "t")  # type: ignore[arg-type]


def restarted(sdp: str, ufrag: str, pwd: str) -> str:
    """The SDP as a client doing an ICE restart sends it: new ice-ufrag and ice-pwd, all else equal."""
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            line = f"a=ice-ufrag:{ufrag}"
        elif line.startswith("a=ice-pwd:"):
            line = f"a=ice-pwd:{pwd}"
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def ice_lines(sdp: str) -> set[str]:
    return {line for line in sdp.splitlines() if line.startswith(("a=ice-ufrag:", "a=ice-pwd:"))}


async def test_adopt_remote_ice_credentials_makes_ice_use_the_restarted_remote_credentials(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    client, server = pcs
    client.addTransceiver(AudioStreamTrack(), direction="sendonly")
    client.createDataChannel("_reliable")
    await negotiate(client, server)
    assert server.localDescription is not None and client.localDescription is not None
    first_answer = ice_lines(server.localDescription.sdp)

    # The client's ICE restart: a new offer with new credentials, answered on the live connection.
    ufrag, pwd = "restartUfrag", "restartPasswordOf22chars"
    offer = restarted((await client.createOffer()).sdp, ufrag, pwd)
    adopt_remote_ice_credentials(server, RTCIceParameters(usernameFragment=ufrag, password=pwd))
    await server.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await server.setLocalDescription(await server.createAnswer())

    connections = {t.receiver.transport.transport._connection for t in server.getTransceivers()}
    assert server.sctp is not None
    connections.add(server.sctp.transport.transport._connection)
    assert len(connections) == 1  # bundled: one ICE connection carries everything
    (connection,) = connections
    # what aioice puts in (and expects of) every check from now on
    assert (connection.remote_username, connection.remote_password) == (ufrag, pwd), CHANGED
    # our side keeps its credentials, so the transport (and DTLS on it) goes on
    assert ice_lines(server.localDescription.sdp) == first_answer


async def test_without_adopting_aiortc_ignores_a_remote_ice_restart(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    """Why adopt_remote_ice_credentials exists: aiortc reads remote credentials only once."""
    client, server = pcs
    client.createDataChannel("_reliable")
    await negotiate(client, server)
    await asyncio.sleep(0)  # aiortc starts the ICE transport (and takes the credentials) in a task
    offer = restarted((await client.createOffer()).sdp, "restartUfrag", "restartPasswordOf22chars")
    await server.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    assert server.sctp is not None
    connection = server.sctp.transport.transport._connection
    if connection.remote_username == "restartUfrag":
        pytest.fail("aiortc now takes a remote ICE restart itself: adopt_remote_ice_credentials may be unneeded")


def test_adopt_remote_ice_credentials_refuses_a_transport_without_a_connection() -> None:
    class NoIce:
        pass

    class FakeDtls:
        transport = NoIce()

    class FakeSctp:
        transport = FakeDtls()

    class FakePc:
        sctp = FakeSctp()

        def getTransceivers(self) -> list[object]:  # noqa: N802 - aiortc's name
            return []

    with pytest.raises(RuntimeError, match="_connection"):
        adopt_remote_ice_credentials(FakePc(), RTCIceParameters(usernameFragment="u", password="p"))  # type: ignore[arg-type]

# ---- encoded forwarding: real RTP between two PeerConnections ----------------------------------------------


async def connected_pair(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection], *tracks: MediaStreamTrack
) -> list[RTCRtpTransceiver]:
    """The offerer sends ``tracks``; returns the answerer's transceivers once their receivers receive.

    aiortc reports "connected" when DTLS is up and only then starts the receivers
    (``RTCPeerConnection.__connect``): until then their transport routes nothing to them."""
    offerer, answerer = pcs
    for track in tracks:
        offerer.addTransceiver(track, direction="sendonly")
    await negotiate(offerer, answerer)
    await wait_for(lambda: offerer.connectionState == "connected", what="PeerConnections connected")
    transceivers = answerer.getTransceivers()
    await wait_for(lambda: all(map(_receiving, transceivers)), what="the answerer's receivers started")
    return transceivers


def _receiving(transceiver: RTCRtpTransceiver) -> bool:
    router = transceiver.receiver.transport._rtp_router
    return transceiver.mid is not None and router.mid_table.get(transceiver.mid) is transceiver.receiver


@pytest.mark.media
async def test_deliver_encoded_hands_on_encoded_frames_instead_of_decoding(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    offerer, answerer = pcs
    received: dict[str, list[tuple[EncodedPacket, bool]]] = {"audio": [], "video": []}
    decoded: list[object] = []

    @answerer.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in answerer.getTransceivers() if t.receiver.track is track)
        deliver_encoded(receiver, lambda packet, key: received[track.kind].append((packet, key)))

        async def read() -> None:  # the decoded track: it must get nothing
            while True:
                decoded.append(await track.recv())

        asyncio.get_running_loop().create_task(read())

    await connected_pair(pcs, AudioStreamTrack(), VideoStreamTrack())
    await wait_for(lambda: len(received["audio"]) > 10 and len(received["video"]) > 10, what="encoded frames")
    assert not decoded, CHANGED
    first_video, video_key = received["video"][0]
    assert video_key and is_keyframe("video/VP8", bytes(first_video)), CHANGED  # VP8 starts with a keyframe
    assert not any(key for _, key in received["video"][1:5]), CHANGED
    assert str(first_video.time_base) == "1/90000" and str(received["audio"][0][0].time_base) == "1/48000", CHANGED
    pts = [p.pts or 0 for p, _ in received["audio"][:5]]
    assert all(b - a == 960 for a, b in itertools.pairwise(pts)), CHANGED  # 20 ms Opus frames at 48 kHz
    # The decoder thread still ends the track when the receiver stops.
    await offerer.close()
    await answerer.close()


@pytest.mark.media
async def test_audio_level_and_keyframe_requests(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, _ = pcs
    levels: list[int] = []
    transceivers = await connected_pair(pcs, AudioStreamTrack(), VideoStreamTrack())
    audio, video = (next(t for t in transceivers if t.kind == kind) for kind in ("audio", "video"))

    def note_level(packet: RtpPacket) -> bool:
        if packet.extensions.audio_level is not None:
            levels.append(packet.extensions.audio_level[1])
        return False  # counted, not reassembled

    on_rtp_packet(audio.receiver, note_level)
    asked: list[bool] = []
    on_keyframe_request(transceiver_of(offerer, "video").sender, lambda: asked.append(True))
    await wait_for(lambda: len(levels) > 5, what="audio levels from the header extension")
    assert set(levels) == {127}, CHANGED  # aiortc's AudioStreamTrack sends silence: -127 dBov
    # Packets only counted still reach the receiver's statistics (what its RTCP reports carry).
    stats = await audio.receiver.getStats()
    inbound = next(s for s in stats.values() if s.type == "inbound-rtp")
    assert inbound.packetsReceived >= len(levels) - 1, CHANGED
    pli = request_keyframe(video.receiver)
    assert pli is not None, CHANGED
    await pli
    await wait_for(lambda: bool(asked), what="the PLI reaching the sender's keyframe hook")


@pytest.mark.media
async def test_receive_directly_takes_an_ssrcs_packets_off_the_transport_while_wanted(
    pcs: tuple[RTCPeerConnection, RTCPeerConnection],
) -> None:
    (transceiver,) = await connected_pair(pcs, AudioStreamTrack())
    receiver = transceiver.receiver
    through_aiortc: list[RtpPacket] = []
    direct: list[RtpPacket] = []
    wanted = [True]

    def first(packet: RtpPacket) -> bool:
        through_aiortc.append(packet)
        if len(through_aiortc) == 1:
            receive_directly(receiver, packet.ssrc, lambda: wanted[0], parsed(receiver, direct.append))
        return False

    on_rtp_packet(receiver, first)
    await wait_for(lambda: len(direct) > 10, what="packets handed over straight from the transport")
    assert len(through_aiortc) <= 2, CHANGED  # after the first (maybe one in flight), none went aiortc's way
    sequence = [p.sequence_number for p in direct]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(sequence))  # unprotected and parsed, in order
    assert direct[0].extensions.audio_level is not None, CHANGED  # header extensions parsed as aiortc does
    stats = await receiver.getStats()
    inbound = next(s for s in stats.values() if s.type == "inbound-rtp")
    assert inbound.packetsReceived >= len(direct), CHANGED  # still in what its RTCP reports say
    wanted[0] = False  # e.g. a recorder attached: aiortc's path again, with the same SRTP session
    taken = len(through_aiortc)
    await wait_for(lambda: len(through_aiortc) > taken + 5, what="packets through aiortc again")


class SilentTrack(MediaStreamTrack):
    """A track that never yields a frame: its sender's own RTP loop stays idle, as for forwarded audio."""

    kind = "audio"

    async def recv(self) -> av.AudioFrame:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def arrivals(answerer: RTCPeerConnection, *, reassemble: bool) -> list[RtpPacket]:
    """The RTP packets the answerer's receivers get from now on, as they arrive (reassembled into
    frames as usual, or only counted)."""
    arrived: list[RtpPacket] = []

    @answerer.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in answerer.getTransceivers() if t.receiver.track is track)

        def keep(packet: RtpPacket) -> bool:
            arrived.append(packet)
            return reassemble

        on_rtp_packet(receiver, keep)

    return arrived


@pytest.mark.media
async def test_rtp_writer_sends_the_publishers_packets_as_the_sender(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, answerer = pcs
    arrived = arrivals(answerer, reassemble=True)

    sending = offerer.addTransceiver(SilentTrack(), direction="sendonly")
    writer = RtpWriter(sending)
    publishers = [RtpPacket(payload_type=111, sequence_number=65534 + i, timestamp=4294966336 + 960 * i, ssrc=1234,
                            payload=bytes([i]) * 40, marker=int(i == 0)) for i in range(4)]
    writer.write(publishers[0], ntp_now())  # before negotiation: dropped, nothing raised
    assert writer.packets == 0
    await negotiate(offerer, answerer)
    await wait_for(lambda: offerer.connectionState == "connected", what="PeerConnections connected")
    del publishers[2]  # a packet the publisher lost: the gap is forwarded as a gap
    for packet in publishers:
        writer.write(packet, ntp_now())
    await wait_for(lambda: len(arrived) == 3, what="the written packets")
    assert writer.packets == 3
    assert {p.ssrc for p in arrived} == {sending.sender._ssrc}, CHANGED
    assert {p.payload_type for p in arrived} == {sending._codecs[0].payloadType}
    assert [p.payload for p in arrived] == [p.payload for p in publishers]
    assert [p.marker for p in arrived] == [1, 0, 0]
    seqs = [p.sequence_number for p in arrived]
    assert [(b - seqs[0]) % 65536 for b in seqs] == [0, 1, 3]
    stamps = [p.timestamp for p in arrived]
    assert [(b - stamps[0]) % 2**32 for b in stamps] == [0, 960, 2880]
    assert {p.extensions.mid for p in arrived} == {sending.mid}, CHANGED  # the subscriber's own mid
    stats = await sending.sender.getStats()
    outbound = next(s for s in stats.values() if s.type == "outbound-rtp")
    assert outbound.packetsSent == 3 and outbound.bytesSent == 120, CHANGED  # what its RTCP sender reports say

    class Broken:
        def protect(self, data: bytes) -> bytes:
            raise pylibsrtp.Error("the subscriber's SRTP session is gone")

    # A subscriber whose transport broke: that packet is lost, nothing raised.
    dtls = sending.sender.transport
    working, dtls._tx_srtp = dtls._tx_srtp, Broken()  # type: ignore[assignment]
    try:
        writer.write(publishers[0], ntp_now())
    finally:
        dtls._tx_srtp = working  # the close below sends RTCP BYEs with it
    assert writer.failures == 1 and writer.packets == 3
    await offerer.close()
    writer.write(publishers[0], ntp_now())  # a closed subscriber: dropped, nothing raised
    assert writer.failures == 1 and writer.packets == 3


async def _remote_outbound(pc: RTCPeerConnection) -> dict[int, int]:
    """packetsSent of each SSRC as the receivers of ``pc`` last heard it in a sender report."""
    found: dict[int, int] = {}
    for transceiver in pc.getTransceivers():
        for stat in (await transceiver.receiver.getStats()).values():
            if stat.type == "remote-outbound-rtp":
                found[stat.ssrc] = stat.packetsSent
    return found


@pytest.mark.media
async def test_sender_reports_go_together_and_aiortc_sends_none_itself(
        pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, answerer = pcs
    sending = [offerer.addTransceiver(SilentTrack(), direction="sendonly") for _ in range(3)]
    for transceiver in sending[:2]:
        report_senders_together(transceiver.sender)
    said: list[AnyRtcpPacket] = []
    first = sending[0].sender
    own_send_rtcp = first._send_rtcp

    async def send_rtcp(packets: list[AnyRtcpPacket]) -> None:
        said.extend(packets)
        await own_send_rtcp(packets)

    first._send_rtcp = send_rtcp  # type: ignore[method-assign]
    writers = [RtpWriter(t) for t in sending]
    await negotiate(offerer, answerer)
    await wait_for(lambda: offerer.connectionState == "connected", what="PeerConnections connected")
    for count, writer in zip((3, 5, 2), writers, strict=True):
        for i in range(count):
            writer.write(RtpPacket(payload_type=111, sequence_number=i, timestamp=960 * i, ssrc=1, payload=b"x" * 40), ntp_now())
    ssrcs = [t.sender._ssrc for t in sending]
    # aiortc reports the third sender within 0.5-1.5 s, and neither of the two taken.
    await asyncio.sleep(2.5)
    assert await _remote_outbound(answerer) == {ssrcs[2]: 2}, CHANGED
    datagrams: list[bytes] = []
    transport = first.transport
    own_send_rtp = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        datagrams.append(data)
        await own_send_rtp(data)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    assert await send_sender_reports([t.sender for t in sending]) == 2  # the third is aiortc's to report
    assert len(datagrams) == 1  # one compound packet for the two
    for _ in range(50):  # the answerer handles the datagram on its own tasks
        found = await _remote_outbound(answerer)
        if found.get(ssrcs[0]) == 3:
            break
        await asyncio.sleep(0.1)
    assert found == {ssrcs[0]: 3, ssrcs[1]: 5, ssrcs[2]: 2}
    await offerer.close()
    assert [p.sources for p in said if isinstance(p, RtcpByePacket)] == [[ssrcs[0]]]  # BYE at stop, as aiortc says it


@pytest.mark.media
async def test_a_sender_whose_bye_fails_still_stops(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, answerer = pcs
    sender = offerer.addTransceiver(SilentTrack(), direction="sendonly").sender
    report_senders_together(sender)

    async def broken(packets: list[AnyRtcpPacket]) -> None:
        raise pylibsrtp.Error("the subscriber's SRTP session is gone")

    sender._send_rtcp = broken  # type: ignore[method-assign]
    await negotiate(offerer, answerer)
    await wait_for(lambda: offerer.connectionState == "connected", what="PeerConnections connected")
    closing = asyncio.ensure_future(offerer.close())  # stop() waits for the RTCP loop to have exited
    done, _ = await asyncio.wait({closing}, timeout=5)
    if not done:  # unblock it, so that this fails instead of hanging
        sender._RTCRtpSender__rtcp_exited.set()  # type: ignore[attr-defined]
        await closing
    assert done, "the sender's stop() waited for an RTCP loop that never exited"
    assert offerer.connectionState == "closed"


async def test_report_senders_together_refuses_a_started_sender_or_one_without_the_events(
        pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, _ = pcs
    sender = offerer.addTransceiver(SilentTrack(), direction="sendonly").sender
    sender._RTCRtpSender__started = True  # type: ignore[attr-defined]
    try:
        with pytest.raises(RuntimeError, match="before it starts"):
            report_senders_together(sender)
    finally:
        sender._RTCRtpSender__started = False  # type: ignore[attr-defined]  # else close() waits for its loops
    bare = object.__new__(RTCRtpSender)
    with pytest.raises(RuntimeError, match="__rtcp_started"):
        report_senders_together(bare)
    assert await send_sender_reports([bare]) == 0  # never taken: not ours to report


async def _cancel_mid_close(pc: RTCPeerConnection, close: Coroutine[Any, Any, Any]) -> None:
    """Start ``close`` and cancel it once aiortc has marked ``pc`` closing, before it finished."""
    task = asyncio.ensure_future(close)
    for _ in range(100):
        if pc._RTCPeerConnection__isClosed is not None:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0)
    assert not pc._RTCPeerConnection__isClosed.done(), CHANGED  # type: ignore[attr-defined]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.media
async def test_a_close_cancelled_midway_leaves_aiortc_waiting_forever_but_not_close_peer_connection(
        pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, answerer = pcs
    for pc in pcs:
        pc.addTransceiver(SilentTrack(), direction="sendrecv")
    await negotiate(offerer, answerer)
    await wait_for(lambda: offerer.connectionState == "connected", what="PeerConnections connected")
    # aiortc alone: a later close() waits on the cancelled one's mark forever.
    await _cancel_mid_close(answerer, answerer.close())
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(answerer.close(), 2)
    answerer._RTCPeerConnection__isClosed = None  # type: ignore[attr-defined]  # so the fixture can close it
    await answerer.close()
    # Through close_peer_connection the cancelled caller does not stop the close.
    await _cancel_mid_close(offerer, close_peer_connection(offerer))
    assert await close_peer_connection(offerer, timeout=10)
    assert offerer.connectionState == "closed"


@pytest.mark.media
async def test_a_stream_enters_the_receivers_statistics_only_with_a_packet(
        pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    """A publisher socket routed to a native thread before its first packet: aiortc's receiver
    reports (its RTCP loop) must never meet a stream without one, or that loop dies and the
    receiver, then its PeerConnection, can never be stopped."""
    offerer, answerer = pcs
    offerer.addTransceiver(SilentTrack(), direction="sendonly")
    await negotiate(offerer, answerer)
    await wait_for(lambda: answerer.connectionState == "connected", what="PeerConnections connected")
    receiver = transceiver_of(answerer, "audio").receiver
    streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
    payload_type = next(iter(receiver._RTCRtpReceiver__codecs))  # type: ignore[attr-defined]
    found = statistics_state(receiver, 1234, payload_type)
    assert found is not None
    clock_rate, state = found
    assert clock_rate == 48000.0 and state == (0, -1, -1, 0, 0, -1, -1)
    assert 1234 not in streams, CHANGED
    restore_statistics(receiver, 1234, state, clock_rate)  # the thread counted nothing yet
    assert 1234 not in streams
    restore_statistics(receiver, 1234, (10, 100, 109, 0, 16, 5000, 9600), clock_rate)
    stream = streams[1234]
    assert (stream.packets_received, stream.max_seq, stream.packets_lost) == (10, 109, 0), CHANGED  # as its RR reads it
    assert statistics_state(receiver, 1234, payload_type) == (48000.0, (10, 100, 109, 0, 16, 5000, 9600))


@pytest.mark.media
async def test_a_peer_connection_whose_rtcp_loop_died_still_closes(
        pcs: tuple[RTCPeerConnection, RTCPeerConnection], caplog: pytest.LogCaptureFixture) -> None:
    """A receiver's RTCP loop killed by an exception (here an empty statistics stream, as the dev
    server once made) leaves aiortc's close() waiting forever; close_peer_connection logs it and closes."""
    offerer, answerer = pcs
    for pc in pcs:
        pc.addTransceiver(SilentTrack(), direction="sendrecv")
    await negotiate(offerer, answerer)
    await wait_for(lambda: answerer.connectionState == "connected", what="PeerConnections connected")
    for pc in pcs:
        receiver = transceiver_of(pc, "audio").receiver
        receiver._RTCRtpReceiver__remote_streams[1234] = aiortc.rtcrtpreceiver.StreamStatistics(48000)  # type: ignore[attr-defined]
    tasks = [transceiver_of(pc, "audio").receiver._RTCRtpReceiver__rtcp_task for pc in pcs]  # type: ignore[attr-defined]
    await wait_for(lambda: all(task.done() for task in tasks), timeout=5, what="the RTCP loops died")
    assert all(isinstance(task.exception(), TypeError) for task in tasks), CHANGED
    # aiortc alone: the receiver's stop() waits for an "exited" event the dead loop never set.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(answerer.close()), 2)
    assert await close_peer_connection(offerer, timeout=10)
    assert offerer.connectionState == "closed"
    assert "an RTCP loop had died (TypeError" in caplog.text
    assert release_dead_rtcp_loops(answerer) == 1  # and the close aiortc began goes on to its end
    await wait_for(lambda: answerer.connectionState == "closed", timeout=10, what="the first close finished")


def remb(bitrate: int, ssrcs: list[int]) -> RtcpPsfbPacket:
    return RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs))


async def test_on_remb_gets_the_estimates_naming_the_sender(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, _ = pcs
    sender = offerer.addTransceiver(VideoStreamTrack(), direction="sendonly").sender
    await offerer.setLocalDescription(await offerer.createOffer())
    ssrc = int(next(line for line in offerer.localDescription.sdp.splitlines() if line.startswith("a=ssrc:"))[7:].split()[0])
    estimates: list[int] = []
    on_remb(sender, estimates.append)
    asked: list[bool] = []
    on_keyframe_request(sender, lambda: asked.append(True))
    await handle_rtcp(sender, remb(750_000, [ssrc + 1, ssrc]))
    await handle_rtcp(sender, remb(90_000, [ssrc + 1]))  # another stream's estimate
    await handle_rtcp(sender, RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"ABCD"))  # not a REMB
    await handle_rtcp(sender, RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc))
    assert estimates == [750_000], CHANGED
    assert asked == [True], CHANGED  # other feedback still reaches aiortc's own handling


@pytest.mark.media
async def test_on_remb_hears_a_real_receivers_estimate(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    offerer, _ = pcs
    estimates: list[int] = []
    on_remb(offerer.addTransceiver(VideoStreamTrack(), direction="sendonly").sender, estimates.append)
    await connected_pair(pcs)
    # aiortc's receiver sends REMBs from the abs-send-time of what it receives, as libwebrtc's does.
    await wait_for(lambda: bool(estimates), what="a REMB from the receiving PeerConnection", timeout=15)
    assert all(bitrate > 0 for bitrate in estimates), CHANGED


def test_on_remb_refuses_a_sender_without_an_ssrc() -> None:
    class NotASender:
        async def _handle_rtcp_packet(self, packet: object) -> None:
            pass

    with pytest.raises(RuntimeError, match="_ssrc"):
        on_remb(NotASender(), lambda bitrate: None)  # type: ignore[arg-type]


def test_request_keyframe_is_none_before_any_packet() -> None:
    class Silent:
        def getSynchronizationSources(self) -> list[object]:  # noqa: N802 - aiortc's name
            return []

    assert request_keyframe(Silent()) is None  # type: ignore[arg-type]


def test_deliver_encoded_refuses_a_receiver_without_the_queue() -> None:
    class NotAReceiver:
        pass

    with pytest.raises(RuntimeError, match="decoder_queue"):
        deliver_encoded(NotAReceiver(), lambda packet, key: None)  # type: ignore[arg-type]


def test_is_keyframe() -> None:
    assert is_keyframe("video/VP8", bytes([0x10, 0x02, 0x00])) and not is_keyframe("video/VP8", bytes([0x31, 0, 0]))
    idr = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps\x00\x00\x00\x01\x65slice"
    assert is_keyframe("video/H264", idr) and not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41slice")
    assert is_keyframe("audio/opus", b"\x78")


# ---- simulcast: layers told apart on one receiver -----------------------------------------------------------

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"


def vp8_packet(ssrc: int, seq: int, timestamp: int, key: bool, rid: str | None = None, mid: str | None = None) -> RtpPacket:
    # One-packet VP8 frame: payload descriptor with S=1, then a frame tag whose bit 0 says key (0) or delta (1).
    packet = RtpPacket(payload_type=0, sequence_number=seq, timestamp=timestamp, ssrc=ssrc, marker=1,
                       payload=bytes([0x10, 0x00 if key else 0x01]) + bytes(20))
    packet.extensions.rtp_stream_id = rid
    packet.extensions.mid = mid
    return packet


@pytest.mark.media
async def test_receive_layers_reassembles_each_layer_apart(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    (video,) = await connected_pair(pcs, VideoStreamTrack())  # aiortc's own packets: of no layer, dropped
    receiver = video.receiver
    frames: list[tuple[str, int, bytes, bool]] = []
    receive_layers(receiver, {RID_URI: 10}, lambda rid, ssrc, packet, key: frames.append((rid, ssrc, bytes(packet), key)))

    # The rid header extension is parsed by the transport from now on.
    ours = HeaderExtensionsMap()
    ours.configure(RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=10, uri=RID_URI)]))
    wire = vp8_packet(1, 1, 0, True, rid="q").serialize(ours)
    assert RtpPacket.parse(wire, receiver.transport._rtp_header_extensions_map).extensions.rtp_stream_id == "q", CHANGED

    pt = next(c.payloadType for c in video._codecs if c.mimeType == "video/VP8")
    assert pt is not None
    sent = [  # two layers interleaved; libwebrtc names the layer only in its first packets
        vp8_packet(1111, 10, 0, True, rid="q"), vp8_packet(2222, 500, 9000, True, rid="f"),
        vp8_packet(1111, 11, 3000, False), vp8_packet(2222, 501, 12000, False),
        vp8_packet(1111, 12, 6000, False), vp8_packet(2222, 502, 15000, False),
    ]
    for packet in sent:
        packet.payload_type = pt
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    ours_only = [(rid, ssrc, key) for rid, ssrc, _, key in frames if ssrc in (1111, 2222)]
    assert ours_only == [("q", 1111, True), ("f", 2222, True), ("q", 1111, False), ("f", 2222, False)], CHANGED
    assert all(rid for rid, *_ in frames), "a packet of no known layer became a frame"
    await request_keyframe_of(receiver, 1111)  # a PLI for one layer's SSRC: sent without error


@pytest.mark.media
async def test_unknown_ssrcs_are_routed_by_mid(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    camera, screen = await connected_pair(pcs, VideoStreamTrack(), VideoStreamTrack())
    router = camera.receiver.transport._rtp_router
    pt = next(c.payloadType for c in camera._codecs if c.mimeType == "video/VP8")
    assert pt is not None
    stranger = vp8_packet(4242, 1, 0, True, mid=screen.mid)
    stranger.payload_type = pt
    assert router.route_rtp(stranger) is None, CHANGED  # aiortc alone: two receivers share the type, no SSRC known
    receive_layers(camera.receiver, {RID_URI: 10}, lambda *frame: None)
    assert router.route_rtp(stranger) is screen.receiver, CHANGED
    stranger.extensions.mid = camera.mid
    stranger.ssrc = 4343
    assert router.route_rtp(stranger) is camera.receiver, CHANGED


def test_receive_layers_refuses_a_receiver_without_its_state() -> None:
    class NotAReceiver:
        pass

    with pytest.raises(RuntimeError, match="jitter_buffer"):
        receive_layers(NotAReceiver(), {}, lambda *frame: None)  # type: ignore[arg-type]


# ---- VP9 and AV1 passthrough ------------------------------------------------------------------------------


async def test_passthrough_codecs_are_negotiated_and_sent_as_they_came(pcs: tuple[RTCPeerConnection, RTCPeerConnection]) -> None:
    register_passthrough_codecs()
    register_passthrough_codecs()  # idempotent
    mimes = [c.mimeType for c in RTCRtpSender.getCapabilities("video").codecs]
    assert mimes.count("video/VP9") == 1 and mimes.count("video/AV1") == 1, CHANGED
    offerer, answerer = pcs
    transceiver = offerer.addTransceiver("video", direction="sendonly")
    transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP9"])
    await negotiate(offerer, answerer)
    assert negotiated_mime_type(transceiver_of(answerer, "video")) == "video/VP9", CHANGED

    vp9 = RTCRtpCodecParameters(mimeType="video/VP9", clockRate=90000, payloadType=103)
    payloads = [bytes([0x88, 1, 2]), bytes([0x84, 3])]
    kept = b"".join(aiortc.rtcrtpreceiver.depayload(vp9, p) for p in payloads)  # type: ignore[attr-defined]
    packet = av.Packet(kept)
    packet.pts, packet.time_base = 3000, Fraction(1, 90000)
    encoder = aiortc.rtcrtpsender.get_encoder(vp9)  # type: ignore[attr-defined]
    assert encoder.pack(packet) == (payloads, 3000), CHANGED
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    assert aiortc.rtcrtpreceiver.depayload(vp8, bytes([0x10, 0xAB])) == bytes([0xAB]), CHANGED  # type: ignore[attr-defined]


def test_spatial_layers_and_keyframes_are_read_from_the_payloads() -> None:
    # VP9: I (15-bit picture id), L: layer indices byte TID|U|SID|D; P clear on a key picture.
    assert spatial_layer("video/VP9", bytes([0xA8, 0x80, 0x01, (2 << 5) | (1 << 1), 0]), 0) == 1
    assert spatial_layer("video/VP9", bytes([0xA8, 0x05, (0 << 5) | (2 << 1), 0]), 0) == 2
    assert spatial_layer("video/VP9", bytes([0x88, 0x05]), 2) == 0  # no layer indices: single layer
    # AV1: aggregation header Z|Y|W|N, then the OBU header (extension flag) and extension (tid, sid).
    w1 = bytes([0x10, (6 << 3) | 0x04, (1 << 5) | (2 << 3)])
    assert spatial_layer("video/AV1", w1, 0) == 2
    w0 = bytes([0x00, 0x02, (6 << 3) | 0x04, (0 << 3)])  # W=0: a leb128 length first
    assert spatial_layer("video/AV1", w0, 2) == 0
    assert spatial_layer("video/AV1", bytes([0x90, 0xFF]), 1) == 1  # Z: continues the previous OBU
    assert passthrough_keyframe("video/VP9", join_payloads([bytes([0x88, 0])]))
    assert not passthrough_keyframe("video/VP9", join_payloads([bytes([0xC8, 0])]))
    assert passthrough_keyframe("video/AV1", join_payloads([bytes([0x18, 0])]))
    assert not passthrough_keyframe("video/AV1", join_payloads([bytes([0x10, 0])]))
