"""Helpers for the Twilio model tests: event recording with stable object keys."""

from __future__ import annotations

import asyncio
from typing import Any

from compat import twilio_video as Video
from tests.support import LiveKitServer, wait_for

ROOM_EVENTS = (
    "participantConnected",
    "participantDisconnected",
    "trackPublished",
    "trackUnpublished",
    "trackSubscribed",
    "trackUnsubscribed",
    "trackEnabled",
    "trackDisabled",
    "trackMessage",
    "trackStarted",
    "trackDimensionsChanged",
    "dominantSpeakerChanged",
    "recordingStarted",
    "recordingStopped",
    "reconnecting",
    "reconnected",
    "disconnected",
)

PARTICIPANT_EVENTS = (
    "trackPublished",
    "trackUnpublished",
    "trackSubscribed",
    "trackUnsubscribed",
    "trackEnabled",
    "trackDisabled",
    "trackMessage",
    "trackStarted",
    "disconnected",
    "networkQualityLevelChanged",
)


class Trace:
    """Records (emitter, event, args) from a Room and its participants."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, tuple[Any, ...]]] = []

    def watch(self, emitter: Any, label: str, names: tuple[str, ...]) -> None:
        for name in names:
            emitter.on(name, self._recorder(label, name))

    def _recorder(self, label: str, name: str) -> Any:
        def record(*args: Any) -> None:
            self.events.append((label, name, args))

        return record

    def names(self, label: str | None = None) -> list[str]:
        return [n for lab, n, _ in self.events if label is None or lab == label]

    def of(self, name: str, label: str = "room") -> list[tuple[Any, ...]]:
        return [a for lab, n, a in self.events if n == name and lab == label]

    async def wait(self, name: str, count: int = 1, label: str = "room", timeout: float = 15.0) -> list[tuple[Any, ...]]:
        await wait_for(lambda: len(self.of(name, label)) >= count, timeout, f"{count}x {label}.{name} (got {self.events})")
        return self.of(name, label)


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
