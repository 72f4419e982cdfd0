"""LiveKit webhooks in, vendor callbacks out, through the persisted outbox (:mod:`.outbox`).

Point the LiveKit server's webhook at the app (``POST /livekit``). Each webhook is verified with
``livekit.api.WebhookReceiver``, translated by every configured :class:`Vendor` (Twilio status
callbacks, Vonage session-monitoring and archive callbacks), committed to the SQLite outbox in one
transaction, and only then acknowledged with HTTP 200 (a failed commit answers 500, so LiveKit sends
it again; a re-sent event adds nothing). A delivery task sends each callback, one at a time per room
key (a room of one vendor), in order; keys don't wait for each other. A failing endpoint is retried
with capped exponential backoff for ``give_up_after`` seconds (default a day); a callback refused for
good (4xx other than 408/429) or past that is moved to the ``dead`` table with a WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from livekit import api
from livekit.protocol import webhook as webhook_pb

from .model import Callback, RoomInfo, TrackInfo, room_info, track_info
from .outbox import Outbox, Row

__all__ = ["DeliverySettings", "Vendor", "WebhookTranslator", "serve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliverySettings:
    backoff_min: float = 0.2
    backoff_max: float = 30.0
    give_up_after: float = 86400.0
    timeout: float = 10.0
    concurrency: int = 8


class Vendor(Protocol):
    """One vendor's callbacks: what a LiveKit event becomes, and the headers that sign a delivery."""

    name: str

    def translate(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None, tracks: dict[str, TrackInfo]) -> list[Callback]: ...

    def headers(self, url: str, row: Row) -> dict[str, str]: ...

    def explain(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None) -> None: ...


class WebhookTranslator:
    """The aiohttp app (``.app``) and its delivery task; ``start()`` / ``close()`` bound its life."""

    def __init__(self, db_path: str, api_key: str, api_secret: str, vendors: Sequence[Vendor],
                 *, delivery: DeliverySettings | None = None) -> None:
        if not vendors:
            raise ValueError("configure at least one vendor's callbacks")
        self.outbox = Outbox(db_path)
        self.receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
        self.vendors = {v.name: v for v in vendors}
        self.delivery = delivery or DeliverySettings()
        self.app = web.Application()
        self.app.router.add_post("/livekit", self._receive)
        self._busy: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._sends: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.acknowledged = 0
        self.ignored = 0

    # ---- receiving -----------------------------------------------------------------------------

    async def _receive(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode("utf-8", errors="replace")
        try:
            event = self.receiver.receive(body, request.headers.get("Authorization", ""))
        except Exception as exc:  # noqa: BLE001 - livekit-api raises plain Exception and jwt errors: all mean "not verified"
            log.warning("refused a LiveKit webhook that does not verify: %s", exc)
            return web.Response(status=401, text=f"webhook not verified: {exc}")
        try:
            self._commit(event)
        except Exception:
            log.exception("could not commit LiveKit webhook %s %s to the outbox; answering 500 so it is sent again",
                          event.event, event.id)
            return web.Response(status=500, text="outbox commit failed")
        self.acknowledged += 1
        self._wake.set()
        return web.Response(text="ok")

    def _commit(self, event: webhook_pb.WebhookEvent) -> None:
        room = room_info(event.room) if event.HasField("room") else None
        cached = room or self.outbox.room(event.egress_info.room_name or event.room.name)
        track: TrackInfo | None = None
        if event.HasField("track") and event.HasField("participant"):
            track = track_info(event.participant, event.track)
        tracks = self.outbox.tracks([event.egress_info.track.track_id]) if event.HasField("egress_info") else {}
        callbacks: list[Callback] = []
        for vendor in self.vendors.values():
            found = vendor.translate(event, cached, tracks)
            if not found:
                vendor.explain(event, cached)
            callbacks.extend(found)
        if not callbacks:
            self.ignored += 1
        self.outbox.commit(event.id, callbacks, room, track)

    # ---- delivering ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._closing = False
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.delivery.timeout))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="compat callbacks")

    async def _run(self) -> None:
        # Ends on the flag, not only on cancel: Python 3.11's wait_for drops a cancellation that
        # arrives as the event fires (close's cancelled sends set it), and the loop would run on.
        while not self._closing:
            room_slots = self.delivery.concurrency - len(self._busy)
            for row in self.outbox.heads(time.time(), self._busy, room_slots):
                self._busy.add(row.room)
                task = asyncio.get_running_loop().create_task(self._send(row))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
            self._wake.clear()
            due = self.outbox.next_due()
            wait = 1.0 if due is None else min(1.0, max(0.005, due - time.time()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _send(self, row: Row) -> None:
        try:
            ok, retry, problem = await self._post(row)
            if ok:
                self.outbox.delivered(row)
            elif retry and time.time() - row.created < self.delivery.give_up_after:
                delay = min(self.delivery.backoff_max, self.delivery.backoff_min * 2 ** row.attempts)
                log.info("%s callback %s to %s: %s; retrying in %.2fs", row.vendor, _name(row), row.url, problem, delay)
                self.outbox.retry(row, time.time() + delay, problem)
            else:
                log.warning("%s callback LOST: %s of %s to %s: %s (kept in the outbox's dead table)",
                            row.vendor, _name(row), row.room, row.url, problem)
                self.outbox.give_up(row, problem)
        finally:
            self._busy.discard(row.room)
            self._wake.set()

    async def _post(self, row: Row) -> tuple[bool, bool, str]:
        """(delivered, worth retrying, problem) for one attempt."""
        assert self._session is not None
        vendor = self.vendors.get(row.vendor)
        if vendor is None:
            return False, True, f"no {row.vendor} callbacks configured in this translator (start it with them)"
        url, kwargs = _request(row)
        headers = {**kwargs.pop("headers", {}), **vendor.headers(url, row)}
        try:
            async with self._session.request(row.method, url, headers=headers, allow_redirects=False, **kwargs) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return False, True, repr(exc)
        if 200 <= status < 300:
            return True, False, ""
        return False, status in (408, 429) or (status >= 500 and status != 501), f"HTTP {status}"

    async def close(self, flush_timeout: float = 5.0) -> None:
        """Stop delivering (what is left stays in the outbox for the next start)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
        if self._sends:  # let the attempts under way finish (bounded), so they are not re-sent
            await asyncio.wait(set(self._sends), timeout=flush_timeout)
        tasks = [t for t in (self._task, *self._sends) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        pending = self.outbox.pending()
        if pending:
            log.warning("%d callback(s) not delivered yet: kept in the outbox, sent after the next start", pending)
        self.outbox.close()


def _request(row: Row) -> tuple[str, dict[str, Any]]:
    """The URL and the aiohttp arguments of one delivery (GET: the parameters in the query)."""
    if row.method == "GET":
        return row.url + ("&" if "?" in row.url else "?") + urlencode(row.params), {}
    if row.format == "json":
        return row.url, {"data": json.dumps(row.params), "headers": {"Content-Type": "application/json"}}
    return row.url, {"data": row.params}


def _name(row: Row) -> str:
    params = row.params
    return str(params.get("StatusCallbackEvent") or params.get("event") or "?") + (
        f" #{params['SequenceNumber']}" if "SequenceNumber" in params else "")


async def serve(translator: WebhookTranslator, host: str, port: int) -> None:
    """Run the translator until SIGTERM/SIGINT; what is not delivered stays in the outbox."""
    import signal

    runner = web.AppRunner(translator.app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    await translator.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"{' + '.join(translator.vendors)} status callbacks on http://{host}:{port}/livekit", flush=True)
    await stop.wait()
    await runner.cleanup()
    await translator.close()
