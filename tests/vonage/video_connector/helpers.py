"""Shared by the Video Connector tests: a callback recorder (which callback, on which thread,
with what) with bounded waits, and client set-up against the test's LiveKit server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from compat.devserver.testing import LiveKitServer
from compat.vonage.video_connector import VonageVideoClient


class Calls:
    """Records callbacks as (name, thread, args, monotonic time); thread-safe."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, threading.Thread, tuple[Any, ...], float]] = []
        self._lock = threading.Lock()

    def cb(self, name: str, then: Callable[..., Any] | None = None) -> Callable[..., None]:
        def record(*args: Any) -> None:
            with self._lock:
                self.calls.append((name, threading.current_thread(), args, time.monotonic()))
            if then is not None:
                then(*args)

        return record

    def of(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [a for n, _, a, _ in self.calls if n == name]

    def names(self) -> list[str]:
        with self._lock:
            return [n for n, _, _, _ in self.calls]

    def threads(self) -> set[threading.Thread]:
        with self._lock:
            return {t for _, t, _, _ in self.calls}

    def times(self, name: str) -> list[float]:
        with self._lock:
            return [t for n, _, _, t in self.calls if n == name]

    async def wait(self, name: str, count: int = 1, timeout: float = 15.0) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + timeout
        while len(self.of(name)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {count}x {name}; got {self.names()[-20:]}")
            await asyncio.sleep(0.02)
        return self.of(name)


SESSION_CALLBACKS = (
    "on_error_cb", "on_connected_cb", "on_disconnected_cb", "on_connection_created_cb", "on_connection_dropped_cb",
    "on_stream_received_cb", "on_stream_dropped_cb", "on_ready_for_audio_cb", "on_media_buffer_drained_cb",
    "on_signal_cb", "on_reconnecting_cb", "on_reconnected_cb",
)


def connect(
    client: VonageVideoClient, server: LiveKitServer, room: str, identity: str, calls: Calls, **kwargs: Any
) -> bool:
    """connect() with every session callback recorded (kwargs override or add callbacks/settings)."""
    cbs: dict[str, Any] = {name: calls.cb(name) for name in SESSION_CALLBACKS}
    cbs.update(kwargs)
    return client.connect(application_id="app", session_id=room, token=server.token(identity, room), **cbs)


def vc_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("vonage-video-connector")]
