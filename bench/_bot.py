"""One receiving bot for bench.shim_overhead, alone in its process (so /proc CPU is its own).

    python -m bench._bot {raw|shim} URL KEY SECRET ROOM TRACKS

raw   a plain ``livekit.rtc.Room``; one ``rtc.AudioStream`` per subscribed audio track
shim  ``compat.twilio_video.connect``; ``RemoteAudioTrack.frames()`` per track from ``trackSubscribed``

Both connect with auto-subscribe, touch every frame's data, and count frames per track.
Driven by lines on stdin; answers one JSON object per stdout line ({"hello": mode} at start):
  connect   a measured connect, then disconnect           -> {"connect_s": s}
  stay      a measured connect that stays; read every remote audio track; answer when
            TRACKS tracks delivered a frame (or after 15 s) -> {"connect_s": s, "ready": k}
  mark      the counters                                  -> {"t", "frames", "per_track", "dropped"}
  quit/EOF  disconnect and exit
Failures answer {"error": ...}. Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any

from livekit import rtc

from compat.devserver.testing import LiveKitServer


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Counters:
    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.streams: list[Any] = []  # FrameStreams (shim), for their drop counters
        self.touched = 0

    @property
    def started(self) -> int:
        return sum(1 for v in self.frames.values() if v)


async def raw_connect(url: str, tok: str) -> rtc.Room:
    room = rtc.Room()
    await room.connect(url, tok, rtc.RoomOptions(auto_subscribe=True, connect_timeout=10.0))
    return room


async def raw_close(room: rtc.Room) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(room.disconnect(), 5.0)


async def shim_connect(url: str, tok: str, room_name: str) -> Any:
    from compat import twilio_video as Video

    return await Video.connect(tok, {"url": url, "name": room_name})


async def shim_close(room: Any) -> None:
    room.disconnect()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(room.wait_closed(5.0), 6.0)


async def run(mode: str, url: str, key: str, secret: str, room_name: str, tracks: int) -> None:
    loop = asyncio.get_running_loop()
    server = LiveKitServer(url, key, secret)
    counters = Counters()
    readers: list[asyncio.Task[None]] = []
    room: Any = None
    cycles = 0

    async def connect() -> tuple[Any, float]:
        nonlocal cycles
        cycles += 1
        tok = server.token(f"{mode}-bot-{cycles}", room_name, ttl=1800)
        t0 = time.perf_counter()
        if mode == "raw":
            joined = await asyncio.wait_for(raw_connect(url, tok), 15.0)
        else:
            joined = await asyncio.wait_for(shim_connect(url, tok, room_name), 15.0)
        return joined, time.perf_counter() - t0

    async def close(joined: Any) -> None:
        await (raw_close(joined) if mode == "raw" else shim_close(joined))

    def attach(joined: Any) -> None:
        if mode == "raw":
            seen: set[str] = set()

            async def read_raw(track: rtc.Track, sid: str) -> None:
                counters.frames[sid] = 0
                stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)
                async for event in stream:
                    counters.touched += event.frame.data[0] & 1  # read the PCM
                    counters.frames[sid] += 1

            def on_raw(track: rtc.Track, pub: rtc.RemoteTrackPublication, _p: Any) -> None:
                if track.kind == rtc.TrackKind.KIND_AUDIO and pub.sid not in seen:
                    seen.add(pub.sid)
                    readers.append(loop.create_task(read_raw(track, pub.sid)))

            joined.on("track_subscribed", on_raw)
            for p in joined.remote_participants.values():  # subscribed before the handler was attached
                for pub in p.track_publications.values():
                    if pub.track is not None:
                        on_raw(pub.track, pub, p)
        else:
            async def read_shim(track: Any) -> None:
                counters.frames[track.sid] = 0
                stream = track.frames()
                counters.streams.append(stream)
                async for frame in stream:
                    counters.touched += frame.data[0] & 1  # read the PCM
                    counters.frames[track.sid] += 1

            def on_shim(track: Any, _pub: Any, _p: Any) -> None:
                if track.kind == "audio":
                    readers.append(loop.create_task(read_shim(track)))

            joined.on("trackSubscribed", on_shim)

    say({"hello": mode})
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line or line == "quit":
            break
        try:
            if line == "connect":  # one measured connect, then leave
                joined, took = await connect()
                await close(joined)
                await asyncio.sleep(0.2)  # let the server finish the leave
                say({"connect_s": took})
            elif line == "stay" and room is None:  # a measured connect that stays and reads
                room, took = await connect()
                attach(room)
                deadline = loop.time() + 15.0
                while counters.started < tracks and loop.time() < deadline:
                    await asyncio.sleep(0.05)
                say({"connect_s": took, "ready": counters.started})
            elif line == "mark":
                say({
                    "t": time.monotonic(),
                    "frames": sum(counters.frames.values()),
                    "per_track": sorted(counters.frames.values()),
                    "dropped": sum(s.dropped for s in counters.streams),
                    "readers": len(readers),
                })
            else:
                say({"error": f"unknown command {line!r}"})
        except Exception as exc:
            say({"error": f"{line}: {type(exc).__name__}: {exc}"})
    for r in readers:
        r.cancel()
    if room is not None:
        await close(room)


def main() -> None:
    logging.getLogger("livekit").setLevel(logging.ERROR)
    logging.getLogger("compat").setLevel(logging.ERROR)
    mode, url, key, secret, room_name, tracks = sys.argv[1:7]
    try:
        asyncio.run(run(mode, url, key, secret, room_name, int(tracks)))
    finally:
        sys.stdout.flush()
        os._exit(0)  # livekit's FFI threads can abort in interpreter teardown


if __name__ == "__main__":
    main()
