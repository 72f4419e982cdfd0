"""The two threads of a client: its asyncio loop, and the worker that runs user callbacks.

The original runs every callback on a native worker thread (reference §4.5). Here the LiveKit
session lives on a loop the client owns (so it never borrows the caller's loop, and a caller
without asyncio needs none), and callbacks run on a separate worker thread, so a slow or
blocking callback never stalls media or signalling on the loop, and a callback may call the
client back (publish, subscribe, even disconnect) without deadlocking it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)

MEDIA_BACKLOG = 200
"""Media callbacks (10 ms audio, video frames) waiting for the worker beyond which the oldest are
dropped, counted and logged: a callback slower than real time must not grow memory forever.
Event callbacks are never dropped."""

def in_foreign_loop(own: asyncio.AbstractEventLoop | None) -> bool:
    """Whether the calling thread is running an asyncio loop other than ``own``: then a call must
    return at once (blocking would stall that loop)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return running is not own


class LoopThread:
    """A daemon thread running an asyncio loop until :meth:`stop`; ``main`` runs on it after start
    and before the loop closes (``asyncio.run`` then closes any LiveKit session left, through
    compat.core's loop guard)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._on_stop: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, on_stop: Callable[[], Coroutine[Any, Any, None]], timeout: float = 5.0) -> None:
        self._on_stop = on_stop
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self.name}: event loop did not start within {timeout}s")

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()
        if self._on_stop is not None:
            await self._on_stop()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def call(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` on the loop soon; False when the loop is gone."""
        loop = self.loop
        if loop is None or loop.is_closed():
            logger.warning("%s: the client's loop has ended; call dropped", self.name)
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed between the check and the call
            logger.warning("%s: the client's loop has ended; call dropped", self.name)
            return False
        return True

    def stop(self) -> None:
        """Ask the loop to run its ``on_stop`` and end (returns at once)."""
        stopping = self._stopping
        if stopping is not None:
            self.call(stopping.set)

    def join(self, timeout: float) -> bool:
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return not self._thread.is_alive()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("%s did not end within %.1fs (it is a daemon thread)", self.name, timeout)
            return False
        return True


class CallbackWorker:
    """Runs user callbacks, in order, on one daemon thread. A raising callback is logged with
    its traceback and the worker goes on."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dropped_media = 0
        self._items: collections.deque[tuple[str, Callable[..., Any], tuple[Any, ...], bool]] = collections.deque()
        self._media = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def post(self, what: str, fn: Callable[..., Any] | None, *args: Any, media: bool = False) -> None:
        """Queue ``fn(*args)`` (nothing when ``fn`` is None: a callback left out)."""
        if fn is None:
            return
        with self._cond:
            if self._closing:
                logger.debug("%s after the client closed: not called", what)
                return
            if media and self._media >= MEDIA_BACKLOG:
                self._drop_oldest_media()
            self._items.append((what, fn, args, media))
            self._media += media
            self._cond.notify()

    def _drop_oldest_media(self) -> None:
        for i, item in enumerate(self._items):
            if item[3]:
                del self._items[i]
                self._media -= 1
                self.dropped_media += 1
                if self.dropped_media == 1 or self.dropped_media % 500 == 0:
                    logger.warning(
                        "media callbacks slower than real time: %d media callback(s) dropped so far (%s)",
                        self.dropped_media, item[0],
                    )
                return

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items:
                    return
                what, fn, args, media = self._items.popleft()
                self._media -= media
            self._invoke(what, fn, args)

    @staticmethod
    def _invoke(what: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except Exception:
            # As the original ("Failed to call on_… callback"): the client goes on.
            logger.exception("Failed to call %s callback", what)

    def close(self) -> None:
        """Run what is queued, then end (returns at once)."""
        with self._cond:
            self._closing = True
            self._cond.notify()

    def join(self, timeout: float) -> bool:
        if threading.current_thread() is self._thread:
            return False  # called from a callback: the worker ends after it returns
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("%s: callbacks still running after %.1fs (it is a daemon thread)", self.name, timeout)
            return False
        return True
