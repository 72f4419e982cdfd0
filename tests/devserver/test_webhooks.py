"""Webhooks: events received by a local aiohttp endpoint and verified with livekit.api.WebhookReceiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from livekit import api
from livekit.protocol import webhook as webhook_pb

from compat.devserver import DevServer
from compat.devserver.testing import LiveKitServer, publish_tone
from tests.support import wait_for


class Endpoint:
    """A webhook receiver: verifies every delivery, can fail the first N or hold requests."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
        self.events: list[webhook_pb.WebhookEvent] = []
        self.requests = 0
        self.fail_next = 0
        self.content_types: set[str] = set()
        self.gate: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.text()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="try later")
        self.content_types.add(request.headers.get("Content-Type", ""))
        # Raises (→ 500, a failed test below) unless signature and body hash check out.
        event = self.receiver.receive(body, request.headers["Authorization"])
        self.events.append(event)
        return web.Response(text="ok")

    def names(self) -> list[str]:
        return [e.event for e in self.events]

    async def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> list[webhook_pb.WebhookEvent]:
        await wait_for(lambda: self.names().count(name) >= count, timeout, f"{count}x {name} (got {self.names()})")
        return [e for e in self.events if e.event == name]


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    from compat.devserver.server import DEFAULT_KEYS

    key, secret = next(iter(DEFAULT_KEYS.items()))
    ep = Endpoint(key, secret)
    await ep.start()
    try:
        yield ep
    finally:
        await ep.stop()


def make_server(endpoint: Endpoint, **kwargs: Any) -> DevServer:
    server = DevServer(
        port=0, webhooks=[endpoint.url], empty_timeout=1.0, departure_timeout=0.5, ping_interval=1, ping_timeout=3, **kwargs
    )
    for destination in server.notifier.destinations:
        destination.backoff_min = 0.05
        destination.backoff_max = 0.2
    return server


@pytest.fixture
async def hooked(endpoint: Endpoint) -> AsyncIterator[LiveKitServer]:
    async with make_server(endpoint) as server:
        yield LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)


async def test_room_events_are_signed_and_unique(hooked: LiveKitServer, endpoint: Endpoint) -> None:
    lkapi = api.LiveKitAPI(hooked.url, hooked.api_key, hooked.api_secret)
    try:
        room = await lkapi.room.create_room(api.CreateRoomRequest(name="w1"))
        (started,) = await endpoint.wait("room_started")
        assert started.room.name == "w1" and started.room.sid == room.sid
        await lkapi.room.delete_room(api.DeleteRoomRequest(room="w1"))
        (finished,) = await endpoint.wait("room_finished")
        assert finished.room.sid == room.sid
    finally:
        await lkapi.aclose()
    ids = [e.id for e in endpoint.events]
    assert all(i.startswith("EV_") for i in ids) and len(set(ids)) == len(ids)
    assert all(e.created_at > 1_600_000_000 for e in endpoint.events)
    assert endpoint.content_types == {"application/webhook+json"}


async def test_a_forged_body_fails_verification(endpoint: Endpoint) -> None:
    """The check the tests rely on does reject a body that does not match the signed hash."""
    from compat.devserver.webhooks import WebhookDestination

    destination = WebhookDestination(
        endpoint.url, "devkey", "secret", max_attempts=1, backoff_min=0.1, backoff_max=0.1, timeout=5, max_queue=10
    )
    body = '{"event": "room_started"}'
    token = destination.sign(body)
    assert endpoint.receiver.receive(body, token).event == "room_started"
    with pytest.raises(Exception, match="hash mismatch"):  # livekit-api raises a bare Exception
        endpoint.receiver.receive('{"event": "room_finished"}', token)


async def test_failing_endpoint_gets_retries_and_later_events_keep_their_order(
    hooked: LiveKitServer, endpoint: Endpoint
) -> None:
    endpoint.fail_next = 3
    lkapi = api.LiveKitAPI(hooked.url, hooked.api_key, hooked.api_secret)
    try:
        for name in ("o1", "o2", "o3"):
            await lkapi.room.create_room(api.CreateRoomRequest(name=name))
        for name in ("o1", "o2", "o3"):
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
        await endpoint.wait("room_finished", 3)
    finally:
        await lkapi.aclose()
    assert endpoint.requests >= len(endpoint.events) + 3  # the three failures were retried
    order = [(e.event, e.room.name) for e in endpoint.events]
    assert order == [
        ("room_started", "o1"), ("room_started", "o2"), ("room_started", "o3"),
        ("room_finished", "o1"), ("room_finished", "o2"), ("room_finished", "o3"),
    ]


async def test_an_endpoint_that_never_succeeds_is_given_up_on(endpoint: Endpoint) -> None:
    endpoint.fail_next = 1_000_000
    async with make_server(endpoint) as server:
        server.notifier.destinations[0].max_attempts = 3
        lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
        try:
            await lkapi.room.create_room(api.CreateRoomRequest(name="x"))
            destination = server.notifier.destinations[0]
            await wait_for(lambda: destination.failed == 1, 10.0, "the delivery to be given up")
            assert endpoint.requests == 3
        finally:
            await lkapi.aclose()


async def test_a_stuck_endpoint_does_not_block_the_api_and_is_flushed_on_shutdown(endpoint: Endpoint) -> None:
    endpoint.gate = asyncio.Event()
    server = make_server(endpoint)
    await server.start()
    lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    try:
        for i in range(5):  # each answers although no webhook has been delivered yet
            await asyncio.wait_for(lkapi.room.create_room(api.CreateRoomRequest(name=f"s{i}")), 5.0)
        assert endpoint.events == []
    finally:
        await lkapi.aclose()
    endpoint.gate.set()
    await server.stop()  # closes the rooms, then flushes their room_finished events
    names = endpoint.names()
    assert names.count("room_started") == 5 and names.count("room_finished") == 5
    assert names.index("room_finished") > max(i for i, n in enumerate(names) if n == "room_started")


@pytest.mark.media
async def test_participant_and_track_events_in_room_order(hooked: LiveKitServer, endpoint: Endpoint) -> None:
    a = await hooked.connect("a", "wr")
    try:
        async with publish_tone(a, 440) as publication:
            await endpoint.wait("track_published")
            await a.local_participant.unpublish_track(publication.sid)
            await endpoint.wait("track_unpublished")
    finally:
        await a.disconnect()
    await endpoint.wait("room_finished", timeout=10.0)
    names = endpoint.names()
    assert names == [
        "room_started", "participant_joined", "track_published", "track_unpublished", "participant_left", "room_finished"
    ]
    by_name = {e.event: e for e in endpoint.events}
    assert by_name["participant_joined"].participant.identity == "a"
    assert by_name["track_published"].track.sid == publication.sid
    assert by_name["track_published"].participant.identity == "a"
    assert by_name["participant_left"].participant.identity == "a"
    assert len({e.room.sid for e in endpoint.events}) == 1
