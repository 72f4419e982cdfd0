"""Dev server benchmark: join, publish and data latencies, and server CPU under audio load.

Run it inside the project's private network namespace (WebRTC needs a non-loopback interface;
inside the namespace no packet can leave the machine):

    scripts/netns-run .venv/bin/python -m bench.devserver [--json PATH]

The dev server runs in its own process (`python -m compat.devserver --port P`) so that its CPU
time (utime+stime from /proc/<pid>/stat) is measured apart from the clients, which are real
`livekit.rtc` rooms in this process. Every phase is bounded by timeouts; nothing is asserted:
failures and timeouts are counted and reported with the numbers.

Phases:
  signalling  raw HTTP/WebSocket probes of the server (GET /rtc/v1 404, WS join → JoinResponse)
  join        rtc.Room.connect wall time, SDK defaults (tries /rtc/v1, falls back to /rtc on 404)
              and straight to /rtc (single_peer_connection=False)
  publish     publish_track (48 kHz mono sine) → remote track_subscribed, and → first audible frame
  data        reliable publish_data A→B, B echoes back (round trip)
  load        N participants all publishing a sine, auto-subscribed to each other; a warm-up,
              then a steady window: server CPU, client CPU, per-subscriber frames and RTP packets
  video       N participants publishing 640x360 VP8 at 15 fps, everyone subscribed: server CPU and
              frames delivered (decoded by the subscribers / sent by the publishers x (N-1))
  late join   Room.connect into a room whose publisher already sends audio, and its track_subscribed

Each relay mode in --relays (default: forward, then decode) gets its own server process and the
audio and video load phases; the latency phases run against the first only (none with
--media-only). The audio table ends with server CPU per relayed stream in each mode.

Load numbers: "RTP sent" is what the publishers' libwebrtc sent, "RTP rx" what the subscribers
received (both as % of 50 packets/s per stream, from the SDK's RTP stats); "frames rx" counts
10 ms frames read from each subscriber's AudioStream and "silent" those without the tone's
energy (concealment of missing packets). The results are described in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import re
import secrets
import signal
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import numpy as np
from livekit import rtc
from livekit.protocol import rtc as signal_pb

from compat.core.rtc_session import shutdown
from compat.devserver.testing import FRAME_SAMPLES, LiveKitServer, ServerProcess, free_port, publish_tone, rms

T = TypeVar("T")

CLK_TCK = os.sysconf("SC_CLK_TCK")
AUDIO_FRAMES_PER_S = 100  # 10 ms frames
RTP_PACKETS_PER_S = 50  # aiortc's Opus encoder sends 20 ms packets
AUDIBLE_RMS = 1000.0  # the tone is 0.3 full scale (rms ≈ 7000); below this a frame counts as silent
DEFAULT_SIZES = (2, 4, 8)
# The load phase's tones are captured 100 ms at a time: with 10 ms captures, the SDK's callbacks
# (each handed to every room in this process) took ~20 % of a core at 32 participants.
TONE_CHUNK_FRAMES = 10


# ---- numbers ------------------------------------------------------------------------------------


@dataclass
class Summary:
    n: int = 0
    median_ms: float | None = None
    p95_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    failures: int = 0

    @classmethod
    def of(cls, seconds: Sequence[float], failures: int = 0) -> Summary:
        if not seconds:
            return cls(failures=failures)
        ms = sorted(s * 1000.0 for s in seconds)
        rank = max(0, math.ceil(0.95 * len(ms)) - 1)  # nearest-rank p95
        return cls(
            n=len(ms),
            median_ms=round(statistics.median(ms), 2),
            p95_ms=round(ms[rank], 2),
            min_ms=round(ms[0], 2),
            max_ms=round(ms[-1], 2),
            failures=failures,
        )


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    failures: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        if len(self.errors) < 5:
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")

    def summary(self) -> Summary:
        return Summary.of(self.seconds, self.failures)


# ---- CPU from /proc -----------------------------------------------------------------------------


def _stat_fields(path: str) -> tuple[str, list[str]]:
    text = Path(path).read_text()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    return comm, text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    _, fields = _stat_fields(f"/proc/{pid}/stat")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_cpu_seconds(pid: int) -> float:
    """stime of a process: its kernel time, including, on this one machine, the veth peer's
    receive processing for the packets it sends to the clients."""
    _, fields = _stat_fields(f"/proc/{pid}/stat")
    return int(fields[12]) / CLK_TCK


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """utime + stime per thread, keyed "tid:name"."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            comm, fields = _stat_fields(str(task / "stat"))
            out[f"{task.name}:{comm}"] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def rss_mb(pid: int) -> float:
    _, fields = _stat_fields(f"/proc/{pid}/stat")
    return round(int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


# ---- helpers --------------------------------------------------------------------------------------


async def bounded(aw: Awaitable[T], timeout: float) -> T:
    return await asyncio.wait_for(aw, timeout)


async def disconnect_all(rooms: Sequence[rtc.Room], timeout: float = 10.0) -> None:
    async def one(room: rtc.Room) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(room.disconnect(), timeout)

    await asyncio.gather(*(one(r) for r in rooms))


def frame_rms(frame: rtc.AudioFrame) -> float:
    return rms(np.frombuffer(frame.data, dtype=np.int16))


async def first_audible(track: rtc.Track, timeout: float) -> float:
    """perf_counter() when the first frame with the tone's energy comes out of an AudioStream."""
    stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)

    async def scan() -> float:
        async for event in stream:
            if frame_rms(event.frame) > AUDIBLE_RMS:
                return time.perf_counter()
        raise RuntimeError("audio stream ended before an audible frame")

    try:
        return await asyncio.wait_for(scan(), timeout)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stream.aclose(), 2.0)


# ---- phases ---------------------------------------------------------------------------------------


async def bench_signalling(lk: LiveKitServer, count: int) -> dict[str, Summary]:
    """Raw server round trips without WebRTC: what the SDK's join pays before ICE/DTLS."""
    not_found, ws_join = Samples(), Samples()
    http = lk.http_url()
    for i in range(count):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            t0 = time.perf_counter()
            try:
                async with session.get(f"{http}/rtc/v1") as response:
                    await response.read()
                not_found.seconds.append(time.perf_counter() - t0)
            except Exception as exc:
                not_found.fail("GET /rtc/v1", exc)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            token = lk.token(f"ws-{i}", "bench-signalling")
            t0 = time.perf_counter()
            try:
                async with session.ws_connect(f"{lk.url}/rtc?access_token={token}&protocol=16") as ws:
                    message = await ws.receive(timeout=5)
                    response_pb = signal_pb.SignalResponse()
                    response_pb.ParseFromString(message.data)
                    if response_pb.WhichOneof("message") != "join":
                        raise RuntimeError(f"first message is {response_pb.WhichOneof('message')}")
                    ws_join.seconds.append(time.perf_counter() - t0)
                    leave = signal_pb.SignalRequest(leave=signal_pb.LeaveRequest())
                    await ws.send_bytes(leave.SerializeToString())
            except Exception as exc:
                ws_join.fail("WS join", exc)
    return {"http_rtc_v1_404": not_found.summary(), "ws_join_response": ws_join.summary()}


async def bench_joins(lk: LiveKitServer, count: int, single_pc: bool | None) -> Samples:
    """rtc.Room.connect wall time into a room with one resident participant; disconnect after each."""
    tag = "default" if single_pc is None else "rtc"
    room_name = f"bench-join-{tag}"
    samples = Samples()
    resident = await bounded(lk.connect(f"resident-{tag}", room_name), 20)
    try:
        for i in range(count):
            room = rtc.Room()
            options = rtc.RoomOptions(connect_timeout=10.0)
            if single_pc is not None:
                options.single_peer_connection = single_pc
            t0 = time.perf_counter()
            try:
                await bounded(lk.connect(f"joiner-{tag}-{i}", room_name, room_object=room, options=options), 15)
                samples.seconds.append(time.perf_counter() - t0)
            except Exception as exc:
                samples.fail(f"join {i}", exc)
            await disconnect_all([room])
    finally:
        await disconnect_all([resident])
    return samples


@dataclass
class PublishResult:
    publish_track_returns: Summary
    track_subscribed: Summary
    first_audible_frame: Summary


async def bench_publish(lk: LiveKitServer, count: int) -> PublishResult:
    """A publishes a tone into a fresh room where B waits; B's track_subscribed and first audible frame."""
    returned, subscribed, audible = Samples(), Samples(), Samples()
    for i in range(count):
        room_name = f"bench-publish-{i}"
        rooms: list[rtc.Room] = []
        try:
            a = await bounded(lk.connect("publisher", room_name), 15)
            rooms.append(a)
            b = rtc.Room()
            got: asyncio.Future[tuple[float, rtc.Track]] = asyncio.get_running_loop().create_future()

            def on_subscribed(track: rtc.Track, _pub: Any, _who: Any, got: Any = got) -> None:
                if not got.done():
                    got.set_result((time.perf_counter(), track))

            b.on("track_subscribed", on_subscribed)
            await bounded(lk.connect("subscriber", room_name, room_object=b), 15)
            rooms.append(b)
            t0 = time.perf_counter()
            async with publish_tone(a, 440.0):
                returned.seconds.append(time.perf_counter() - t0)
                try:
                    t_sub, track = await bounded(got, 10)
                    subscribed.seconds.append(t_sub - t0)
                except Exception as exc:
                    subscribed.fail(f"publish {i}", exc)
                    audible.failures += 1
                    continue
                try:
                    audible.seconds.append(await first_audible(track, 5) - t0)
                except Exception as exc:
                    audible.fail(f"publish {i}", exc)
        except Exception as exc:
            subscribed.fail(f"setup {i}", exc)
        finally:
            await disconnect_all(rooms)
    return PublishResult(returned.summary(), subscribed.summary(), audible.summary())


@dataclass
class DataResult:
    first_round_trip_ms: float | None
    round_trip: Summary


async def bench_data(lk: LiveKitServer, count: int, warmup: int = 5) -> DataResult:
    """Reliable publish_data A→B, B echoes on receipt; round trip at A."""
    room_name = "bench-data"
    rooms: list[rtc.Room] = []
    pending: dict[bytes, asyncio.Future[float]] = {}
    echoes: set[asyncio.Task[None]] = set()
    samples = Samples()
    first: float | None = None
    a, b = rtc.Room(), rtc.Room()

    def on_a(packet: rtc.DataPacket) -> None:
        waiter = pending.pop(packet.data, None)
        if packet.topic == "pong" and waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())

    def on_b(packet: rtc.DataPacket) -> None:
        if packet.topic == "ping":
            task = asyncio.ensure_future(
                b.local_participant.publish_data(packet.data, reliable=True, topic="pong", destination_identities=["echo-a"])
            )
            echoes.add(task)
            task.add_done_callback(echoes.discard)

    a.on("data_received", on_a)
    b.on("data_received", on_b)
    try:
        await bounded(lk.connect("echo-a", room_name, room_object=a), 15)
        rooms.append(a)
        await bounded(lk.connect("echo-b", room_name, room_object=b), 15)
        rooms.append(b)
        for i in range(1 + warmup + count):
            payload = f"ping {i}".encode()
            waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            pending[payload] = waiter
            t0 = time.perf_counter()
            try:
                await bounded(
                    a.local_participant.publish_data(payload, reliable=True, topic="ping", destination_identities=["echo-b"]),
                    10,
                )
                rtt = await bounded(waiter, 10) - t0
            except Exception as exc:
                samples.fail(f"ping {i}", exc)
                continue
            if i == 0:
                first = rtt
            elif i > warmup:
                samples.seconds.append(rtt)
    finally:
        await disconnect_all(rooms)
    return DataResult(round(first * 1000, 2) if first is not None else None, samples.summary())


@dataclass
class SubscriberLoad:
    identity: str
    tracks: int  # subscribed tracks (expected: N-1)
    frames_expected: int  # AudioStream frames (10 ms) over the window, all tracks
    frames_received: int
    frames_silent: int  # received frames without the tone's energy (concealment, gaps)
    packets_expected: int  # RTP packets (20 ms) over the window, all tracks
    packets_received: int
    packets_lost: int  # by RTP sequence gaps
    concealed_pct: float | None  # of samples played out, % synthesised by the jitter buffer


@dataclass
class LoadResult:
    relay: str  # the server's relay mode: "forward" or "decode"
    participants: int
    publishers: int  # participants who publish; the others only listen
    relayed_streams: int
    setup_s: float
    subscribed_ok: bool
    window_s: float
    server_cpu_pct: float | None
    server_busiest_thread: str | None
    server_busiest_thread_pct: float | None
    server_rss_mb: float | None
    server_threads: int
    server_top_threads: list[tuple[str, float]]
    published_packets_pct: float | None  # RTP packets the publishers sent, % of 50/s each
    audio_read: bool  # subscribers read their AudioStreams (False: RTP stats only)
    clients_cpu_pct: float
    frames_received_pct: float | None
    frames_silent: int
    packets_received_pct: float | None
    packets_lost: int
    subscribers: list[SubscriberLoad]
    errors: list[str]
    server_system_cpu_pct: float | None = None  # the kernel's part of server_cpu_pct


@dataclass
class Snapshot:
    t: float
    server_cpu: float
    threads: dict[str, float]
    client_cpu: float
    frames: dict[tuple[str, str], tuple[int, int]]  # (frames, silent) per (subscriber, track sid)
    inbound: dict[tuple[str, str], Any] = field(default_factory=dict)  # inbound_rtp() or its exception
    outbound: list[Any] = field(default_factory=list)  # packets_sent() per publisher, or its exception
    server_system: float = 0.0


class StreamCounter:
    """Reads one subscribed track's AudioStream, counting 10 ms frames and silent ones.

    The stream is read in 100 ms chunks (each split into its ten 10 ms frames) to keep the
    clients' Python cost low: with 8 participants there are 56 streams in this one process.
    """

    def __init__(self, track: rtc.Track, read: bool) -> None:
        self.track = track
        self.frames = 0
        self.silent = 0
        self.stream = (
            rtc.AudioStream(track, sample_rate=48000, num_channels=1, frame_size_ms=100) if read else None
        )
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        if self.stream is None:
            return
        async for event in self.stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16)
            blocks = samples[: samples.size // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
            power = np.mean(np.square(blocks, dtype=np.float32), axis=1)
            self.frames += blocks.shape[0]
            self.silent += int(np.count_nonzero(power < AUDIBLE_RMS**2))

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        if self.stream is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.stream.aclose(), 2.0)


async def packets_sent(track: rtc.Track) -> tuple[int, float]:
    """(packets_sent, stats time in s) of a local track."""
    for stat in await asyncio.wait_for(track.get_stats(), 5.0):
        if stat.WhichOneof("stats") == "outbound_rtp":
            return int(stat.outbound_rtp.sent.packets_sent), stat.outbound_rtp.rtc.timestamp / 1e6
    return 0, 0.0


async def inbound_rtp(track: rtc.Track) -> tuple[int, int, int, int, float]:
    """(packets_received, packets_lost, total_samples_received, concealed_samples, stats time in s)."""
    for stat in await asyncio.wait_for(track.get_stats(), 5.0):
        if stat.WhichOneof("stats") == "inbound_rtp":
            inbound = stat.inbound_rtp
            return (
                inbound.received.packets_received,
                inbound.received.packets_lost,
                inbound.inbound.total_samples_received,
                inbound.inbound.concealed_samples,
                inbound.rtc.timestamp / 1e6,  # microseconds
            )
    return (0, 0, 0, 0, 0.0)


async def bench_load(
    lk: LiveKitServer,
    server_pid: int,
    n: int,
    warmup: float,
    window: float,
    setup_timeout: float,
    read_audio: bool,
    rtp_stats: bool,
    relay: str,
    speakers: int | None = None,
) -> LoadResult:
    """N participants, everyone subscribed to everyone who publishes: all of them, or the first
    ``speakers`` (a large call with a few unmuted microphones, as LiveKit's load tester runs it)."""
    room_name = f"bench-load-{n}"
    talking = n if speakers is None else min(n, speakers)
    errors: list[str] = []
    rooms: list[rtc.Room] = []
    subscribed: dict[str, dict[str, rtc.Track]] = {}
    counters: dict[tuple[str, str], StreamCounter] = {}
    published: list[rtc.Track] = []
    t_setup = time.perf_counter()
    async with contextlib.AsyncExitStack() as tones:
        try:
            for k in range(n):
                identity = f"p{k}"
                room = rtc.Room()
                subscribed[identity] = {}

                def on_subscribed(track: rtc.Track, pub: Any, _who: Any, into: Any = subscribed[identity]) -> None:
                    into[pub.sid] = track

                room.on("track_subscribed", on_subscribed)
                try:
                    await bounded(lk.connect(identity, room_name, room_object=room), 15)
                except Exception as exc:
                    errors.append(f"{identity} connect: {type(exc).__name__}: {exc}")
                    continue
                rooms.append(room)
            # Everyone joins first, then publishes: this phase measures relaying, and joining a room
            # whose audio is already relayed is bench_late_join's subject (it failed at 727214e).
            for k, room in enumerate(rooms[:talking]):
                publication = await bounded(
                    tones.enter_async_context(publish_tone(room, 300.0 + 97.0 * k, name=f"tone-{k}", chunk_frames=TONE_CHUNK_FRAMES)), 15
                )
                if publication.track is not None:
                    published.append(publication.track)
            deadline = time.perf_counter() + setup_timeout
            def expected(identity: str) -> int:  # everyone who publishes, but oneself
                return talking - (int(identity[1:]) < talking)

            while time.perf_counter() < deadline and any(len(t) < expected(i) for i, t in subscribed.items()):
                await asyncio.sleep(0.05)
            setup_s = time.perf_counter() - t_setup
            subscribed_ok = all(len(t) >= expected(i) for i, t in subscribed.items())
            if not subscribed_ok:
                errors.append("not all subscribed after setup: " + str({i: len(t) for i, t in subscribed.items()}))
            for identity, tracks in subscribed.items():
                for sid, track in tracks.items():
                    counters[(identity, sid)] = StreamCounter(track, read_audio)
            await asyncio.sleep(warmup)

            async def snapshot() -> Snapshot:
                # Clocks and counters first, all at one instant; then the SDK's RTP stats, which
                # carry their own timestamps (they can take seconds to collect under load).
                snap = Snapshot(
                    time.perf_counter(),
                    cpu_seconds(server_pid),
                    thread_cpu_seconds(server_pid),
                    cpu_seconds(os.getpid()),
                    {key: (c.frames, c.silent) for key, c in counters.items()},
                    server_system=system_cpu_seconds(server_pid),
                )
                if rtp_stats:
                    received = await asyncio.gather(
                        *(inbound_rtp(c.track) for c in counters.values()), return_exceptions=True
                    )
                    snap.inbound = dict(zip(counters, received, strict=False))
                    snap.outbound = list(
                        await asyncio.gather(*(packets_sent(t) for t in published), return_exceptions=True)
                    )
                return snap

            a = await snapshot()
            await asyncio.sleep(window)
            b = await snapshot()
            span = b.t - a.t
            threads = sorted(
                ((name, round(100.0 * (b.threads[name] - a.threads.get(name, 0.0)) / span, 1)) for name in b.threads),
                key=lambda item: -item[1],
            )
            busiest = threads[0] if threads else None
            subscribers: list[SubscriberLoad] = []
            for identity, tracks in subscribed.items():
                sub = SubscriberLoad(identity, len(tracks), 0, 0, 0, 0, 0, 0, None)
                samples_total = concealed_total = 0
                for sid in tracks:
                    key = (identity, sid)
                    if key not in a.frames or key not in b.frames:
                        continue
                    if read_audio:
                        sub.frames_expected += round(span * AUDIO_FRAMES_PER_S)
                        sub.frames_received += b.frames[key][0] - a.frames[key][0]
                        sub.frames_silent += b.frames[key][1] - a.frames[key][1]
                    if not rtp_stats:
                        continue
                    st0, st1 = a.inbound.get(key), b.inbound.get(key)
                    if isinstance(st0, tuple) and isinstance(st1, tuple) and st1[4] > st0[4]:
                        sub.packets_expected += round((st1[4] - st0[4]) * RTP_PACKETS_PER_S)
                        sub.packets_received += st1[0] - st0[0]
                        sub.packets_lost += max(0, st1[1] - st0[1])
                        samples_total += st1[2] - st0[2]
                        concealed_total += st1[3] - st0[3]
                    else:
                        errors.append(f"stats of {identity}/{sid}: {st0!r} {st1!r}")
                if samples_total:
                    sub.concealed_pct = round(100.0 * concealed_total / samples_total, 2)
                subscribers.append(sub)
            sent_packets = sent_expected = 0.0
            for o0, o1 in zip(a.outbound, b.outbound, strict=False):
                if isinstance(o0, tuple) and isinstance(o1, tuple) and o1[1] > o0[1]:
                    sent_packets += o1[0] - o0[0]
                    sent_expected += (o1[1] - o0[1]) * RTP_PACKETS_PER_S
            frames_exp = sum(s.frames_expected for s in subscribers)
            packets_exp = sum(s.packets_expected for s in subscribers)
            return LoadResult(
                relay=relay,
                participants=n,
                publishers=talking,
                relayed_streams=talking * (n - 1),
                setup_s=round(setup_s, 2),
                subscribed_ok=subscribed_ok,
                window_s=round(span, 2),
                server_cpu_pct=round(100.0 * (b.server_cpu - a.server_cpu) / span, 1),
                server_system_cpu_pct=round(100.0 * (b.server_system - a.server_system) / span, 1),
                server_busiest_thread=busiest[0] if busiest else None,
                server_busiest_thread_pct=busiest[1] if busiest else None,
                server_rss_mb=rss_mb(server_pid),
                server_threads=len(b.threads),
                server_top_threads=threads[:4],
                published_packets_pct=round(100.0 * sent_packets / sent_expected, 1) if sent_expected else None,
                audio_read=read_audio,
                clients_cpu_pct=round(100.0 * (b.client_cpu - a.client_cpu) / span, 1),
                frames_received_pct=round(100.0 * sum(s.frames_received for s in subscribers) / frames_exp, 1)
                if frames_exp
                else None,
                frames_silent=sum(s.frames_silent for s in subscribers),
                packets_received_pct=round(100.0 * sum(s.packets_received for s in subscribers) / packets_exp, 1)
                if packets_exp
                else None,
                packets_lost=sum(s.packets_lost for s in subscribers),
                subscribers=subscribers,
                errors=errors,
            )
        finally:
            await asyncio.gather(*(c.close() for c in counters.values()))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tones.aclose(), 10)
            await disconnect_all(rooms)


# ---- video load -------------------------------------------------------------------------------------

VIDEO_WIDTH, VIDEO_HEIGHT, VIDEO_FPS = 640, 360, 15


def i420_frames(count: int = 15) -> list[rtc.VideoFrame]:
    """Pre-built 640x360 I420 frames with moving content (so delta frames carry data), cheap to capture."""
    w, h = VIDEO_WIDTH, VIDEO_HEIGHT
    x = np.arange(w, dtype=np.uint16)[None, :]
    y = np.arange(h, dtype=np.uint16)[:, None]
    frames = []
    for i in range(count):
        luma = ((x + y + 12 * i) % 256).astype(np.uint8)
        chroma = np.full((h // 2) * (w // 2) * 2, 128, np.uint8)
        data = luma.tobytes() + chroma.tobytes()
        frames.append(rtc.VideoFrame(w, h, rtc.VideoBufferType.I420, data))
    return frames


async def feed_video(source: rtc.VideoSource, frames: list[rtc.VideoFrame]) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    i = 0
    while True:
        source.capture_frame(frames[i % len(frames)])
        i += 1
        await asyncio.sleep(max(0.0, start + i / VIDEO_FPS - loop.time()))


@dataclass(frozen=True)
class RtpCount:
    """A counter of one RTP stream with the time libwebrtc read it (its stats' own timestamp)."""

    at_s: float
    frames: int


@dataclass(frozen=True)
class VideoInbound:
    """A subscribed video track's inbound-rtp counters at one instant."""

    received: RtpCount  # complete frames, before decoding: what the server delivered
    decoded: int  # what the client then managed to decode
    packets_lost: int
    nacks: int
    plis: int


async def video_frames_sent(track: rtc.Track) -> RtpCount | None:
    for stat in await asyncio.wait_for(track.get_stats(), 5.0):
        if stat.WhichOneof("stats") == "outbound_rtp":
            out = stat.outbound_rtp
            return RtpCount(out.rtc.timestamp / 1e6, int(out.outbound.frames_sent))  # microseconds
    return None


async def video_frames_in(track: rtc.Track) -> VideoInbound | None:
    for stat in await asyncio.wait_for(track.get_stats(), 5.0):
        if stat.WhichOneof("stats") == "inbound_rtp":
            inbound = stat.inbound_rtp
            return VideoInbound(
                received=RtpCount(inbound.rtc.timestamp / 1e6, int(inbound.inbound.frames_received)),
                decoded=int(inbound.inbound.frames_decoded),
                packets_lost=int(inbound.received.packets_lost),
                nacks=int(inbound.inbound.nack_count),
                plis=int(inbound.inbound.pli_count),
            )
    return None


def frames_sent_at(before: RtpCount, after: RtpCount, at_s: float) -> float:
    """A publisher's frames_sent at a subscriber's stats time, from its counts read just before and
    just after the subscribers' (linear between them; collecting 64 tracks' stats can take a second
    under load, so one count of each taken "at the same time" can be a second apart: one run read 106 %)."""
    span = after.at_s - before.at_s
    if span <= 0:
        return float(after.frames)
    return before.frames + (after.frames - before.frames) * (at_s - before.at_s) / span


SentBracket = tuple[RtpCount, RtpCount]  # a publisher's frames_sent read before and after the subscribers' stats


def frames_expected(sent_a: SentBracket, sent_b: SentBracket, received: tuple[RtpCount, RtpCount]) -> float:
    """Frames a subscriber should have received between its two stats reads: what its publisher sent
    between the same two instants (each read bracketed by the publisher's counts, ``sent_a``/``sent_b``)."""
    return frames_sent_at(*sent_b, received[1].at_s) - frames_sent_at(*sent_a, received[0].at_s)


def udp_receive_drops(snmp: str) -> int:
    """Datagrams dropped for a full socket receive buffer, from /proc/net/snmp's text: in the bench's
    network namespace (bench, server and clients share it), a client or server too busy to read its
    sockets loses packets here."""
    lines = [line.split() for line in snmp.splitlines() if line.startswith("Udp:")]
    return int(dict(zip(lines[0][1:], lines[1][1:], strict=True))["RcvbufErrors"])


@dataclass
class VideoSnapshot:
    t: float
    server_cpu: float
    client_cpu: float
    udp_drops: int
    sent: dict[str, SentBracket | None]  # by publisher
    inbound: list[VideoInbound | None]  # by subscription


@dataclass
class VideoLoadResult:
    relay: str
    participants: int
    streams: int  # forwarded streams: n × (n-1)
    setup_s: float
    subscribed_ok: bool
    window_s: float
    server_cpu_pct: float | None
    clients_cpu_pct: float
    frames_sent: int  # by all publishers over the window
    frames_expected: int  # what each subscriber's publisher sent between the subscriber's stats reads
    frames_decoded: int  # by all subscribers over the window
    delivered_pct: float | None
    errors: list[str]
    with_audio: bool = False
    frames_received: int = 0  # by all subscribers over the window (complete frames, before decoding)
    received_pct: float | None = None
    packets_lost: int = 0  # by all subscribers (inbound-rtp packets_lost: never arrived, not recovered)
    nacks: int = 0  # retransmissions the subscribers asked for
    plis: int = 0  # keyframes the subscribers asked for
    udp_receive_drops: int = 0  # datagrams the kernel dropped for a full receive buffer (anyone's)


async def bench_video(lk: LiveKitServer, server_pid: int, n: int, warmup: float, window: float, relay: str,
                      with_audio: bool = False) -> VideoLoadResult:
    """N participants each publish 640x360 VP8 at 15 fps (and, ``with_audio``, a microphone: its
    datagrams share the video's socket), everyone subscribed to everyone.

    Delivery is frames decoded by the subscribers' libwebrtc (inbound-rtp frames_decoded) over
    the frames their publishers sent (outbound-rtp frames_sent) between the same two instants."""
    room_name = f"bench-video-{n}"
    errors: list[str] = []
    rooms: list[rtc.Room] = []
    subscribed: dict[str, list[tuple[str, rtc.Track]]] = {}  # subscriber: (publisher, track)
    published: dict[str, rtc.Track] = {}
    feeders: list[asyncio.Task[None]] = []
    frames = i420_frames()
    t_setup = time.perf_counter()
    microphones = contextlib.AsyncExitStack()
    try:
        for k in range(n):
            identity = f"v{k}"
            room = rtc.Room()
            subscribed[identity] = []

            def on_subscribed(track: rtc.Track, _pub: Any, who: rtc.RemoteParticipant,
                              into: list[tuple[str, rtc.Track]] = subscribed[identity]) -> None:
                if track.kind == rtc.TrackKind.KIND_VIDEO:
                    into.append((who.identity, track))

            room.on("track_subscribed", on_subscribed)
            try:
                await bounded(lk.connect(identity, room_name, room_object=room), 15)
            except Exception as exc:
                errors.append(f"{identity} connect: {type(exc).__name__}: {exc}")
                continue
            rooms.append(room)
        for room in rooms:
            source = rtc.VideoSource(VIDEO_WIDTH, VIDEO_HEIGHT)
            track = rtc.LocalVideoTrack.create_video_track("cam", source)
            options = rtc.TrackPublishOptions(
                source=rtc.TrackSource.SOURCE_CAMERA, video_codec=rtc.VideoCodec.VP8, simulcast=False
            )
            await bounded(room.local_participant.publish_track(track, options), 15)
            published[room.local_participant.identity] = track
            feeders.append(asyncio.create_task(feed_video(source, frames)))
            if with_audio:
                await microphones.enter_async_context(publish_tone(room, 440))
        deadline = time.perf_counter() + 10.0 + 2.0 * n
        while time.perf_counter() < deadline and any(len(t) < len(rooms) - 1 for t in subscribed.values()):
            await asyncio.sleep(0.05)
        setup_s = time.perf_counter() - t_setup
        subscribed_ok = all(len(t) >= n - 1 for t in subscribed.values())
        if not subscribed_ok:
            errors.append("not all subscribed after setup: " + str({i: len(t) for i, t in subscribed.items()}))
        receiving = [(publisher, track) for tracks in subscribed.values() for publisher, track in tracks]
        await asyncio.sleep(warmup)

        async def sent_counts() -> list[RtpCount | None]:
            return list(await asyncio.gather(*(video_frames_sent(t) for t in published.values())))

        async def snapshot() -> VideoSnapshot:
            t, server, clients = time.perf_counter(), cpu_seconds(server_pid), cpu_seconds(os.getpid())
            drops = udp_receive_drops(Path("/proc/net/snmp").read_text())
            before = await sent_counts()
            frames_in = await asyncio.gather(*(video_frames_in(t) for _, t in receiving))
            after = await sent_counts()
            sent = {p: (x, y) if x and y else None for p, x, y in zip(published, before, after, strict=True)}
            return VideoSnapshot(t, server, clients, drops, sent, list(frames_in))

        a = await snapshot()
        await asyncio.sleep(window)
        b = await snapshot()
        span = b.t - a.t
        sent = 0
        for sent_a, sent_b in ((a.sent[p], b.sent[p]) for p in published):
            sent += sent_b[0].frames - sent_a[0].frames if sent_a and sent_b else 0
        expected = decoded = received = lost = nacks = plis = 0.0
        for (publisher, _), in0, in1 in zip(receiving, a.inbound, b.inbound, strict=True):
            sent_a, sent_b = a.sent.get(publisher), b.sent.get(publisher)
            if not (in0 and in1 and sent_a and sent_b):
                errors.append(f"no RTP stats for {publisher}'s video at a subscriber")
                continue
            expected += frames_expected(sent_a, sent_b, (in0.received, in1.received))
            received += in1.received.frames - in0.received.frames
            decoded += in1.decoded - in0.decoded
            lost += in1.packets_lost - in0.packets_lost
            nacks += in1.nacks - in0.nacks
            plis += in1.plis - in0.plis
        return VideoLoadResult(
            relay=relay,
            participants=n,
            streams=n * (n - 1),
            setup_s=round(setup_s, 2),
            subscribed_ok=subscribed_ok,
            window_s=round(span, 2),
            server_cpu_pct=round(100.0 * (b.server_cpu - a.server_cpu) / span, 1),
            clients_cpu_pct=round(100.0 * (b.client_cpu - a.client_cpu) / span, 1),
            frames_sent=sent,
            frames_expected=round(expected),
            frames_decoded=int(decoded),
            delivered_pct=round(100.0 * decoded / expected, 1) if expected else None,
            errors=errors,
            with_audio=with_audio,
            frames_received=int(received),
            received_pct=round(100.0 * received / expected, 1) if expected else None,
            packets_lost=int(lost),
            nacks=int(nacks),
            plis=int(plis),
            udp_receive_drops=b.udp_drops - a.udp_drops,
        )
    finally:
        for task in feeders:
            task.cancel()
        await asyncio.gather(*feeders, return_exceptions=True)
        with contextlib.suppress(Exception):
            await microphones.aclose()
        await disconnect_all(rooms)


@dataclass
class LateJoinResult:
    connect: Summary
    track_subscribed: Summary  # from the start of connect
    errors: list[str]


async def bench_late_join(lk: LiveKitServer, count: int, timeout: float) -> LateJoinResult:
    """Join a room whose one publisher has been sending audio for a second; connect and track_subscribed.

    A join that fails is abandoned after `timeout` (the SDK keeps retrying in the background until
    the server stops); after two failures in a row the remaining joins are skipped."""
    connected, subscribed = Samples(), Samples()
    rooms: list[rtc.Room] = []
    abandoned: list[asyncio.Task[rtc.Room]] = []  # joins left to the SDK's retries
    try:
        a = await bounded(lk.connect("speaker", "bench-late-join"), 15)
        rooms.append(a)
        async with publish_tone(a, 523.0):
            await asyncio.sleep(1.0)
            failed_in_a_row = 0
            for i in range(count):
                if failed_in_a_row >= 2:
                    connected.failures += 1
                    subscribed.failures += 1
                    continue
                late = rtc.Room()
                got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

                def on_subscribed(_t: Any, _p: Any, _w: Any, got: Any = got) -> None:
                    if not got.done():
                        got.set_result(time.perf_counter())

                late.on("track_subscribed", on_subscribed)
                t0 = time.perf_counter()
                task = asyncio.create_task(lk.connect(f"late-{i}", "bench-late-join", room_object=late))
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout)
                    connected.seconds.append(time.perf_counter() - t0)
                    rooms.append(late)
                except Exception as exc:
                    connected.fail(f"late join {i}", exc)
                    subscribed.failures += 1
                    abandoned.append(task)
                    failed_in_a_row += 1
                    continue
                failed_in_a_row = 0
                try:
                    subscribed.seconds.append(await bounded(got, timeout) - t0)
                except Exception as exc:
                    subscribed.fail(f"late join {i} track_subscribed", exc)
                await disconnect_all([late])
                rooms.remove(late)
    finally:
        await disconnect_all(rooms)
    return LateJoinResult(connected.summary(), subscribed.summary(), connected.errors + subscribed.errors)


# ---- the run -------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if found:
            model = found.group(1).strip()
    versions = {}
    for dist in ("livekit", "livekit-api", "livekit-protocol", "aiortc", "aioice", "av", "aiohttp"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    import compat.devserver as devserver_package

    server_dir = Path(devserver_package.__file__).resolve().parent
    git: dict[str, Any] = {"devserver_path": str(server_dir)}
    with contextlib.suppress(Exception):
        import subprocess

        def run_git(*argv: str) -> str:
            done = subprocess.run(["git", *argv], cwd=server_dir, capture_output=True, text=True, timeout=5)
            return done.stdout.strip()

        git["commit"] = run_git("rev-parse", "--short", "HEAD")
        git["devserver_uncommitted"] = bool(run_git("status", "--porcelain", "--", "."))
    return {
        "git": git,
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "in_netns": os.environ.get("NETNS_RUN_INSIDE") == "1",
        "versions": versions,
    }


async def lower_client_priority(nice: int) -> None:
    """Keep every thread of this process but the main one at ``nice``, for the whole run.

    Those are the livekit FFI's Rust and libwebrtc threads, where the clients' media work is done.
    Linux's scheduler shares the CPU per thread, so on a 2-core host the 32 clients' many busy
    threads starve a server that needs one thread (the decode relay's event loop) — a server that,
    deployed, has a machine of its own. The main thread keeps the default level: it starts the
    server processes, which inherit it. Threads appear all the time, hence the sweep.
    """
    while True:
        for tid in client_threads():
            with contextlib.suppress(OSError):  # the thread may have ended
                if os.getpriority(os.PRIO_PROCESS, tid) != nice:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)
        await asyncio.sleep(0.5)


def client_threads() -> list[int]:
    """Thread ids of this process but the main thread's (see lower_client_priority)."""
    main = threading.main_thread().native_id
    return [tid for tid in map(int, os.listdir("/proc/self/task")) if tid != main]


async def phase(results: dict[str, Any], name: str, timeout: float, coro: Awaitable[Any]) -> None:
    t0 = time.perf_counter()
    print(f"  {name} ...", file=sys.stderr, flush=True)
    try:
        value = await asyncio.wait_for(coro, timeout)
        results[name] = value
    except Exception as exc:
        results.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"  {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    print(f"  {name} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)


class Watchdog:
    """Ends the run if the event loop stops turning or the run overstays its budget.

    livekit.rtc calls into its FFI synchronously; a panic there (seen: RTP stats JSON with a
    number serde cannot parse, under heavy load) can block the loop for good, where no asyncio
    timeout fires. The watchdog thread then prints what was measured, kills the server and exits.
    """

    def __init__(self, results: dict[str, Any], budget: float, stall: float, emit: Callable[[dict[str, Any]], None]) -> None:
        self.results = results
        self.budget = budget
        self.stall = stall
        self.emit = emit
        self.server_pid: int | None = None
        self.beat = time.monotonic()
        self.started = self.beat
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bench watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()

    async def heartbeat(self) -> None:
        while True:
            self.beat = time.monotonic()
            await asyncio.sleep(1.0)

    def _watch(self) -> None:
        while not self._done.wait(1.0):
            now = time.monotonic()
            if now - self.beat > self.stall or now - self.started > self.budget:
                why = "event loop stalled" if now - self.beat > self.stall else "time budget exceeded"
                self.results.setdefault("errors", []).append(f"watchdog: {why}; partial results")
                if self.server_pid is not None:
                    with contextlib.suppress(OSError):
                        os.kill(self.server_pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    self.emit(self.results)
                sys.stdout.flush()
                os._exit(3)  # the main thread may be stuck in a synchronous FFI call: nothing else ends it


async def run(args: argparse.Namespace, results: dict[str, Any], watchdog: Watchdog) -> dict[str, Any]:
    if os.environ.get("NETNS_RUN_INSIDE") != "1":
        print("warning: not inside scripts/netns-run; WebRTC media needs its non-loopback interface",
              file=sys.stderr)
    results.update(environment=environment(), started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    results["warmup_s"] = args.warmup
    results["media_only"] = args.media_only
    results["load"] = []
    results["video"] = []
    results["client_nice"] = args.client_nice
    beat = asyncio.create_task(watchdog.heartbeat())
    niced = asyncio.create_task(lower_client_priority(args.client_nice)) if args.client_nice else None
    t_start = time.perf_counter()
    try:
        for index, relay in enumerate(args.relays):
            await run_relay(args, results, watchdog, relay, latency=index == 0 and not args.media_only)
    finally:
        results["total_s"] = round(time.perf_counter() - t_start, 1)
        beat.cancel()
        if niced is not None:
            niced.cancel()
    return results


async def run_relay(args: argparse.Namespace, results: dict[str, Any], watchdog: Watchdog, relay: str, latency: bool) -> None:
    """One server process in relay mode ``relay``: the latency phases (if ``latency``), then the loads."""
    # The server process inherits these. "forward-py": forwarding with audio written in Python
    # (RtpWriter), as where the native fan-out (compat.devserver.fanout) could not be built.
    os.environ["COMPAT_DEVSERVER_RELAY"] = "forward" if relay == "forward-py" else relay
    if relay == "forward-py":
        os.environ["COMPAT_DEVSERVER_NATIVE"] = "0"
    else:
        os.environ.pop("COMPAT_DEVSERVER_NATIVE", None)
    server = ServerProcess(args.port or free_port(), "bench", secrets.token_hex(24), args.profile_server)
    await server.start()
    watchdog.server_pid = server.pid
    info: dict[str, Any] = {"relay": relay, "pid": server.pid, "port": server.port, "profiled": bool(args.profile_server)}
    results.setdefault("servers", []).append(info)
    if "server" not in results:
        results["server"] = info
    lk = server.livekit_server()
    try:
        idle0, t0 = cpu_seconds(server.pid), time.perf_counter()
        await asyncio.sleep(1.0)
        info["idle_cpu_pct"] = round(100 * (cpu_seconds(server.pid) - idle0) / (time.perf_counter() - t0), 1)
        if latency:
            await phase(results, "signalling", 30, bench_signalling(lk, args.joins))
            await phase(results, "join_default", 60, _summary(bench_joins(lk, args.joins, None)))
            await phase(results, "join_rtc", 60, _summary(bench_joins(lk, args.joins, False)))
            await phase(results, "publish", 90, bench_publish(lk, args.publishes))
            await phase(results, "data", 60, bench_data(lk, args.pings))
        for n in args.sizes:
            await asyncio.sleep(1.0)  # let the previous room's teardown finish on the server
            holder: dict[str, Any] = {}
            await phase(holder, f"load {n} ({relay})", 20 + args.warmup + args.window + 3 * n,
                        bench_load(lk, server.pid, n, args.warmup, args.window, 10.0 + 2.0 * n, args.read_audio,
                                   args.rtp_stats, relay, args.speakers))
            if f"load {n} ({relay})" in holder:
                results["load"].append(holder[f"load {n} ({relay})"])
            results.setdefault("errors", []).extend(holder.get("errors", []))
        for n in args.video_sizes:
            await asyncio.sleep(1.0)
            holder = {}
            await phase(holder, f"video {n} ({relay})", 40 + args.warmup + args.window + 3 * n,
                        bench_video(lk, server.pid, n, args.warmup, args.window, relay, args.video_with_audio))
            if f"video {n} ({relay})" in holder:
                results["video"].append(holder[f"video {n} ({relay})"])
            results.setdefault("errors", []).extend(holder.get("errors", []))
        if latency:
            # Last: a join that fails here keeps retrying in the SDK until the server stops.
            await phase(results, "late_join", 20 + 3 * args.late_join_timeout,
                        bench_late_join(lk, args.late_joins, args.late_join_timeout))
    finally:
        info["exit_code"] = await server.stop()
        info["warnings"] = server.warnings
        info["log_tail"] = server.tail[-10:]


async def _summary(samples: Awaitable[Samples]) -> dict[str, Any]:
    got = await samples
    return {"summary": got.summary(), "errors": got.errors}


# ---- output ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


FULL_DELIVERY_PCT = 95.0  # below this a load's server did less than the full work


def per_stream_comparison(loads: list[LoadResult]) -> list[str]:
    """Audio server CPU per relayed stream, per relay mode, and decode/forward ratio per size:
    of all the server's CPU, and of its user-space part alone."""
    total: dict[str, dict[str, float]] = {}
    user: dict[str, dict[str, float]] = {}
    short: set[str] = set()  # sizes where a mode delivered too little for its CPU to compare
    for load in loads:
        if load.server_cpu_pct is not None and load.relayed_streams:
            total.setdefault(_who(load), {})[load.relay] = load.server_cpu_pct / load.relayed_streams
            if load.packets_received_pct is None or load.packets_received_pct < FULL_DELIVERY_PCT:
                short.add(_who(load))
            if load.server_system_cpu_pct is not None:
                user_pct = load.server_cpu_pct - load.server_system_cpu_pct
                user.setdefault(_who(load), {})[load.relay] = user_pct / load.relayed_streams
    if not total:
        return []
    lines = ["", f"{'audio':<8} {'CPU/stream forward':>19} {'forward-py':>11} {'decode':>10} {'decode/forward':>15}"
                 f" {'user-space only':>16} {'decode/forward-py':>18}"]
    for n, modes in total.items():
        forward, python, decode = modes.get("forward"), modes.get("forward-py"), modes.get("decode")
        lines.append(f"{n:<8} {_fmt(forward and forward * 1000, ' m%'):>19}"
                     f" {_fmt(python and python * 1000, ' m%'):>11} {_fmt(decode and decode * 1000, ' m%'):>10}"
                     f" {_ratio(decode, forward, n in short):>15}"
                     f" {_ratio(user.get(n, {}).get('decode'), user.get(n, {}).get('forward'), n in short):>16}"
                     f" {_ratio(decode, python, n in short):>18}")
    lines.append("(m% = thousandths of one core per relayed stream; forward-py: forwarding with audio written in Python;")
    lines.append(" user-space only: without the server's kernel time)")
    if short:
        lines.append(f"* not comparable: a mode's subscribers received under {FULL_DELIVERY_PCT:.0f} % of the RTP packets"
                     " (or their stats timed out), so its CPU paid for less work")
    return lines


def _who(load: LoadResult) -> str:
    """"8 pub": 8 participants, all publishing; "32/4 pub": 32 participants, 4 of them publishing."""
    if load.publishers == load.participants:
        return f"{load.participants} pub"
    return f"{load.participants}/{load.publishers} pub"


def _ratio(decode: float | None, forward: float | None, short: bool = False) -> str:
    if not (forward and decode):
        return "-"
    return f"{decode / forward:.1f}x" + ("*" if short else "")


def video_table(videos: list[VideoLoadResult]) -> list[str]:
    if not videos:
        return []
    lines = ["", f"{'relay':<10} {'video':<6} {'streams':>7} {'server CPU':>10} {'clients CPU':>11}"
                 f" {'sent':>6} {'decoded/expected':>17} {'delivered':>9} {'received':>8} {'lost':>5} {'NACKs':>5}"
                 f" {'PLIs':>4} {'drops':>5} {'setup':>6}"]
    for v in videos:
        load = f"{v.participants} pub+a" if v.with_audio else f"{v.participants} pub"
        lines.append(
            f"{v.relay:<10} {load:<6} {v.streams:>7} {_fmt(v.server_cpu_pct, '%'):>10}"
            f" {_fmt(v.clients_cpu_pct, '%'):>11} {v.frames_sent:>6} {f'{v.frames_decoded}/{v.frames_expected}':>17}"
            f" {_fmt(v.delivered_pct, '%'):>9} {_fmt(v.received_pct, '%'):>8} {v.packets_lost:>5} {v.nacks:>5}"
            f" {v.plis:>4} {v.udp_receive_drops:>5} {v.setup_s:>5.1f}s"
        )
    lines.append(f"(video: {VIDEO_WIDTH}x{VIDEO_HEIGHT} VP8 at {VIDEO_FPS} fps per publisher, everyone subscribed;"
                 " delivered = frames decoded by subscribers / frames their publishers sent meanwhile"
                 " (each subscription between its own stats reads);"
                 " received = frames they received (complete, before decoding) / the same;"
                 " lost/NACKs/PLIs: the subscribers' inbound-rtp counts; drops: datagrams the kernel dropped"
                 " for a full socket receive buffer, anyone's; pub+a: each also publishes audio)")
    return lines


def render(results: dict[str, Any]) -> str:
    env = results.get("environment") or environment()
    git = env.get("git", {})
    lines = [
        "Dev server benchmark "
        f"({env['nproc']} x {env['cpu_model']}, Python {env['python']}, "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + ")",
        f"dev server: {git.get('devserver_path', '?')} at commit {git.get('commit') or '?'}"
        + (" + uncommitted changes" if git.get("devserver_uncommitted") else ""),
        "",
        f"{'latency':<46} {'n':>4} {'median':>9} {'p95':>9} {'min':>9} {'max':>9} {'fail':>5}",
    ]

    def row(label: str, s: Summary | None) -> None:
        if s is None:
            lines.append(f"{label:<46} {'(not run)' if results.get('media_only') else '(phase failed)':>20}")
            return
        lines.append(
            f"{label:<46} {s.n:>4} {_fmt(s.median_ms, ' ms'):>9} {_fmt(s.p95_ms, ' ms'):>9}"
            f" {_fmt(s.min_ms, ' ms'):>9} {_fmt(s.max_ms, ' ms'):>9} {s.failures:>5}"
        )

    sig = results.get("signalling") or {}
    row("GET /rtc/v1 -> 404 (new TCP connection)", sig.get("http_rtc_v1_404"))
    row("WS /rtc -> JoinResponse (no WebRTC)", sig.get("ws_join_response"))
    row("Room.connect, SDK defaults (/rtc/v1 fallback)", (results.get("join_default") or {}).get("summary"))
    row("Room.connect, straight to /rtc", (results.get("join_rtc") or {}).get("summary"))
    pub: PublishResult | None = results.get("publish")
    row("publish_track returns", pub.publish_track_returns if pub else None)
    row("publish -> remote track_subscribed (audio)", pub.track_subscribed if pub else None)
    row("publish -> first audible frame at remote", pub.first_audible_frame if pub else None)
    late: LateJoinResult | None = results.get("late_join")
    row("Room.connect into a room with live audio", late.connect if late else None)
    row("  ... -> its track_subscribed", late.track_subscribed if late else None)
    data: DataResult | None = results.get("data")
    row("reliable data round trip A->B->A", data.round_trip if data else None)
    if data is not None:
        lines.append(f"{'  first round trip (incl. publisher negotiation)':<46} {_fmt(data.first_round_trip_ms, ' ms'):>24}")
    lines += [
        "",
        "server idle CPU: " + ", ".join(f"{_fmt(s.get('idle_cpu_pct'), '%')} ({s['relay']})"
                                        for s in results.get("servers", [])) + " of one core",
        "",
        f"{'relay':<10} {'load':<8} {'streams':>7} {'server CPU':>10} {'busiest thr':>11} {'clients CPU':>11}"
        f" {'RSS':>7} {'RTP sent':>8} {'RTP rx':>7} {'lost':>5} {'frames rx':>9} {'silent':>7} {'setup':>6}",
    ]
    for load in results.get("load", []):
        lines.append(
            f"{load.relay:<10} {_who(load):<8} {load.relayed_streams:>7} {_fmt(load.server_cpu_pct, '%'):>10}"
            f" {_fmt(load.server_busiest_thread_pct, '%'):>11} {_fmt(load.clients_cpu_pct, '%'):>11}"
            f" {_fmt(load.server_rss_mb, 'M'):>7} {_fmt(load.published_packets_pct, '%'):>8}"
            f" {_fmt(load.packets_received_pct, '%'):>7} {load.packets_lost:>5}"
            f" {_fmt(load.frames_received_pct if load.audio_read else None, '%'):>9} {load.frames_silent:>7}"
            f" {load.setup_s:>5.1f}s"
        )
    lines += per_stream_comparison(results.get("load", []))
    lines += video_table(results.get("video", []))
    lines += ["", "per subscriber over the steady window (frames: 10 ms AudioStream frames; RTP: 20 ms Opus packets)",
              f"{'load':<10} {'who':<5} {'tracks':>6} {'frames rx/exp':>15} {'silent':>7} {'RTP rx/exp':>13}"
              f" {'lost':>5} {'concealed':>9}"]
    for load in results.get("load", []):
        for s in load.subscribers:
            lines.append(
                f"{f'{load.participants} {load.relay}':<10} {s.identity:<5} {s.tracks:>6} {f'{s.frames_received}/{s.frames_expected}':>15}"
                f" {s.frames_silent:>7} {f'{s.packets_received}/{s.packets_expected}':>13} {s.packets_lost:>5}"
                f" {_fmt(s.concealed_pct, '%'):>9}"
            )
    window = (results.get("load") or [None])[0]
    if window is not None:
        lines.append(f"(steady window {window.window_s:.1f} s after {results.get('warmup_s', '?')} s warm-up;"
                     " CPU as % of one core; busiest thr = the server's busiest thread"
                     + (f"; clients' SDK threads at nice {results['client_nice']}" if results.get("client_nice") else "")
                     + ")")
    errors = list(results.get("errors", []))
    for key in ("join_default", "join_rtc"):
        errors += (results.get(key) or {}).get("errors", [])
    if late is not None:
        errors += [f"late join: {e}" for e in late.errors]
    for server in results.get("servers", []):
        errors += [f"server log ({server['relay']}): {w}" for w in server.get("warnings", [])]
    for load in results.get("load", []):
        errors += [f"load {load.participants} ({load.relay}): {e}" for e in load.errors]
    for video in results.get("video", []):
        errors += [f"video {video.participants} ({video.relay}): {e}" for e in video.errors]
    if errors:
        lines += ["", "errors:"] + [f"  {e}" for e in errors[:20]]
    servers = results.get("servers", [])
    lines.append("\n" + "; ".join(f"server ({s['relay']}): {len(s.get('warnings', []))} warnings logged, exit code "
                                  f"{s.get('exit_code')}" for s in servers) + f"; total {results.get('total_s')} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.devserver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--joins", type=int, default=20, help="joins per join variant (default 20)")
    parser.add_argument("--publishes", type=int, default=12, help="publish samples (default 12)")
    parser.add_argument("--pings", type=int, default=100, help="data round trips (default 100)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=list(DEFAULT_SIZES),
                        help="participant counts for the audio load phase (default 2,4,8; '' for none)")
    parser.add_argument("--video-sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[4, 8],
                        help="participant counts for the video load phase (default 4,8; '' for none)")
    parser.add_argument("--relays", type=lambda s: s.split(","), default=["forward", "decode"],
                        help="server relay modes, one server each (default forward,decode; forward-py: audio written in Python)")
    parser.add_argument("--video-with-audio", action="store_true",
                        help="video load: each participant also publishes a microphone (default: video only)")
    parser.add_argument("--speakers", type=int, default=None, metavar="K",
                        help="audio load: only the first K participants publish, the others listen (default: all)")
    parser.add_argument("--media-only", action="store_true",
                        help="only the load phases (no signalling, join, publish, data or late-join latencies)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the steady window (default 3)")
    parser.add_argument("--window", type=float, default=10.0, help="steady window seconds (default 10)")
    parser.add_argument("--late-joins", type=int, default=5, help="joins into a room with live audio (default 5)")
    parser.add_argument("--late-join-timeout", type=float, default=8.0,
                        help="seconds before a late join is abandoned (default 8)")
    parser.add_argument("--no-read-audio", dest="read_audio", action="store_false",
                        help="load phase: subscribers do not read AudioStreams (less client CPU; RTP stats only)")
    parser.add_argument("--no-rtp-stats", dest="rtp_stats", action="store_false",
                        help="load phase: skip the SDK's RTP stats (get_stats), whose FFI can panic under heavy load")
    parser.add_argument("--client-nice", type=int, default=0, metavar="N",
                        help="run the clients' SDK threads at nice N, below the server (default 0: same level);"
                             " on a small host this keeps 32 same-host clients from starving the server")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="seconds after which the run is ended with partial results (default 600)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--profile-server", metavar="PATH",
                        help="run the server under cProfile, stats to PATH (inflates its CPU numbers)")
    args = parser.parse_args(argv)
    # The SDK logs its /rtc/v1 404 fallback at WARNING on every join; expected here, not news.
    logging.getLogger("livekit").setLevel(logging.ERROR)

    def emit(results: dict[str, Any]) -> None:
        try:
            print(render(results))
        finally:
            if args.json:
                Path(args.json).write_text(json.dumps(_plain(results), indent=2) + "\n")

    results: dict[str, Any] = {}
    watchdog = Watchdog(results, budget=args.budget, stall=30.0, emit=emit)
    watchdog.start()
    asyncio.run(run(args, results, watchdog))
    watchdog.stop()
    emit(results)
    sys.stdout.flush()
    # Joins abandoned by the late-join phase may still be pending inside the livekit FFI. The
    # clients are raw rtc rooms, so compat registered no exit hook: dispose the FFI and let its
    # last callbacks finish now, before Python finalises (that is what used to abort the exit).
    shutdown()


if __name__ == "__main__":
    main()
