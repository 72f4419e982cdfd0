"""The private aiortc attributes of compat.devserver.aiortc_internals, checked on real PeerConnections.

A failure here means the installed aiortc changed an internal the dev server depends on: update
compat/devserver/aiortc_internals.py (and its version pin reasoning) before anything else.
No media flows: two PeerConnections only exchange an offer and an answer in-process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from compat.devserver.aiortc_internals import negotiated_mime_type, set_msid

CHANGED = f"aiortc {aiortc.__version__} changed an internal the dev server relies on (see compat/devserver/aiortc_internals.py)"


@pytest.fixture
async def pcs() -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection]]:
    config = RTCConfiguration(iceServers=[])  # no STUN: nothing leaves the machine
    offerer, answerer = RTCPeerConnection(config), RTCPeerConnection(config)
    try:
        yield offerer, answerer
    finally:
        await offerer.close()
        await answerer.close()


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
