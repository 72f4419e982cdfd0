"""Webhooks: LiveKit `WebhookEvent`s POSTed as JSON to each configured URL.

Each body is signed the way LiveKit does it: the `Authorization` header carries a JWT (issuer the
API key, signed with its secret) whose `sha256` claim is the base64 SHA-256 of the body, which is
what `livekit.api.WebhookReceiver` checks. Room hooks only serialize the event and queue it; each
destination has its own queue and delivery task, so a slow or failing endpoint never blocks
signalling or media. A destination delivers in order: an event is retried (with exponential
backoff, a bounded number of times) before the next one is sent. Events still queued at shutdown
are flushed within a bounded time.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from google.protobuf import json_format
from livekit.api import AccessToken
from livekit.protocol import egress as egress_pb
from livekit.protocol import models
from livekit.protocol import webhook as webhook_pb

from compat.devserver.ids import new_id
from compat.devserver.room import Participant, PublishedTrack, Room, RoomObserver

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/webhook+json"
USER_AGENT = "compat-devserver-webhook"


class WebhookDestination:
    """One URL: a FIFO of signed deliveries and the task that sends them."""

    def __init__(
        self,
        url: str,
        api_key: str,
        api_secret: str,
        *,
        max_attempts: int,
        backoff_min: float,
        backoff_max: float,
        timeout: float,
        max_queue: int,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret
        self.max_attempts = max_attempts
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.max_queue = max_queue
        self._queue: asyncio.Queue[webhook_pb.WebhookEvent | None] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        self.attempts = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"webhook {self.url}")

    def enqueue(self, event: webhook_pb.WebhookEvent) -> None:
        if self._queue.qsize() >= self.max_queue:
            # Too far behind: drop the oldest (LiveKit drops too, and counts it in num_dropped).
            try:
                self._queue.get_nowait()
                self.dropped += 1
            except asyncio.QueueEmpty:
                pass
        self._queue.put_nowait(event)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def sign(self, body: str) -> str:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        token = AccessToken(self.api_key, self.api_secret).with_ttl(datetime.timedelta(minutes=5)).with_sha256(digest)
        return token.to_jwt()

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            while True:
                event = await self._queue.get()
                if event is None:
                    return
                if self.dropped:
                    event.num_dropped = self.dropped
                    self.dropped = 0
                await self._deliver(event)
        finally:
            await self._session.close()

    async def _deliver(self, event: webhook_pb.WebhookEvent) -> None:
        assert self._session is not None
        body = json_format.MessageToJson(event, indent=None)
        delay = self.backoff_min
        for attempt in range(1, self.max_attempts + 1):
            self.attempts += 1
            try:
                async with self._session.post(
                    self.url,
                    data=body.encode(),
                    headers={"Authorization": self.sign(body), "Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT},
                ) as resp:
                    await resp.read()
                    if 200 <= resp.status < 300:
                        self.delivered += 1
                        return
                    retry = resp.status == 429 or (resp.status >= 500 and resp.status != 501)
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                retry = True
                problem = repr(exc)
            if not retry or attempt == self.max_attempts:
                self.failed += 1
                log.warning("webhook %s to %s failed after %d attempt(s): %s", event.event, self.url, attempt, problem)
                return
            log.info("webhook %s to %s: %s; retrying in %.2fs", event.event, self.url, problem, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def close(self, flush_timeout: float) -> None:
        task = self._task
        if task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), flush_timeout)
        except asyncio.TimeoutError:
            log.warning("webhook %s: %d event(s) not delivered at shutdown", self.url, self._queue.qsize())
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


class WebhookNotifier(RoomObserver):
    """A room observer turning room, participant, track and egress changes into webhooks."""

    def __init__(
        self,
        urls: Sequence[str],
        api_key: str,
        api_secret: str,
        *,
        max_attempts: int = 5,
        backoff_min: float = 0.2,
        backoff_max: float = 5.0,
        timeout: float = 5.0,
        max_queue: int = 1000,
        flush_timeout: float = 10.0,
    ) -> None:
        self.destinations = [
            WebhookDestination(
                url,
                api_key,
                api_secret,
                max_attempts=max_attempts,
                backoff_min=backoff_min,
                backoff_max=backoff_max,
                timeout=timeout,
                max_queue=max_queue,
            )
            for url in urls
        ]
        self.flush_timeout = flush_timeout
        self._started = False

    def notify(self, event: str, **fields: Any) -> None:
        """Queue one event to every destination (the protos are copied now: later changes don't leak in)."""
        if not self.destinations:
            return
        if not self._started:
            for destination in self.destinations:
                destination.start()
            self._started = True
        message = webhook_pb.WebhookEvent(event=event, id=new_id("EV_"), created_at=int(time.time()), **fields)
        for destination in self.destinations:
            copy = webhook_pb.WebhookEvent()
            copy.CopyFrom(message)
            destination.enqueue(copy)

    # ---- room observer -------------------------------------------------------------------------

    def room_started(self, room: Room) -> None:
        self.notify("room_started", room=room.snapshot())

    def room_finished(self, room: Room) -> None:
        self.notify("room_finished", room=room.snapshot())

    def participant_joined(self, room: Room, participant: Participant) -> None:
        self.notify("participant_joined", room=room.snapshot(), participant=participant.snapshot())

    def participant_left(self, room: Room, participant: Participant) -> None:
        self.notify("participant_left", room=room.snapshot(), participant=participant.snapshot())

    def track_published(self, room: Room, participant: Participant, track: PublishedTrack) -> None:
        self.notify("track_published", room=room.snapshot(), participant=participant.snapshot(), track=_track(track))

    def track_unpublished(self, room: Room, participant: Participant, track: PublishedTrack) -> None:
        self.notify("track_unpublished", room=room.snapshot(), participant=participant.snapshot(), track=_track(track))

    # ---- egress ----------------------------------------------------------------------------------

    def egress_event(self, event: str, info: egress_pb.EgressInfo) -> None:
        self.notify(event, egress_info=info)

    async def close(self) -> None:
        await asyncio.gather(*(d.close(self.flush_timeout) for d in self.destinations))


def _track(track: PublishedTrack) -> models.TrackInfo:
    info = models.TrackInfo()
    info.CopyFrom(track.info)
    return info
