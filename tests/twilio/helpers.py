"""Helpers for the Twilio model tests: the event names to record, connecting, waiting for the server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, get_args

from compat import twilio_video as Video
from compat.devserver.testing import FRAME_SAMPLES, SAMPLE_RATE, LiveKitServer, sine

# Every event each class emits, from the model's own Literals (a test watches them all).
ROOM_EVENTS: tuple[Video.RoomEvent, ...] = get_args(Video.RoomEvent)
PARTICIPANT_EVENTS: tuple[Video.RemoteParticipantEvent, ...] = get_args(Video.RemoteParticipantEvent)


async def twilio_connect(server: LiveKitServer, identity: str, room: str, **options: Any) -> Video.Room:
    options.setdefault("url", server.url)
    options.setdefault("name", room)
    return await Video.connect(server.token(identity, room), options)


async def close(room: Video.Room) -> None:
    room.disconnect()
    await room.wait_closed()


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


async def announced(server: LiveKitServer, room: str, identity: str, tracks: int, timeout: float = 10.0) -> None:
    """Wait until the server lists ``identity`` in ``room`` with ``tracks`` published tracks
    (a server may announce a track only once its media arrives)."""
    from livekit import api

    lkapi = api.LiveKitAPI(server.http_url(), server.api_key, server.api_secret)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            resp = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            if any(p.identity == identity and len(p.tracks) >= tracks for p in resp.participants):
                return
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {identity} with {tracks} track(s) in {room}")
            await asyncio.sleep(0.05)
    finally:
        await lkapi.aclose()


@contextlib.asynccontextmanager
async def bot_tone(track: Video.LocalAudioTrack, freq: float) -> AsyncIterator[None]:
    """Feed ``track`` a sine tone in 10 ms frames for the duration of the block."""
    async def feed() -> None:
        n = 0
        while True:
            data = sine(freq, n, FRAME_SAMPLES)
            n += FRAME_SAMPLES
            await track.capture_frame(Video.AudioFrame(data.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))

    task = asyncio.create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
