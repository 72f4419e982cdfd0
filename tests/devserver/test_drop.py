"""A participant whose process dies (no leave) is removed, and the others see it leave."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest
from livekit import rtc

from tests.support import EventLog, LiveKitServer, wait_for

pytestmark = pytest.mark.media


async def test_killed_participant_is_removed_after_ping_timeout(dev_server: LiveKitServer) -> None:
    watcher = await dev_server.connect("watcher", "r")
    log = EventLog()
    log.listen(watcher, "participant_connected", "participant_disconnected")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.devserver.drop_client", dev_server.url, dev_server.token("doomed", "r"),
        stdout=asyncio.subprocess.PIPE,
        cwd=os.getcwd(),
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"connected"
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
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await watcher.disconnect()


async def test_frozen_participant_is_removed_when_its_pings_stop(dev_server: LiveKitServer) -> None:
    """The connection stays open but nothing arrives (a hung process): the ping watchdog removes it."""
    watcher = await dev_server.connect("watcher", "r")
    log = EventLog()
    log.listen(watcher, "participant_connected", "participant_disconnected")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.devserver.drop_client", dev_server.url, dev_server.token("frozen", "r"),
        stdout=asyncio.subprocess.PIPE,
        cwd=os.getcwd(),
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"connected"
        await log.wait("participant_connected")
        os.kill(proc.pid, signal.SIGSTOP)
        ((gone,),) = await log.wait("participant_disconnected", timeout=15)
        assert gone.identity == "frozen"
        assert gone.disconnect_reason == rtc.DisconnectReason.CONNECTION_TIMEOUT
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await watcher.disconnect()
