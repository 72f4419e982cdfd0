"""Overhead of the compat layers over raw ``livekit.rtc`` (no server needed).

    .venv/bin/python -m bench.shim_overhead [--frames N] [--facts N] [--json PATH]

Phases (each bounded; nothing asserted, numbers are reported):

  receive   frames of a local AudioSource -> LocalAudioTrack read two ways for the same
            number of 10 ms frames: a raw ``rtc.AudioStream`` iterated directly, and the
            compat path (the same native stream feeding a ``compat.core.FrameStream``
            through the sink the core installs). Reports process CPU per frame.
  dispatch  facts pushed through a ``ScriptedSession`` into a Twilio ``Room`` with one
            listener per event (mute/unmute toggles -> trackDisabled/trackEnabled on the
            publication, participant and room): CPU per fact.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import numpy as np
from livekit import rtc

from compat import core as C
from compat.core.rtc_session import _Sink
from compat.twilio_video.connect import connect_session

SAMPLE_RATE = 48000
FRAME = 480


async def _feed(source: rtc.AudioSource, frames: int) -> None:
    data = (np.sin(np.arange(FRAME) / 10) * 3000).astype(np.int16).tobytes()
    frame = rtc.AudioFrame(data, SAMPLE_RATE, 1, FRAME)
    for _ in range(frames):
        await source.capture_frame(frame)


async def receive(frames: int, compat_path: bool) -> dict[str, Any]:
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=200)
    track = rtc.LocalAudioTrack.create_audio_track("bench", source)
    native = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    stream: C.FrameStream[Any] | None = None
    if compat_path:
        stream = C.FrameStream(frames + 10)
        native._queue = _Sink(stream)  # type: ignore[assignment]
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

    try:
        await asyncio.wait_for(consume(), frames / 100 * 3 + 10)
    except asyncio.TimeoutError:
        pass
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


async def dispatch(facts: int) -> dict[str, Any]:
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


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "receive": [await receive(args.frames, False), await receive(args.frames, True)],
        "dispatch": await dispatch(args.facts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="compat overhead over raw livekit.rtc")
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--facts", type=int, default=100_000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
