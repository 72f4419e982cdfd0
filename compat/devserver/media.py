"""Media relay: one reader per published track, fanned out to subscribers, with audio levels.

aiortc decodes what a publisher sends; each subscriber's sender re-encodes it. A forwarder reads
the publisher's decoded frames exactly once, measures audio level (for active speakers), and hands
each frame to every sink: relay tracks for subscribers, and callbacks (recorders). Queues are
bounded so a slow subscriber drops its own oldest frames instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

FrameSink = Callable[[Any], None]
LEVEL_EVERY_N_FRAMES = 3  # speaker levels need ~300 ms resolution, not every 20 ms frame


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

    def put(self, frame: Any) -> None:
        queue = self._queue
        if queue.full():
            queue.get_nowait()  # keep the newest: latency matters more than completeness here
            self.dropped += 1
        queue.put_nowait(frame)

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame

    def stop(self) -> None:
        if self.readyState == "live":
            self._forwarder.remove(self)
        super().stop()
        # Wake a pending recv() so the sender task ends.
        if self._queue.empty():
            self._queue.put_nowait(None)


class TrackForwarder:
    """Reads one published track and fans its frames out."""

    def __init__(self, source: MediaStreamTrack, name: str) -> None:
        self.source = source
        self.kind: str = source.kind
        self.name = name
        self._relays: set[RelayTrack] = set()
        self._sinks: list[FrameSink] = []
        # Snapshots iterated per frame; rebuilt only when subscribers come or go.
        self._relay_snapshot: tuple[RelayTrack, ...] = ()
        self._sink_snapshot: tuple[FrameSink, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self.level = 0.0  # peak RMS (0..1) over the last level window, audio only
        self.level_at = 0.0
        self.frames = 0
        self._window_peak = 0.0
        self._window_start = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"forward {self.name}")

    def subscribe(self) -> RelayTrack:
        # Bounded so a subscriber that falls behind loses old frames instead of lagging: 200 ms of audio.
        relay = RelayTrack(self.kind, self, maxsize=10 if self.kind == "audio" else 4)
        self._relays.add(relay)
        self._relay_snapshot = tuple(self._relays)
        return relay

    def remove(self, relay: RelayTrack) -> None:
        self._relays.discard(relay)
        self._relay_snapshot = tuple(self._relays)

    def add_sink(self, sink: FrameSink) -> None:
        self._sinks.append(sink)
        self._sink_snapshot = tuple(self._sinks)

    def remove_sink(self, sink: FrameSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
            self._sink_snapshot = tuple(self._sinks)

    def current_level(self, now: float, window: float = 0.5) -> float:
        return self.level if now - self.level_at <= window else 0.0

    async def _run(self) -> None:
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
                for sink in self._sink_snapshot:
                    try:
                        sink(frame)
                    except Exception:  # a broken sink must not stop the relay for everyone
                        log.exception("frame sink failed on %s; removing it", self.name)
                        self.remove_sink(sink)
        finally:
            for relay in tuple(self._relays):
                relay.stop()

    def _measure(self, frame: Any) -> None:
        samples = frame.to_ndarray()
        if samples.dtype != np.int16 or samples.size == 0:
            return
        flat = samples.reshape(-1).astype(np.float32)
        rms = float(np.sqrt(np.dot(flat, flat) / flat.size)) / 32768.0
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
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for relay in tuple(self._relays):
            relay.stop()
        self._sinks.clear()
        self._sink_snapshot = ()


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
