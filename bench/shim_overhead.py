"""The compat models (Twilio: compat.twilio_video; OpenTok: compat.vonage; both on compat.core)
against raw ``livekit.rtc``, receiving the same room in the same run.

Run it inside the project's private network namespace (WebRTC needs a non-loopback interface;
nothing leaves the machine):

    scripts/netns-run .venv/bin/python -m bench.shim_overhead [--sizes 4,8,16] [--json PATH]

Processes (each one's CPU is its own, summed over its threads from /proc/<pid>/task/*/schedstat):
  dev server   ``python -m compat.devserver`` (as bench.devserver runs it)
  publishers   ``python -m bench._publishers``: N rooms, each publishing a 48 kHz sine,
               ``auto_subscribe=False``
  raw bot      ``python -m bench._bot raw``: an ``rtc.Room``, one ``rtc.AudioStream`` per remote
               audio track
  twilio bot   ``python -m bench._bot twilio``: ``Video.connect(token, {"url", "name"})``,
               ``RemoteAudioTrack.frames()`` per track from ``trackSubscribed``
  opentok bot  ``python -m bench._bot opentok``: a Session for the room (``url`` option),
               ``await session.connect(token)``, ``session.subscribe(stream)`` per stream and
               ``subscriber.audio_frames()``
  this process orchestrates, and runs the in-process micro benchmarks (no server).
Every bot touches every frame's PCM and counts frames per track. ``--models`` picks the models.

Per size N (4, 8, 16): the publishers come up; the bot processes start; one unmeasured warm-up
connect each, then CONNECTS measured rounds of one connect/disconnect per bot, back to back, the
order rotated every round (``rtc.Room.connect`` vs ``Video.connect`` vs ``session.connect`` wall
time; median, and the median of each model's paired difference to raw). Then the bots join for
good and read every track; after a warm-up, a steady window measures each bot process's CPU
(→ per stream), frames delivered vs the expected 100 frames/s per track, and frames dropped by the
models' bounded rings. Layout (``--layout``): ``together`` runs raw and every model in the same
window, so drift on the shared machine favours none of them; ``alternate`` runs raw with one model
per window (the other model's bot leaves the room), for when all bots at once would saturate the
machine; ``auto`` (default) measures the machine's CPU use with all bots in the room during the
warm-up and alternates from ``--busy-limit`` (90 % of all cores) up. Ratios are model/raw from the
same window (median over windows with ``--rounds`` > 1).

Event dispatch (in-process): a LiveKit ``track_muted``/``track_unmuted`` event emitted on an
``rtc.Room`` reaching one user handler: raw = the handler on the rtc.Room; twilio = the same
emit into RtcSession's handler → fact → Twilio Room → a ``trackDisabled``/``trackEnabled``
listener on the Twilio Room; opentok = the same emit → fact → OpenTok Session → a
``streamPropertyChanged`` (``hasAudio``) handler on the Session. CPU per event.

Extras (no server): ``room_build_ms``: what each model adds after the native connect (the Twilio
Room build; the OpenTok token check and connect burst); ``fact_dispatch``: facts fed to a
ScriptedSession; ``receive_local``: a local AudioSource read by a raw AudioStream and through the
core's FrameStream sink.

Every phase has a time limit; nothing is asserted; partial results are always printed, with the
exit status of every child process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar

from livekit import rtc
from livekit.rtc._proto import participant_pb2, track_pb2

from bench.devserver import cpu_seconds, environment
from compat import core as C
from compat import vonage as OT
from compat.core.livekit_internals import redirect_frames
from compat.core.rtc_session import RtcSession, _Sink, shutdown
from compat.devserver.testing import ServerProcess, free_port, sine
from compat.twilio_video.connect import connect_session
from compat.vonage.session import connect_session as connect_ot_session

MODELS = ("twilio", "opentok")
BENCH_KEY, BENCH_SECRET = "bench", "bench-secret-for-in-process-tokens-only"  # in-process micro benches only
SAMPLE_RATE = 48000
FRAME = 480
FRAMES_PER_S = 100


# ---- child processes -----------------------------------------------------------------------------


class Child:
    """A child Python module speaking lines on stdin/stdout."""

    live: ClassVar[set[int]] = set()  # pids, for the watchdog

    def __init__(self, *argv: str) -> None:
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_tail: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        Child.live.add(self.proc.pid)
        self._drain = asyncio.create_task(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.stderr_tail = ([*self.stderr_tail, raw.decode(errors="replace").rstrip()])[-10:]

    async def line(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError("child exited: " + " | ".join(self.stderr_tail[-3:]))
        return raw.decode().strip()

    async def json_line(self, timeout: float) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(await self.line(timeout))
        return value

    def send(self, text: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(Exception):
            self.proc.stdin.write(text.encode())

    async def stop(self, timeout: float = 8.0) -> int | None:
        """Ask the child to quit (stdin closes), kill it after ``timeout``; its exit status
        (negative: the signal that ended it)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.write(b"quit\n")
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        Child.live.discard(proc.pid)
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 2.0)
        return proc.returncode


# ---- bots ---------------------------------------------------------------------------------------------


def _median_ms(seconds: list[float]) -> float | None:
    return round(statistics.median(seconds) * 1000, 1) if seconds else None


def task_cpu_s(pid: int) -> float:
    """On-CPU time of all live threads of a process, from /proc/<pid>/task/*/schedstat (ns
    resolution, unlike the 10 ms ticks of /proc/<pid>/stat); falls back to utime+stime."""
    return task_cpu_split(pid)[0]


def task_cpu_split(pid: int) -> tuple[float, float]:
    """(all threads, the main thread) on-CPU seconds. The main thread runs the asyncio loop,
    i.e. all Python of a bot; the other threads are livekit's native (Rust/libwebrtc) ones."""
    total = main = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                ns = int((task / "schedstat").read_text().split()[0])
                total += ns
                if task.name == str(pid):
                    main = ns
    except OSError:
        return cpu_seconds(pid), 0.0
    return (total / 1e9, main / 1e9) if total else (cpu_seconds(pid), 0.0)


async def ask(bot: Child, command: str, timeout: float) -> dict[str, Any]:
    bot.send(command + "\n")
    return await bot.json_line(timeout)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from the first line of /proc/stat (busy: not idle or iowait)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return float(total - fields[3] - fields[4]), float(total)


def _busy_pct(b0: tuple[float, float], b1: tuple[float, float]) -> float | None:
    """Machine CPU use between two machine_busy() readings, in % of all cores."""
    return round(100 * (b1[0] - b0[0]) / (b1[1] - b0[1]), 1) if b1[1] > b0[1] else None


def window_plan(layout: str, models: list[str], rounds: int) -> list[tuple[str, ...]]:
    """The bots measured in each steady window: all at once, or raw with one model at a time
    (the order reversed every other round, so drift favours no model)."""
    if layout == "together" or len(models) == 1:
        return [("raw", *models)] * rounds
    plan: list[tuple[str, ...]] = []
    for r in range(rounds):
        plan += [("raw", m) for m in (models if r % 2 == 0 else models[::-1])]
    return plan


async def measure_window(
    bots: dict[str, Child], modes: tuple[str, ...], tracks: dict[str, int], others: dict[str, int], seconds: float
) -> dict[str, Any]:
    """One steady window over ``modes`` (all staying and reading ``tracks[mode]`` tracks): CPU of each
    bot process and of the server and publishers, machine CPU, frames delivered."""
    c0 = {m: task_cpu_split(bots[m].pid) for m in modes}
    o0 = {k: task_cpu_s(p) for k, p in others.items()}
    b0 = machine_busy()
    w0 = time.perf_counter()
    m0 = {m: await ask(bots[m], "mark", 5) for m in modes}
    await asyncio.sleep(seconds)
    c1 = {m: task_cpu_split(bots[m].pid) for m in modes}
    o1 = {k: task_cpu_s(p) for k, p in others.items()}
    b1 = machine_busy()
    w1 = time.perf_counter()
    m1 = {m: await ask(bots[m], "mark", 5) for m in modes}
    wall = w1 - w0
    out: dict[str, Any] = {
        "bots": list(modes), "window_s": round(wall, 2), "machine_busy_pct": _busy_pct(b0, b1),
        "others_cpu_pct": {k: round(100 * (o1[k] - o0[k]) / wall, 1) for k in o0},
    }
    for mode in modes:
        span = m1[mode]["t"] - m0[mode]["t"]
        frames = m1[mode]["frames"] - m0[mode]["frames"]
        expected = tracks[mode] * FRAMES_PER_S * span
        cpu_pct = 100 * (c1[mode][0] - c0[mode][0]) / wall
        out[mode] = dict(
            tracks=tracks[mode],
            cpu_pct=round(cpu_pct, 2),
            main_thread_cpu_pct=round(100 * (c1[mode][1] - c0[mode][1]) / wall, 2),
            cpu_pct_per_stream=round(cpu_pct / (tracks[mode] or 1), 3),
            frames=frames,
            frames_expected=round(expected),
            delivered_pct=round(100 * frames / expected, 1) if expected else None,
            shortfall=max(0, round(expected - frames)),
            ring_dropped=m1[mode]["dropped"] - m0[mode]["dropped"],
            per_track_frames=[y - x for x, y in zip(m0[mode]["per_track"], m1[mode]["per_track"], strict=False)],
        )
    return out


async def run_size(n: int, server: ServerProcess, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """N publishers in one process; a raw bot and one bot per model, each in its own process."""
    room = f"shim-bench-{n}"
    models: list[str] = args.models
    modes = ["raw", *models]
    out: dict[str, Any] = {"participants": n, "errors": [], "windows": [], "exit_codes": {}}
    pubs = Child("-m", "bench._publishers", url, server.key, server.secret, room, str(n))
    bots = {mode: Child("-m", "bench._bot", mode, url, server.key, server.secret, room, str(n)) for mode in modes}
    staying: set[str] = set()

    async def stay(wanted: tuple[str, ...]) -> None:
        """Make exactly the ``wanted`` bots stay in the room and read every track."""
        for mode in sorted(staying - set(wanted)):
            await ask(bots[mode], "leave", 15)
            staying.discard(mode)
        new = [m for m in wanted if m not in staying]
        answers = await asyncio.gather(*(ask(bots[m], "stay", 30) for m in new))
        for mode, answer in zip(new, answers, strict=True):
            staying.add(mode)
            out[mode]["tracks"] = answer.get("ready", 0)
            if "error" in answer:
                out[mode]["errors"].append(answer["error"])

    await pubs.start()
    try:
        line = await pubs.line(30 + 2 * n)
        out["publishing"] = int(line.split()[1])
        for mode, bot in bots.items():
            await bot.start()
            out[mode] = {"mode": mode, "pid": bot.pid, "errors": [], "connect_s": []}
            await bot.json_line(30)  # hello: imports done
        await asyncio.sleep(args.settle)  # the publishers' own negotiation and warm-up
        # connect latency: one unmeasured warm-up connect each, then rounds of one connect per
        # bot, back to back, the order rotated every round
        for bot in bots.values():
            await ask(bot, "connect", 20)
        for k in range(args.connects):
            for mode in modes[k % len(modes):] + modes[:k % len(modes)]:
                answer = await ask(bots[mode], "connect", 20)
                out[mode]["connect_s"].append(round(answer["connect_s"], 4) if "connect_s" in answer else None)
                if "connect_s" not in answer:
                    out[mode]["errors"].append(answer.get("error"))
        for mode in modes:
            out[mode]["connect_median_ms"] = _median_ms([s for s in out[mode]["connect_s"] if s is not None])
        out["connect_paired_diff_ms"] = {}
        for model in models:  # each round ran the bots back to back: the difference is less exposed to drift
            diffs = [b - a for a, b in zip(out["raw"]["connect_s"], out[model]["connect_s"], strict=False)
                     if a is not None and b is not None]
            out["connect_paired_diff_ms"][model] = round(statistics.median(diffs) * 1000, 1) if diffs else None
        # receive: the bots join for good and read every track; steady windows
        layout = args.layout
        others = {"server": server.pid, "publishers": pubs.pid}
        if layout == "auto":
            await stay(tuple(modes))
            b0 = machine_busy()
            await asyncio.sleep(args.warmup)
            busy = _busy_pct(b0, machine_busy())
            out["busy_all_bots_pct"] = busy
            layout = "alternate" if busy is not None and busy >= args.busy_limit else "together"
        out["layout"] = layout if len(models) > 1 else "together"  # one model: nothing to alternate
        for group in window_plan(layout, models, args.rounds):
            if set(group) != staying:
                await stay(group)
                await asyncio.sleep(args.warmup)
            ready = {m: out[m].get("tracks", 0) for m in group}
            out["windows"].append(await measure_window(bots, group, ready, others, args.window))
    except Exception as exc:
        tails = " | ".join(t for c in (pubs, *bots.values()) for t in c.stderr_tail[-2:])
        out["errors"].append(f"{type(exc).__name__}: {exc} {tails}")
    finally:
        codes = await asyncio.gather(*(bot.stop() for bot in bots.values()), pubs.stop(10.0))
        out["exit_codes"] = dict(zip([*bots, "publishers"], codes, strict=True))
        out["stderr_tails"] = {name: c.stderr_tail for name, c in (*bots.items(), ("publishers", pubs)) if c.stderr_tail}
    out["ratios"] = {model: _ratios(out, model) for model in models}
    return out


def _ratios(size: dict[str, Any], model: str) -> dict[str, float | None]:
    """model/raw: connect medians; CPU per stream and delivery from the windows measuring both
    (the median of the per-window ratios when there are several)."""

    def per_window(key: str) -> float | None:
        values = [r for w in size.get("windows", []) if model in w and "raw" in w
                  if (r := _ratio(w[model].get(key), w["raw"].get(key))) is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "cpu_per_stream": per_window("cpu_pct_per_stream"),
        "connect": _ratio((size.get(model) or {}).get("connect_median_ms"), (size.get("raw") or {}).get("connect_median_ms")),
        "delivered": per_window("delivered_pct"),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


# ---- in-process micro benchmarks -------------------------------------------------------------------


def _fake_remote(identity: str, track_sid: str) -> tuple[rtc.RemoteParticipant, rtc.RemoteTrackPublication]:
    """A RemoteParticipant and publication as the rtc.Room hands them to handlers (no FFI handle)."""
    p = object.__new__(rtc.RemoteParticipant)
    p._info = participant_pb2.ParticipantInfo(sid="PA_" + identity, identity=identity, name=identity)
    pub = object.__new__(rtc.RemoteTrackPublication)
    pub._info = track_pb2.TrackPublicationInfo(sid=track_sid, name="mic", kind=track_pb2.KIND_AUDIO)
    return p, pub


def _fake_session(loop: asyncio.AbstractEventLoop) -> RtcSession:
    """An RtcSession that believes it is connected to room "r" with alice (audio track TR_1) in it;
    its rtc.Room never connects, so LiveKit events are emitted on it by hand."""
    session = RtcSession(loop=loop)
    info = C.ParticipantInfo("PA_alice", "alice")
    session._snapshot = C.RoomSnapshot(
        "RM", "r", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info, (C.TrackInfo("TR_1", "mic", "audio"),)),)
    )
    session._backlog.insert(0, C.Connected(session._snapshot))
    session._connected = True
    return session


async def _close_fake(session: RtcSession) -> None:
    session._connected = False  # its rtc.Room never connected: nothing native to disconnect
    session.disconnect()
    await session.wait_closed(5.0)


def _emit_mutes(room: rtc.Room, events: int, p: rtc.RemoteParticipant, pub: rtc.RemoteTrackPublication) -> float:
    """CPU seconds of ``events`` track_muted/track_unmuted emits on ``room``, alternating."""
    cpu0 = time.process_time()
    for i in range(events):
        room.emit("track_muted" if i % 2 == 0 else "track_unmuted", p, pub)
    return time.process_time() - cpu0


async def event_dispatch(events: int, models: list[str]) -> dict[str, Any]:
    """track_muted/track_unmuted emitted on an rtc.Room, to one user handler: raw vs through each model
    (twilio: trackDisabled/trackEnabled on the Twilio Room; opentok: streamPropertyChanged
    ``hasAudio`` on the OpenTok Session)."""
    loop = asyncio.get_running_loop()
    p, pub = _fake_remote("alice", "TR_1")
    out: dict[str, Any] = {"events": events, "handler_calls": {}, "us_per_event": {}}
    calls = dict.fromkeys(["raw", *models], 0)

    def counter(mode: str) -> Any:
        def handler(*_args: Any) -> None:
            calls[mode] += 1

        return handler

    raw_room = rtc.Room()
    raw_room.on("track_muted", counter("raw"))
    raw_room.on("track_unmuted", counter("raw"))
    cpu = {"raw": _emit_mutes(raw_room, events, p, pub)}
    if "twilio" in models:
        session = _fake_session(loop)
        room = await connect_session(session, {})
        await asyncio.sleep(0.01)
        room.on("trackDisabled", counter("twilio"))
        room.on("trackEnabled", counter("twilio"))
        cpu["twilio"] = _emit_mutes(session._room, events, p, pub)
        room.disconnect()
        await _close_fake(session)
    if "opentok" in models:
        session = _fake_session(loop)
        ot_session = OT.Session(BENCH_KEY, "r")
        await connect_ot_session(ot_session, session, OT.generate_token(BENCH_KEY, BENCH_SECRET, "r", identity="me"))
        await asyncio.sleep(0.01)
        ot_session.on("streamPropertyChanged", counter("opentok"))
        cpu["opentok"] = _emit_mutes(session._room, events, p, pub)
        await asyncio.wait_for(ot_session.disconnect(), 5.0)
        await _close_fake(session)
    out["handler_calls"] = calls
    out["us_per_event"] = {m: round(c / events * 1e6, 2) for m, c in cpu.items()}
    out["ratios"] = {m: _ratio(out["us_per_event"][m], out["us_per_event"]["raw"]) for m in models}
    return out


def _snapshot(n: int) -> C.RoomSnapshot:
    """Room "r" as seen by "me": N remote participants with one audio track each."""
    parts = tuple(C.ParticipantState(C.ParticipantInfo(f"PA_{i}", f"p{i}"), (C.TrackInfo(f"TR_{i}", "mic", "audio"),))
                  for i in range(n))
    return C.RoomSnapshot("RM", "r", C.ParticipantInfo("PA_me", "me"), parts)


async def room_build(sizes: list[int], models: list[str], repeats: int = 30) -> dict[str, dict[str, float]]:
    """What each model adds after the native connect, from a snapshot of N remote participants with
    one audio track each: building the Twilio Room (participants, publications, re-emitters) in
    Video.connect; the OpenTok Session's connect burst (connections, streams, their events, the
    token check) in session.connect. Median ms per model and size, in-process."""
    out: dict[str, dict[str, float]] = {m: {} for m in models}
    token = OT.generate_token(BENCH_KEY, BENCH_SECRET, "r", identity="me")
    for n in sizes:
        snap = _snapshot(n)
        took: dict[str, list[float]] = {m: [] for m in models}
        for _ in range(repeats):
            if "twilio" in models:
                t0 = time.perf_counter()
                room = await connect_session(C.ScriptedSession(snap), {})
                took["twilio"].append(time.perf_counter() - t0)
                room.disconnect()
            if "opentok" in models:
                session = OT.Session(BENCH_KEY, "r")
                t0 = time.perf_counter()
                await connect_ot_session(session, C.ScriptedSession(snap), token)
                took["opentok"].append(time.perf_counter() - t0)
                await session.disconnect()
        for m in models:
            out[m][str(n)] = round(statistics.median(took[m]) * 1000, 3)
    return out


async def _feed(source: rtc.AudioSource, frames: int) -> None:
    data = sine(764.0, 0, FRAME).tobytes()  # any audio: the PCM is only copied
    frame = rtc.AudioFrame(data, SAMPLE_RATE, 1, FRAME)
    for _ in range(frames):
        await source.capture_frame(frame)


async def receive_local(frames: int, compat_path: bool) -> dict[str, Any]:
    """A local track read by a raw AudioStream, or through the core's FrameStream sink."""
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=200)
    track = rtc.LocalAudioTrack.create_audio_track("bench", source)
    native = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    stream: C.FrameStream[Any] | None = None
    if compat_path:
        stream = C.FrameStream(frames + 10)
        redirect_frames(native, _Sink(stream))
    feeder = asyncio.create_task(_feed(source, frames * 4))
    got = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()

    async def consume() -> None:
        nonlocal got
        it: Any = stream if stream is not None else native
        async for _ in it:
            got += 1
            if got >= frames:
                return

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(consume(), frames / 100 * 3 + 10)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    feeder.cancel()
    await asyncio.gather(feeder, return_exceptions=True)
    await native.aclose()
    await source.aclose()
    return {
        "path": "compat" if compat_path else "raw",
        "frames": got,
        "cpu_us_per_frame": round(cpu / max(got, 1) * 1e6, 1),
        "wall_s": round(wall, 2),
        "dropped": stream.dropped if stream is not None else None,
    }


async def fact_dispatch(facts: int, models: list[str]) -> dict[str, Any]:
    """Facts fed straight to a ScriptedSession (the model's part alone): TrackMuted/TrackUnmuted to a
    trackDisabled/trackEnabled listener on the Twilio Room, or a streamPropertyChanged handler on the
    OpenTok Session."""
    snap = _snapshot(1)
    out: dict[str, Any] = {"facts": facts, "events": {}, "cpu_us_per_fact": {}}
    for model in models:
        session = C.ScriptedSession(snap)
        count = 0

        def on_event(*_args: Any) -> None:
            nonlocal count
            count += 1

        if model == "twilio":
            room = await connect_session(session, {})
            room.on("trackEnabled", on_event)
            room.on("trackDisabled", on_event)
        else:
            ot_session = OT.Session(BENCH_KEY, "r")
            await connect_ot_session(ot_session, session, OT.generate_token(BENCH_KEY, BENCH_SECRET, "r", identity="me"))
            ot_session.on("streamPropertyChanged", on_event)
        await asyncio.sleep(0.01)
        cpu0 = time.process_time()
        for i in range(facts):
            session.feed(C.TrackMuted("p0", "TR_0") if i % 2 == 0 else C.TrackUnmuted("p0", "TR_0"))
        cpu = time.process_time() - cpu0
        if model == "twilio":
            room.disconnect()
        else:
            await ot_session.disconnect()
        out["events"][model] = count
        out["cpu_us_per_fact"][model] = round(cpu / facts * 1e6, 2)
    return out


# ---- run ---------------------------------------------------------------------------------------------


async def phase(results: dict[str, Any], name: str, timeout: float, coro: Any) -> None:
    t0 = time.perf_counter()
    print(f"  {name} ...", file=sys.stderr, flush=True)
    try:
        results[name] = await asyncio.wait_for(coro, timeout)
    except Exception as exc:
        results.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: {exc}")
    print(f"  {name} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if os.environ.get("NETNS_RUN_INSIDE") != "1":
        print("warning: not inside scripts/netns-run; WebRTC media needs its non-loopback interface", file=sys.stderr)
    results.update(environment=environment(), started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   models=args.models, layout=args.layout, busy_limit_pct=args.busy_limit, rounds=args.rounds,
                   warmup_s=args.warmup, window_s=args.window, connects=args.connects)
    t_start = time.perf_counter()
    await phase(results, "event_dispatch", 60, event_dispatch(args.events, args.models))
    await phase(results, "fact_dispatch", 60, fact_dispatch(args.events, args.models))
    await phase(results, "room_build_ms", 60, room_build(args.sizes, args.models))
    if args.local_frames:
        local: list[Any] = []
        results["receive_local"] = local
        for compat_path in (False, True):
            holder: dict[str, Any] = {}
            await phase(holder, f"receive_local {'compat' if compat_path else 'raw'}", args.local_frames / 100 * 3 + 15,
                        receive_local(args.local_frames, compat_path))
            local.extend(holder.values())
    server = ServerProcess(args.port or free_port(), "bench", secrets.token_hex(24), None)
    await server.start()
    Child.live.add(server.pid)
    url = server.livekit_server().url
    sizes: list[Any] = []
    results["sizes"] = sizes
    try:
        for n in args.sizes:
            holder = {}
            bots = 1 + len(args.models)
            windows = 2 * args.rounds if args.layout != "together" else args.rounds
            budget = (90 + 2 * n + 2 * bots * (args.connects + 1) + args.settle + args.warmup
                      + windows * (20 + args.warmup + args.window))
            await phase(holder, f"size {n}", budget, run_size(n, server, url, args))
            if f"size {n}" in holder:
                sizes.append(holder[f"size {n}"])
            results.setdefault("errors", []).extend(holder.get("errors", []))
    finally:
        results["server_exit_code"] = await server.stop()
        Child.live.discard(server.pid)
        results["server_warnings"] = server.warnings[:10]
        results["total_s"] = round(time.perf_counter() - t_start, 1)


def _f(value: Any, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


TARGETS = {"twilio": {"cpu_per_stream": 1.03, "connect": 1.05}, "opentok": {"cpu_per_stream": 1.05, "connect": 1.05}}
NAMES = {"twilio": "Twilio", "opentok": "OpenTok"}


def render(results: dict[str, Any]) -> str:
    env = results.get("environment") or {}
    models: list[str] = results.get("models") or list(MODELS)
    lines = [
        f"{' and '.join(NAMES[m] for m in models)} vs raw livekit.rtc ({env.get('nproc')} x {env.get('cpu_model')},"
        f" Python {env.get('python')}, livekit {env.get('versions', {}).get('livekit')},"
        f" commit {env.get('git', {}).get('commit')})",
        "",
        f"{'pubs':>4} {'win':>3} {'bot':<7} {'tracks':>6} {'connect med':>11} {'bot CPU':>8} {'py thread':>9} {'CPU/stream':>10}"
        f" {'frames/expected':>17} {'deliv':>6} {'ring drop':>9} {'server':>7} {'pubs CPU':>8} {'machine':>7}",
    ]
    for size in results.get("sizes", []):
        n = size["participants"]
        if not size.get("windows"):
            lines.append(f"{n:>4} {'-':>3} (no steady window)")
        for i, w in enumerate(size.get("windows", []), 1):
            o = w.get("others_cpu_pct", {})
            for k, mode in enumerate(w["bots"]):
                b = w.get(mode) or {}
                tail = (f" {_f(o.get('server'), '%'):>7} {_f(o.get('publishers'), '%'):>8} {_f(w.get('machine_busy_pct'), '%'):>7}"
                        if k == 0 else "")
                lines.append(
                    f"{n:>4} {i:>3} {mode:<7} {b.get('tracks', 0):>6}"
                    f" {_f((size.get(mode) or {}).get('connect_median_ms'), ' ms'):>11}"
                    f" {_f(b.get('cpu_pct'), '%'):>8} {_f(b.get('main_thread_cpu_pct'), '%'):>9}"
                    f" {_f(b.get('cpu_pct_per_stream'), '%', 2):>10}"
                    f" {str(b.get('frames', '-')) + '/' + str(b.get('frames_expected', '-')):>17}"
                    f" {_f(b.get('delivered_pct'), '%'):>6} {(b.get('ring_dropped', '-') if mode != 'raw' else '-')!s:>9}" + tail
                )
    header = f"{'pubs':>4} {'layout':<9}"
    for m in models:
        header += f" {'CPU/str ' + m:>16} {'connect ' + m:>15} {'deliv ' + m:>13} {'paired ' + m:>15}"
    lines += ["", header]
    for size in results.get("sizes", []):
        row = f"{size['participants']:>4} {size.get('layout', '-'):<9}"
        for m in models:
            r = (size.get("ratios") or {}).get(m, {})
            paired = (size.get("connect_paired_diff_ms") or {}).get(m)
            row += (f" {_f(r.get('cpu_per_stream'), '', 3):>16} {_f(r.get('connect'), '', 3):>15}"
                    f" {_f(r.get('delivered'), '', 3):>13} {_f(paired, ' ms', 1):>15}")
        lines.append(row)
    lines.append("(ratios model/raw; targets: " + "; ".join(
        f"{NAMES[m]} CPU <= {TARGETS[m]['cpu_per_stream']}, connect <= {TARGETS[m]['connect']}" for m in models)
        + "; paired = median of model - raw connect, back to back)")
    d = results.get("event_dispatch")
    if d:
        us, calls = d["us_per_event"], d["handler_calls"]
        lines += ["", f"event dispatch (rtc.Room track_muted/unmuted emit -> one user handler), {d['events']} events:"
                  f" raw {us['raw']} us" + "".join(f", {NAMES[m]} {us[m]} us (ratio {d['ratios'][m]})" for m in models)
                  + " per event (handler calls " + ", ".join(f"{m} {c}" for m, c in calls.items()) + ")"]
    rb = results.get("room_build_ms")
    if rb:
        lines.append("after the native connect (median, in-process): " + "; ".join(
            f"{'Twilio Room build' if m == 'twilio' else 'OpenTok connect burst'} "
            + ", ".join(f"{k}: {v} ms" for k, v in rb[m].items()) for m in models if m in rb))
    f = results.get("fact_dispatch")
    if f:
        lines.append("fact dispatch alone (ScriptedSession -> handler): " + ", ".join(
            f"{NAMES[m]} {f['cpu_us_per_fact'][m]} us" for m in models) + " per fact")
    for r in results.get("receive_local", []):
        lines.append(f"local receive ({r['path']}): {r['cpu_us_per_frame']} us CPU per frame over {r['frames']} frames")
    lines.append(f"(steady windows of {results.get('window_s')} s after {results.get('warmup_s')} s warm-up; layout"
                 " together = raw and every model in the same window, alternate = raw with one model per window"
                 f" (auto picks alternate when all bots together keep the machine >= {results.get('busy_limit_pct')}%"
                 " busy); CPU in % of one core, from schedstat; py thread = the bot's main thread (asyncio loop, all"
                 " its Python), the rest is livekit's native threads; machine = all cores busy, % of"
                 f" {env.get('nproc')} cores; connect = median of {results.get('connects')}, bots rotating;"
                 " server and pubs CPU: whole processes during the window)")
    exits = {f"{size['participants']} {k}": v for size in results.get("sizes", []) for k, v in size.get("exit_codes", {}).items()}
    exits["server"] = results.get("server_exit_code")
    bad = {k: v for k, v in exits.items() if v != 0}
    lines.append("child exit codes: " + ("all 0" if not bad else ", ".join(f"{k}: {v}" for k, v in bad.items())))
    for size in results.get("sizes", []):
        for name, tail in (size.get("stderr_tails") or {}).items():
            lines.append(f"  {size['participants']} {name} stderr: " + " | ".join(tail[-3:]))
    errors = list(results.get("errors", []))
    for size in results.get("sizes", []):
        errors += [f"{size['participants']}: {e}" for e in size.get("errors", [])]
        for mode in ("raw", *models):
            errors += [f"{size['participants']} {mode}: {e}" for e in (size.get(mode) or {}).get("errors", [])]
    if errors:
        lines += ["", "errors:"] + [f"  {e}" for e in errors[:20]]
    lines.append(f"total {results.get('total_s')} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shim_overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[4, 8, 16])
    parser.add_argument("--models", type=_models, default=list(MODELS),
                        help="the compat models measured against raw, comma-separated (default twilio,opentok; "
                             "'shim' is the old name of twilio)")
    parser.add_argument("--connects", type=int, default=9,
                        help="measured connects per bot, in rounds of one per bot (rotating order), after one warm-up each"
                             " (default 9)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the publishers are up (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after all tracks deliver (default 2)")
    parser.add_argument("--window", type=float, default=10.0, help="steady window seconds (default 10)")
    parser.add_argument("--layout", choices=("auto", "together", "alternate"), default="auto",
                        help="steady windows: every bot at once (together), raw with one model per window (alternate),"
                             " or together unless that keeps the machine at least --busy-limit busy (auto, the default)")
    parser.add_argument("--busy-limit", type=float, default=90.0,
                        help="auto layout: machine CPU use (%% of all cores) from which the models alternate (default 90)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="steady windows per layout: together, that many windows; alternate, that many per model,"
                             " the model order reversed every other round (default 1)")
    parser.add_argument("--events", type=int, default=50_000, help="events for the dispatch micro bench")
    parser.add_argument("--local-frames", type=int, default=1000,
                        help="frames for the no-server local receive micro bench (0: skip; default 1000)")
    parser.add_argument("--budget", type=float, default=600.0, help="hard limit for the whole run (default 600 s)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    run_within_budget(args, run, render)


def run_within_budget(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, dict[str, Any]], Coroutine[Any, Any, None]],
    render: Callable[[dict[str, Any]], str],
) -> None:
    """Run a bench's orchestration under a watchdog of ``args.budget`` seconds; print (and write
    to ``args.json``) what was measured, also when it overruns or fails."""
    logging.getLogger("livekit").setLevel(logging.ERROR)
    logging.getLogger("compat").setLevel(logging.ERROR)
    results: dict[str, Any] = {}

    def emit() -> None:
        print(render(results))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def watchdog() -> None:  # a stalled loop or an overrun: print what was measured, kill children
        # os._exit stays here: the main thread may be stuck in a synchronous FFI call, and from
        # another thread nothing else ends the process
        if done.wait(args.budget):
            return
        results.setdefault("errors", []).append("watchdog: time budget exceeded; partial results")
        for pid in list(Child.live):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            emit()
        os._exit(3)

    done = threading.Event()
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        asyncio.run(run(args, results))
    finally:
        done.set()
        emit()
        # This process connects no compat session (its micro benches fake theirs), so compat
        # registered no exit hook: dispose livekit's FFI before Python finalises.
        shutdown()


def _models(text: str) -> list[str]:
    models = [{"shim": "twilio"}.get(m, m) for m in text.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise argparse.ArgumentTypeError(f"unknown model(s) {unknown}: choose from {', '.join(MODELS)}")
    return list(dict.fromkeys(models))


if __name__ == "__main__":
    main()
