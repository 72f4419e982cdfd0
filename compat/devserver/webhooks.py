"""Webhooks: LiveKit `WebhookEvent`s POSTed as JSON to each configured URL.

Each body is signed the way LiveKit does it: the `Authorization` header carries a JWT (issuer the
API key, signed with its secret) whose `sha256` claim is the base64 SHA-256 of the body, which is
what `livekit.api.WebhookReceiver` checks. Room hooks only serialize the event and queue it; each
destination has its own bounded queue and delivery task, so a slow or failing endpoint never blocks
signalling or media.

A destination delivers in order and without duplicates: the event at the head is retried (capped
exponential backoff) until it is delivered or its horizon, counted from when it happened, has
passed; only then is the next one sent. An event lost that way, refused for good (4xx), or pushed
out of a full queue is logged as a WARNING, and the next delivered event carries the count in
`num_dropped`, as LiveKit's does. Events still queued at shutdown are flushed within a bounded time.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import enum
import hashlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
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
DEFAULT_HORIZON = 600.0
DEFAULT_BACKOFF_MAX = 5.0


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the endpoint may take it later: connection errors, timeouts, 408, 429, 5xx but 501
    REFUSED = "refused"  # a final answer (other 4xx, 501, redirects): retrying would not change it


@dataclass
class Queued:
    event: webhook_pb.WebhookEvent
    deadline: float  # event-loop time after which the event is given up


class WebhookDestination:
    """One URL: a bounded FIFO of events and the task that delivers them one at a time."""

    def __init__(
        self,
        url: str,
        api_key: str,
        api_secret: str,
        *,
        horizon: float,
        backoff_min: float,
        backoff_max: float,
        timeout: float,
        max_queue: int,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret
        self.horizon = horizon
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.max_queue = max_queue
        self._queue: deque[Queued] = deque()
        self._in_flight: Queued | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._failing = False  # the last attempt failed in a way worth retrying: the endpoint looks down
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.unreported = 0  # events lost since the last delivery: the next one's num_dropped
        self.dropped = 0
        self.delivered = 0
        self.attempts = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"webhook {self.url}")

    def enqueue(self, event: webhook_pb.WebhookEvent) -> None:
        """O(1) and never waits: called from room hooks on the signalling path."""
        if self._task is not None and self._task.done():
            self._drop(event, "the webhook sender has shut down")  # else it would wait forever, unsaid
            return
        if len(self._queue) >= self.max_queue:
            # Too far behind: give up the oldest waiting event (the one in flight keeps its place).
            self._drop(self._queue.popleft().event, f"queue full ({self.max_queue} events waiting)")
        self._queue.append(Queued(event, asyncio.get_running_loop().time() + self.horizon))
        self._wake.set()

    @property
    def pending(self) -> int:
        """Events not delivered yet: waiting, and the one being sent."""
        return len(self._queue) + (self._in_flight is not None)

    def sign(self, body: str) -> str:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        token = AccessToken(self.api_key, self.api_secret).with_ttl(datetime.timedelta(minutes=5)).with_sha256(digest)
        return token.to_jwt()

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            while self._queue or not self._closing:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                self._in_flight = self._queue.popleft()
                await self._deliver(self._in_flight)
                self._in_flight = None
        finally:
            await self._session.close()

    async def _deliver(self, item: Queued) -> None:
        """Send one event until it is delivered, refused, or past its deadline."""
        loop = asyncio.get_running_loop()
        delay = self.backoff_min
        if self._failing and loop.time() >= item.deadline:
            # Expired while waiting behind others, and the endpoint is still failing: no new try.
            self._drop(item.event, f"not delivered within {self.horizon:g}s; the endpoint is failing")
            return
        while True:
            outcome, problem = await self._attempt(item.event)
            self._failing = outcome is Outcome.RETRY
            if outcome is Outcome.DELIVERED:
                return
            if outcome is Outcome.REFUSED:
                self._drop(item.event, f"refused: {problem}")
                return
            remaining = item.deadline - loop.time()
            if remaining <= 0:
                self._drop(item.event, f"not delivered within {self.horizon:g}s: {problem}")
                return
            wait = min(delay, remaining)  # the last try falls on the deadline
            log.info("webhook %s %s to %s: %s; retrying in %.2fs", item.event.event, item.event.id, self.url, problem, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.backoff_max)

    async def _attempt(self, event: webhook_pb.WebhookEvent) -> tuple[Outcome, str]:
        """One POST. num_dropped is set per attempt, so losses during the retries are counted too."""
        assert self._session is not None
        reported = self.unreported
        event.num_dropped = reported
        body = json_format.MessageToJson(event, indent=None)
        self.attempts += 1
        headers = {"Authorization": self.sign(body), "Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT}
        try:
            async with self._session.post(self.url, data=body.encode(), headers=headers, allow_redirects=False) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return Outcome.RETRY, repr(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a URL aiohttp cannot use: say so rather than lose the task
            return Outcome.REFUSED, repr(exc)
        if 200 <= status < 300:
            self.unreported -= reported  # losses counted after this body was made stay for the next
            self.delivered += 1
            return Outcome.DELIVERED, ""
        retry = status in (408, 429) or (status >= 500 and status != 501)
        return (Outcome.RETRY if retry else Outcome.REFUSED), f"HTTP {status}"

    def _drop(self, event: webhook_pb.WebhookEvent, reason: str) -> None:
        self.unreported += 1
        self.dropped += 1
        log.warning(
            "webhook LOST: %s %s (room %r) to %s: %s; the next delivered event carries num_dropped",
            event.event, event.id, _room_name(event), self.url, reason,
        )

    async def close(self, flush_timeout: float) -> None:
        """Deliver what is queued for at most flush_timeout seconds, then give up (and say so)."""
        task = self._task
        if task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), flush_timeout)
        except asyncio.TimeoutError:
            undelivered = self.pending
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            log.warning(
                "webhook %s: %d event(s) left undelivered at shutdown (flush limit %gs)", self.url, undelivered, flush_timeout
            )
        if self.unreported:
            log.warning("webhook %s: %d lost event(s) were never reported in num_dropped", self.url, self.unreported)


class WebhookNotifier(RoomObserver):
    """A room observer turning room, participant, track and egress changes into webhooks."""

    def __init__(
        self,
        urls: Sequence[str],
        api_key: str,
        api_secret: str,
        *,
        horizon: float = DEFAULT_HORIZON,
        backoff_min: float = 0.2,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        timeout: float = 5.0,
        max_queue: int = 1000,
        flush_timeout: float = 10.0,
    ) -> None:
        if horizon <= 0 or backoff_min <= 0 or backoff_max < backoff_min or max_queue < 1:
            raise ValueError("webhook horizon and backoff must be positive, backoff_max >= backoff_min, max_queue >= 1")
        self.destinations = [
            WebhookDestination(
                url,
                api_key,
                api_secret,
                horizon=horizon,
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


def _room_name(event: webhook_pb.WebhookEvent) -> str:
    return event.room.name or event.egress_info.room_name
