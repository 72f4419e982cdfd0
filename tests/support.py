"""Shared helpers for tests: where the LiveKit server is, tokens, and bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import attrs
from livekit import api, rtc

T = TypeVar("T")

IN_NETNS = os.environ.get("NETNS_RUN_INSIDE") == "1"
EXTERNAL = all(os.environ.get(k) for k in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"))


@attrs.frozen
class LiveKitServer:
    """A LiveKit server the tests may use: the embedded dev server or an external one."""

    url: str
    api_key: str
    api_secret: str
    embedded: Any = None  # the DevServer instance when embedded, else None

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


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until predicate() is true; fail the test with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def within(aw: Awaitable[T], timeout: float = 10.0) -> T:
    return await asyncio.wait_for(aw, timeout)


class EventLog:
    """Records the events of one or more emitters (the vendor models' pyee emitters and
    ``livekit.rtc``'s: both take ``on(name, handler)``) as ``(label, name, args)`` in order,
    with bounded waits. Each emitter is listened to under a label (``"room"`` unless given),
    which ``of`` and ``wait`` filter on."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.events: list[tuple[str, str, tuple[Any, ...]]] = []
        self.timeout = timeout  # the default bound of wait()

    def listen(self, emitter: Any, *names: str, label: str = "room") -> None:
        for name in names:
            emitter.on(name, self._recorder(label, name))

    def _recorder(self, label: str, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((label, name, args))

        return record

    def names(self, label: str | None = None) -> list[str]:
        """Event names in order, of every label unless one is given."""
        return [n for lab, n, _ in self.events if label is None or lab == label]

    def of(self, name: str, label: str = "room") -> list[tuple[Any, ...]]:
        return [a for lab, n, a in self.events if n == name and lab == label]

    async def wait(
        self, name: str, count: int = 1, *, label: str = "room", timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Wait until ``label`` emitted ``name`` at least ``count`` times; its arguments, in order."""
        bound = self.timeout if timeout is None else timeout
        await wait_for(lambda: len(self.of(name, label)) >= count, bound, f"{count}x {label}.{name} (got {self.events})")
        return self.of(name, label)
