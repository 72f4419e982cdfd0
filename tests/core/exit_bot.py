"""A plain Twilio-style bot, used to check that a process using compat exits cleanly.

It connects with ``compat.twilio_video``, publishes a ``LocalAudioTrack`` carrying a tone,
reads the remote participant's audio frames, disconnects and returns from ``main`` via
``asyncio.run``: no ``os._exit``, nothing special at the end. The process's exit status
must be 0 (livekit's native layer used to abort some runs at interpreter exit).

``--leave-open`` returns without disconnecting: compat then closes the room when
``asyncio.run`` shuts the loop down. ``--peer`` runs the remote side instead: it publishes a tone and stays connected until
its stdin closes. Server and credentials come from ``LIVEKIT_URL``,
``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET``.

    python -m tests.core.exit_bot --room R --identity bot [--frames 50] [--leave-open | --peer]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import sys
from typing import Any

import numpy as np
from livekit import api

from compat import twilio_video as Video

SAMPLE_RATE = 48000
FRAME_SAMPLES = 480  # 10 ms


def token(identity: str, room: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return api.AccessToken().with_identity(identity).with_grants(grants).with_ttl(datetime.timedelta(minutes=10)).to_jwt()


async def feed_tone(track: Video.LocalAudioTrack, freq: float) -> None:
    """Publish a sine tone, paced by the native audio queue."""
    n = 0
    while True:
        t = (np.arange(FRAME_SAMPLES) + n) / SAMPLE_RATE
        samples = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
        n += FRAME_SAMPLES
        await track.capture_frame(Video.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))


async def count_frames(track: Any, wanted: int, got: asyncio.Event) -> None:
    seen = 0
    async for _frame in track.frames(capacity=100):
        seen += 1
        if seen >= wanted:
            got.set()


async def session(identity: str, room_name: str, freq: float, frames: int, timeout: float, leave_open: bool) -> bool:
    """Connect, publish a tone, wait for ``frames`` remote audio frames (0: until stdin
    closes), disconnect unless ``leave_open``. True when the frames arrived."""
    track = Video.LocalAudioTrack(name=f"tone-{identity}")
    room = await Video.connect(token(identity, room_name), {"name": room_name, "tracks": [track]})
    got = asyncio.Event()
    readers: list[asyncio.Task[None]] = []

    def on_track_subscribed(remote: Any, *_: Any) -> None:
        if isinstance(remote, Video.RemoteAudioTrack) and frames > 0:
            readers.append(asyncio.create_task(count_frames(remote, frames, got)))

    room.on("trackSubscribed", on_track_subscribed)
    feeder = asyncio.create_task(feed_tone(track, freq))
    try:
        if frames > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(got.wait(), timeout)
        else:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
    if not leave_open:  # else the readers and the room are left to the loop's shutdown
        room.disconnect()  # ends the frame readers
        await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 10.0)
        await room.wait_closed(10.0)
    return got.is_set()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--room", required=True)
    parser.add_argument("--identity", default="exit-bot")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--leave-open", action="store_true")
    parser.add_argument("--peer", action="store_true")
    args = parser.parse_args(argv)
    frames = 0 if args.peer else args.frames
    ok = await session(args.identity, args.room, 660 if args.peer else 440, frames, args.timeout, args.leave_open)
    if args.peer:
        return 0
    print(f"{args.identity}: {'received' if ok else 'did NOT receive'} {frames} remote audio frames", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
