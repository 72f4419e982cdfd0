"""A participant whose process dies or hangs (no leave) is removed, and the others see it leave."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media


@contextlib.asynccontextmanager
async def participant_process(server: LiveKitServer, identity: str, room: str = "r") -> AsyncIterator[asyncio.subprocess.Process]:
    """A livekit.rtc participant in its own process, connected when the block starts."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.devserver.drop_client", server.url, server.token(identity, room),
        stdout=asyncio.subprocess.PIPE,
        cwd=os.getcwd(),
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"connected"
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_killed_participant_is_removed_after_ping_timeout(dev_server: LiveKitServer) -> None:
    watcher = await dev_server.connect("watcher", "r")
    log = EventLog()
    log.listen(watcher, "participant_connected", "participant_disconnected")
    try:
        async with participant_process(dev_server, "doomed") as proc:
            await log.wait("participant_connected")
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            ((gone,),) = await log.wait("participant_disconnected", timeout=15)
            assert gone.identity == "doomed"
            # Not before the grace that lets a client reconnect (ping timeout = 3 s in the fixture).
            assert loop.time() - killed_at >= 2.5
            assert gone.disconnect_reason in (
                rtc.DisconnectReason.SIGNAL_CLOSE,
                rtc.DisconnectReason.CONNECTION_TIMEOUT,
            )
            await wait_for(lambda: dev_server.embedded.stats()["peer_connections"] == 2, what="dead PCs closed")
    finally:
        await watcher.disconnect()


async def test_frozen_participant_is_removed_when_its_pings_stop(dev_server: LiveKitServer) -> None:
    """The connection stays open but nothing arrives (a hung process): the ping watchdog removes it."""
    watcher = await dev_server.connect("watcher", "r")
    log = EventLog()
    log.listen(watcher, "participant_connected", "participant_disconnected")
    try:
        async with participant_process(dev_server, "frozen") as proc:
            await log.wait("participant_connected")
            os.kill(proc.pid, signal.SIGSTOP)
            ((gone,),) = await log.wait("participant_disconnected", timeout=15)
            assert gone.identity == "frozen"
            assert gone.disconnect_reason == rtc.DisconnectReason.CONNECTION_TIMEOUT
    finally:
        await watcher.disconnect()
