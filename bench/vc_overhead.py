"""The Video Connector (compat.vonage.video_connector) against raw ``livekit.rtc``, in the same run.

Run it inside the project's private network namespace (WebRTC needs a non-loopback interface;
nothing leaves the machine):

    scripts/netns-run .venv/bin/python -m bench.vc_overhead [--sizes 4,8,16] [--vc-mode subscriber|mix] [--json PATH]

Receiving (per size N, processes as in bench.shim_overhead, whose helpers this imports):
  dev server   ``python -m compat.devserver``
  publishers   ``python -m bench._publishers``: N rooms, each publishing a 48 kHz sine
  raw bot      ``python -m bench._bot raw``: an ``rtc.Room``, one ``rtc.AudioStream`` per remote audio track
  vc bot       ``python -m bench._vc_bot MODE``: a ``VonageVideoClient`` subscribing every stream from
               ``on_stream_received_cb``; audio on each subscriber's ``on_audio_data_cb`` (``subscriber``,
               the default) or on the session's mixed ``on_audio_data_cb`` (``mix``)
Both bots join at once and read every frame's PCM; after a warm-up one steady window measures
each bot process's CPU (→ per stream), the 10 ms frames delivered against the expected 100 a
second per track (``mix``: 100 a second in all), and the frames the connector dropped (media
callbacks its worker dropped, frames its bounded frame streams dropped).

Latency (in this process, after the sizes): a raw ``rtc.Room`` listener and two senders in one
room: the connector (``add_audio`` from a thread, as a Video Connector bot does) and raw
(``rtc.AudioSource.capture_frame``, queue 200 ms as the connector's). Both send 10 ms frames of
silence paced in real time (20 ms ahead), and every second, alternately, a 50 ms burst (a click);
the time from the call that carries the click's first frame to the listener's first loud frame
is that sender's ear latency. The connector's added latency is the difference of the medians.

Targets: CPU per stream vc/raw <= 1.10, no drops at 16. Every phase has a time limit; nothing
is asserted; partial results are always printed (table, then JSON with --json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from livekit import rtc

from bench.devserver import environment
from bench.shim_overhead import Child, _f, _ratio, ask, phase, run_within_budget, task_cpu_s, task_cpu_split
from compat.devserver.testing import LiveKitServer, ServerProcess, free_port
from compat.vonage import generate_token
from compat.vonage.video_connector import VonageVideoClient
from compat.vonage.video_connector.models import AudioData, PublisherSettings, SessionAudioSettings, SessionAVSettings, SessionSettings

SAMPLE_RATE = 48000
FRAME = 480
FRAMES_PER_S = 100
MODES = ("raw", "vc")

# ---- receiving: CPU, frames, drops ----------------------------------------------------------------


async def run_size(n: int, server: ServerProcess, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """N publishers in one process; a raw and a vc bot, each in its own process, at the same time."""
    room = f"vc-bench-{n}"
    out: dict[str, Any] = {"participants": n, "vc_mode": args.vc_mode, "errors": []}
    pubs = Child("-m", "bench._publishers", url, server.key, server.secret, room, str(n))
    bots = {
        "raw": Child("-m", "bench._bot", "raw", url, server.key, server.secret, room, str(n)),
        "vc": Child("-m", "bench._vc_bot", args.vc_mode, url, server.key, server.secret, room, str(n)),
    }
    try:
        await pubs.start()
        out["publishing"] = int((await pubs.line(30 + 2 * n)).split()[1])
        await join(bots, out, args.settle)
        await asyncio.sleep(args.warmup)
        await measure(bots, {"server": server.pid, "publishers": pubs.pid}, args, out)
    except Exception as exc:
        tails = " | ".join(t for c in (pubs, *bots.values()) for t in c.stderr_tail[-2:])
        out["errors"].append(f"{type(exc).__name__}: {exc} {tails}")
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots.values()), pubs.stop(10.0))
    raw, vc = out.get("raw") or {}, out.get("vc") or {}
    out["ratios"] = {
        "cpu_per_stream": _ratio(vc.get("cpu_pct_per_stream"), raw.get("cpu_pct_per_stream")),
        "delivered": _ratio(vc.get("delivered_pct"), raw.get("delivered_pct")),
    }
    return out


async def join(bots: dict[str, Child], out: dict[str, Any], settle: float) -> None:
    """Start both bot processes, let the publishers settle, then both join at once."""
    for mode, bot in bots.items():
        await bot.start()
        out[mode] = {"mode": mode, "pid": bot.pid, "errors": []}
        await bot.json_line(30)  # hello: imports done
    await asyncio.sleep(settle)
    answers = await asyncio.gather(*(ask(bot, "stay", 40) for bot in bots.values()))
    for mode, answer in zip(bots, answers, strict=True):
        out[mode]["tracks"] = answer.get("ready", 0)
        out[mode]["connect_ms"] = round(answer["connect_s"] * 1000, 1) if "connect_s" in answer else None
        if "error" in answer:
            out[mode]["errors"].append(answer["error"])


async def measure(bots: dict[str, Child], others: dict[str, int], args: argparse.Namespace, out: dict[str, Any]) -> None:
    """One steady window: each bot's CPU and counters, the server's and publishers' CPU."""
    c0 = {m: task_cpu_split(b.pid) for m, b in bots.items()}
    o0 = {k: task_cpu_s(p) for k, p in others.items()}
    w0 = time.perf_counter()
    m0 = {m: await ask(b, "mark", 5) for m, b in bots.items()}
    await asyncio.sleep(args.window)
    c1 = {m: task_cpu_split(b.pid) for m, b in bots.items()}
    o1 = {k: task_cpu_s(p) for k, p in others.items()}
    wall = time.perf_counter() - w0
    m1 = {m: await ask(b, "mark", 5) for m, b in bots.items()}
    out["window_s"] = round(wall, 2)
    out["others_cpu_pct"] = {k: round(100 * (o1[k] - o0[k]) / wall, 1) for k in o0}
    for mode in bots:
        streams_per_frame = out[mode]["tracks"] if mode == "raw" or args.vc_mode == "subscriber" else 1
        out[mode].update(counters(m0[mode], m1[mode], streams_per_frame, out[mode]["tracks"]))
        cpu_pct = 100 * (c1[mode][0] - c0[mode][0]) / wall
        out[mode].update(cpu_pct=round(cpu_pct, 2), cpu_pct_per_stream=round(cpu_pct / (out[mode]["tracks"] or 1), 3))


def counters(m0: dict[str, Any], m1: dict[str, Any], expected_streams: int, tracks: int) -> dict[str, Any]:
    """Frames delivered in the window against 100 a second for each of ``expected_streams``."""
    span = m1["t"] - m0["t"]
    frames = m1["frames"] - m0["frames"]
    expected = expected_streams * FRAMES_PER_S * span
    return {
        "frames": frames,
        "frames_expected": round(expected),
        "delivered_pct": round(100 * frames / expected, 1) if expected else None,
        "shortfall": max(0, round(expected - frames)),
        "dropped": m1["dropped"] - m0["dropped"],
        "per_track_frames": [y - x for x, y in zip(m0["per_track"], m1["per_track"], strict=False)],
    }


# ---- latency: add_audio to a remote's ear -----------------------------------------------------------

LEAD_S = 0.020  # both senders run this far ahead of real time
CLICK_EVERY = 100  # frames (1 s); the raw sender clicks half a second after the connector
CLICK_FRAMES = 5  # 50 ms
WARM_FRAMES = 200  # no clicks in the first 2 s (jitter buffers settle)
LOUD = 3000  # peak above which a received frame is the click (silence decodes to ~0)


class Clicks:
    """One sender's clicks: when the call carrying each click's first frame was made, and the latencies heard."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.pending: float | None = None  # monotonic time of the click not heard yet
        self.latencies: list[float] = []
        self.queued: list[float] = []  # the sender's queue (s) as each click is sent: where latency hides
        self.missed = 0

    def frame(self, k: int) -> np.ndarray:
        """Frame k: silence, or part of a 1 kHz burst; notes the click's send time on its first frame."""
        phase_in = (k - self.offset) % CLICK_EVERY
        if k < WARM_FRAMES or phase_in >= CLICK_FRAMES:
            return np.zeros(FRAME, dtype=np.int16)
        if phase_in == 0:
            self.missed += self.pending is not None
            self.pending = time.monotonic()
        t = (np.arange(FRAME) + k * FRAME) / SAMPLE_RATE
        return (0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)

    def heard(self, frame: np.ndarray) -> None:
        pending = self.pending
        if pending is not None and int(np.abs(frame.astype(np.int32)).max()) > LOUD:
            self.latencies.append(time.monotonic() - pending)
            self.pending = None


def due(start: float, k: int) -> float:
    return start + k * FRAME / SAMPLE_RATE - LEAD_S


def vc_sender(client: VonageVideoClient, clicks: Clicks, stop: threading.Event) -> None:
    """A Video Connector producer thread: one 10 ms ``add_audio`` per frame, paced by the clock."""
    start, k = time.monotonic(), 0
    while not stop.is_set():
        stop.wait(max(0.0, due(start, k) - time.monotonic()))
        samples = clicks.frame(k)
        if clicks.pending is not None and (k - clicks.offset) % CLICK_EVERY == 0:
            audio = client.get_media_buffer_stats().audio  # ours plus LiveKit's queue
            clicks.queued.append(audio.duration.total_seconds() if audio is not None else 0.0)
        client.add_audio(AudioData(sample_buffer=memoryview(samples.tobytes()).cast("h"), sample_rate=SAMPLE_RATE,
                                   number_of_channels=1, number_of_frames=FRAME))
        k += 1


async def raw_sender(source: rtc.AudioSource, clicks: Clicks) -> None:
    loop = asyncio.get_running_loop()
    start, k = loop.time(), 0
    while True:
        await asyncio.sleep(max(0.0, due(start, k) - loop.time()))
        samples = clicks.frame(k)
        if clicks.pending is not None and (k - clicks.offset) % CLICK_EVERY == 0:
            clicks.queued.append(source.queued_duration)
        await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME))
        k += 1


async def listen(track: rtc.Track, clicks: Clicks) -> None:
    async with contextlib.aclosing(rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)) as stream:
        async for event in stream:
            clicks.heard(np.frombuffer(event.frame.data, dtype=np.int16))


async def start_vc_sender(lk: LiveKitServer, room: str) -> VonageVideoClient:
    """A connector client publishing audio; returns once ``on_ready_for_audio_cb`` came."""
    client = VonageVideoClient(url=lk.url)
    ready = threading.Event()
    fmt = SessionAudioSettings(sample_rate=SAMPLE_RATE, number_of_channels=1)
    client.connect(
        "bench", room, generate_token(lk.api_key, lk.api_secret, room, identity="vc-sender"),
        session_settings=SessionSettings(av=SessionAVSettings(audio_publisher=fmt)),
        on_connected_cb=lambda session: client.publish(PublisherSettings(name="vc-clicks", has_video=False)),
        on_ready_for_audio_cb=lambda session: ready.set(),
    )
    if not await asyncio.to_thread(ready.wait, 20):
        raise TimeoutError("the connector sender was not ready for audio within 20 s")
    return client


async def latency(lk: LiveKitServer, clicks_each: int) -> dict[str, Any]:
    room = "vc-latency"
    senders = {"vc": Clicks(0), "raw": Clicks(CLICK_EVERY // 2)}
    listener = rtc.Room()
    listeners: list[asyncio.Task[None]] = []

    def on_track(track: rtc.Track, _pub: Any, participant: rtc.RemoteParticipant) -> None:
        who = "vc" if participant.identity == "vc-sender" else "raw"
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            listeners.append(asyncio.get_running_loop().create_task(listen(track, senders[who])))

    listener.on("track_subscribed", on_track)
    await lk.connect("listener", room, room_object=listener)
    raw_room = await lk.connect("raw-sender", room)
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=200)
    await raw_room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("raw-clicks", source),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE, dtx=False),
    )
    client = await start_vc_sender(lk, room)
    stop = threading.Event()
    vc_thread = threading.Thread(target=vc_sender, args=(client, senders["vc"], stop), daemon=True)
    vc_thread.start()
    raw_task = asyncio.create_task(raw_sender(source, senders["raw"]))
    try:
        await until(lambda: all(len(c.latencies) >= clicks_each for c in senders.values()), WARM_FRAMES / 100 + clicks_each + 15)
    finally:
        stop.set()
        raw_task.cancel()
        for task in listeners:
            task.cancel()
        await asyncio.gather(raw_task, *listeners, return_exceptions=True)
        await asyncio.to_thread(client.disconnect)
        await asyncio.gather(raw_room.disconnect(), listener.disconnect(), source.aclose(), return_exceptions=True)
    return latency_summary(senders)


async def until(done: Callable[[], bool], timeout: float) -> None:
    """Poll ``done`` for at most ``timeout`` seconds (a bound: partial results are still reported)."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def latency_summary(senders: dict[str, Clicks]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, c in senders.items():
        ms = sorted(x * 1000 for x in c.latencies)
        out[name] = {
            "clicks": len(ms), "missed": c.missed, "ms": [round(x, 1) for x in ms],
            "median_ms": round(statistics.median(ms), 1) if ms else None,
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1) if ms else None,
            "queued_at_click_ms": round(statistics.median(c.queued) * 1000, 1) if c.queued else None,
        }
    vc, raw = out["vc"]["median_ms"], out["raw"]["median_ms"]
    out["added_ms"] = round(vc - raw, 1) if vc is not None and raw is not None else None
    out["ratio"] = _ratio(vc, raw)
    return out


# ---- run and report ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if os.environ.get("NETNS_RUN_INSIDE") != "1":
        print("warning: not inside scripts/netns-run; WebRTC media needs its non-loopback interface", file=sys.stderr)
    results.update(environment=environment(), started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   warmup_s=args.warmup, vc_mode=args.vc_mode)
    t_start = time.perf_counter()
    server = ServerProcess(args.port or free_port(), "bench", secrets.token_hex(24), None)
    await server.start()
    Child.live.add(server.pid)
    lk = server.livekit_server()
    results["sizes"] = []
    try:
        for n in args.sizes:
            budget = 120 + 2 * n + args.settle + args.warmup + args.window
            await run_phase(results, f"size {n}", budget, functools.partial(run_size, n, server, lk.url, args), results["sizes"])
        if args.clicks:
            await phase(results, "latency", args.clicks + 60, latency(lk, args.clicks))
    finally:
        await server.stop()
        Child.live.discard(server.pid)
        results["server_warnings"] = server.warnings[:10]
        results["total_s"] = round(time.perf_counter() - t_start, 1)


async def run_phase(results: dict[str, Any], name: str, budget: float, make: Callable[[], Awaitable[Any]], into: list[Any]) -> None:
    holder: dict[str, Any] = {}
    await phase(holder, name, budget, make())
    if name in holder:
        into.append(holder[name])
    results.setdefault("errors", []).extend(holder.get("errors", []))


def render(results: dict[str, Any]) -> str:
    env = results.get("environment") or {}
    lines = [
        f"Video Connector vs raw livekit.rtc ({env.get('nproc')} x {env.get('cpu_model')}, Python {env.get('python')}, "
        f"livekit {env.get('versions', {}).get('livekit')}, commit {env.get('git', {}).get('commit')}); vc audio on the "
        f"{results.get('vc_mode')} callback",
        "",
        f"{'pubs':>4} {'bot':<4} {'tracks':>6} {'bot CPU':>8} {'CPU/stream':>10} {'frames/expected':>17}"
        f" {'deliv':>6} {'dropped':>7} {'server':>7} {'pubs CPU':>8}",
    ]
    for size in results.get("sizes", []):
        lines += [size_row(size, mode) for mode in MODES]
    lines += ["", f"{'pubs':>4} {'CPU/stream vc/raw':>18} {'delivered vc/raw':>17}   targets: CPU <= 1.10, no drops at 16"]
    for size in results.get("sizes", []):
        r = size.get("ratios", {})
        lines.append(f"{size['participants']:>4} {_f(r.get('cpu_per_stream'), '', 3):>18} {_f(r.get('delivered'), '', 3):>17}")
    lines += latency_lines(results.get("latency"))
    lines.append(f"(steady window {(results.get('sizes') or [{}])[0].get('window_s', '?')} s after {results.get('warmup_s')} s"
                 " warm-up, both bots at once; CPU in % of one core, whole bot process from schedstat (the vc bot's"
                 " Python runs on the client's loop and worker threads); server and pubs CPU: whole processes during the window)")
    lines += error_lines(results)
    lines.append(f"total {results.get('total_s')} s")
    return "\n".join(lines)


def size_row(size: dict[str, Any], mode: str) -> str:
    b = size.get(mode)
    if not b or "cpu_pct" not in b:
        return f"{size['participants']:>4} {mode:<4} (failed)"
    o = size.get("others_cpu_pct", {})
    dropped = b.get("dropped", "-") if mode == "vc" else "-"
    return (f"{size['participants']:>4} {mode:<4} {b.get('tracks', 0):>6} {_f(b.get('cpu_pct'), '%'):>8}"
            f" {_f(b.get('cpu_pct_per_stream'), '%', 2):>10}"
            f" {str(b.get('frames', '-')) + '/' + str(b.get('frames_expected', '-')):>17} {_f(b.get('delivered_pct'), '%'):>6}"
            f" {dropped!s:>7} {_f(o.get('server'), '%'):>7} {_f(o.get('publishers'), '%'):>8}")


def latency_lines(lat: dict[str, Any] | None) -> list[str]:
    if not lat:
        return []
    lines = ["", "ear latency (call carrying a click's first frame -> first loud frame at a raw listener):"]
    for name, label in (("raw", "raw capture_frame"), ("vc", "connector add_audio")):
        s = lat[name]
        lines.append(f"  {label:<20} median {_f(s['median_ms'], ' ms')}, p90 {_f(s['p90_ms'], ' ms')}"
                     f" over {s['clicks']} clicks ({s['missed']} missed); sender's queue at a click, median"
                     f" {_f(s.get('queued_at_click_ms'), ' ms')}")
    lines.append(f"  added by the connector: {_f(lat.get('added_ms'), ' ms')} (ratio {_f(lat.get('ratio'), '', 3)})")
    return lines


def error_lines(results: dict[str, Any]) -> list[str]:
    errors = list(results.get("errors", []))
    for size in results.get("sizes", []):
        errors += [f"{size['participants']}: {e}" for e in size.get("errors", [])]
        for mode in MODES:
            errors += [f"{size['participants']} {mode}: {e}" for e in (size.get(mode) or {}).get("errors", [])]
    return ["", "errors:", *(f"  {e}" for e in errors[:20])] if errors else []


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.vc_overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[4, 8, 16])
    parser.add_argument("--vc-mode", choices=("subscriber", "mix"), default="subscriber",
                        help="where the vc bot takes its audio (default: each subscriber's on_audio_data_cb)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the publishers are up (default 3)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after both bots joined (default 3)")
    parser.add_argument("--window", type=float, default=10.0, help="steady window seconds (default 10)")
    parser.add_argument("--clicks", type=int, default=20, help="clicks per sender in the latency phase (0: skip; default 20)")
    parser.add_argument("--budget", type=float, default=400.0, help="hard limit for the whole run (default 400 s)")
    parser.add_argument("--port", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    run_within_budget(parse(argv), run, render)


if __name__ == "__main__":
    main()
