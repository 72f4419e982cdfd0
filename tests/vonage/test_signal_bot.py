"""The OpenTok signal bot example end to end: ping -> pong to the sender, kick -> forceDisconnect."""

from __future__ import annotations

import asyncio

import pytest

from compat import vonage as OT
from compat.devserver.testing import LiveKitServer
from examples.opentok_signal_bot import run_bot
from tests.support import wait_for
from tests.vonage.helpers import SESSION_EVENTS, Recorder

pytestmark = pytest.mark.media


async def test_signal_bot_answers_and_kicks(lk_server: LiveKitServer) -> None:
    room, key, secret = "ot-bot", lk_server.api_key, lk_server.api_secret
    stop = asyncio.Event()
    bot = asyncio.create_task(
        run_bot(key, room, OT.generate_token(key, secret, room, role="moderator", identity="bot"), url=lk_server.url, stop=stop)
    )
    rec = Recorder()
    client = OT.Session(key, room, {"url": lk_server.url})
    rec.listen(client, SESSION_EVENTS, "client")
    client.on("signal:pong", rec._record("client"))
    try:
        await client.connect(OT.generate_token(key, secret, room, identity="client"))
        await wait_for(lambda: client.connections.length() == 2, 10, "the bot's connection")
        await client.signal({"type": "ping", "data": "42"})
        await wait_for(lambda: "signal:pong" in rec.names(), 10, "pong")
        pong = next(e for _, e in rec.raw if e.type == "signal:pong")
        assert isinstance(pong, OT.SignalEvent) and pong.data == "42" and pong.from_ is not None
        await client.signal({"type": "kick"})
        await wait_for(lambda: "sessionDisconnected" in rec.names(), 10, "kicked")
        assert [s for _, t, s in rec.events if t == "sessionDisconnected"] == ["forceDisconnected"]
        stop.set()
        assert await asyncio.wait_for(bot, 15) == ["ping", "kick"]
    finally:
        stop.set()
        if client.isConnected():
            await client.disconnect()
