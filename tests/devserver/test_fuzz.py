"""Malformed, oversized and out-of-order signalling never takes the server or other participants down."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.protocol import rtc as proto_rtc

from compat.devserver import DevServer
from compat.devserver.testing import LiveKitServer

_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: st.text(max_size=40),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_FLOAT: st.floats(width=32, allow_nan=False),
    FieldDescriptor.TYPE_DOUBLE: st.floats(allow_nan=False),
}


@st.composite
def _message(draw: st.DrawFn, descriptor: Any, depth: int) -> dict[str, Any]:
    """Field values for a message of `descriptor`: a random subset of fields, nested to `depth`."""
    values: dict[str, Any] = {}
    fields = [f for f in descriptor.fields if f.containing_oneof is None or depth < 3]
    for field in draw(st.lists(st.sampled_from(fields), max_size=4, unique_by=lambda f: f.name)) if fields else []:
        values[field.name] = draw(_field_value(field, depth))
    return values


def _field_value(field: Any, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message_type = field.message_type
        if message_type.GetOptions().map_entry:
            return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
        single: st.SearchStrategy[Any] = st.just({}) if depth <= 0 else _message(message_type, depth - 1)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        single = st.sampled_from([v.number for v in field.enum_type.values])
    else:
        single = _SCALARS[field.type]
    if field.is_repeated:
        return st.lists(single, max_size=3)
    return single


def _build(cls: type[Message], values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        field: Any = cls.DESCRIPTOR.fields_by_name[name]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                getattr(message, name).update(value)
                continue
            sub_cls = type(getattr(message, name)) if not field.is_repeated else None
            if sub_cls is None:
                container = getattr(message, name)
                for item in value:
                    _fill(container.add(), item)
            else:
                _fill(getattr(message, name), value)
        elif field.is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return message


def _fill(target: Message, values: dict[str, Any]) -> None:
    target.CopyFrom(_build(type(target), values))
    target.SetInParent()


_ONEOF_FIELDS = [f for f in proto_rtc.SignalRequest.DESCRIPTOR.oneofs_by_name["message"].fields]


@st.composite
def signal_requests(draw: st.DrawFn) -> bytes:
    field = draw(st.sampled_from(_ONEOF_FIELDS))
    value = draw(_field_value(field, 2))
    request = proto_rtc.SignalRequest()
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        _fill(getattr(request, field.name), value)
    else:
        setattr(request, field.name, value)
    return request.SerializeToString()


frames = st.lists(st.one_of(st.binary(max_size=200), signal_requests()), min_size=1, max_size=12)


class ServerThread:
    """A DevServer on its own loop and thread, so each hypothesis example can run its own client loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = DevServer(port=0, ping_interval=1, ping_timeout=2, departure_timeout=0.5, empty_timeout=0.5)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)


@pytest.fixture(scope="module")
def server_thread() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


async def _throw(server: DevServer, token: str, payloads: list[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(
            server.url + "/rtc", headers={"Authorization": f"Bearer {token}"}, timeout=aiohttp.ClientWSTimeout(ws_close=2)
        ) as ws:
            first = await asyncio.wait_for(ws.receive(), 5)
            response = proto_rtc.SignalResponse()
            response.ParseFromString(first.data)
            assert response.WhichOneof("message") == "join"
            for payload in payloads:
                await ws.send_bytes(payload)
            await ws.send_str("text frames are not LiveKit signalling")
            await asyncio.sleep(0.01)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=frames)
def test_random_frames_never_break_the_server(server_thread: ServerThread, payloads: list[bytes]) -> None:
    server = server_thread.server
    srv = LiveKitServer(server.url, server.api_key, server.api_secret)
    asyncio.run(_throw(server, srv.token("fuzzer", "fuzz-room"), payloads))
    # The server still answers.
    assert server_thread.call(_health(server)) == 200


async def _health(server: DevServer) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.http_url + "/") as response:
            return response.status


async def test_oversized_message_closes_only_that_connection(dev_server: LiveKitServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(
            dev_server.url + "/rtc", headers={"Authorization": f"Bearer {dev_server.token('big', 'r')}"}
        ) as ws:
            await asyncio.wait_for(ws.receive(), 5)
            await ws.send_bytes(b"\x00" * (2 << 20))
            closing = None
            for _ in range(10):  # skip the offer and updates queued before the close
                closing = await asyncio.wait_for(ws.receive(), 5)
                if closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
            assert closing is not None and closing.type in (
                aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING
            )
    assert await _health(dev_server.embedded) == 200


@pytest.mark.media
def test_normal_join_works_after_fuzzing(server_thread: ServerThread) -> None:
    """Runs after the hypothesis test in this module (same server)."""
    server = server_thread.server
    srv = LiveKitServer(server.url, server.api_key, server.api_secret)

    async def join_and_talk() -> None:
        a = await srv.connect("after-a", "fuzz-room")
        b = await srv.connect("after-b", "fuzz-room")
        got: list[bytes] = []
        b.on("data_received", lambda packet: got.append(packet.data))
        await a.local_participant.publish_data(b"still fine", reliable=True)
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.02)
        await a.disconnect()
        await b.disconnect()
        assert got == [b"still fine"]

    asyncio.run(join_and_talk())
