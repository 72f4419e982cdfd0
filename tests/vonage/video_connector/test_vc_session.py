"""The Video Connector's session against the dev server: connect, callbacks and their thread,
calls from callbacks, bad tokens, two clients, clean disconnect."""

from __future__ import annotations

import asyncio
import threading

from compat.devserver.testing import LiveKitServer
from compat.vonage import video_connector as vc
from compat.vonage.video_connector.models import Connection, Session
from tests.vonage.video_connector.helpers import Calls, connect, vc_threads


async def test_connect_callbacks_on_worker_thread_and_clean_disconnect(lk_server: LiveKitServer) -> None:
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    assert connect(client, lk_server, "vc-basic", "bot", calls)
    assert not connect(client, lk_server, "vc-basic", "bot", calls)  # already connecting
    (session,), = await calls.wait("on_connected_cb")
    assert isinstance(session, Session) and session.id == "vc-basic"
    assert client.is_connected()
    local = client.get_connection()
    assert isinstance(local, Connection) and local.id.startswith("PA_")
    threads = calls.threads()
    assert threading.main_thread() not in threads and len(threads) == 1
    assert await asyncio.to_thread(client.disconnect) is True  # from a plain thread: waits, bounded
    assert len(calls.of("on_disconnected_cb")) == 1
    assert not client.is_connected()
    assert vc_threads() == []
    assert client.disconnect() is True
