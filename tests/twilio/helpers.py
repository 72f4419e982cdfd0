"""Helpers for the Twilio model tests: the event names to record, connecting, waiting for the server."""

from __future__ import annotations

import asyncio
from typing import Any, get_args

from compat import twilio_video as Video
from compat.devserver.testing import LiveKitServer

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
