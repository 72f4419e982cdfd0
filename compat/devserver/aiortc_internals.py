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

Also relied on, though public behaviour rather than a private name: a track's ``recv()`` may return
an encoded ``av.Packet``, which RTCRtpSender packetizes without encoding again (aiortc's own
``MediaPlayer(decode=False)`` does this); compat.devserver.media.OpusOnce uses it to encode each
published audio track once for all its subscribers.
"""

from __future__ import annotations

import aioice
from aiortc import RTCIceParameters, RTCIceTransport, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver

__all__ = ["adopt_remote_ice_credentials", "negotiated_mime_type", "set_msid"]


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
