"""The Twilio shim (compat.twilio_video on compat.core) against raw ``livekit.rtc``, receiving the same room.

Run it inside the project's private network namespace (WebRTC needs a non-loopback interface;
nothing leaves the machine):

    scripts/netns-run .venv/bin/python -m bench.shim_overhead [--sizes 4,8,16] [--json PATH]

Processes (each one's CPU is its own, summed over its threads from /proc/<pid>/task/*/schedstat):
  dev server   ``python -m compat.devserver`` (as bench.devserver runs it)
  publishers   ``python -m bench._publishers``: N rooms, each publishing a 48 kHz sine,
               ``auto_subscribe=False``
  raw bot      ``python -m bench._bot raw``: an ``rtc.Room``, one ``rtc.AudioStream`` per remote
               audio track
  shim bot     ``python -m bench._bot shim``: ``Video.connect(token, {"url", "name"})``,
               ``RemoteAudioTrack.frames()`` per track from ``trackSubscribed``
  this process orchestrates, and runs the in-process micro benchmarks (no server).
Both bots touch every frame's PCM and count frames per track.

Per size N (4, 8, 16): the publishers come up; both bot processes start; one unmeasured warm-up
connect each, then CONNECTS measured connect/disconnect cycles per bot, alternating raw and
shim (``rtc.Room.connect`` vs ``Video.connect`` wall time, median); then both bots join for good
at the same time and read every track; after a warm-up, one steady window measures each bot
process's CPU (→ per stream), frames delivered vs the expected 100 frames/s per track, and frames
dropped by the shim's bounded ring. Running both bots at once puts them under the same load at
the same moment, so drift on the shared machine does not favour one of them.

Event dispatch (in-process): a LiveKit ``track_muted``/``track_unmuted`` event emitted on an
``rtc.Room`` reaching one user handler: raw = the handler on the rtc.Room; shim = the same
emit into RtcSession's handler → fact → Twilio Room → a ``trackDisabled``/``trackEnabled``
listener on the Twilio Room. CPU per event.

Extras (no server, as before): ``receive_local``: a local AudioSource read by a raw AudioStream
and through the core's FrameStream sink; ``fact_dispatch``: facts fed to a ScriptedSession.

Every phase has a time limit; nothing is asserted; partial results are always printed.
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
from pathlib import Path
from typing import Any, ClassVar

from livekit import rtc
from livekit.rtc._proto import participant_pb2, track_pb2

from bench.devserver import cpu_seconds, environment
from compat import core as C
from compat.core.livekit_internals import redirect_frames
from compat.core.rtc_session import RtcSession, _Sink
from compat.devserver.testing import ServerProcess, free_port, sine
from compat.twilio_video.connect import connect_session

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

    async def stop(self, timeout: float = 8.0) -> None:
        proc = self.proc
        if proc is None:
            return
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


async def run_size(n: int, index: int, server: ServerProcess, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """N publishers in one process; a raw and a shim bot, each in its own process, at the same time."""
    room = f"shim-bench-{n}"
    out: dict[str, Any] = {"participants": n, "errors": []}
    pubs = Child("-m", "bench._publishers", url, server.key, server.secret, room, str(n))
    bots = {mode: Child("-m", "bench._bot", mode, url, server.key, server.secret, room, str(n)) for mode in ("raw", "shim")}
    await pubs.start()
    try:
        line = await pubs.line(30 + 2 * n)
        out["publishing"] = int(line.split()[1])
        for mode, bot in bots.items():
            await bot.start()
            out[mode] = {"mode": mode, "pid": bot.pid, "errors": [], "connect_s": []}
            await bot.json_line(30)  # hello: imports done
        await asyncio.sleep(args.settle)  # the publishers' own negotiation and warm-up
        # connect latency: one unmeasured warm-up connect each, then alternating raw/shim
        for bot in bots.values():
            await ask(bot, "connect", 20)
        for k in range(args.connects):
            order = ("raw", "shim") if k % 2 == 0 else ("shim", "raw")
            for mode in order:
                answer = await ask(bots[mode], "connect", 20)
                if "connect_s" in answer:
                    out[mode]["connect_s"].append(round(answer["connect_s"], 4))
                else:
                    out[mode]["errors"].append(answer.get("error"))
        # receive: both bots join for good and read every track
        stays = await asyncio.gather(*(ask(bot, "stay", 30) for bot in bots.values()))
        for (mode, _bot), answer in zip(bots.items(), stays, strict=False):
            out[mode]["tracks"] = answer.get("ready", 0)
            if "error" in answer:
                out[mode]["errors"].append(answer["error"])
        for mode in bots:
            out[mode]["connect_median_ms"] = _median_ms(out[mode]["connect_s"])
        pairs = list(zip(out["raw"]["connect_s"], out["shim"]["connect_s"], strict=False))
        if pairs:  # each pair ran back to back, so their difference is less exposed to drift
            out["connect_paired_diff_ms"] = round(statistics.median(b - a for a, b in pairs) * 1000, 1)
        await asyncio.sleep(args.warmup)
        others = {"server": server.pid, "publishers": pubs.pid}
        c0 = {m: task_cpu_split(b.pid) for m, b in bots.items()}
        o0 = {k: task_cpu_s(p) for k, p in others.items()}
        w0 = time.perf_counter()
        m0 = {m: await ask(b, "mark", 5) for m, b in bots.items()}
        await asyncio.sleep(args.window)
        c1 = {m: task_cpu_split(b.pid) for m, b in bots.items()}
        o1 = {k: task_cpu_s(p) for k, p in others.items()}
        w1 = time.perf_counter()
        m1 = {m: await ask(b, "mark", 5) for m, b in bots.items()}
        wall = w1 - w0
        out["window_s"] = round(wall, 2)
        out["others_cpu_pct"] = {k: round(100 * (o1[k] - o0[k]) / wall, 1) for k in o0}
        for mode in bots:
            b = out[mode]
            tracks = b["tracks"] or 1
            span = m1[mode]["t"] - m0[mode]["t"]
            frames = m1[mode]["frames"] - m0[mode]["frames"]
            expected = b["tracks"] * FRAMES_PER_S * span
            cpu_pct = 100 * (c1[mode][0] - c0[mode][0]) / wall
            b.update(
                cpu_pct=round(cpu_pct, 2),
                main_thread_cpu_pct=round(100 * (c1[mode][1] - c0[mode][1]) / wall, 2),
                cpu_pct_per_stream=round(cpu_pct / tracks, 3),
                frames=frames,
                frames_expected=round(expected),
                delivered_pct=round(100 * frames / expected, 1) if expected else None,
                shortfall=max(0, round(expected - frames)),
                ring_dropped=m1[mode]["dropped"] - m0[mode]["dropped"],
                per_track_frames=[y - x for x, y in zip(m0[mode]["per_track"], m1[mode]["per_track"], strict=False)],
            )
    except Exception as exc:
        tails = " | ".join(t for c in (pubs, *bots.values()) for t in c.stderr_tail[-2:])
        out["errors"].append(f"{type(exc).__name__}: {exc} {tails}")
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots.values()), pubs.stop(10.0))
    raw, shim = out.get("raw") or {}, out.get("shim") or {}
    out["ratios"] = {
        "cpu_per_stream": _ratio(shim.get("cpu_pct_per_stream"), raw.get("cpu_pct_per_stream")),
        "connect": _ratio(shim.get("connect_median_ms"), raw.get("connect_median_ms")),
        "delivered": _ratio(shim.get("delivered_pct"), raw.get("delivered_pct")),
    }
    return out


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


async def event_dispatch(events: int) -> dict[str, Any]:
    """track_muted/track_unmuted emitted on an rtc.Room, to one user handler: raw vs through the shim."""
    p, pub = _fake_remote("alice", "TR_1")
    out: dict[str, Any] = {"events": events}
    # raw
    raw_room = rtc.Room()
    raw_count = 0

    def on_raw(*_args: Any) -> None:
        nonlocal raw_count
        raw_count += 1

    raw_room.on("track_muted", on_raw)
    raw_room.on("track_unmuted", on_raw)
    cpu0 = time.process_time()
    for i in range(events):
        raw_room.emit("track_muted" if i % 2 == 0 else "track_unmuted", p, pub)
    raw_cpu = time.process_time() - cpu0
    # shim
    session = RtcSession(loop=asyncio.get_running_loop())
    info = C.ParticipantInfo("PA_alice", "alice")
    session._snapshot = C.RoomSnapshot(
        "RM", "r", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info, (C.TrackInfo("TR_1", "mic", "audio"),)),)
    )
    session._backlog.insert(0, C.Connected(session._snapshot))
    session._connected = True
    room = await connect_session(session, {})
    await asyncio.sleep(0.01)
    shim_count = 0

    def on_shim(*_args: Any) -> None:
        nonlocal shim_count
        shim_count += 1

    room.on("trackDisabled", on_shim)
    room.on("trackEnabled", on_shim)
    rtc_room = session._room
    cpu0 = time.process_time()
    for i in range(events):
        rtc_room.emit("track_muted" if i % 2 == 0 else "track_unmuted", p, pub)
    shim_cpu = time.process_time() - cpu0
    session._detached = True
    session._ended = True
    out.update(
        raw_handler_calls=raw_count, shim_listener_calls=shim_count,
        raw_us_per_event=round(raw_cpu / events * 1e6, 2), shim_us_per_event=round(shim_cpu / events * 1e6, 2),
    )
    out["ratio"] = _ratio(out["shim_us_per_event"], out["raw_us_per_event"])
    return out


async def room_build(sizes: list[int], repeats: int = 30) -> dict[str, float]:
    """What Video.connect adds after the native connect: building the Twilio Room (participants,
    publications, re-emitters) from a snapshot of N remote participants with one audio track each."""
    out: dict[str, float] = {}
    for n in sizes:
        parts = tuple(C.ParticipantState(C.ParticipantInfo(f"PA_{i}", f"p{i}"), (C.TrackInfo(f"TR_{i}", "mic", "audio"),))
                      for i in range(n))
        snap = C.RoomSnapshot("RM", "r", C.ParticipantInfo("PA_me", "me"), parts)
        took = []
        for _ in range(repeats):
            session = C.ScriptedSession(snap)
            t0 = time.perf_counter()
            room = await connect_session(session, {})
            took.append(time.perf_counter() - t0)
            room.disconnect()
        out[str(n)] = round(statistics.median(took) * 1000, 3)
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


async def fact_dispatch(facts: int) -> dict[str, Any]:
    """Facts fed straight to a ScriptedSession into a Twilio Room (the shim's part alone)."""
    info = C.ParticipantInfo("PA_a", "alice")
    snap = C.RoomSnapshot(
        "RM", "r", C.ParticipantInfo("PA_me", "me"), (C.ParticipantState(info, (C.TrackInfo("TR_1", "mic", "audio"),)),)
    )
    session = C.ScriptedSession(snap)
    room = await connect_session(session, {})
    await asyncio.sleep(0.01)
    count = 0

    def on_event(*args: Any) -> None:
        nonlocal count
        count += 1

    room.on("trackEnabled", on_event)
    room.on("trackDisabled", on_event)
    cpu0 = time.process_time()
    for i in range(facts):
        session.feed(C.TrackMuted("alice", "TR_1") if i % 2 == 0 else C.TrackUnmuted("alice", "TR_1"))
    cpu = time.process_time() - cpu0
    room.disconnect()
    return {"facts": facts, "room_events": count, "cpu_us_per_fact": round(cpu / facts * 1e6, 2)}


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
                   warmup_s=args.warmup, connects=args.connects)
    t_start = time.perf_counter()
    await phase(results, "event_dispatch", 60, event_dispatch(args.events))
    await phase(results, "fact_dispatch", 60, fact_dispatch(args.events))
    await phase(results, "room_build_ms", 60, room_build(args.sizes))
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
        for index, n in enumerate(args.sizes):
            holder = {}
            budget = 90 + 2 * n + 2 * 2 * (args.connects + 1) + args.settle + args.warmup + args.window
            await phase(holder, f"size {n}", budget, run_size(n, index, server, url, args))
            if f"size {n}" in holder:
                sizes.append(holder[f"size {n}"])
            results.setdefault("errors", []).extend(holder.get("errors", []))
    finally:
        await server.stop()
        Child.live.discard(server.pid)
        results["server_warnings"] = server.warnings[:10]
        results["total_s"] = round(time.perf_counter() - t_start, 1)


def _f(value: Any, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def render(results: dict[str, Any]) -> str:
    env = results.get("environment") or {}
    lines = [
        f"Twilio shim vs raw livekit.rtc ({env.get('nproc')} x {env.get('cpu_model')}, Python {env.get('python')}, "
        f"livekit {env.get('versions', {}).get('livekit')}, commit {env.get('git', {}).get('commit')})",
        "",
        f"{'pubs':>4} {'bot':<4} {'tracks':>6} {'connect med':>11} {'bot CPU':>8} {'py thread':>9} {'CPU/stream':>10}"
        f" {'frames/expected':>17} {'deliv':>6} {'ring drop':>9} {'server':>7} {'pubs CPU':>8}",
    ]
    for size in results.get("sizes", []):
        for mode in ("raw", "shim"):
            b = size.get(mode)
            if not b:
                lines.append(f"{size['participants']:>4} {mode:<4} (failed)")
                continue
            o = size.get("others_cpu_pct", {})
            lines.append(
                f"{size['participants']:>4} {mode:<4} {b.get('tracks', 0):>6} {_f(b.get('connect_median_ms'), ' ms'):>11}"
                f" {_f(b.get('cpu_pct'), '%'):>8} {_f(b.get('main_thread_cpu_pct'), '%'):>9}"
                f" {_f(b.get('cpu_pct_per_stream'), '%', 2):>10}"
                f" {str(b.get('frames', '-')) + '/' + str(b.get('frames_expected', '-')):>17}"
                f" {_f(b.get('delivered_pct'), '%'):>6} {b.get('ring_dropped', '-')!s:>9}"
                f" {_f(o.get('server'), '%'):>7} {_f(o.get('publishers'), '%'):>8}"
            )
    header = f"{'pubs':>4} {'CPU/stream shim/raw':>20} {'connect shim/raw':>17} {'delivered shim/raw':>19}"
    lines += ["", header + "   targets: CPU <= 1.03, connect <= 1.05"]
    for size in results.get("sizes", []):
        r = size.get("ratios", {})
        lines.append(f"{size['participants']:>4} {_f(r.get('cpu_per_stream'), '', 3):>20} {_f(r.get('connect'), '', 3):>17}"
                     f" {_f(r.get('delivered'), '', 3):>19}   (connect, median of paired shim-raw: "
                     f"{_f(size.get('connect_paired_diff_ms'), ' ms')})")
    d = results.get("event_dispatch")
    if d:
        lines += ["", f"event dispatch (rtc.Room emit -> one user handler), {d['events']} events:"
                  f" raw {d['raw_us_per_event']} us, shim {d['shim_us_per_event']} us per event, ratio {d['ratio']}"
                  f" (handler calls raw {d['raw_handler_calls']}, shim {d['shim_listener_calls']})"]
    rb = results.get("room_build_ms")
    if rb:
        lines.append("Twilio Room build in Video.connect (median, in-process): "
                     + ", ".join(f"{k} participants {v} ms" for k, v in rb.items()))
    f = results.get("fact_dispatch")
    if f:
        lines.append(f"fact dispatch alone (ScriptedSession -> Twilio Room): {f['cpu_us_per_fact']} us per fact")
    for r in results.get("receive_local", []):
        lines.append(f"local receive ({r['path']}): {r['cpu_us_per_frame']} us CPU per frame over {r['frames']} frames")
    lines.append(f"(steady window {(results.get('sizes') or [{}])[0].get('window_s', '?')} s after "
                 f"{results.get('warmup_s')} s warm-up, both bots at once; CPU in % of one core, from schedstat;"
                 " py thread = the bot's main thread (asyncio loop, all its Python), the rest is livekit's native threads;"
                 f" connect = median of {results.get('connects')}, raw/shim alternating; server and pubs CPU: whole"
                 " processes during the window)")
    errors = list(results.get("errors", []))
    for size in results.get("sizes", []):
        errors += [f"{size['participants']}: {e}" for e in size.get("errors", [])]
        for mode in ("raw", "shim"):
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
    parser.add_argument("--connects", type=int, default=9,
                        help="measured connects per bot, alternating raw/shim, after one warm-up each (default 9)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the publishers are up (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after all tracks deliver (default 2)")
    parser.add_argument("--window", type=float, default=10.0, help="steady window seconds (default 10)")
    parser.add_argument("--events", type=int, default=50_000, help="events for the dispatch micro bench")
    parser.add_argument("--local-frames", type=int, default=1000,
                        help="frames for the no-server local receive micro bench (0: skip; default 1000)")
    parser.add_argument("--budget", type=float, default=300.0, help="hard limit for the whole run (default 300 s)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("livekit").setLevel(logging.ERROR)
    logging.getLogger("compat").setLevel(logging.ERROR)
    results: dict[str, Any] = {}

    def emit() -> None:
        print(render(results))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def watchdog() -> None:  # a stalled loop or an overrun: print what was measured, kill children
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
        os._exit(0)  # livekit's FFI threads can abort in interpreter teardown


if __name__ == "__main__":
    main()
