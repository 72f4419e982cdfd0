"""Data relay: reliable and lossy, to chosen identities, with topics."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer
from tests.support import wait_for

pytestmark = pytest.mark.media

Received = list[tuple[str, bytes, str | None, int]]


def record(room: rtc.Room, into: Received) -> None:
    def on_data(packet: rtc.DataPacket) -> None:
        sender = packet.participant.identity if packet.participant else ""
        into.append((sender, packet.data, packet.topic, packet.kind))

    room.on("data_received", on_data)


async def test_reliable_data_reaches_everyone_else_in_order_with_topic(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    c = await dev_server.connect("c", "r")
    got_b: Received = []
    got_c: Received = []
    got_a: Received = []
    record(b, got_b)
    record(c, got_c)
    record(a, got_a)
    try:
        for i in range(50):
            await a.local_participant.publish_data(f"msg {i}".encode(), reliable=True, topic="chat")
        await wait_for(lambda: len(got_b) == 50 and len(got_c) == 50, what="50 reliable packets at b and c")
        expected = [("a", f"msg {i}".encode(), "chat", rtc.DataPacketKind.KIND_RELIABLE) for i in range(50)]
        assert got_b == expected
        assert got_c == expected
        await asyncio.sleep(0.2)
        assert got_a == []  # never echoed to the sender
    finally:
        for room in (a, b, c):
            await room.disconnect()


async def test_lossy_data_and_destination_identities(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    c = await dev_server.connect("c", "r")
    got_b: Received = []
    got_c: Received = []
    record(b, got_b)
    record(c, got_c)
    try:
        await a.local_participant.publish_data(b"for c only", reliable=True, destination_identities=["c"])
        await a.local_participant.publish_data(b"lossy", reliable=False, topic="telemetry")
        await wait_for(lambda: len(got_c) == 2 and len(got_b) == 1, what="targeted and lossy packets")
        assert got_c[0] == ("a", b"for c only", None, rtc.DataPacketKind.KIND_RELIABLE) or got_c[0][1] == b"for c only"
        assert ("a", b"lossy", "telemetry", rtc.DataPacketKind.KIND_LOSSY) in got_c
        assert got_b == [("a", b"lossy", "telemetry", rtc.DataPacketKind.KIND_LOSSY)]
    finally:
        for room in (a, b, c):
            await room.disconnect()


async def test_data_without_permission_is_dropped(dev_server: LiveKitServer) -> None:
    muted = await dev_server.connect("quiet", "r", can_publish_data=False)
    b = await dev_server.connect("b", "r")
    got_b: Received = []
    record(b, got_b)
    try:
        await muted.local_participant.publish_data(b"should not pass", reliable=True)
        await b.local_participant.publish_data(b"ping", reliable=True)
        await asyncio.sleep(0.5)
        assert got_b == []
    finally:
        await muted.disconnect()
        await b.disconnect()


async def test_rpc_and_text_streams_ride_on_data(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    texts: list[str] = []

    def on_stream(reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            texts.append(await reader.read_all())

        asyncio.get_running_loop().create_task(read())

    b.register_text_stream_handler("notes", on_stream)

    async def echo(data: rtc.RpcInvocationData) -> str:
        return data.payload.upper()

    b.local_participant.register_rpc_method("echo", echo)
    try:
        reply = await a.local_participant.perform_rpc(destination_identity="b", method="echo", payload="hi")
        assert reply == "HI"
        await a.local_participant.send_text("x" * 40000, topic="notes")  # chunked into several packets
        await wait_for(lambda: texts == ["x" * 40000], what="text stream")
    finally:
        await a.disconnect()
        await b.disconnect()
