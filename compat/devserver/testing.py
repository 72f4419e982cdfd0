"""A small kit for driving plain ``livekit.rtc`` peers against a LiveKit server: the project's
tests and benchmarks share it, and it is supported for anyone testing against the dev server.

- ``LiveKitServer``: where a server is (url, API key and secret): mints tokens, opens
  ``livekit.api`` clients, connects ``rtc.Room``s.
- ``ServerProcess``, ``free_port``: ``python -m compat.devserver`` in a child process (for
  measuring its CPU apart from the clients, or for testing the command itself).
- ``sine``, ``publish_tone``, ``read_audio``, ``dominant_frequency``, ``rms``: publish a 48 kHz
  mono tone, and check what arrives (its frequency, its level).
- ``drop_signal``: cut a participant's signalling WebSocket from the server side (an embedded
  dev server), as a network failure would; its client then resumes. ``RESUME_PING_TIMEOUT``: the
  least ``ping_timeout`` a server should have for such a resume to succeed.

It lives in compat.devserver because only compat.core and compat.devserver may import livekit.rtc
(tests/test_import_contracts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import attrs
import numpy as np
from livekit import api, rtc

__all__ = [
    "FRAME_SAMPLES",
    "RESUME_PING_TIMEOUT",
    "SAMPLE_RATE",
    "LiveKitServer",
    "ServerProcess",
    "dominant_frequency",
    "drop_signal",
    "free_port",
    "publish_tone",
    "read_audio",
    "rms",
    "sine",
]

SAMPLE_RATE = 48000
FRAME_SAMPLES = 480  # 10 ms

# livekit.rtc holds its pings back while it resumes (its SignalClient queues them until the
# PeerConnections are back, after a settle delay): ~3 s with nothing sent to the server. Below
# this ping_timeout either side may call the link dead mid-resume, and the SDK falls back to a
# full reconnect (the others see a leave and a join).
RESUME_PING_TIMEOUT = 10


# ---- a server and its credentials ------------------------------------------------------------------


@attrs.frozen
class LiveKitServer:
    """A LiveKit server to talk to: the embedded dev server, one in a child process, or an external one."""

    url: str
    api_key: str
    api_secret: str
    embedded: Any = None  # the DevServer instance when it runs in this process, else None

    def token(
        self,
        identity: str,
        room: str,
        *,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
        ttl: float = 600.0,
        **grants: Any,
    ) -> str:
        """A LiveKit access token; keyword grants override roomJoin=True, room=room."""
        video = api.VideoGrants(room_join=True, room=room)
        for key, value in grants.items():
            setattr(video, key, value)
        tok = (
            api.AccessToken(self.api_key, self.api_secret)
            .with_identity(identity)
            .with_grants(video)
            .with_ttl(datetime.timedelta(seconds=ttl))
        )
        if name is not None:
            tok = tok.with_name(name)
        if metadata is not None:
            tok = tok.with_metadata(metadata)
        if attributes is not None:
            tok = tok.with_attributes(attributes)
        return tok.to_jwt()

    @contextlib.asynccontextmanager
    async def api(self) -> AsyncIterator[api.LiveKitAPI]:
        """A livekit.api client for this server (created inside the running loop, always closed)."""
        client = api.LiveKitAPI(self.url, self.api_key, self.api_secret)
        try:
            yield client
        finally:
            await client.aclose()

    def http_url(self) -> str:
        return self.url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)

    async def connect(
        self,
        identity: str,
        room: str,
        *,
        options: rtc.RoomOptions | None = None,
        room_object: rtc.Room | None = None,
        **token_kwargs: Any,
    ) -> rtc.Room:
        """Connect a real livekit.rtc.Room (connect is never cancelled; its own timeout bounds it).

        Pass `room_object` to register handlers before connecting."""
        r = room_object or rtc.Room()
        opts = options or rtc.RoomOptions()
        if opts.connect_timeout is None:
            opts.connect_timeout = 10.0
        await r.connect(self.url, self.token(identity, room, **token_kwargs), opts)
        return r


# ---- the dev server in a child process ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a server in another process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`python -m compat.devserver` on 127.0.0.1 in a child process; its output is drained and its tail kept.

    `profile` runs it under cProfile, writing the stats to that path when it stops.
    """

    def __init__(self, port: int, key: str, secret: str, profile: str | None = None) -> None:
        self.port = port
        self.key = key
        self.secret = secret
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None
        self.tail: list[str] = []  # its last 40 output lines
        self.warnings: list[str] = []  # its first 50 WARNING/ERROR/CRITICAL lines, [the exception] of any traceback
        self.tracebacks = 0  # how many tracebacks it printed, over every start
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def livekit_server(self) -> LiveKitServer:
        """Where this server is, with its credentials."""
        return LiveKitServer(f"ws://127.0.0.1:{self.port}", self.key, self.secret)

    async def start(self, timeout: float = 20.0) -> None:
        """Start the process; return once it serves (it printed its URL), or raise after `timeout`."""
        module = ["-m", "compat.devserver", "--host", "127.0.0.1", "--port", str(self.port)]
        args = ["-m", "cProfile", "-o", self.profile, *module] if self.profile else module
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, "--keys", f"{self.key}:{self.secret}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )
        ready = asyncio.get_running_loop().create_future()
        self._drain = asyncio.create_task(self._read(ready))
        await asyncio.wait_for(ready, timeout)

    async def _read(self, ready: asyncio.Future[None]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        warned = False  # the previous line was a warning (kept)
        in_its_traceback = False  # in that warning's traceback, whose last line names the exception
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.tail = ([*self.tail, line])[-40:]
            if line.startswith("Traceback"):
                self.tracebacks += 1
                in_its_traceback, warned = warned, False
                continue
            if in_its_traceback and not line.startswith((" ", "WARNING", "ERROR", "CRITICAL")):
                in_its_traceback = False
                self.warnings[-1] += f" [{line[:200]}]"
                continue
            in_its_traceback = in_its_traceback and line.startswith(" ")
            warned = line.startswith(("WARNING", "ERROR", "CRITICAL")) and len(self.warnings) < 50
            if warned:
                self.warnings.append(line[:300])
            if not ready.done() and "dev server on" in line:
                ready.set_result(None)
        if not ready.done():
            ready.set_exception(RuntimeError("dev server exited: " + " | ".join(self.tail[-5:])))

    async def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL, as a crash would: nothing is closed or flushed. ``start()`` may follow."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), timeout)
        if self._drain is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._drain, 2.0)

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (rooms closed, recordings and profile written), SIGKILL after `timeout`; the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._drain, 2.0)
        return proc.returncode


# ---- a tone: publish it, read it back ---------------------------------------------------------------


def sine(freq: float, start: int, count: int, amplitude: float = 0.3) -> np.ndarray:
    """`count` int16 samples at 48 kHz of a sine at `freq` Hz, from sample `start` (so chunks join up)."""
    t = (np.arange(count) + start) / SAMPLE_RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@contextlib.asynccontextmanager
async def publish_tone(
    room: rtc.Room, freq: float, name: str = "mic", amplitude: float = 0.3, chunk_frames: int = 1
) -> AsyncIterator[rtc.LocalTrackPublication]:
    """Publish a microphone track carrying a sine tone for the duration of the block, then unpublish it.

    The tone is captured ``chunk_frames`` 10 ms frames at a time. Each capture is an FFI round trip
    whose callback the SDK hands to every room of the process, so a load test with many rooms in one
    process captures larger chunks (the source's 1 s queue still paces them in real time).
    """
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    chunk = FRAME_SAMPLES * chunk_frames
    track = rtc.LocalAudioTrack.create_audio_track(name, source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await room.local_participant.publish_track(track, options)

    async def feed() -> None:
        n = 0
        while True:  # capture_frame waits while the source's queue is full: paced in real time
            data = sine(freq, n, chunk, amplitude)
            n += chunk
            await source.capture_frame(rtc.AudioFrame(data.tobytes(), SAMPLE_RATE, 1, chunk))

    task = asyncio.create_task(feed())
    try:
        yield publication
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if room.isconnected() and publication.sid in room.local_participant.track_publications:
            await room.local_participant.unpublish_track(publication.sid)
        await source.aclose()


async def read_audio(track: rtc.Track, frames: int, timeout: float = 10.0, skip: int = 20) -> np.ndarray:
    """Mono int16 samples of `frames` 10 ms frames, after skipping the first `skip` (jitter-buffer warm-up)."""
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    chunks: list[np.ndarray] = []

    async def collect() -> None:
        count = 0
        async for event in stream:
            count += 1
            if count > skip:
                chunks.append(np.frombuffer(event.frame.data, dtype=np.int16).copy())
            if len(chunks) >= frames:
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    finally:
        await stream.aclose()
    return np.concatenate(chunks)


def dominant_frequency(samples: np.ndarray) -> float:
    """The strongest frequency in 48 kHz samples, in Hz (resolution 48000 / len(samples))."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(freqs[int(spectrum.argmax())])


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 samples, in sample units (full scale 32767); 0.0 when empty."""
    x = samples.astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


# ---- fault injection ------------------------------------------------------------------------------


async def drop_signal(server: Any, room: str, identity: str) -> None:
    """Close `identity`'s signalling WebSocket in `room` from the server side (`server`: an embedded
    ``DevServer``, e.g. ``LiveKitServer.embedded``), as a network failure would.

    Its PeerConnections stay up, so media and data go on; the client notices the closed socket and
    resumes (``/rtc?reconnect=1``) within the server's ``reconnect_grace``, or leaves after it.
    Raises KeyError when there is no such room or participant, and LookupError when the
    participant's session is already closed."""
    participant = server.rooms[room].participants[identity]
    if participant.session is None:
        raise LookupError(f"{identity!r} in {room!r} has no live session")
    await participant.session.drop_signal()
