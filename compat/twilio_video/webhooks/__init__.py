"""Twilio status callbacks from LiveKit webhooks, through a persisted outbox.

Point the LiveKit server's webhook at this app (``POST /livekit``). Each webhook is verified with
``livekit.api.WebhookReceiver``, translated into Twilio's form-encoded status callbacks
(``translate.py``), committed to the SQLite outbox with a per-room ``SequenceNumber``, and only then
acknowledged with HTTP 200 (a failed commit answers 500, so LiveKit sends it again; a re-sent event
adds nothing). A delivery task POSTs each callback to the room's ``StatusCallback`` (set through
``rooms.create(status_callback=...)``, kept in the LiveKit room's metadata) or the default URL,
signed with ``X-Twilio-Signature`` for ``auth_token`` (what ``twilio.request_validator.RequestValidator``
checks), one at a time per room, in order; rooms don't wait for each other. A failing endpoint is
retried with capped exponential backoff for ``give_up_after`` seconds (default a day); a callback
refused for good (4xx other than 408/429) or past that is moved to the ``dead`` table with a WARNING.

Run it: ``python -m compat.twilio_video.webhooks --db outbox.sqlite --port 8090 --auth-token …``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from livekit import api
from livekit.protocol import webhook as webhook_pb

from .outbox import Outbox, Row
from .translate import Callback, Defaults, RoomInfo, TrackInfo, room_info, track_info, translate

__all__ = ["DeliverySettings", "StatusCallbackTranslator", "twilio_signature"]

log = logging.getLogger(__name__)


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL followed by each parameter's
    name and value, in name order."""
    text = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


@dataclass(frozen=True)
class DeliverySettings:
    backoff_min: float = 0.2
    backoff_max: float = 30.0
    give_up_after: float = 86400.0
    timeout: float = 10.0
    concurrency: int = 8


class StatusCallbackTranslator:
    """The aiohttp app (``.app``) and its delivery task; ``start()`` / ``close()`` bound its life."""

    def __init__(
        self,
        db_path: str,
        api_key: str,
        api_secret: str,
        auth_token: str,
        *,
        default_callback: str | None = None,
        account_sid: str = "",
        delivery: DeliverySettings | None = None,
    ) -> None:
        if not auth_token:
            raise ValueError("auth_token is required: it signs X-Twilio-Signature (your receivers validate with it)")
        self.outbox = Outbox(db_path)
        self.receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
        self.auth_token = auth_token
        self.defaults = Defaults(default_callback, account_sid or api_key)
        self.delivery = delivery or DeliverySettings()
        self.app = web.Application()
        self.app.router.add_post("/livekit", self._receive)
        self._busy: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._no_url: set[str] = set()
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
        callbacks = translate(event, cached, tracks, self.defaults)
        self._explain(event, cached, callbacks)
        self.outbox.commit(event.id, callbacks, room, track)

    def _explain(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None, callbacks: list[Callback]) -> None:
        if callbacks:
            return
        self.ignored += 1
        if room is not None and not self.defaults.callback_url and room.name not in self._no_url:
            self._no_url.add(room.name)
            log.warning("room %r has no StatusCallback and no default callback URL is set: its events send nothing", room.name)
        else:
            log.debug("LiveKit %s has no Twilio status callback", event.event)

    # ---- delivering ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.delivery.timeout))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="twilio status callbacks")

    async def _run(self) -> None:
        while True:
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
                log.info("status callback %s to %s: %s; retrying in %.2fs", row.params.get("StatusCallbackEvent"), row.url, problem, delay)
                self.outbox.retry(row, time.time() + delay, problem)
            else:
                log.warning("status callback LOST: %s #%s of room %s to %s: %s (kept in the outbox's dead table)",
                            row.params.get("StatusCallbackEvent"), row.params.get("SequenceNumber"), row.room, row.url, problem)
                self.outbox.give_up(row, problem)
        finally:
            self._busy.discard(row.room)
            self._wake.set()

    async def _post(self, row: Row) -> tuple[bool, bool, str]:
        """(delivered, worth retrying, problem) for one attempt."""
        assert self._session is not None
        url = row.url
        if row.method == "GET":
            url = url + ("&" if "?" in url else "?") + urlencode(row.params)
        headers = {"X-Twilio-Signature": twilio_signature(self.auth_token, url, {} if row.method == "GET" else row.params)}
        try:
            data = None if row.method == "GET" else row.params
            async with self._session.request(row.method, url, data=data, headers=headers, allow_redirects=False) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return False, True, repr(exc)
        if 200 <= status < 300:
            return True, False, ""
        return False, status in (408, 429) or (status >= 500 and status != 501), f"HTTP {status}"

    async def close(self, flush_timeout: float = 5.0) -> None:
        """Stop delivering (what is left stays in the outbox for the next start)."""
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
            log.warning("%d status callback(s) not delivered yet: kept in the outbox, sent after the next start", pending)
        self.outbox.close()
