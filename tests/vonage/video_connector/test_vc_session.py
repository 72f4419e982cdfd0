"""The Video Connector's session against the dev server (no media): connect, callbacks and their
thread, calls from callbacks and from a running loop, a raising callback, bad tokens, two clients
and signals, server loss, clean disconnect."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from compat.devserver.testing import LiveKitServer, ServerProcess, free_port
from compat.vonage import generate_token, mint_session_id
from compat.vonage import video_connector as vc
from compat.vonage.video_connector.models import Connection, PublisherSettings, Session, SessionSettings
from tests.vonage.video_connector.helpers import Calls, connect, vc_threads


async def test_connect_callbacks_on_worker_thread_and_clean_disconnect(lk_server: LiveKitServer) -> None:
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    assert connect(client, lk_server, "vc-basic", "bot", calls)
    assert not connect(client, lk_server, "vc-basic", "bot", calls)  # already connecting
    ((session,),) = await calls.wait("on_connected_cb")
    assert isinstance(session, Session) and session.id == "vc-basic"
    assert client.is_connected()
    local = client.get_connection()
    assert isinstance(local, Connection) and local.id.startswith("PA_")
    threads = calls.threads()
    assert threading.main_thread() not in threads and len(threads) == 1
    rt = client._rt
    assert rt is not None and rt.session is not None
    assert await asyncio.to_thread(client.disconnect) is True  # from a plain thread: waits, bounded
    assert calls.names()[-1] == "on_disconnected_cb" and len(calls.of("on_disconnected_cb")) == 1
    assert not client.is_connected() and client.get_connection() is None
    assert vc_threads() == []
    assert rt.session.open_resources() == 0 and not rt._tasks
    assert client.disconnect() is True


async def test_calls_from_a_running_loop_return_at_once(lk_server: LiveKitServer) -> None:
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    started = time.monotonic()
    assert connect(client, lk_server, "vc-loop", "bot", calls)  # inside this test's running loop
    assert time.monotonic() - started < 0.2
    await calls.wait("on_connected_cb")
    started = time.monotonic()
    assert client.disconnect() is True
    assert time.monotonic() - started < 0.2
    await calls.wait("on_disconnected_cb")
    await _no_threads()


async def test_calls_from_callbacks_and_a_raising_callback(lk_server: LiveKitServer, caplog: pytest.LogCaptureFixture) -> None:
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    seen: dict[str, Any] = {}

    def on_connected(session: Session) -> None:
        seen["connected"] = client.is_connected()
        seen["connection"] = client.get_connection()
        seen["signal"] = client.send_signal("greeting", "hi")
        raise RuntimeError("a bug in the bot")

    def on_signal(session: Session, type_: str, data: str, connection: Connection | None) -> None:
        seen["disconnect"] = client.disconnect()  # from inside a callback: returns at once

    with caplog.at_level(logging.ERROR, logger="compat.vonage.video_connector"):
        assert connect(
            client, lk_server, "vc-cb", "bot", calls,
            on_connected_cb=calls.cb("on_connected_cb", on_connected), on_signal_cb=calls.cb("on_signal_cb", on_signal),
        )
        await calls.wait("on_disconnected_cb")
    assert seen["connected"] is True and isinstance(seen["connection"], Connection)
    assert seen["signal"] is True and seen["disconnect"] is True
    assert calls.of("on_signal_cb")[0][1:3] == ("greeting", "hi")
    assert any("Failed to call on_connected_cb callback" in r.message and r.exc_info for r in caplog.records)
    await _no_threads()


@pytest.mark.parametrize(
    "token",
    [
        "T1==cGFydG5lcl9pZD0xMjM0NTY3OCZzaWc9YWJj",  # a legacy OpenTok token
        "not-a-jwt",
    ],
)
async def test_bad_tokens_report_1004_and_no_disconnected(lk_server: LiveKitServer, token: str) -> None:
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    assert client.connect("app", "vc-bad", token, on_error_cb=calls.cb("on_error_cb"), on_disconnected_cb=calls.cb("on_disconnected_cb"))
    ((session, description, code),) = await calls.wait("on_error_cb")
    assert code == 1004 and "LiveKit" in description and session.id == "vc-bad"
    assert not client.is_connected()
    await asyncio.to_thread(client.disconnect)
    assert calls.of("on_disconnected_cb") == []


async def test_token_refused_by_the_server_reports_1004(lk_server: LiveKitServer) -> None:
    forged = generate_token(lk_server.api_key, "not-the-secret" * 3, "vc-forged")
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    assert client.connect("app", "vc-forged", forged, on_error_cb=calls.cb("on_error_cb"))
    ((_, _, code),) = await calls.wait("on_error_cb", timeout=40)
    assert code == 1004
    await asyncio.to_thread(client.disconnect)


async def test_argument_rules(lk_server: LiveKitServer) -> None:
    client = vc.VonageVideoClient(url=lk_server.url)
    with pytest.raises(TypeError):
        client.connect(123, "room", "token")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        client.connect("app", "room", "token", session_settings={"av": None})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.connect("app", "room", "token", on_error_cb=42)  # type: ignore[arg-type]
    broken = SessionSettings()
    broken.enable_migration = "maybe"  # type: ignore[assignment] # assigned after construction: not validated
    assert client.connect("app", "room", "token", session_settings=broken) is False
    assert client.publish(PublisherSettings(name="Bot")) is False  # not connected
    assert not client.is_connected() and not client.is_publishing() and client.get_connection() is None
    assert not client.clear_media_buffers()
    assert client.get_media_buffer_stats().audio is None
    assert client.disconnect() is True


async def test_two_clients_signals_and_connections(lk_server: LiveKitServer) -> None:
    session_id = mint_session_id(lk_server.api_key, "vc-two")
    a, b = vc.VonageVideoClient(url=lk_server.url), vc.VonageVideoClient(url=lk_server.url)
    ca, cb = Calls(), Calls()
    token_a = generate_token(lk_server.api_key, lk_server.api_secret, session_id, data="alice", identity="alice")
    token_b = generate_token(lk_server.api_key, lk_server.api_secret, session_id, data="bob", identity="bob")
    assert a.connect("app", session_id, token_a, on_connected_cb=ca.cb("on_connected_cb"), on_signal_cb=ca.cb("on_signal_cb"),
                     on_connection_created_cb=ca.cb("on_connection_created_cb"), on_connection_dropped_cb=ca.cb("on_connection_dropped_cb"))
    await ca.wait("on_connected_cb")
    assert b.connect("app", session_id, token_b, on_connected_cb=cb.cb("on_connected_cb"), on_signal_cb=cb.cb("on_signal_cb"),
                     on_connection_created_cb=cb.cb("on_connection_created_cb"))
    ((_, bob),) = await ca.wait("on_connection_created_cb")
    ((_, alice),) = await cb.wait("on_connection_created_cb")
    assert (bob.data, alice.data) == ("bob", "alice")
    assert ca.threads().isdisjoint(cb.threads())  # each client has its own worker
    assert a.send_signal("chat", "to bob", to=bob)
    assert b.send_signal(data="to all")
    await cb.wait("on_signal_cb", 2)
    got_b = {(t, d, c.data if c else None) for _, t, d, c in cb.of("on_signal_cb")}
    assert got_b == {("chat", "to bob", "alice"), ("", "to all", "bob")}
    got_a = await ca.wait("on_signal_cb")
    assert [(t, d, c.data) for _, t, d, c in got_a] == [("", "to all", "bob")]  # not bob's private one
    assert not a.send_signal("bad type!", "x") and not a.send_signal("t", "x" * 9000)
    await asyncio.to_thread(b.disconnect)
    ((_, gone),) = await ca.wait("on_connection_dropped_cb")
    assert gone.id == bob.id
    await asyncio.to_thread(a.disconnect)
    assert vc_threads() == []


async def test_server_loss_reports_error_then_disconnected() -> None:
    server = ServerProcess(free_port(), "devkey", "devsecret-devsecret-devsecret-0")
    await server.start()
    lk = server.livekit_server()
    client = vc.VonageVideoClient(url=lk.url)
    calls = Calls()
    try:
        assert connect(client, lk, "vc-loss", "bot", calls)
        await calls.wait("on_connected_cb")
        await server.kill()
        lost = time.monotonic()
        await calls.wait("on_disconnected_cb", timeout=60)
        took = time.monotonic() - lost
        names = [n for n in calls.names() if n in ("on_error_cb", "on_disconnected_cb")]
        assert names == ["on_error_cb", "on_disconnected_cb"]
        ((_, _, code),) = calls.of("on_error_cb")
        assert code == 1022
        assert not client.is_connected()
        assert took < 60
        print(f"server loss reported after {took:.1f}s")
    finally:
        await asyncio.to_thread(client.disconnect)
        await server.stop()
    assert vc_threads() == []


async def _no_threads(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while vc_threads():
        assert time.monotonic() < deadline, f"threads left: {vc_threads()}"
        await asyncio.sleep(0.05)
