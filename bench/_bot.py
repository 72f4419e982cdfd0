"""One receiving bot for bench.shim_overhead, alone in its process (so /proc CPU is its own).

    python -m bench._bot {raw|twilio|opentok} URL KEY SECRET ROOM TRACKS

raw      a plain ``livekit.rtc.Room`` (``auto_subscribe=True``); one ``rtc.AudioStream`` per
         subscribed audio track
twilio   ``compat.twilio_video.connect``; ``RemoteAudioTrack.frames()`` per track from
         ``trackSubscribed`` (``shim`` is accepted as the old name of this mode)
opentok  ``compat.vonage``: a Session for session ID ROOM (a plain room name) with the ``url``
         option, ``await session.connect(token)``; for each stream (``session.streams`` and
         ``streamCreated``) ``await session.subscribe(stream)`` and ``subscriber.audio_frames()``

All three connect with the same kind of LiveKit token, touch every frame's PCM the same way,
and count frames per track (per stream for opentok: one audio track each).
Driven by lines on stdin; answers one JSON object per stdout line ({"hello": mode} at start):
  connect   a measured connect, then disconnect           -> {"connect_s": s}
  stay      a measured connect that stays; read every remote audio track; answer when
            TRACKS tracks delivered a frame (or after 15 s) -> {"connect_s": s, "ready": k}
  leave     disconnect the room of ``stay`` and stop reading -> {"left": true}
  mark      the counters                                  -> {"t", "frames", "per_track", "dropped"}
  quit/EOF  disconnect and exit
Failures answer {"error": ...}. Nothing is asserted.

Exit: the compat modes simply return (compat closes what is open when the loop ends and
disposes livekit's FFI at exit); the raw mode, which uses no compat session, calls
``compat.core.rtc_session.shutdown()`` itself. The exit status is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from typing import Any

from livekit import rtc

from compat.devserver.testing import LiveKitServer

MODES = ("raw", "twilio", "opentok")
ALIASES = {"shim": "twilio"}


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Counters:
    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.streams: list[Any] = []  # FrameStreams (compat modes), for their drop counters
        self.touched = 0

    @property
    def started(self) -> int:
        return sum(1 for v in self.frames.values() if v)


class Bot:
    """What differs between the modes: connect, close, and reading every remote audio track."""

    def __init__(self, mode: str, url: str, key: str, room_name: str) -> None:
        self.mode, self.url, self.key, self.room_name = mode, url, key, room_name
        self.loop = asyncio.get_running_loop()
        self.counters = Counters()
        self.readers: list[asyncio.Task[None]] = []

    async def connect(self, tok: str) -> Any:
        if self.mode == "raw":
            room = rtc.Room()
            await room.connect(self.url, tok, rtc.RoomOptions(auto_subscribe=True, connect_timeout=10.0))
            return room
        if self.mode == "twilio":
            from compat import twilio_video as Video

            return await Video.connect(tok, {"url": self.url, "name": self.room_name})
        from compat import vonage as OT

        # A new Session per connect. OT.initSession would hand back the previous (disconnected)
        # Session while it is still referenced, i.e. until the garbage collector frees it, and a
        # Session connected again keeps state from its last connection (see docs/performance.md).
        session = OT.Session(self.key, self.room_name, {"url": self.url, "connectTimeout": 15.0})
        return await session.connect(tok)

    async def close(self, joined: Any) -> None:
        with contextlib.suppress(Exception):
            if self.mode == "raw":
                await asyncio.wait_for(joined.disconnect(), 5.0)
            elif self.mode == "twilio":
                joined.disconnect()
                await asyncio.wait_for(joined.wait_closed(5.0), 6.0)
            else:
                await asyncio.wait_for(joined.disconnect(), 6.0)

    def attach(self, joined: Any) -> None:
        if self.mode == "raw":
            self._attach_raw(joined)
        elif self.mode == "twilio":
            self._attach_twilio(joined)
        else:
            self._attach_opentok(joined)

    def stop_reading(self) -> None:
        for r in self.readers:
            r.cancel()
        self.readers = []
        self.counters = Counters()

    def _attach_raw(self, room: rtc.Room) -> None:
        counters = self.counters
        seen: set[str] = set()

        async def read(track: rtc.Track, sid: str) -> None:
            counters.frames[sid] = 0
            stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)
            try:
                async for event in stream:
                    counters.touched += event.frame.data[0] & 1  # read the PCM
                    counters.frames[sid] += 1
            finally:
                with contextlib.suppress(Exception):
                    await stream.aclose()

        def on_subscribed(track: rtc.Track, pub: rtc.RemoteTrackPublication, _p: Any) -> None:
            if track.kind == rtc.TrackKind.KIND_AUDIO and pub.sid not in seen:
                seen.add(pub.sid)
                self.readers.append(self.loop.create_task(read(track, pub.sid)))

        room.on("track_subscribed", on_subscribed)
        for p in room.remote_participants.values():  # subscribed before the handler was attached
            for pub in p.track_publications.values():
                if pub.track is not None:
                    on_subscribed(pub.track, pub, p)

    def _attach_twilio(self, room: Any) -> None:
        counters = self.counters

        async def read(track: Any) -> None:
            counters.frames[track.sid] = 0
            stream = track.frames()
            counters.streams.append(stream)
            async for frame in stream:
                counters.touched += frame.data[0] & 1  # read the PCM
                counters.frames[track.sid] += 1

        def on_subscribed(track: Any, _pub: Any, _p: Any) -> None:
            if track.kind == "audio":
                self.readers.append(self.loop.create_task(read(track)))

        room.on("trackSubscribed", on_subscribed)

    def _attach_opentok(self, session: Any) -> None:
        counters = self.counters
        seen: set[str] = set()

        async def read(stream: Any) -> None:
            subscriber = await session.subscribe(stream)
            if subscriber is None:
                return
            counters.frames[stream.streamId] = 0
            frames = subscriber.audio_frames()
            counters.streams.append(frames)
            async for frame in frames:
                counters.touched += frame.data[0] & 1  # read the PCM
                counters.frames[stream.streamId] += 1

        def on_stream(stream: Any) -> None:
            if stream.hasAudio and stream.streamId not in seen:
                seen.add(stream.streamId)
                self.readers.append(self.loop.create_task(read(stream)))

        session.on("streamCreated", lambda event: on_stream(event.stream))
        for stream in list(session.streams):  # announced during connect, before the handler
            on_stream(stream)


async def run(mode: str, url: str, key: str, secret: str, room_name: str, tracks: int) -> None:
    loop = asyncio.get_running_loop()
    server = LiveKitServer(url, key, secret)
    bot = Bot(mode, url, key, room_name)
    room: Any = None
    cycles = 0

    async def connect() -> tuple[Any, float]:
        nonlocal cycles
        cycles += 1
        tok = server.token(f"{mode}-bot-{cycles}", room_name, ttl=1800)
        t0 = time.perf_counter()
        joined = await asyncio.wait_for(bot.connect(tok), 15.0)
        return joined, time.perf_counter() - t0

    say({"hello": mode})
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line or line == "quit":
            break
        try:
            if line == "connect":  # one measured connect, then leave
                joined, took = await connect()
                await bot.close(joined)
                await asyncio.sleep(0.2)  # let the server finish the leave
                say({"connect_s": took})
            elif line == "stay" and room is None:  # a measured connect that stays and reads
                room, took = await connect()
                bot.attach(room)
                deadline = loop.time() + 15.0
                while bot.counters.started < tracks and loop.time() < deadline:
                    await asyncio.sleep(0.05)
                say({"connect_s": took, "ready": bot.counters.started})
            elif line == "leave" and room is not None:
                joined, room = room, None
                await bot.close(joined)
                bot.stop_reading()
                await asyncio.sleep(0.2)
                say({"left": True})
            elif line == "mark":
                c = bot.counters
                say({
                    "t": time.monotonic(),
                    "frames": sum(c.frames.values()),
                    "per_track": sorted(c.frames.values()),
                    "dropped": sum(s.dropped for s in c.streams),
                    "readers": len(bot.readers),
                })
            else:
                say({"error": f"unknown or untimely command {line!r}"})
        except Exception as exc:
            say({"error": f"{line}: {type(exc).__name__}: {exc}"})
    if room is not None:
        await bot.close(room)
    readers = bot.readers
    bot.stop_reading()
    await asyncio.gather(*readers, return_exceptions=True)


def main() -> None:
    logging.getLogger("livekit").setLevel(logging.ERROR)
    logging.getLogger("compat").setLevel(logging.ERROR)
    mode, url, key, secret, room_name, tracks = sys.argv[1:7]
    mode = ALIASES.get(mode, mode)
    if mode not in MODES:
        sys.exit(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    try:
        asyncio.run(run(mode, url, key, secret, room_name, int(tracks)))
    finally:
        sys.stdout.flush()
        if mode == "raw":  # no compat session here, so compat registered no exit hook
            from compat.core.rtc_session import shutdown

            shutdown()


if __name__ == "__main__":
    main()
