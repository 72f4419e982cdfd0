"""The boundary between LiveKit and the vendor models: a Session.

A Session is one connection of one local participant. It delivers an ordered stream of
facts (:mod:`compat.core.facts`) to a single listener and accepts commands (publish,
unpublish, mute, send data, open frame streams, stats, disconnect). Two implementations:

* :class:`compat.core.rtc_session.RtcSession` on a real ``livekit.rtc.Room``;
* :class:`ScriptedSession`, fed by tests with scripted facts, with no LiveKit at all.

Both own every frame stream they open: streams end when their track is unsubscribed,
when its participant leaves, and when the session disconnects.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

from .facts import (
    CommandFailure,
    Connected,
    ConnectionStats,
    Disconnected,
    Fact,
    ModerationFailure,
    ParticipantLeft,
    Permissions,
    PublishFailure,
    PublishSettings,
    RoomSnapshot,
    TrackInfo,
    TrackUnsubscribed,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
FactListener = Callable[[Fact], None]


class FrameStream(Generic[T]):
    """Async iterator over received media frames with a bounded buffer.

    When the consumer is slower than the track, the oldest buffered frame is dropped and
    counted in :attr:`dropped` (and logged); nothing is dropped silently. Iteration ends
    (``StopAsyncIteration``) when the track is unsubscribed, its participant leaves, the
    session disconnects, or :meth:`aclose` is called.
    """

    def __init__(self, capacity: int, *, track_sid: str = "", closer: Callable[[FrameStream[T]], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.track_sid = track_sid
        self.capacity = capacity
        self.received = 0
        self.dropped = 0
        self._ring: deque[T] = deque()
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self._closer = closer

    @property
    def closed(self) -> bool:
        return self._ended

    def put(self, item: T | None) -> None:
        """Producer side: add a frame (None ends the stream)."""
        if item is None:
            self._end()
            return
        if self._ended:
            return
        self.received += 1
        ring = self._ring
        if len(ring) >= self.capacity:
            ring.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning(
                    "frame stream of track %s: consumer too slow, %d frame(s) dropped so far",
                    self.track_sid,
                    self.dropped,
                )
        ring.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> FrameStream[T]:
        return self

    async def __anext__(self) -> T:
        ring = self._ring
        while not ring:
            if self._ended:
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            await waiter
        return ring.popleft()

    async def aclose(self) -> None:
        """Stop receiving; frames still buffered are discarded."""
        self._end()
        self._ring.clear()
        closer, self._closer = self._closer, None
        if closer is not None:
            closer(self)


class Session(abc.ABC):
    """One connection; see the module docstring."""

    def __init__(self, snapshot: RoomSnapshot | None = None) -> None:
        self._snapshot = snapshot
        self._listener: FactListener | None = None
        self._backlog: list[Fact] = [Connected(snapshot)] if snapshot is not None else []
        self._detached = False

    @property
    def snapshot(self) -> RoomSnapshot:
        assert self._snapshot is not None, "session is not connected"
        return self._snapshot

    # --- fact stream -------------------------------------------------------------------

    def start(self, listener: FactListener) -> None:
        """Attach the single consumer; facts that arrived since connect are replayed first."""
        if self._listener is not None:
            raise RuntimeError("session already has a listener")
        self._listener = listener
        backlog, self._backlog = self._backlog, []
        for fact in backlog:
            if self._detached:
                break
            listener(fact)

    def _deliver(self, fact: Fact) -> None:
        if self._detached:
            return
        listener = self._listener
        if listener is None:
            self._backlog.append(fact)
        else:
            listener(fact)

    # --- commands ----------------------------------------------------------------------

    @abc.abstractmethod
    async def publish_media(self, kind: Literal["audio", "video"], source: Any, name: str, settings: PublishSettings) -> TrackInfo:
        """Publish a media track fed by a compat.core AudioSource/VideoSource; a video track's info
        carries the source's size."""

    @abc.abstractmethod
    async def unpublish(self, track_sid: str) -> None: ...

    @abc.abstractmethod
    def set_muted(self, track_sid: str, muted: bool) -> None: ...

    @abc.abstractmethod
    def send_data(self, payload: bytes, *, topic: str, reliable: bool, destinations: tuple[str, ...] = ()) -> None:
        """Queue a data packet (fire-and-forget, in order) to the participants whose identities
        are in ``destinations``, or to everyone when it is empty. Topics starting with
        :data:`compat.core.topics.RESERVED_PREFIX` belong to a vendor model (see topics.py)."""

    @abc.abstractmethod
    async def set_attributes(self, attributes: dict[str, str]) -> None:
        """Set our own LiveKit participant attributes (only the keys given; an empty value
        deletes a key). Others see an AttributesChanged fact. Raises CommandFailure (logged
        at WARNING) when LiveKit refuses, e.g. without the token grant canUpdateOwnMetadata."""

    @abc.abstractmethod
    def set_subscribed(self, track_sid: str, subscribed: bool) -> None:
        """Subscribe to / unsubscribe from a remote track (by vendor SID). The outcome arrives
        as TrackSubscribed / TrackUnsubscribed / TrackSubscriptionFailed facts; an unknown
        SID raises KeyError."""

    # --- moderation: LiveKit's RoomService, authorised by this session's own token (a
    # roomAdmin grant). Each raises ModerationFailure (logged at WARNING) on refusal.

    @abc.abstractmethod
    async def remove_participant(self, identity: str) -> None:
        """RoomService.RemoveParticipant: the participant is disconnected (PARTICIPANT_REMOVED)."""

    @abc.abstractmethod
    async def mute_remote_track(self, identity: str, track_sid: str, muted: bool) -> None:
        """RoomService.MutePublishedTrack on another participant's track (by vendor SID)."""

    @abc.abstractmethod
    async def update_permissions(self, identity: str, permissions: Permissions) -> None:
        """RoomService.UpdateParticipant with new permissions (revoking can_publish makes
        LiveKit unpublish that participant's tracks)."""

    @abc.abstractmethod
    def open_audio_frames(
        self, track_sid: str, *, sample_rate: int, num_channels: int, capacity: int, frame_size_ms: int | None
    ) -> FrameStream[Any]: ...

    @abc.abstractmethod
    def open_video_frames(self, track_sid: str, *, capacity: int, rgba: bool) -> FrameStream[Any]: ...

    @abc.abstractmethod
    async def get_stats(self) -> list[ConnectionStats]: ...

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Leave now; no facts are delivered afterwards. Teardown continues in the background
        (await :meth:`wait_closed`)."""

    @abc.abstractmethod
    async def wait_closed(self, timeout: float = 10.0) -> None: ...

    @abc.abstractmethod
    def open_resources(self) -> int:
        """Number of frame streams and native media sources this session still holds."""


class ScriptedSession(Session):
    """A Session driven by a test: facts are fed with :meth:`feed`, commands are recorded.

    Frame streams opened on it are fed with :meth:`push_frame` and end, like real ones,
    on TrackUnsubscribed / ParticipantLeft / Disconnected facts and on disconnect().
    """

    def __init__(
        self,
        snapshot: RoomSnapshot,
        *,
        publish_error: str | None = None,
        moderation_error: Literal["permission_denied", "not_found", "failed"] | None = None,
    ) -> None:
        super().__init__(snapshot)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.sent: list[tuple[bytes, str, bool]] = []
        self.sent_to: list[tuple[bytes, str, bool, tuple[str, ...]]] = []  # with destinations
        self.publish_error = publish_error
        self.moderation_error = moderation_error  # every moderation command fails with this reason
        self._sids = itertools.count(1)
        self._streams: dict[str, set[FrameStream[Any]]] = {}
        self._owner: dict[str, str] = {}
        self.disconnected = False

    def feed(self, *facts: Fact) -> None:
        for fact in facts:
            if isinstance(fact, TrackUnsubscribed):
                self._close_track(fact.track_sid)
            elif isinstance(fact, ParticipantLeft):
                for sid, owner in list(self._owner.items()):
                    if owner == fact.identity:
                        self._close_track(sid)
            elif isinstance(fact, Disconnected):
                self._close_all()
            self._deliver(fact)

    def set_track_owner(self, track_sid: str, identity: str) -> None:
        self._owner[track_sid] = identity

    def push_frame(self, track_sid: str, frame: Any) -> None:
        for stream in list(self._streams.get(track_sid, ())):
            stream.put(frame)

    def _close_track(self, track_sid: str) -> None:
        for stream in self._streams.pop(track_sid, set()):
            stream._end()

    def _close_all(self) -> None:
        for sid in list(self._streams):
            self._close_track(sid)

    def _forget(self, stream: FrameStream[Any]) -> None:
        streams = self._streams.get(stream.track_sid)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.track_sid]

    async def publish_media(self, kind: Literal["audio", "video"], source: Any, name: str, settings: PublishSettings) -> TrackInfo:
        self.calls.append(("publish_media", (kind, name, settings)))
        await asyncio.sleep(0)
        if self.publish_error is not None:
            raise PublishFailure(self.publish_error)
        width, height = (source.width, source.height) if kind == "video" else (0, 0)
        return TrackInfo(sid=f"TR_local{next(self._sids)}", name=name, kind=kind, width=width, height=height)

    async def unpublish(self, track_sid: str) -> None:
        self.calls.append(("unpublish", (track_sid,)))

    def set_muted(self, track_sid: str, muted: bool) -> None:
        self.calls.append(("set_muted", (track_sid, muted)))

    def send_data(self, payload: bytes, *, topic: str, reliable: bool, destinations: tuple[str, ...] = ()) -> None:
        self.sent.append((payload, topic, reliable))
        self.sent_to.append((payload, topic, reliable, destinations))

    def set_subscribed(self, track_sid: str, subscribed: bool) -> None:
        self.calls.append(("set_subscribed", (track_sid, subscribed)))

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.calls.append(("set_attributes", (dict(attributes),)))

    async def _moderate(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        await asyncio.sleep(0)
        if self.moderation_error is not None:
            raise ModerationFailure(name, self.moderation_error, reason=self.moderation_error)

    async def remove_participant(self, identity: str) -> None:
        await self._moderate("remove_participant", identity)

    async def mute_remote_track(self, identity: str, track_sid: str, muted: bool) -> None:
        await self._moderate("mute_remote_track", identity, track_sid, muted)

    async def update_permissions(self, identity: str, permissions: Permissions) -> None:
        await self._moderate("update_permissions", identity, permissions)

    def _open(self, track_sid: str, capacity: int) -> FrameStream[Any]:
        stream: FrameStream[Any] = FrameStream(capacity, track_sid=track_sid, closer=self._forget)
        self._streams.setdefault(track_sid, set()).add(stream)
        return stream

    def open_audio_frames(
        self, track_sid: str, *, sample_rate: int, num_channels: int, capacity: int, frame_size_ms: int | None
    ) -> FrameStream[Any]:
        return self._open(track_sid, capacity)

    def open_video_frames(self, track_sid: str, *, capacity: int, rgba: bool) -> FrameStream[Any]:
        return self._open(track_sid, capacity)

    async def get_stats(self) -> list[ConnectionStats]:
        return [ConnectionStats("publisher"), ConnectionStats("subscriber")]

    def disconnect(self) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self._detached = True
        self.calls.append(("disconnect", ()))
        self._close_all()

    async def wait_closed(self, timeout: float = 10.0) -> None:
        return None

    def open_resources(self) -> int:
        return sum(len(s) for s in self._streams.values())


async def _settle(aw: Awaitable[T], timeout: float, what: str) -> asyncio.Future[T] | None:
    """Await ``aw`` for at most ``timeout`` seconds without cancelling it (native operations
    must not be cancelled). Returns the finished task, or None on timeout; a task left
    running logs its late failure at WARNING when it ends."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.add_done_callback(lambda t: _log_late_failure(t, what))
        return None
    return task


async def bounded(aw: Awaitable[T], timeout: float, what: str) -> T | None:
    """Teardown: await ``aw`` for at most ``timeout`` seconds (never cancelled). A timeout or
    a failure is logged at WARNING and gives None, so the teardown goes on.

    Commands whose caller must learn about a failure use :func:`bounded_command`."""
    task = await _settle(aw, timeout, what)
    if task is None:
        logger.warning("%s did not finish within %.1fs; teardown goes on", what, timeout)
        return None
    if task.cancelled():  # e.g. the loop's shutdown cancelled it: teardown goes on
        logger.debug("%s was cancelled", what)
        return None
    try:
        return task.result()
    except Exception as exc:  # noqa: BLE001 - teardown must go on; logged at WARNING
        logger.warning("%s failed: %r; teardown goes on", what, exc)
        return None


async def bounded_command(aw: Awaitable[T], timeout: float, what: str) -> T:
    """A command: await ``aw`` for at most ``timeout`` seconds (never cancelled). A timeout or
    a native failure is logged at WARNING and raised as :class:`CommandFailure`, for the
    vendor to map to its own error."""
    task = await _settle(aw, timeout, what)
    if task is None:
        logger.warning("%s did not finish within %.1fs", what, timeout)
        raise CommandFailure(what, f"did not finish within {timeout:.1f}s", timed_out=True)
    try:
        return task.result()
    except Exception as exc:  # any native failure becomes a CommandFailure
        logger.warning("%s failed: %r", what, exc)
        raise CommandFailure(what, str(exc) or type(exc).__name__) from exc


def _log_late_failure(task: asyncio.Future[Any], what: str) -> None:
    """Done callback of an operation its caller stopped waiting for."""
    if task.cancelled():
        logger.warning("%s was cancelled after its caller stopped waiting", what)
    elif task.exception() is not None:
        logger.warning("%s failed after its caller stopped waiting: %r", what, task.exception())


__all__ = ["FactListener", "FrameStream", "ScriptedSession", "Session", "bounded", "bounded_command"]
