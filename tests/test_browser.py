"""End to end with the official browser SDK: livekit-client in headless Debian chromium, driven by
playwright-core (tests/browser/run.mjs), and a Python livekit.rtc participant in the same room.
Each side receives the other's audio (levels measured) and data.

Needs /usr/bin/chromium and tests/browser/node_modules (scripts/setup-browser installs both);
carries media, so it runs through scripts/test (private network namespace)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from livekit import rtc
from livekit.rtc._proto.track_publication_pb2 import VideoQuality

from compat.devserver import dynacast
from compat.devserver.testing import LiveKitServer
from tests.media import frames_of_size, publish_layered_video
from tests.support import EventLog

BROWSER_DIR = Path(__file__).parent / "browser"
CHROMIUM = os.environ.get("COMPAT_CHROMIUM", "/usr/bin/chromium")
LIVEKIT_UMD = BROWSER_DIR / "node_modules" / "livekit-client" / "dist" / "livekit-client.umd.js"
PLAYWRIGHT = BROWSER_DIR / "node_modules" / "playwright-core" / "package.json"

SAMPLE_RATE = 48000
TONE_HZ = 440.0
# Python side: int16 RMS of 10 ms frames from the browser; silence decodes to ~0, the beep to ~14000.
PY_MIN_RMS = 1000.0
# Browser side: AnalyserNode RMS (full scale 1.0) of the Python sine (amplitude 0.5, RMS ~0.35).
BROWSER_MIN_RMS = 0.05



def _missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found: run scripts/setup-browser (installs Debian's chromium)"
    if shutil.which("node") is None:
        return "node not found on PATH"
    if not LIVEKIT_UMD.is_file() or not PLAYWRIGHT.is_file():
        return "tests/browser/node_modules missing livekit-client or playwright-core: run scripts/setup-browser"
    return None


MISSING = _missing()

pytestmark = [
    pytest.mark.media,
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]


@contextlib.asynccontextmanager
async def page_server() -> AsyncIterator[str]:
    """The test page and livekit-client's UMD build from a static server on 127.0.0.1."""
    files = {
        "/page.html": BROWSER_DIR / "page.html",
        "/page.js": BROWSER_DIR / "page.js",
        "/livekit-client.umd.js": LIVEKIT_UMD,
    }

    async def serve(request: web.Request) -> web.StreamResponse:
        path = files.get(request.path)
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/page.html"
    finally:
        await runner.cleanup()


class Browser:
    """tests/browser/run.mjs as a subprocess: its JSON-line events, commands on its stdin."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []
        self.stderr = bytearray()
        self._log = log_path.open("w")
        self._tasks = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._read_stderr())]

    @classmethod
    async def start(cls, config: dict[str, Any], log_path: Path) -> Browser:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(BROWSER_DIR / "run.mjs"),
            json.dumps(config),
            cwd=str(BROWSER_DIR),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: chromium goes down with it
            limit=1 << 22,
        )
        return cls(proc, log_path)

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            self._log.write(line + "\n")
            try:
                event = json.loads(line)
            except ValueError:
                event = {"ev": "raw", "text": line}
            if not isinstance(event, dict):
                event = {"ev": "raw", "text": line}
            event["_at"] = time.monotonic()
            self.events.append(event)
        self._log.flush()

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr += chunk

    def find(self, ev: str, pred: Callable[[dict[str, Any]], bool] = lambda e: True) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("ev") == ev and pred(e)]

    async def wait(
        self,
        ev: str,
        pred: Callable[[dict[str, Any]], bool] = lambda e: True,
        timeout: float = 15.0,
        what: str = "",
    ) -> dict[str, Any]:
        """The first event `ev` satisfying `pred`; fail after `timeout` s or when the browser fails."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(ev, pred)
            if found:
                return found[0]
            failed = self.find("start_error") + self.find("fatal") + self.find("exit") + self.find("crash")
            if failed or self.proc.returncode is not None:
                why = failed[0] if failed else {"returncode": self.proc.returncode}
                raise AssertionError(f"browser failed while waiting for {what or ev}: {why}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting in the browser for {what or ev}")
            await asyncio.sleep(0.05)

    async def command(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await asyncio.wait_for(self.proc.stdin.drain(), 5)

    async def close(self) -> None:
        """Leave the room and exit; kill the process group if it does not go in time."""
        try:
            if self.proc.returncode is None:
                with contextlib.suppress(Exception):
                    await self.command({"cmd": "leave"})
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 10)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if self.proc.returncode is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, sig)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 5)
        finally:
            # Chromium children left in the group (node exited first) go too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            for task in self._tasks:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, 5)
            self._log.close()

    def diagnostics(self, tail: int = 60) -> str:
        """What the browser saw: steps, errors, livekit-client warnings, last logs."""
        keep = {
            "launched", "page", "step", "signal_connected", "connection_state", "connected", "published",
            "participant_connected", "participant_disconnected", "track_published", "track_subscribed",
            "track_subscription_failed", "media_devices_error", "disconnected", "start_error", "fatal",
            "pageerror", "requestfailed", "blocked", "command_error", "crash", "exit", "data", "sent",
        }
        lines = []
        for e in self.events:
            ev = e.get("ev")
            important = ev in keep or (ev == "lk" and e.get("level", 0) >= 3) or (
                ev == "console" and e.get("type") == "error"
            )
            if important:
                lines.append(_short(e))
        # livekit-client's own console lines repeat its "lk" events: leave them out of the tail.
        quiet = [e for e in self.events if not (e.get("ev") == "console" and e.get("type") in ("log", "debug", "info"))]
        rest = [_short(e) for e in quiet[-tail:]]
        last_rtp = {f"{e.get('ev')}:{e.get('track')}": e for e in self.events if e.get("ev") in ("rtp_in", "rtp_out")}
        last_level = {e.get("track"): e for e in self.events if e.get("ev") == "level"}
        return "\n".join(
            ["--- browser: steps, errors, warnings ---", *lines[-120:],
             "--- browser: last RTP counters ---", *(_short(e) for e in last_rtp.values()),
             "--- browser: last levels ---", *(_short(e) for e in last_level.values()),
             f"--- browser: last {tail} events ---", *rest,
             f"--- node stderr ---\n{self.stderr.decode(errors='replace')[-3000:]}",
             f"--- full event log: {self.log_path} ---"]
        )


def _short(e: dict[str, Any], limit: int = 600) -> str:
    s = json.dumps({k: v for k, v in e.items() if k != "_at"}, default=str)
    return s if len(s) <= limit else s[:limit] + "…"


class PythonSide:
    """The livekit.rtc participant: publishes a sine, measures incoming audio, records data."""

    def __init__(self, room: rtc.Room) -> None:
        self.room = room
        self.data: list[rtc.DataPacket] = []
        self.subscribed: list[tuple[str, rtc.Track]] = []
        self.rms: list[float] = []
        self.frames = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.source = rtc.AudioSource(SAMPLE_RATE, 1)
        room.on("data_received", self.data.append)
        room.on("track_subscribed", self._on_track)

    def _on_track(self, track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        self.subscribed.append((p.identity, track))
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._tasks.append(asyncio.create_task(self._measure(track)))

    async def _measure(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for event in stream:
                samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
                self.frames += 1
                self.rms.append(float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0)
        finally:
            await stream.aclose()

    async def publish_sine(self) -> None:
        track = rtc.LocalAudioTrack.create_audio_track("sine", self.source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(self.room.local_participant.publish_track(track, opts), 10)
        self._tasks.append(asyncio.create_task(self._feed()))

    async def _feed(self) -> None:
        n = SAMPLE_RATE // 100  # 10 ms frames, paced by the source's queue
        t = 0
        while True:
            frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, n)
            idx = np.arange(t, t + n)
            tone = 0.5 * 32767 * np.sin(2 * math.pi * TONE_HZ * idx / SAMPLE_RATE)
            np.frombuffer(frame.data, dtype=np.int16)[:] = tone.astype(np.int16)
            t += n
            await self.source.capture_frame(frame)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), 10)
        with contextlib.suppress(Exception):
            await self.source.aclose()


async def _until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("python_first", [True, False], ids=["python-joins-first", "browser-joins-first"])
async def test_browser_and_python_exchange_audio_and_data(
    lk_server: LiveKitServer, tmp_path: Path, python_first: bool
) -> None:
    """Whoever joins second finds the other's track already published (the late-joiner path)."""
    room_name = "browser-e2e"
    started = time.monotonic()
    timings: dict[str, float] = {}

    def mark(step: str) -> None:
        timings[step] = round(time.monotonic() - started, 2)

    py: PythonSide | None = None
    browser: Browser | None = None

    async def join_python() -> PythonSide:
        side = PythonSide(await lk_server.connect("python", room_name))
        mark("python_connected")
        await side.publish_sine()
        mark("python_published")
        return side

    try:
        if python_first:
            py = await join_python()
        async with page_server() as page_url:
            config = {
                "page": page_url,
                "url": lk_server.url,
                "token": lk_server.token("browser", room_name),
                "publishAudio": os.environ.get("COMPAT_BROWSER_AUDIO", "mic"),
                "chromium": CHROMIUM,
                "timeoutMs": 90_000,
                "startTimeoutMs": 30_000,
                "logLevel": "debug",
            }
            browser = await Browser.start(config, tmp_path / "browser.jsonl")
            try:
                connected = await _browser_joins(browser, mark)
                if py is None:
                    await asyncio.sleep(0.5)  # let the browser's media reach the server first
                    py = await join_python()
                await _exchange(py, browser, connected, mark)
            except Exception as e:  # noqa: BLE001 - ConnectError of a late python join too: report what the browser saw
                what = str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"
                py_state = "python side: not joined"
                if py is not None:
                    py_state = (
                        f"python side: subscribed={[(i, t.kind) for i, t in py.subscribed]} frames={py.frames} "
                        f"max_rms={max(py.rms, default=0.0):.1f} data={[(d.topic, d.data[:60]) for d in py.data]} "
                        f"remotes={list(py.room.remote_participants)}"
                    )
                report = f"{what}\n{py_state} timings={timings}\n{browser.diagnostics()}"
                raise AssertionError(report) from None
    finally:
        if browser is not None:
            await browser.close()
        if py is not None:
            await py.close()
    mark("closed")
    print(f"browser e2e timings (s since start): {timings}")


async def _browser_joins(b: Browser, mark: Callable[[str], None]) -> dict[str, Any]:
    """Chromium starts, the page loads livekit-client, joins and publishes its microphone."""
    await b.wait("launched", timeout=40, what="chromium to launch")
    page = await b.wait("page", timeout=20, what="the page to load")
    assert page.get("livekit"), f"livekit-client did not load in the page: {page}"
    connected = await b.wait("connected", timeout=30, what="room.connect() in the browser")
    mark("browser_connected")
    await b.wait("published", timeout=20, what="the browser to publish its microphone")
    mark("browser_published")
    return connected


async def _exchange(py: PythonSide, b: Browser, connected: dict[str, Any], mark: Callable[[str], None]) -> None:
    # Each side sees the other participant.
    if "python" not in connected.get("remotes", []):
        await b.wait("participant_connected", lambda e: e.get("identity") == "python", 10, "python in the room")
    await _until(lambda: "browser" in py.room.remote_participants, 10, "the browser participant on the python side")

    # Four independent checks, run together; every failure is reported, not only the first.
    checks = {
        "audio python -> browser": _audio_to_browser(py, b, mark),
        "audio browser -> python": _audio_to_python(py, b, mark),
        "data python -> browser": _data_to_browser(py, b, mark),
        "data browser -> python": _data_to_python(py, b, mark),
    }
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    failures = [f"{name}: FAILED: {r}" for name, r in zip(checks, results, strict=False) if isinstance(r, BaseException)]
    if failures:
        passed = [f"{name}: ok" for name, r in zip(checks, results, strict=False) if not isinstance(r, BaseException)]
        raise AssertionError("\n".join([*failures, *passed]))


async def _audio_to_browser(py: PythonSide, b: Browser, mark: Callable[[str], None]) -> None:
    """The browser subscribes to the Python sine and its AnalyserNode hears 440 Hz, loud."""
    await b.wait(
        "track_subscribed",
        lambda e: e.get("from") == "python" and e.get("kind") == "audio",
        15,
        "the browser to subscribe to python's audio",
    )
    mark("browser_subscribed")
    level = await b.wait(
        "level",
        lambda e: e.get("from") == "python" and float(e.get("rms", 0)) > BROWSER_MIN_RMS,
        15,
        f"python's audio above RMS {BROWSER_MIN_RMS} in the browser's AnalyserNode",
    )
    assert abs(float(level["hz"]) - TONE_HZ) < 50, f"browser heard {level['hz']} Hz, python sends {TONE_HZ} Hz: {level}"
    mark("audio_to_browser")
    print(f"browser heard python: rms={float(level['rms']):.3f} at {level['hz']} Hz")


async def _audio_to_python(py: PythonSide, b: Browser, mark: Callable[[str], None]) -> None:
    """Python subscribes to the browser's microphone and hears its beep, not silence."""
    await _until(
        lambda: any(i == "browser" and t.kind == rtc.TrackKind.KIND_AUDIO for i, t in py.subscribed),
        15,
        "python to subscribe to the browser's audio",
    )
    mark("python_subscribed")
    await _until(
        lambda: max(py.rms, default=0.0) > PY_MIN_RMS,
        15,
        f"the browser's audio above RMS {PY_MIN_RMS} on the python side (frames so far: {py.frames})",
    )
    mark("audio_to_python")
    print(f"python heard the browser: max rms={max(py.rms):.0f} (int16) over {py.frames} frames")


async def _data_to_browser(py: PythonSide, b: Browser, mark: Callable[[str], None]) -> None:
    """Reliable data from Python reaches the browser (resent until seen: channels may still be opening)."""
    text = "hello browser from python"
    for _ in range(20):
        await asyncio.wait_for(py.room.local_participant.publish_data(text, reliable=True, topic="e2e"), 5)
        with contextlib.suppress(AssertionError):
            await b.wait("data", lambda e: e.get("text") == text, 0.5, "")
            break
    got = await b.wait("data", lambda e: e.get("text") == text, 1, "python's data in the browser")
    assert got.get("from") == "python" and got.get("topic") == "e2e", got
    mark("data_to_browser")


async def _data_to_python(py: PythonSide, b: Browser, mark: Callable[[str], None]) -> None:
    """Reliable data from the browser reaches Python."""
    text = "hello python from the browser"

    def arrived() -> bool:
        return any(d.data == text.encode() for d in py.data)

    for _ in range(20):
        await b.command({"cmd": "send", "text": text, "topic": "e2e"})
        with contextlib.suppress(AssertionError):
            await _until(arrived, 0.5, "")
            break
    await _until(arrived, 1, "the browser's data in python")
    packet = next(d for d in py.data if d.data == text.encode())
    assert packet.participant is not None and packet.participant.identity == "browser", packet
    assert packet.topic == "e2e", packet
    mark("data_to_python")


@pytest.mark.timeout(150)
async def test_browser_and_python_exchange_simulcast_video(
    dev_server: LiveKitServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Video both ways with simulcast on, forwarded in VP8: each side gets the other's layers and
    switches between them (the browser with setVideoQuality, Python with set_video_quality); the
    browser, with dynacast on, stops sending the layers Python no longer watches."""
    monkeypatch.setattr(dynacast, "PAUSE_DELAY", 0.5)
    room_name = "browser-video"
    python = await dev_server.connect("python", room_name)
    log = EventLog()
    log.listen(python, "track_subscribed")
    browser: Browser | None = None
    stream: rtc.VideoStream | None = None
    try:
        async with publish_layered_video(python, rtc.VideoCodec.VP8) as local, page_server() as page_url:
            assert local.simulcasted
            config = {
                "page": page_url, "url": dev_server.url, "token": dev_server.token("browser", room_name),
                "publishAudio": "", "publishVideo": True, "dynacast": True, "chromium": CHROMIUM,
                "timeoutMs": 120_000, "startTimeoutMs": 30_000, "logLevel": "info",
            }
            browser = await Browser.start(config, tmp_path / "browser.jsonl")
            try:
                await browser.wait("published", lambda e: e.get("kind") == "video", 40, "the browser's camera, simulcast")

                # Browser <- Python: VP8 in the top layer, then the bottom one on request.
                def python_video(width: int) -> Callable[[dict[str, Any]], bool]:
                    return lambda e: e.get("from") == "python" and e.get("width") == width and e.get("framesDecoded", 0) > 0

                seen = await browser.wait("video", python_video(1280), 40, "python's 1280x720 layer in the browser")
                assert str(seen.get("codec")).lower() == "video/vp8", seen
                await browser.command({"cmd": "quality", "quality": "LOW"})
                await browser.wait("video", python_video(320), 30, "python's 320x180 layer in the browser")

                # Python <- browser: its layers as announced, switched by set_video_quality.
                ((track, publication, _),) = await log.wait("track_subscribed", timeout=30)
                assert publication.simulcasted and publication.mime_type.lower() == "video/vp8"
                layers = dev_server.embedded.rooms[room_name].participants["browser"].tracks[publication.sid].info.layers
                sizes = sorted((layer.width, layer.height) for layer in layers)
                assert len(sizes) > 1, f"the browser announced {sizes}"
                stream = rtc.VideoStream(track)
                frames = stream.__aiter__()
                publication.set_video_quality(VideoQuality.VIDEO_QUALITY_HIGH)
                await frames_of_size(frames, sizes[-1], 40.0)
                publication.set_video_quality(VideoQuality.VIDEO_QUALITY_LOW)
                await frames_of_size(frames, sizes[0], 30.0)

                # Dynacast: the browser turns off the layers above the one Python gets.
                forwarder = dev_server.embedded.rooms[room_name].participants["browser"].tracks[publication.sid].forwarder
                lowest = min(forwarder.layer_quality, key=forwarder.layer_quality.__getitem__)
                await browser.wait("encodings", lambda e: e.get("active") == [lowest], 20,
                                   f"only the browser's {lowest!r} layer sent")
            except Exception as e:  # noqa: BLE001 - report what the browser saw
                raise AssertionError(f"{e}\n{browser.diagnostics()}") from None
    finally:
        if stream is not None:
            await stream.aclose()
        if browser is not None:
            await browser.close()
        await python.disconnect()
