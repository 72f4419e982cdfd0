"""N publishers for bench.shim_overhead, in a process of their own.

    python -m bench._publishers URL KEY SECRET ROOM N

Connects N ``rtc.Room``s (``auto_subscribe=False``: they receive nothing) to ROOM, each
publishing a 48 kHz mono sine (fed in 100 ms chunks to keep this process cheap), prints
``ready <N>`` (or ``ready <k>`` with how many made it, after a time limit), and runs until
stdin closes; then it disconnects, disposes livekit's FFI (``compat.core.rtc_session.shutdown``)
and exits 0. Nothing here is measured; it only keeps the room busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from livekit import rtc

from compat.core.rtc_session import shutdown
from compat.devserver.testing import SAMPLE_RATE, LiveKitServer, sine

CHUNK = 4800  # 100 ms


async def publisher(url: str, key: str, secret: str, room_name: str, i: int, rooms: list[rtc.Room]) -> None:
    room = rtc.Room()
    rooms.append(room)
    await room.connect(url, LiveKitServer(url, key, secret).token(f"pub-{i:02d}", room_name, ttl=1800),
                       rtc.RoomOptions(auto_subscribe=False, connect_timeout=10.0))
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=1000)
    track = rtc.LocalAudioTrack.create_audio_track(f"tone-{i}", source)
    await room.local_participant.publish_track(track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    freq = 300.0 + 37.0 * i
    n = 0
    while True:
        data = sine(freq, n, CHUNK)
        n += CHUNK
        await source.capture_frame(rtc.AudioFrame(data.tobytes(), SAMPLE_RATE, 1, CHUNK))


async def main(url: str, key: str, secret: str, room_name: str, n: int) -> None:
    rooms: list[rtc.Room] = []
    tasks = [asyncio.create_task(publisher(url, key, secret, room_name, i, rooms)) for i in range(n)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0 + n
    while loop.time() < deadline:
        published = sum(1 for r in rooms if r.isconnected() and r.local_participant.track_publications)
        failed = sum(1 for t in tasks if t.done())
        if published + failed >= n:
            break
        await asyncio.sleep(0.1)
    published = sum(1 for r in rooms if r.isconnected() and r.local_participant.track_publications)
    print(f"ready {published}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until stdin closes
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for r in rooms:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(r.disconnect(), 3.0)


if __name__ == "__main__":
    logging.getLogger("livekit").setLevel(logging.ERROR)
    url, key, secret, room_name, count = sys.argv[1:6]
    try:
        asyncio.run(main(url, key, secret, room_name, int(count)))
    finally:
        sys.stdout.flush()
        shutdown()  # raw rooms only, so no compat exit hook: dispose livekit's FFI before Python finalises
