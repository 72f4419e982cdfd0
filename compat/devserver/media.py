"""Media relay: one forwarder per published track, fanned out to subscribers, with audio levels.

Two relay modes (DevServer(relay=...)):

- "forward" (default): the publisher's encoded frames (VP8, H.264, VP9, AV1) go to every
  subscriber as they are; each subscriber's RTCRtpSender only re-packetizes them (its own SSRC,
  sequence numbers and timestamps). Audio goes packet by packet as it arrives, written straight
  to each subscriber's transport without the sender's per-packet task: by the native fan-out
  (compat.devserver.fanout) where it was built, else in Python (RtpWriter). Nothing is
  decoded on the way, so end-to-end-encrypted frames pass intact. Audio levels come from the RTP
  audio-level header extension (RFC 6464). Keyframes are requested from the publisher when a
  subscriber joins, asks for one (PLI/FIR), or lost frames from its queue. Recorders get frames
  decoded once per track, only while one is attached.
- "decode": aiortc decodes what a publisher sends, the forwarder reads the decoded frames once,
  measures audio levels from the samples, and each subscriber's sender encodes again (audio is
  encoded once for all, see OpusOnce).

Queues are bounded so a slow subscriber drops its own frames instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from fractions import Fraction
from typing import Any, cast

import av
import numpy as np
from aiortc import RTCRtpReceiver
from aiortc.codecs import get_decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket
from av.video.codeccontext import VideoCodecContext

from compat.devserver.aiortc_internals import (
    VIDEO_TIME_BASE,
    CountedPacket,
    DirectReceive,
    EncodedPacket,
    RtpWriter,
    audio_level_id,
    deliver_encoded,
    is_passthrough,
    join_payloads,
    ntp_now,
    on_rtp_packet,
    parsed,
    receive_directly,
    receive_layers,
    request_keyframe,
    request_keyframe_of,
    spatial_layer,
    split_payloads,
)
from compat.devserver.depacketize import av1_temporal_unit, vp9_layer_frames
from compat.devserver.dynacast import HIGH, OFF, Dynacast
from compat.devserver.fanout import SYNC_EVERY, AudioFanout, PublisherSocket
from compat.devserver.fanout import available as native_fanout_available

log = logging.getLogger(__name__)

FrameSink = Callable[[Any], None]
LEVEL_EVERY_N_FRAMES = 3  # speaker levels need ~300 ms resolution, not every 20 ms frame
KEYFRAME_REQUEST_INTERVAL = 0.3  # at most one PLI per published track per 300 ms, as LiveKit throttles
SINK_DECODE_QUEUE = 30  # encoded frames waiting to be decoded for recorders
LEVEL_RMS = tuple(10.0 ** (-level / 20.0) for level in range(128))  # RFC 6464 level (-dBov) → RMS
LAYER_STALE = 1.0  # s without frames after which a simulcast layer counts as paused (libwebrtc stops layers it cannot afford)
VIDEO_CLOCK = 90000
# LiveKit's simulcast RIDs and the quality each carries (livekit.VideoQuality: LOW 0, MEDIUM 1, HIGH 2).
RID_QUALITY = {"q": 0, "h": 1, "f": 2}
# Switching by a subscriber's bandwidth estimate (REMB), with LiveKit's thresholds (see RelayTrack.on_estimate).
RATE_WINDOW = 1.0  # s over which each layer's bitrate is measured
DOWN_BELOW = 0.95  # down when the estimate is under 95 % of the layer's bitrate (remotebwe ExpectedUsageThreshold)
UP_HEADROOM = 1.2  # up only to a layer the estimate covers with 20 % to spare (streamallocator ProbeOveragePct)
UP_AFTER = 3.0  # s the estimate must allow a higher layer first (LiveKit's probe interval; we do not probe)


OPUS_RATE = 48000
OPUS_TIME_BASE = Fraction(1, OPUS_RATE)


class OpusOnce:
    """Encodes a published audio track once; every subscriber's sender only packetizes the result.

    aiortc would otherwise encode per subscriber, with a thread pool hop and a pure-Python level
    loop per frame each time, which caps relaying at a few hundred frames per second.
    """

    def __init__(self) -> None:
        codec = av.CodecContext.create("libopus", "w")
        codec.bit_rate = 64000
        codec.format = "s16"
        codec.layout = "stereo"
        codec.sample_rate = OPUS_RATE
        codec.time_base = OPUS_TIME_BASE
        codec.options = {"application": "voip"}
        self._codec = codec
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=OPUS_RATE, frame_size=960)

    def encode(self, frame: Any) -> list[Any]:
        packets: list[Any] = []
        for chunk in self._resampler.resample(frame):
            packets.extend(self._codec.encode(chunk))
        return packets


class RelayTrack(MediaStreamTrack):
    """A subscriber's copy of a published track (what its RTCRtpSender encodes)."""

    def __init__(self, kind: str, forwarder: TrackForwarder, maxsize: int) -> None:
        super().__init__()
        self.kind = kind
        self._forwarder = forwarder
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = 0
        # An encoded video stream must start at a keyframe: a delta frame refers to what came before.
        self._awaiting_keyframe = forwarder.encoded and kind == "video"
        # Simulcast: the layer this subscriber wants (a VideoQuality), the one it gets, and a shift
        # keeping its timestamps increasing across layer switches.
        self.target_quality = max(RID_QUALITY.values())
        self.layer: str | None = None
        self.enabled = True
        # The best quality the subscriber's bandwidth estimate allows, and since when a higher one fits.
        self.bandwidth_quality = self.target_quality
        self._higher_fits_since: float | None = None
        self._last_estimate = 0
        self._pts_shift = 0
        self._last_pts = -1
        self.spatial: int | None = None  # SVC: the highest spatial layer this subscriber gets
        self.writer: RtpWriter | None = None  # forwarded audio: packets go straight to the transport

    def put_packet(self, packet: RtpPacket, ntp: int) -> None:
        """Forwarded audio: one of the publisher's RTP packets, sent to this subscriber at once."""
        writer = self.writer
        if writer is not None and self.enabled:
            writer.write(packet, ntp)

    def put(self, frame: Any) -> None:
        queue = self._queue
        if queue.full():
            queue.get_nowait()  # keep the newest: latency matters more than completeness here
            self.dropped += 1
        queue.put_nowait(frame)

    def put_encoded(self, packet: EncodedPacket, keyframe: bool, pts: int | None = None) -> None:
        """An encoded video frame (forwarded audio goes packet by packet: put_packet)."""
        if not self.enabled:
            return
        if self._awaiting_keyframe:
            if not keyframe:
                # Ask again while waiting (throttled by the forwarder): a lost or ignored request must not
                # leave the subscriber without a picture, as livekit-server's DownTrack.keyFrameRequester
                # re-sends PLI until the downtrack locks on a keyframe.
                self._ask_for_keyframe()
                return
            self._awaiting_keyframe = False
        item: Any = packet if pts is None else (packet, pts)
        queue = self._queue
        if not queue.full():
            queue.put_nowait(item)
        else:
            # Dropping a video frame breaks every later delta frame: drop them all and restart at a keyframe.
            while not queue.empty():
                queue.get_nowait()
                self.dropped += 1
            if keyframe:
                queue.put_nowait(item)
            else:
                self.dropped += 1
                self._awaiting_keyframe = True
                self._ask_for_keyframe()

    def _ask_for_keyframe(self) -> None:
        if self.layer is None:
            self._forwarder.request_keyframe()
        else:
            self._forwarder.request_layer_keyframe(self.layer)

    def put_layer(self, rid: str, packet: EncodedPacket, keyframe: bool, pts: int) -> None:
        """A frame of one simulcast layer: forwarded if it is this subscriber's layer, or switches to it
        at a keyframe when it is the layer the subscriber should now get."""
        if not self.enabled:
            return
        forwarder = self._forwarder
        if rid != self.layer:
            best = forwarder.best_layer(self.quality)
            if rid != best:
                if self.layer is None or forwarder.layer_paused(self.layer):
                    forwarder.request_layer_keyframe(best)
                return
            if not keyframe:
                forwarder.request_layer_keyframe(best)
                return
            self.layer = rid
            self._awaiting_keyframe = False
            forwarder.wants_changed()  # a switch down ends holding the layer above
            if pts + self._pts_shift <= self._last_pts:
                self._pts_shift = self._last_pts + 1 - pts
        pts += self._pts_shift
        self._last_pts = pts
        self.put_encoded(packet, keyframe, pts)

    def put_svc(self, packet: EncodedPacket, keyframe: bool) -> None:
        """A frame of an SVC stream (VP9/AV1): forwarded up to the spatial layer the subscriber
        wants; a change of layer waits for a keyframe (upper layers refer to lower ones)."""
        if not self.enabled:
            return
        forwarder = self._forwarder
        wanted = min(self.target_quality, forwarder.top_spatial_layer)
        if wanted != self.spatial:
            if keyframe:
                self.spatial = wanted
                forwarder.wants_changed()
            else:
                forwarder.request_keyframe()
        if self.spatial is None:
            return
        self.put_encoded(forwarder.up_to_layer(packet, self.spatial), keyframe)

    @property
    def quality(self) -> int:
        """The simulcast quality to send: what the subscriber wants, within what its bandwidth allows."""
        return min(self.target_quality, self.bandwidth_quality)

    @property
    def max_quality(self) -> int:
        """The best quality this subscriber may get (dynacast): the one it asked for, or the layer it
        still gets until it switches down to that; OFF while disabled. livekit-server's
        Forwarder.GetMaxSubscribedSpatial: max(max layer, current layer), invalid when muted."""
        if not self.enabled:
            return OFF
        current = self._forwarder.layer_quality.get(self.layer, -1) if self.layer is not None else self.spatial
        return min(max(self.target_quality, -1 if current is None else current), HIGH)

    def set_quality(self, quality: int) -> None:
        """The subscriber's wish (UpdateTrackSettings): the best layer at or below ``quality``."""
        self.target_quality = quality
        forwarder = self._forwarder
        forwarder.wants_changed()
        if forwarder.svc:
            if min(quality, forwarder.top_spatial_layer) != self.spatial:
                forwarder.request_keyframe()
            return
        self._ask_for_best_layer()

    def _ask_for_best_layer(self) -> None:
        """A keyframe of the layer this subscriber should get, if not its current one: it switches there."""
        best = self._forwarder.best_layer(self.quality)
        if best is not None and best != self.layer:
            self._forwarder.request_layer_keyframe(best)

    def on_estimate(self, bitrate: int) -> None:
        """The subscriber's REMB: the bandwidth (bps) it estimates it can receive.

        Mirrors LiveKit's RemoteBWE.congestionDetectionStateMachine and StreamAllocator: a falling
        estimate (LiveKit: a downward trend) under 95 % of what its layer sends drops it to the best
        layer that fits; a rising one never does (libwebrtc's estimate climbs slowly from the rate
        it receives). LiveKit goes back up only after a probe proves room for 120 % of the higher
        layer; without probing, the estimate must allow that for UP_AFTER seconds. A layer the
        subscriber did not ask for is never chosen.
        """
        forwarder = self._forwarder
        falling = bitrate < self._last_estimate
        self._last_estimate = bitrate
        current = forwarder.layer_bitrate.get(self.layer or "", 0.0)
        if current and bitrate < DOWN_BELOW * current:
            self._higher_fits_since = None
            fitting = forwarder.quality_within(bitrate)
            if falling and fitting is not None and fitting < self.bandwidth_quality:
                self.bandwidth_quality = fitting
                self._ask_for_best_layer()
            return
        self._maybe_go_up(forwarder.quality_within(bitrate / UP_HEADROOM))

    def _maybe_go_up(self, fitting: int | None) -> None:
        if fitting is None or fitting <= self.bandwidth_quality or self.bandwidth_quality >= self.target_quality:
            self._higher_fits_since = None
            return
        now = time.monotonic()
        if self._higher_fits_since is None:
            self._higher_fits_since = now
        elif now - self._higher_fits_since >= UP_AFTER:
            self.bandwidth_quality = fitting
            self._higher_fits_since = None
            self._ask_for_best_layer()

    def set_enabled(self, enabled: bool) -> None:
        """UpdateTrackSettings.disabled: a disabled subscription gets no frames; re-enabled, it restarts at a keyframe."""
        if enabled and not self.enabled and self.kind == "video" and self._forwarder.encoded:
            self._awaiting_keyframe = True
            self.layer = None
            self._forwarder.request_keyframe()
        self.enabled = enabled
        self._forwarder.subscribers_changed()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        if type(frame) is tuple:
            # An encoded frame shared with other subscribers: its pts is set for this one just
            # before the sender packs it (synchronously, with no other subscriber in between).
            frame, pts = frame
            frame.pts = pts
        return frame

    def stop(self) -> None:
        if self.readyState == "live":
            self._forwarder.remove(self)
        super().stop()
        # Wake a pending recv() so the sender task ends.
        if self._queue.empty():
            self._queue.put_nowait(None)


def layer_qualities(rids: Sequence[str]) -> dict[str, int]:
    """rid → VideoQuality of a publisher's simulcast layers (empty for a single layer).

    LiveKit clients name them q, h, f (low to high). Other names are ranked by their order in the
    offer's ``a=simulcast`` line, which libwebrtc writes from the highest layer down.
    """
    if len(rids) < 2:
        return {}
    if all(rid in RID_QUALITY for rid in rids):
        return {rid: RID_QUALITY[rid] for rid in rids}
    return {rid: len(rids) - 1 - index for index, rid in enumerate(rids)}


class PassthroughDecoder:
    """aiortc's decoder interface for VP9 and AV1, which aiortc forwards but cannot decode: a
    forwarded frame (the publisher's RTP payloads) is put back together as the codec's bitstream
    (compat.devserver.depacketize) and decoded by FFmpeg (vp9, libdav1d). Of an SVC picture only
    the top spatial layer decoded is given, as a LiveKit client shows it."""

    def __init__(self, mime_type: str) -> None:
        self._vp9 = mime_type.lower() == "video/vp9"
        self._codec = cast(VideoCodecContext, av.CodecContext.create("vp9" if self._vp9 else "libdav1d", "r"))
        self._codec.thread_count = 1  # each picture's frames out before the next: no frame threading

    def decode(self, encoded: JitterFrame) -> list[Any]:
        payloads = split_payloads(encoded.data)
        units = vp9_layer_frames(payloads) if self._vp9 else [av1_temporal_unit(payloads)]
        frames: list[Any] = []
        for unit in units:
            packet = av.Packet(unit)
            packet.pts = encoded.timestamp
            packet.time_base = VIDEO_TIME_BASE
            frames.extend(self._codec.decode(packet))
        return frames[-1:]


class SinkDecoder:
    """Decodes a forwarded track once, off the event loop, for the frame sinks (recorders)."""

    def __init__(self, mime_type: str, name: str, deliver: FrameSink) -> None:
        self._decoder: Any = (
            PassthroughDecoder(mime_type)
            if is_passthrough(mime_type)
            else get_decoder(RTCRtpCodecParameters(mimeType=mime_type, clockRate=0, payloadType=0))
        )
        self._name = name
        self._deliver = deliver
        # With the pts it had when queued: simulcast relays set a shared packet's pts for their subscriber.
        self._queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue(SINK_DECODE_QUEUE)
        self._awaiting_keyframe = mime_type.lower().startswith("video/")
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"decode {name} for recording")

    def feed(self, packet: EncodedPacket, keyframe: bool) -> bool:
        """Queue a frame; False when the decoder lost frames and needs a keyframe."""
        if self._awaiting_keyframe and not keyframe:
            return True
        self._awaiting_keyframe = False
        if self._queue.full():
            while not self._queue.empty():
                self._queue.get_nowait()
            self._awaiting_keyframe = not keyframe
            if not keyframe:
                return False
        self._queue.put_nowait((bytes(packet), int(packet.pts or 0)))
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data, pts = await self._queue.get()
            encoded = JitterFrame(data, pts)
            try:
                frames = await loop.run_in_executor(None, self._decoder.decode, encoded)
            except av.FFmpegError as exc:
                log.debug("%s: frame not decodable for recording: %s", self._name, exc)
                continue
            for frame in frames:
                self._deliver(frame)

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


class TrackForwarder:
    """Fans one published track out to subscribers and sinks.

    With ``receiver`` (relay mode "forward") it forwards the receiver's encoded frames; without
    (relay mode "decode") it reads the decoded frames of ``source``.
    """

    def __init__(
        self,
        source: MediaStreamTrack,
        name: str,
        *,
        receiver: RTCRtpReceiver | None = None,
        mime_type: str = "",
        rids: Sequence[str] = (),
        extension_ids: Mapping[str, int] | None = None,
        spatial_layers: int = 1,
        on_wanted_quality: Callable[[int], None] | None = None,
    ) -> None:
        self.source = source
        self.kind: str = source.kind
        self.name = name
        self.receiver = receiver
        self.mime_type = mime_type
        self._relays: set[RelayTrack] = set()
        self._sinks: list[FrameSink] = []
        # Snapshots iterated per frame; rebuilt only when subscribers come or go.
        self._relay_snapshot: tuple[RelayTrack, ...] = ()
        self._sink_snapshot: tuple[FrameSink, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self._sink_decoder: SinkDecoder | None = None
        self._background: set[asyncio.Task[None]] = set()  # PLIs in flight, decoders stopping
        self._last_keyframe_request = -KEYFRAME_REQUEST_INTERVAL
        self._keyframe_request_pending = False
        self.keyframe_requests = 0  # PLIs actually sent to the publisher
        self.level = 0.0  # peak RMS (0..1) over the last level window, audio only
        self.level_at = 0.0
        self.frames = 0
        self._window_peak = 0.0
        self._window_start = 0.0
        # Simulcast (forward mode, a publisher that sends layers): rid → quality, and per layer its
        # SSRC, when its last frame came, the shift putting its timestamps on one shared clock, and
        # when a keyframe was last asked of it.
        self.layer_quality: dict[str, int] = layer_qualities(rids) if receiver is not None else {}
        self._extension_ids = dict(extension_ids or {})
        self._layer_ssrc: dict[str, int] = {}
        self._layer_seen: dict[str, float] = {}
        self._layer_shift: dict[str, int] = {}
        self._layer_keyframe_asked: dict[str, float] = {}
        self._best_this_frame: dict[int, str | None] = {}  # best_layer's answers for the current frame
        self._sink_layer: str | None = None
        # Each layer's bitrate (bps) over the last RATE_WINDOW, from a byte count per layer.
        self.layer_bitrate: dict[str, float] = {}
        self._rate_bytes = dict.fromkeys(self.layer_quality, 0)
        self._rate_window_start = time.monotonic()
        # SVC (VP9/AV1 with spatial layers, forwarded as packetized): the top layer's index, and
        # the current frame cut down to each lower layer, made once for all subscribers.
        self.top_spatial_layer = spatial_layers - 1 if is_passthrough(mime_type) and receiver is not None else 0
        self._cut: dict[int, EncodedPacket] = {}
        self._direct_ssrcs: dict[int, int] = {}  # forwarded audio SSRCs taken straight from the transport → payload type
        self._socket: PublisherSocket | None = None  # the publisher's socket, when a native thread reads it
        self._fanout: AudioFanout | None = None  # forwarded audio written natively, from its first packet
        # Forwarded video: the publisher is told the best quality anyone watches (dynacast).
        self._on_wanted_quality = on_wanted_quality
        self.dynacast: Dynacast | None = None

    @property
    def encoded(self) -> bool:
        return self.receiver is not None

    @property
    def simulcast(self) -> bool:
        return bool(self.layer_quality)

    @property
    def svc(self) -> bool:
        return self.top_spatial_layer > 0

    def up_to_layer(self, packet: EncodedPacket, spatial: int) -> EncodedPacket:
        """The current SVC frame without the packets of spatial layers above ``spatial``."""
        if spatial >= self.top_spatial_layer:
            return packet
        cut = self._cut.get(spatial)
        if cut is None:
            kept: list[bytes] = []
            layer = 0
            for payload in split_payloads(bytes(packet)):
                layer = spatial_layer(self.mime_type, payload, layer)
                if layer <= spatial:
                    kept.append(payload)
            cut = self._cut[spatial] = av.Packet(join_payloads(kept))
            cut.pts = packet.pts
            cut.time_base = packet.time_base
        return cut

    def start(self) -> None:
        receiver = self.receiver
        if receiver is not None and self.simulcast:
            receive_layers(receiver, self._extension_ids, self._on_layer_encoded)
        elif receiver is not None:
            deliver_encoded(receiver, self._on_encoded)
            if self.kind == "audio":
                on_rtp_packet(receiver, self._on_audio_packet)
        if receiver is not None and self.kind == "video" and self._on_wanted_quality is not None:
            self.dynacast = Dynacast(self._on_wanted_quality)
            self.dynacast.start()  # nobody subscribed yet: no wish until someone does, or the initial wait ends
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"forward {self.name}")

    def subscribe(self) -> RelayTrack:
        # Bounded so a subscriber that falls behind loses old frames instead of lagging: 200 ms of audio.
        relay = RelayTrack(self.kind, self, maxsize=10 if self.kind == "audio" else 4)
        self._relays.add(relay)
        self._relay_snapshot = tuple(self._relays)
        self.subscribers_changed()
        if self.encoded and self.kind == "video":
            # The new subscriber can show nothing before one.
            if self.simulcast:
                self.request_layer_keyframe(self.best_layer(relay.target_quality))
            else:
                self.request_keyframe()
        return relay

    def remove(self, relay: RelayTrack) -> None:
        self._relays.discard(relay)
        self._relay_snapshot = tuple(self._relays)
        self.subscribers_changed()

    def subscribers_changed(self) -> None:
        """A subscriber came, went or was enabled or disabled."""
        if self._fanout is not None:
            self._fanout.changed()
        self.wants_changed()

    def wants_changed(self) -> None:
        """What subscribers or recorders want may have changed: dynacast learns the best of it."""
        if self.dynacast is not None:
            self.dynacast.set_wanted(self.wanted_quality())

    def wanted_quality(self) -> int:
        """The best quality any subscriber wants (a recorder wants the best), OFF if none."""
        wanted = [quality for quality in (relay.max_quality for relay in self._relays) if quality != OFF]
        if self._sinks:
            wanted.append(HIGH)
        return max(wanted, default=OFF)

    def unmuted(self) -> None:
        """The publisher unmuted: it is told again what is watched (LiveKit's MediaTrack.SetMuted)."""
        if self.dynacast is not None:
            self.dynacast.force_update()

    def add_sink(self, sink: FrameSink) -> None:
        self._sinks.append(sink)
        self._sink_snapshot = tuple(self._sinks)
        self.wants_changed()
        if self.encoded and self._sink_decoder is None:
            self._sink_decoder = SinkDecoder(self.mime_type, self.name, self._deliver_to_sinks)
            if self.kind == "video":
                self.request_keyframe()
            self._unpump()  # recorders need aiortc's receive path

    def remove_sink(self, sink: FrameSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
            self._sink_snapshot = tuple(self._sinks)
            self.wants_changed()
        if not self._sinks and self._sink_decoder is not None:
            decoder, self._sink_decoder = self._sink_decoder, None
            self._spawn(decoder.stop(), f"stop decoding {self.name}")
            self._pump()

    def current_level(self, now: float, window: float = 0.5) -> float:
        return self.level if now - self.level_at <= window else 0.0

    # ---- keyframes (forward mode) -----------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per KEYFRAME_REQUEST_INTERVAL (a later ask is kept)."""
        if self.receiver is None or self.kind != "video" or self._keyframe_request_pending:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_keyframe_request + KEYFRAME_REQUEST_INTERVAL - loop.time()
        if wait > 0:
            self._keyframe_request_pending = True
            loop.call_later(wait, self._send_pending_keyframe_request)
            return
        self._send_keyframe_request()

    def _send_pending_keyframe_request(self) -> None:
        self._keyframe_request_pending = False
        self._send_keyframe_request()

    def _send_keyframe_request(self) -> None:
        receiver = self.receiver
        if receiver is None or self._task is None or self._task.done():
            return
        loop = asyncio.get_running_loop()
        self._last_keyframe_request = loop.time()
        if self.simulcast:
            for rid in self._layer_ssrc:
                self._send_layer_keyframe_request(rid, loop.time())
            return
        pli = request_keyframe(receiver)
        if pli is not None:
            self.keyframe_requests += 1
            self._spawn(pli, f"PLI to {self.name}")

    def request_layer_keyframe(self, rid: str | None) -> None:
        """Ask for a keyframe of one simulcast layer, at most once per KEYFRAME_REQUEST_INTERVAL."""
        if rid is None or rid not in self._layer_ssrc:
            return
        now = asyncio.get_running_loop().time()
        if now - self._layer_keyframe_asked.get(rid, -KEYFRAME_REQUEST_INTERVAL) >= KEYFRAME_REQUEST_INTERVAL:
            self._send_layer_keyframe_request(rid, now)

    def _send_layer_keyframe_request(self, rid: str, now: float) -> None:
        receiver = self.receiver
        if receiver is None or self._task is None or self._task.done():
            return
        self._layer_keyframe_asked[rid] = now
        self.keyframe_requests += 1
        self._spawn(request_keyframe_of(receiver, self._layer_ssrc[rid]), f"PLI to {self.name} layer {rid}")

    # ---- simulcast layers ---------------------------------------------------------------------

    def layer_paused(self, rid: str) -> bool:
        return time.monotonic() - self._layer_seen.get(rid, 0.0) > LAYER_STALE

    def best_layer(self, quality: int) -> str | None:
        """The layer to send for a wanted quality: the best flowing layer at or below it, else the
        lowest flowing one (as LiveKit does when the publisher paused the layers asked for).
        Worked out once per frame and quality, however many subscribers ask."""
        if quality not in self._best_this_frame:
            self._best_this_frame[quality] = self._find_best_layer(quality)
        return self._best_this_frame[quality]

    def _find_best_layer(self, quality: int) -> str | None:
        now = time.monotonic()
        flowing = [rid for rid, seen in self._layer_seen.items() if now - seen <= LAYER_STALE]
        if not flowing:
            return None
        at_or_below = [rid for rid in flowing if self.layer_quality.get(rid, 0) <= quality]
        if at_or_below:
            return max(at_or_below, key=lambda rid: self.layer_quality.get(rid, 0))
        return min(flowing, key=lambda rid: self.layer_quality.get(rid, 0))

    def quality_within(self, bitrate: float) -> int | None:
        """The best quality of a flowing layer whose measured bitrate is at most ``bitrate``, else the
        lowest flowing one's (LiveKit would pause the video there); None before any was measured."""
        rates = [(quality, self.layer_bitrate.get(rid, 0.0)) for rid, quality in self.layer_quality.items()]
        measured = [(quality, rate) for quality, rate in rates if rate > 0]
        if not measured:
            return None
        fitting = [quality for quality, rate in measured if rate <= bitrate]
        return max(fitting) if fitting else min(quality for quality, _ in measured)

    def _count_layer_bytes(self, rid: str, size: int, now: float) -> None:
        self._rate_bytes[rid] += size
        elapsed = now - self._rate_window_start
        if elapsed >= RATE_WINDOW:
            counts = self._rate_bytes
            self.layer_bitrate = {layer: count * 8 / elapsed for layer, count in counts.items()}
            for layer in counts:
                counts[layer] = 0
            self._rate_window_start = now

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- frames -------------------------------------------------------------------------------

    def _on_encoded(self, packet: EncodedPacket, keyframe: bool) -> None:
        # Audio was counted and sent to subscribers packet by packet (_on_audio_packet): its frames are for recorders.
        if self.kind == "video":
            self.frames += 1
            if self.svc:
                self._cut.clear()
                for relay in self._relay_snapshot:
                    relay.put_svc(packet, keyframe)
            else:
                for relay in self._relay_snapshot:
                    relay.put_encoded(packet, keyframe)
        decoder = self._sink_decoder
        if decoder is not None and not decoder.feed(packet, keyframe):
            self.request_keyframe()

    def _on_layer_encoded(self, rid: str, ssrc: int, packet: EncodedPacket, keyframe: bool) -> None:
        if rid not in self.layer_quality:
            return  # not a layer the publisher announced (or a packet of no known layer)
        now = time.monotonic()
        shift = self._layer_shift.get(rid)
        if shift is None:
            # Each layer has its own RTP clock origin; put all on the arrival clock so that a
            # subscriber switching layers sees time go on.
            shift = self._layer_shift[rid] = int(now * VIDEO_CLOCK) - int(packet.pts or 0)
        pts = int(packet.pts or 0) + shift
        packet.pts = pts
        self._layer_seen[rid] = now
        self._layer_ssrc[rid] = ssrc
        self._count_layer_bytes(rid, packet.size, now)
        self._best_this_frame.clear()
        self.frames += 1
        for relay in self._relay_snapshot:
            relay.put_layer(rid, packet, keyframe, pts)
        decoder = self._sink_decoder
        if decoder is not None:
            self._feed_sink_layer(decoder, rid, packet, keyframe)

    def _feed_sink_layer(self, decoder: SinkDecoder, rid: str, packet: EncodedPacket, keyframe: bool) -> None:
        """Recorders get the best layer flowing, switching at keyframes."""
        if rid != self._sink_layer:
            if rid != self.best_layer(max(RID_QUALITY.values())):
                return
            if not keyframe:
                self.request_layer_keyframe(rid)
                return
            self._sink_layer = rid
        if not decoder.feed(packet, keyframe):
            self.request_layer_keyframe(rid)

    def _on_audio_packet(self, packet: RtpPacket) -> bool:
        """Forwarded audio through aiortc's receive path; True when recorders need frames. From the
        first packet on, its SSRC's packets come straight from the transport while nobody records."""
        receiver = self.receiver
        if receiver is not None and packet.ssrc not in self._direct_ssrcs:
            self._direct_ssrcs[packet.ssrc] = packet.payload_type
            if self._fanout is None and native_fanout_available():
                self._fanout = AudioFanout(lambda: self._relay_snapshot, audio_level_id(receiver))
            receive = parsed(receiver, self._forward_audio) if self._fanout is None else self._native_receive(packet)
            receive_directly(receiver, packet.ssrc, self._unrecorded, receive)
        self._forward_audio(packet)
        self._pump()
        return self._sink_decoder is not None

    def _pump(self) -> None:
        """Forwarded audio nobody records is read and written by a native thread (fanout.PublisherSocket)."""
        fanout, receiver = self._fanout, self.receiver
        if fanout is None or receiver is None or self._sink_decoder is not None:
            return
        if self._socket is None or self._socket.closed:
            self._socket = PublisherSocket.of(receiver)
        socket = self._socket
        if socket is not None:
            for ssrc, payload_type in self._direct_ssrcs.items():
                socket.route(ssrc, payload_type, fanout, self._pumped_packets)

    def _unpump(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            for ssrc in self._direct_ssrcs:
                socket.unroute(ssrc)

    def _pumped_packets(self, packets: int, level: int) -> None:
        self.frames += packets
        if level >= 0:
            self._note_level(LEVEL_RMS[level])

    def _unrecorded(self) -> bool:
        return self._sink_decoder is None

    def _forward_audio(self, packet: RtpPacket) -> None:
        """Levels and subscribers from one packet of forwarded audio."""
        self.frames += 1  # an Opus packet carries one frame
        level = packet.extensions.audio_level
        if level is not None:
            self._note_level(LEVEL_RMS[level[1]])
        if self._fanout is not None:
            self._fanout.forward(bool(packet.marker), packet.sequence_number, packet.timestamp, packet.payload)
            return
        relays = self._relay_snapshot
        if relays:
            ntp = ntp_now()
            for relay in relays:
                relay.put_packet(packet, ntp)

    def _native_receive(self, first: RtpPacket) -> DirectReceive:
        """Datagrams of ``first``'s SSRC, unprotected and written to every subscriber natively."""
        fanout = self._fanout
        assert fanout is not None
        counted = CountedPacket(first.ssrc)
        counted.payload_type = first.payload_type
        countdown = SYNC_EVERY

        def receive(data: bytes, srtp: Any) -> CountedPacket | None:
            nonlocal countdown
            result = fanout.receive(data, srtp)
            if result is None:
                return None
            counted.sequence_number, counted.timestamp, level = result
            self.frames += 1
            countdown -= 1
            if countdown <= 0:  # here only while no thread reads the socket: e.g. after an ICE restart
                countdown = SYNC_EVERY
                self._pump()
            if level >= 0:
                self._note_level(LEVEL_RMS[level])
            return counted

        return receive

    async def _run(self) -> None:
        if self.encoded:
            await self._wait_for_end()
        else:
            await self._relay_decoded()

    async def _wait_for_end(self) -> None:
        """Forward mode: frames come through _on_encoded; the source track only tells when media ends."""
        try:
            while True:
                await self.source.recv()  # frames decoded before forwarding began: not needed
        except MediaStreamError:
            pass
        finally:
            for relay in tuple(self._relays):
                relay.stop()

    async def _relay_decoded(self) -> None:
        audio = self.kind == "audio"
        opus = OpusOnce() if audio else None
        try:
            while True:
                try:
                    frame = await self.source.recv()
                except MediaStreamError:
                    break
                self.frames += 1
                if audio and self.frames % LEVEL_EVERY_N_FRAMES == 0:
                    self._measure(frame)
                relays = self._relay_snapshot
                if relays:
                    if opus is not None:
                        for packet in opus.encode(frame):
                            for relay in relays:
                                relay.put(packet)
                    else:
                        for relay in relays:
                            relay.put(frame)
                self._deliver_to_sinks(frame)
        finally:
            for relay in tuple(self._relays):
                relay.stop()

    def _deliver_to_sinks(self, frame: Any) -> None:
        for sink in self._sink_snapshot:
            try:
                sink(frame)
            except Exception:  # a broken sink must not stop the relay for everyone
                log.exception("frame sink failed on %s; removing it", self.name)
                self.remove_sink(sink)

    def _measure(self, frame: Any) -> None:
        samples = frame.to_ndarray()
        if samples.dtype != np.int16 or samples.size == 0:
            return
        flat = samples.reshape(-1).astype(np.float32)
        self._note_level(float(np.sqrt(np.dot(flat, flat) / flat.size)) / 32768.0)

    def _note_level(self, rms: float) -> None:
        now = time.monotonic()
        if now - self._window_start > 0.3:
            self.level = max(self._window_peak, rms)
            self.level_at = now
            self._window_peak = rms
            self._window_start = now
        elif rms > self._window_peak:
            self._window_peak = rms
            if rms > self.level:
                self.level = rms
                self.level_at = now

    async def stop(self) -> None:
        self.source.stop()
        if self.dynacast is not None:
            self.dynacast.close()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for relay in tuple(self._relays):
            relay.stop()
        self._unpump()
        if self._fanout is not None:
            self._fanout.close()
        self._sinks.clear()
        self._sink_snapshot = ()
        decoder, self._sink_decoder = self._sink_decoder, None
        if decoder is not None:
            await decoder.stop()


_RID_EXTMAPS = (
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
)


def _sections(sdp: str) -> list[list[str]]:
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def sending_sections(sdp: str) -> dict[str, str]:
    """mid → msid track id (the client's AddTrack cid) of every section the offerer sends on.

    aiortc only reads msid when the stream id is listed in msid-semantic, which LiveKit clients
    (stream id "-") do not do. A section that stopped sending is how a client unpublishes.
    """
    found: dict[str, str] = {}
    for section in _sections(sdp)[1:]:
        mid = next((line[6:].strip() for line in section if line.startswith("a=mid:")), None)
        msid = next((line[7:].split() for line in section if line.startswith("a=msid:")), None)
        sending = any(line in ("a=sendonly", "a=sendrecv") for line in section)
        port_zero = section[0].split()[1:2] == ["0"]
        if mid is not None and msid and len(msid) >= 2 and sending and not port_zero:
            found[mid] = msid[1]
    return found


def copy_rid_extmaps(offer: str, answer: str) -> str:
    """Add the offer's RID header extensions to each video section of the answer.

    aiortc leaves them out; libwebrtc then rejects any later simulcast offer on the connection.
    """
    offer_sections = _sections(offer)
    answer_sections = _sections(answer)
    out: list[str] = []
    for index, section in enumerate(answer_sections):
        if index > 0 and section[0].startswith("m=video") and index < len(offer_sections):
            wanted = [
                line
                for line in offer_sections[index]
                if line.startswith("a=extmap:") and line.split(" ", 1)[-1].strip() in _RID_EXTMAPS
            ]
            present = {line.split(" ", 1)[-1].strip() for line in section if line.startswith("a=extmap:")}
            extra = [line for line in wanted if line.split(" ", 1)[-1].strip() not in present]
            if extra:
                at = max((i for i, line in enumerate(section) if line.startswith("a=extmap:")), default=0)
                if at == 0:
                    at = max((i for i, line in enumerate(section) if line.startswith("a=mid:")), default=0)
                section = section[: at + 1] + extra + section[at + 1 :]
        out.extend(section)
    return "\r\n".join(out) + "\r\n"


def _rid_name(entry: str) -> str:
    return entry.lstrip("~")  # "~q": offered but paused


def simulcast_sections(offer: str) -> dict[str, tuple[list[str], dict[str, int]]]:
    """mid → (rids, header extension URI → id) of each section the offerer sends simulcast on
    (``a=simulcast:send f;h;q``, RFC 8853)."""
    found: dict[str, tuple[list[str], dict[str, int]]] = {}
    for section in _sections(offer)[1:]:
        mid = next((line[6:].strip() for line in section if line.startswith("a=mid:")), None)
        spec = next((line[len("a=simulcast:send "):].strip() for line in section if line.startswith("a=simulcast:send ")), None)
        if mid is None or spec is None:
            continue
        rids = [_rid_name(entry) for alternatives in spec.split(";") for entry in alternatives.split(",")[:1]]
        extensions: dict[str, int] = {}
        for line in section:
            if line.startswith("a=extmap:"):
                head, _, uri = line[len("a=extmap:"):].partition(" ")
                extensions[uri.strip()] = int(head.split("/")[0])
        found[mid] = (rids, extensions)
    return found


def accept_simulcast(offer: str, answer: str) -> str:
    """Answer each simulcast section of the offer with ``a=rid:<rid> recv`` and ``a=simulcast:recv``.

    aiortc writes neither; without them libwebrtc sends a single layer."""
    offered = simulcast_sections(offer)
    if not offered:
        return answer
    out: list[str] = []
    for section in _sections(answer):
        mid = next((line[6:].strip() for line in section if line.startswith("a=mid:")), None)
        if mid in offered and not any(line.startswith("a=simulcast:") for line in section):
            rids = offered[mid][0]
            section = [*section, *(f"a=rid:{rid} recv" for rid in rids), "a=simulcast:recv " + ";".join(rids)]
        out.extend(section)
    return "\r\n".join(line for line in out if line) + "\r\n"


def undecodable_video(offer: str) -> list[str]:
    """The codecs of each video section the offerer sends in none of the codecs aiortc decodes
    (VP8, H.264): what relay "decode" cannot take."""
    refused = []
    for section in _sections(offer)[1:]:
        if not section[0].startswith("m=video") or not any(line in ("a=sendonly", "a=sendrecv") for line in section):
            continue
        names = {line.split(" ", 1)[-1].split("/")[0].upper() for line in section if line.startswith("a=rtpmap:")}
        media = names - {"RTX", "RED", "ULPFEC", "FLEXFEC-03"}
        if media and not media & {"VP8", "H264"}:
            refused.append("/".join(sorted(media)))
    return refused
