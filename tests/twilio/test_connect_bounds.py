"""``connectTimeout`` bounds everything the connect started (issue 7, point 4).

End to end with the real ``livekit.rtc`` against loopback listeners that never make a usable
LiveKit server: one accepts TCP connections and never answers, one resets them, one port is
closed. Each counts the connections the SDK opens. After ``connect()`` has rejected with
53000, nothing may dial again: before the fix the native connect went on retrying (the
Rust SDK's ``join_retries`` 3: four attempts of a signal connection plus a validation
request, ~20 s with a 2 s signal timeout, ~32 s with the default 5 s).
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from livekit import api

from compat import twilio_video as Video

TIMEOUT = 2.0
# The SDK's old retry horizon for a 2 s signal timeout: 4 x (2 s signal + 3 s validation).
OLD_HORIZON = 4 * (TIMEOUT + 3.0)
# An attempt in flight at the deadline ends by itself: its 3 s validation request at most.
NATIVE_TAIL = 3.0 + 1.5


def token() -> str:
    grants = api.VideoGrants(room_join=True, room="bounds")
    return api.AccessToken("APIbounds", "bounds-secret-" * 3).with_identity("bot").with_grants(grants).to_jwt()


class Listener:
    """A TCP listener on 127.0.0.1 recording when connections are opened and closed by the
    client; ``reset`` aborts each connection at once."""

    def __init__(self, *, reset: bool = False, port: int = 0) -> None:
        self.reset = reset
        self.port = port
        self.opened: list[float] = []
        self.closed: list[float] = []
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.transport.abort()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened.append(time.monotonic())
        if self.reset:
            writer.transport.abort()
            return
        self._writers.append(writer)
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        self.closed.append(time.monotonic())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


async def connect_fails(url: str) -> tuple[float, float]:
    """connect() with connectTimeout=TIMEOUT must reject with 53000; returns (start, end)."""
    start = time.monotonic()
    with pytest.raises(Video.SignalingConnectionError) as info:
        await Video.connect(token(), url=url, connectTimeout=TIMEOUT)
    end = time.monotonic()
    assert info.value.code == 53000
    assert end - start < TIMEOUT + 0.5, f"connect took {end - start:.2f}s"
    return start, end


async def test_silent_server_nothing_dials_after_the_timeout() -> None:
    async with Listener() as silent:
        start, failed = await connect_fails(silent.url)
        assert failed - start >= TIMEOUT - 0.1  # it really waited: the server never answers
        # Well past the SDK's old retry horizon (bounded: ~21 s in all).
        await asyncio.sleep(start + OLD_HORIZON + 1.0 - time.monotonic())
        after = [round(t - failed, 2) for t in silent.opened if t > failed]
        print(f"connections: {len(silent.opened) - len(after)} before the timeout, {len(after)} after {after}")
        assert silent.opened, "the SDK never reached the listener"
        assert after == [], f"connections opened after the timeout: {after} s after"
        # Every connection the attempt opened was closed by the client within the native tail.
        assert len(silent.closed) == len(silent.opened), "the native attempt still holds connections"
        assert max(silent.closed) - failed < NATIVE_TAIL, f"native attempt ended {max(silent.closed) - failed:.2f}s late"


async def test_resetting_server_fails_fast_and_stops() -> None:
    async with Listener(reset=True) as resetting:
        _start, failed = await connect_fails(resetting.url)
        await asyncio.sleep(TIMEOUT + 1.0)
        after = [t for t in resetting.opened if t > failed]
        print(f"connections: {len(resetting.opened) - len(after)} before the failure, {len(after)} after")
        # At most 4 attempts (signal connection + validation request each), none afterwards.
        assert 1 <= len(resetting.opened) <= 8
        assert after == []


async def test_closed_port_fails_fast_and_nothing_dials_later() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await connect_fails(f"ws://127.0.0.1:{port}")
    # Re-open the port: a connect still retrying in the background would show up here.
    async with Listener(port=port) as late:
        await asyncio.sleep(TIMEOUT + 4.0)
    print(f"connections to the re-opened port: {len(late.opened)}")
    assert late.opened == []
