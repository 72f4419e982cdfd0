"""Webhooks: events received by a local aiohttp endpoint and verified with livekit.api.WebhookReceiver."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from livekit import api, rtc
from livekit.protocol import webhook as webhook_pb

from compat.devserver import DevServer
from compat.devserver.testing import RESUME_PING_TIMEOUT, LiveKitServer, drop_signal, publish_tone
from compat.devserver.webhooks import WebhookDestination
from tests.support import EventLog, wait_for


class Endpoint:
    """A webhook receiver: verifies every delivery, can fail the first N, hold requests, or be down."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
        self.events: list[webhook_pb.WebhookEvent] = []
        self.requests = 0
        self.fail_next = 0
        self.fail_status = 503
        self.content_types: set[str] = set()
        self.gate: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    async def start(self) -> None:
        """Listen on 127.0.0.1 (on the same port again after a stop)."""
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def stop(self) -> None:
        """Close the port: deliveries get connection errors until start() again."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.text()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=self.fail_status, text="not now")
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
    kwargs.setdefault("webhook_backoff_max", 0.2)
    kwargs.setdefault("ping_timeout", 3)
    server = DevServer(
        port=0, webhooks=[endpoint.url], empty_timeout=1.0, departure_timeout=0.5, ping_interval=1, **kwargs
    )
    for destination in server.notifier.destinations:
        destination.backoff_min = 0.05
    return server


def record_enqueued(destination: WebhookDestination, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the events the server queues for `destination`, in the order it queues them."""
    ids: list[str] = []
    enqueue = destination.enqueue

    def recording(event: webhook_pb.WebhookEvent) -> None:
        ids.append(event.id)
        enqueue(event)

    monkeypatch.setattr(destination, "enqueue", recording)
    return ids


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


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
    destination = WebhookDestination(
        endpoint.url, "devkey", "secret", horizon=1, backoff_min=0.1, backoff_max=0.1, timeout=5, max_queue=10
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


@pytest.mark.media
async def test_a_resume_sends_neither_participant_left_nor_joined(endpoint: Endpoint) -> None:
    a = rtc.Room()
    log = EventLog(timeout=20.0)
    log.listen(a, "reconnected")
    async with make_server(endpoint, ping_timeout=RESUME_PING_TIMEOUT) as server:
        hooked = LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)
        await hooked.connect("a", "wres", room_object=a)
        try:
            async with publish_tone(a, 440):
                await endpoint.wait("track_published")
                await drop_signal(server, "wres", "a")
                await log.wait("reconnected")
                await a.local_participant.publish_data(b"after", reliable=True)  # the resumed session is in use
                await asyncio.sleep(1.0)  # webhooks are queued at once; a stray one would be on its way
                assert endpoint.names() == ["room_started", "participant_joined", "track_published"]
        finally:
            await a.disconnect()
        await endpoint.wait("participant_left")
    assert endpoint.names().count("participant_joined") == 1 and endpoint.names().count("participant_left") == 1


OUTAGE = 30.0  # seconds the receiver's port stays closed


@pytest.mark.media
async def test_a_30s_outage_loses_nothing_and_keeps_order(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    async with make_server(endpoint, webhook_backoff_max=2.0) as server:
        destination = server.notifier.destinations[0]
        queued = record_enqueued(destination, monkeypatch)
        lk = LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)
        await endpoint.stop()
        back_at = loop.time() + OUTAGE
        a = await lk.connect("a", "outage")
        b = await lk.connect("b", "outage")
        await b.disconnect()
        await wait_for(lambda: "b" not in server.rooms["outage"].participants, 10.0, "b to leave")
        await a.disconnect()
        await wait_for(lambda: "outage" not in server.rooms, 10.0, "the room to close")
        await asyncio.sleep(back_at - loop.time())
        assert endpoint.requests == 0 and destination.pending == len(queued) == 6
        assert destination.attempts > 6 and destination.dropped == 0  # retried all along, nothing given up
        await endpoint.start()
        await wait_for(lambda: len(endpoint.events) >= len(queued), 10.0, "the backlog to be delivered")
    assert [e.id for e in endpoint.events] == queued  # every event, in order, once
    assert [(e.event, e.participant.identity) for e in endpoint.events] == [
        ("room_started", ""), ("participant_joined", "a"), ("participant_joined", "b"),
        ("participant_left", "b"), ("participant_left", "a"), ("room_finished", ""),
    ]
    assert all(e.num_dropped == 0 for e in endpoint.events)


async def test_events_past_a_short_horizon_are_named_and_counted_in_num_dropped(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, "compat.devserver.webhooks")
    endpoint.fail_next = 1_000_000  # answers 503 until told otherwise
    async with make_server(endpoint, webhook_horizon=1.0) as server, LiveKitServer(
        server.url, server.api_key, server.api_secret
    ).api() as lkapi:
        destination = server.notifier.destinations[0]
        queued = record_enqueued(destination, monkeypatch)
        await lkapi.room.create_room(api.CreateRoomRequest(name="h1"))
        await lkapi.room.delete_room(api.DeleteRoomRequest(room="h1"))
        await wait_for(lambda: destination.dropped == 2, 10.0, "both h1 events to pass their horizon")
        assert endpoint.requests > 1  # h1's room_started was retried before being given up
        endpoint.fail_next = 0
        await lkapi.room.create_room(api.CreateRoomRequest(name="h2", empty_timeout=60))
        (started,) = await endpoint.wait("room_started")
    assert started.room.name == "h2" and started.num_dropped == 2
    lost = queued[:2]
    assert started.id == queued[2] and not {e.id for e in endpoint.events} & set(lost)
    for event_id, name in zip(lost, ("room_started", "room_finished"), strict=True):
        assert any(event_id in w and name in w and "'h1'" in w for w in warnings(caplog)), (event_id, warnings(caplog))


async def test_queue_overflow_is_named_and_counted_in_num_dropped(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "compat.devserver.webhooks")
    endpoint.gate = asyncio.Event()  # holds the first delivery while more events arrive
    async with make_server(endpoint) as server, LiveKitServer(server.url, server.api_key, server.api_secret).api() as lkapi:
        server.notifier.destinations[0].max_queue = 2
        await lkapi.room.create_room(api.CreateRoomRequest(name="q0", empty_timeout=60))
        await wait_for(lambda: endpoint.requests == 1, 5.0, "q0's event to be in flight")
        for name in ("q1", "q2", "q3", "q4"):  # q3 and q4 push q1 and q2 out of the queue
            await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=60))
        endpoint.gate.set()
        started = await endpoint.wait("room_started", 3)
    assert [(e.room.name, e.num_dropped) for e in started] == [("q0", 0), ("q3", 2), ("q4", 0)]
    for name in ("q1", "q2"):
        assert any(f"'{name}'" in w and "queue full" in w for w in warnings(caplog)), warnings(caplog)


async def test_a_refused_event_is_not_retried_but_counted(endpoint: Endpoint, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "compat.devserver.webhooks")
    endpoint.fail_next, endpoint.fail_status = 1, 400
    async with make_server(endpoint) as server, LiveKitServer(server.url, server.api_key, server.api_secret).api() as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name="r1", empty_timeout=60))
        await wait_for(lambda: server.notifier.destinations[0].dropped == 1, 5.0, "r1's event to be refused")
        await lkapi.room.create_room(api.CreateRoomRequest(name="r2", empty_timeout=60))
        (started,) = await endpoint.wait("room_started")
    assert endpoint.requests == 1 + len(endpoint.events)  # r1's was sent once
    assert started.room.name == "r2" and started.num_dropped == 1
    assert any("'r1'" in w and "HTTP 400" in w for w in warnings(caplog)), warnings(caplog)


async def test_shutdown_is_bounded_and_says_how_many_events_were_left(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "compat.devserver.webhooks")
    endpoint.fail_next = 1_000_000
    server = make_server(endpoint)
    await server.start()
    server.notifier.flush_timeout = 0.5
    async with LiveKitServer(server.url, server.api_key, server.api_secret).api() as lkapi:
        for name in ("d1", "d2"):
            await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=60))
    await server.stop()  # adds two room_finished, then gives up flushing after 0.5 s
    assert endpoint.events == []
    assert any("4 event(s) left undelivered at shutdown" in w for w in warnings(caplog)), warnings(caplog)
