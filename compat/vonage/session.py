"""``Session``: the OpenTok session object (OpenTok.js ``ot/session/index.js``) on a core Session.

``OT.initSession(apiKey, sessionId, options)`` returns one Session per session ID (while it is
referenced); ``await session.connect(token)`` connects it. The session's facts
(:mod:`compat.core.facts`) become OpenTok events in the order of §1.4 of the reference:

* connect: ``sessionConnected`` (the ``connect`` completion handler is a ``once`` listener of it,
  registered when ``connect`` is called), then synchronously ``connectionCreated`` for our own
  connection and then each connection present, ``streamCreated`` for each remote stream present,
  ``archiveStarted`` when the room is being recorded. Register listeners **before**
  ``await session.connect(...)``: it returns after that burst, as OpenTok.js dispatches it before
  any code that runs after the callback;
* a remote client leaves: ``streamDestroyed{reason}`` for each of its streams (default action:
  destroy their Subscribers), then ``connectionDestroyed{reason}``;
* our own streams are reported by their Publisher, never by the Session;
* local disconnect (or forced, or lost): on the next loop iteration ``sessionDisconnected{reason}``,
  then each Publisher's ``streamDestroyed{reason}``, then (unless prevented) every Subscriber is
  destroyed; no per-remote events;
* ``sessionReconnecting`` / ``sessionReconnected`` (Subscribers ``disconnected`` / ``connected``).

How LiveKit maps: connections are participants (:mod:`.connection`), streams group tracks
(:mod:`.stream`), signals are data packets on a reserved topic (:mod:`.signal`), moderation uses the
core's RoomService commands plus notices (:mod:`.moderation`), reasons and errors are in
:mod:`.errormapping`.

Error reporting (all methods that take a completion handler): each error is reported exactly
once: passed to the completion handler when one is given, raised otherwise. ``connect``
failures are also dispatched as ``OT.on("exception")``.

Additions (PEP 8): ``options={"url": ..., "connectTimeout": seconds}`` (the URL defaults to the
environment variable ``LIVEKIT_URL``; the timeout, default 30 s, bounds the whole join), and
``connect(token, url=...)``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Final, Literal

import attrs

from compat import core as C

from . import ot
from .capabilities import NO_CAPABILITIES, Capabilities, Role, capabilities_for_role, role_can_signal
from .collection import Collection
from .connection import Connection, effective_permissions, permissions_for_role, permissions_role
from .errormapping import connect_error, disconnect_reason, force_disconnect_error, force_mute_error, force_unpublish_error
from .errors import (
    OT_DISCONNECTED,
    OT_STREAM_DESTROYED,
    OT_TIMEOUT,
    OT_UNABLE_TO_SUBSCRIBE,
    ExceptionCodes,
    OTError,
    connect_legacy_session,
    connect_missing_api_key,
    force_disconnect_invalid_parameter,
    force_disconnect_not_connected,
    force_disconnect_permission_denied,
    force_mute_invalid_parameter,
    force_mute_not_connected,
    force_mute_not_found,
    force_mute_permission_denied,
    force_unpublish_invalid_parameter,
    force_unpublish_invalid_stream,
    force_unpublish_not_connected,
    force_unpublish_permission_denied,
    invalid_parameter,
    publish_invalid_parameter,
    publish_not_connected,
    publish_permission_denied,
    signal_connection_not_found,
    signal_error,
    signal_not_connected,
    signal_permission_denied,
    signal_unexpected,
    subscribe_invalid_parameter,
    subscribe_not_connected,
    subscribe_permission_denied,
)
from .eventing import EventDispatcher
from .events import (
    ArchiveEvent,
    ConnectionEvent,
    Event,
    MuteForcedEvent,
    SessionConnectEvent,
    SessionDisconnectEvent,
    SignalEvent,
    StreamEvent,
    StreamPropertyChangedEvent,
)
from .grouping import Grouping
from .moderation import MODERATION_TOPIC, ForceUnpublishNotice, MuteForcedNotice, Notice, decode_notice, encode_notice
from .publisher import Publisher
from .signal import (
    SIGNAL_TOPIC,
    SignalMessage,
    SignalTarget,
    decode_signal,
    encode_signal,
    is_reserved_topic,
    parse_signal,
    signal_event_type,
)
from .stream import Change, Stream, stream_id_for
from .subscriber import Subscriber
from .token import TokenInfo, inspect_token

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT: Final = 30.0
"""Default bound of the whole join (``options["connectTimeout"]``)."""
SUBSCRIBE_TIMEOUT: Final = 10.0
"""How long ``subscribe`` waits for LiveKit to subscribe the stream's tracks."""
EARLY_SIGNAL_TTL: Final = 10.0
"""How long a signal from a connection not yet announced waits for its ``connectionCreated``."""
EARLY_SIGNAL_LIMIT: Final = 64
"""At most this many such signals are kept per connection (older ones are dropped, logged)."""
FORCE_UNPUBLISH_TTL: Final = 10.0
"""How long a forceUnpublish notice marks its connection's stream removals as ``forceUnpublished``."""
FORCE_UNPUBLISH_WAIT: Final = 5.0
"""How long ``forceUnpublish`` waits for the stream to go before restoring the publish right."""
CLOSE_TIMEOUT: Final = 10.0

SESSION_OPTIONS: Final = frozenset({"url", "connectTimeout", "connectionEventsSuppressed"})
IGNORED_OPTIONS: Final = frozenset({"iceConfig", "ipWhitelist", "encryptionSecret", "singlePeerConnection", "sessionMigration"})

SessionState = Literal["disconnected", "connecting", "connected", "disconnecting"]
CompletionHandler = Callable[[OTError | None], Any]

_SESSIONS: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()


def initSession(apiKey: Any, sessionId: Any = None, options: Mapping[str, Any] | None = None) -> Session:
    """``OT.initSession(apiKey, sessionId, options?)``: the Session of ``sessionId`` (the same object
    again for an ID already initialised). Opens no connection. The legacy form
    ``initSession(sessionId)`` is accepted; the API key then comes with ``connect(apiKey, token)``."""
    key, sid = (None, apiKey) if sessionId is None and options is None else (apiKey, sessionId)
    if isinstance(sid, str):
        existing = _SESSIONS.get(sid)
        if existing is not None:
            return existing
    session = Session(key, sid, options)
    if isinstance(sid, str):
        _SESSIONS[sid] = session
    return session


@attrs.frozen
class Archive:
    """An entry of ``session.archives``: a LiveKit recording seen as an OpenTok archive.

    LiveKit tells clients only that the room is recorded, so ``id`` is derived from the room SID
    (``uuid5(NAMESPACE_URL, "livekit-room:<room SID>")``: every client computes the same) and
    ``name`` is the room name.
    """

    id: str
    name: str
    status: str = "started"


@attrs.define
class _ForceMute:
    active: bool = False
    excluded: frozenset[str] = frozenset()
    mine: bool = False  # we called forceMuteAll: we mute the streams published later


class Session(EventDispatcher, SignalTarget):
    """``OT.Session``; see the module docstring for the order of events."""

    def __init__(self, apiKey: Any, sessionId: Any, options: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.apiKey = apiKey
        self.sessionId = sessionId
        self.id = sessionId
        self.options = _check_options(options)
        self.token: str | None = None
        self.currentState: SessionState = "disconnected"
        self.connection: Connection | None = None
        self.capabilities: Capabilities = NO_CAPABILITIES
        self.connections: Collection[Connection] = Collection()
        self.streams: Collection[Stream] = Collection()
        self.archives: Collection[Archive] = Collection()
        self._session: C.Session | None = None
        self._info: TokenInfo | None = None
        self._role: Role = "publisher"
        self._reset_state()

    def _reset_state(self) -> None:
        self._reconnecting = False
        self._room_sid = ""
        self._room_name = ""
        self._remote: dict[str, Connection] = {}  # identity -> announced remote connection
        self._perms: dict[str, C.Permissions] = {}
        self._grouping = Grouping()  # which remote stream each remote track is in
        self._remote_streams: dict[str, Stream] = {}  # stream id -> remote stream
        self._publishers: dict[str, Publisher] = {}  # stream id -> our Publisher
        self._local_tracks: dict[str, Publisher] = {}
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._wants: dict[str, set[Subscriber]] = {}
        self._subscribed: set[str] = set()
        self._sub_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._early: dict[str, list[C.DataReceived]] = {}
        self._early_timers: dict[str, asyncio.TimerHandle] = {}
        self._force_unpublished: dict[str, float] = {}  # identity -> until (loop time)
        self._retry: list[tuple[bytes, tuple[str, ...], asyncio.Future[None]]] = []
        self._force_mute = _ForceMute()
        self._recording = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._closed: asyncio.Future[None] | None = None
        self._gone_waiters: dict[str, list[asyncio.Future[None]]] = {}

    # --- state ----------------------------------------------------------------------------

    def isConnected(self) -> bool:
        return self.currentState == "connected"

    def __repr__(self) -> str:
        return f"Session({self.sessionId!r}, {self.currentState})"

    # --- connect ----------------------------------------------------------------------------

    async def connect(self, *args: Any, url: str | None = None) -> Session:
        """``connect(token, completionHandler?)`` (or the legacy ``connect(apiKey, token, completionHandler?)``).

        Checks the token before any network call (:func:`compat.vonage.inspect_token`: 1004 for a
        token of the old platform, 1005 for a bad session ID), then joins the LiveKit room
        (``auto_subscribe=False``) within ``connectTimeout``. Returns the Session. Already
        connecting or connected: a warning, nothing else.
        """
        token, handler = self._connect_args(args)
        url = url or self.options.get("url") or os.environ.get("LIVEKIT_URL")
        timeout = float(self.options.get("connectTimeout", CONNECT_TIMEOUT))

        def opener(record: C.SetupRecord) -> Awaitable[C.Session]:
            if not url:
                raise invalid_parameter(
                    "No LiveKit URL: pass initSession(..., options={'url': ...}), connect(token, url=...), or set LIVEKIT_URL"
                )
            return C.open_session(url, token, auto_subscribe=False, connect_timeout=min(10.0, timeout), overall_timeout=timeout,
                                  record=record)

        return await self._connect(token, handler, opener)

    def _connect_args(self, args: tuple[Any, ...]) -> tuple[Any, CompletionHandler | None]:
        if len(args) >= 2 and isinstance(args[1], str):  # legacy (apiKey, token, cb?)
            self.apiKey = args[0]
            args = args[1:]
        if not args:
            raise TypeError("connect(token, completionHandler=None): the token is missing")
        handler = args[1] if len(args) > 1 else None
        if handler is not None and not callable(handler):
            raise TypeError("connect: the completion handler must be callable")
        return args[0], handler

    async def _connect(self, token: Any, handler: CompletionHandler | None,
                       opener: Callable[[C.SetupRecord], Awaitable[C.Session]]) -> Session:
        if self.currentState in ("connecting", "connected"):
            logger.warning("Session.connect :: the session is already %s; ignored", self.currentState)
            return self
        try:
            info = self._check_token(token)
            if C.session_platform(info.room) == "legacy":
                raise connect_legacy_session(info.room)
        except OTError as error:
            return self._connect_failed(error, handler, None)
        record = C.begin_setup(info.room, "vonage")
        self.currentState = "connecting"
        self.token = token
        done: Callable[[Event], Any] | None = None
        if handler is not None:
            done = lambda _event: handler(None)  # noqa: E731 - one registration to remove on failure
            self.once("sessionConnected", done)
        try:
            core = await opener(record)
        except C.ConnectFailure as failure:
            mapped = connect_error(failure)
            record.failed(mapped.code)
            return self._connect_failed(mapped, handler, done)
        except OTError as error:
            record.failed(error.code)
            return self._connect_failed(error, handler, done)
        if self.currentState != "connecting":  # disconnect() was called meanwhile
            core.disconnect()
            return self._connect_failed(OTError(OT_DISCONNECTED, "disconnect() was called while connecting"), handler, done)
        self._attach(core, info)
        return self

    def _check_token(self, token: Any) -> TokenInfo:
        if self.apiKey is None or self.apiKey == "":
            raise connect_missing_api_key()
        info = inspect_token(token, self.sessionId)
        if self.apiKey != info.api_key:
            raise OTError(
                "OT_AUTHENTICATION_ERROR",
                f"The token was minted with the LiveKit API key {info.api_key!r}, but initSession was given {self.apiKey!r}: "
                "pass the LiveKit API key the token was minted with",
                ExceptionCodes.AUTHENTICATION_ERROR,
            )
        return info

    def _connect_failed(self, error: OTError, handler: CompletionHandler | None, done: Callable[[Event], Any] | None) -> Session:
        self.currentState = "disconnected"
        if done is not None:
            self.off("sessionConnected", done)
        ot.report_exception(error, self)
        if handler is None:
            raise error
        handler(error)
        return self

    def _attach(self, core: C.Session, info: TokenInfo) -> None:
        if self._session is not None:  # connected before: the new connection starts from a clean slate
            tasks = self._tasks  # the previous connection's close may still be running
            self._reset_state()
            self._tasks = tasks
        self._session = core
        self._info = info
        self._role = info.role
        core.start(self._on_fact)

    # --- facts ------------------------------------------------------------------------------

    def _on_fact(self, fact: C.Fact) -> None:
        if self.currentState not in ("connecting", "connected"):
            return
        handler = _HANDLERS.get(type(fact))
        if handler is not None:
            handler(self, fact)

    def _connected(self, fact: C.Connected) -> None:
        snap = fact.snapshot
        assert self._info is not None
        self._room_sid, self._room_name = snap.room_sid, snap.room_name
        self.currentState = "connected"
        self.capabilities = self._info.capabilities
        created = snap.local.joined_at_ms or _now_ms()
        self.connection = Connection(snap.local.sid, snap.local.identity, created, self._info.data, self.capabilities)
        self._dispatch(SessionConnectEvent(self))
        if not self.isConnected():  # a sessionConnected handler disconnected
            return
        self._announce_connection(self.connection)
        for state in snap.participants:
            if self.isConnected():
                self._add_remote(state.info)
        for state in snap.participants:
            if self.isConnected() and state.info.identity in self._remote:
                self._announce_streams(self._remote[state.info.identity], state.tracks)
        if snap.is_recording and self.isConnected():
            self._recording_changed(C.RecordingStarted())

    def _announce_connection(self, conn: Connection) -> None:
        self.connections.add(conn)
        if not self.options.get("connectionEventsSuppressed"):
            self._dispatch(ConnectionEvent("connectionCreated", conn, self))

    def _add_remote(self, info: C.ParticipantInfo) -> Connection:
        conn = Connection.from_participant(info)
        self._remote[info.identity] = conn
        self._perms[info.identity] = effective_permissions(info)
        self._announce_connection(conn)
        self._flush_early(info.identity)
        return conn

    def _announce_streams(self, conn: Connection, tracks: tuple[C.TrackInfo, ...]) -> None:
        created: list[Stream] = []
        for track in tracks:
            stream, new, _changes = self._place(conn, track)
            if new:
                created.append(stream)
        for stream in created:
            self._stream_created(stream)

    def _participant_joined(self, fact: C.ParticipantJoined) -> None:
        identity = fact.participant.identity
        if identity in self._remote:  # rejoined without a leave: the old connection is gone
            self._remove_remote(identity, "networkDisconnected")
        conn = self._add_remote(fact.participant)
        self._announce_streams(conn, fact.tracks)
        if self._force_mute.mine and self._force_mute.active:
            self._notify(MuteForcedNotice(True, tuple(self._force_mute.excluded)), (identity,))

    def _participant_left(self, fact: C.ParticipantLeft) -> None:
        if fact.identity not in self._remote:
            self._drop_early(fact.identity, "its connection left before it was announced")
            return
        self._remove_remote(fact.identity, disconnect_reason(fact.reason))

    def _remove_remote(self, identity: str, reason: str) -> None:
        conn = self._remote.pop(identity)
        self._perms.pop(identity, None)
        for stream_id in self._grouping.drop(conn.connectionId):
            self._destroy_stream(self._remote_streams.pop(stream_id), reason)
        self.connections.remove(conn.connectionId)
        conn._destroyed_reason = reason
        if not self.options.get("connectionEventsSuppressed"):
            self._dispatch(ConnectionEvent("connectionDestroyed", conn, self, reason))

    # --- remote streams ---------------------------------------------------------------------

    def _place(self, conn: Connection, track: C.TrackInfo) -> tuple[Stream, bool, list[Change]]:
        """Put a track into its stream (creating the stream); :mod:`.grouping` has the rule."""
        placed = self._grouping.place(conn.connectionId, track)
        if placed.created:
            self._remote_streams[placed.stream_id] = Stream(placed.stream_id, conn, placed.slot, track.name)
        stream = self._remote_streams[placed.stream_id]
        return stream, placed.created, stream._add_track(track)

    def _home(self, track_sid: str) -> Stream | None:
        """The remote stream holding a remote track."""
        return self._remote_streams.get(self._grouping.stream_of(track_sid) or "")

    def _stream_created(self, stream: Stream) -> None:
        self.streams.add(stream)
        self._dispatch(StreamEvent("streamCreated", stream, self))
        self._enforce_force_mute(stream)

    def _destroy_stream(self, stream: Stream, reason: str) -> None:
        self.streams.remove(stream.streamId)
        self._stream_gone(stream.streamId)
        for sid in stream._track_sids():
            self._fail_waiters(sid, OTError(OT_STREAM_DESTROYED, f"Stream {stream.streamId} was destroyed ({reason})", 1501))
        event = StreamEvent("streamDestroyed", stream, self, reason, cancelable=True)
        self._dispatch_with_default(event, lambda: self._destroy_subscribers(stream.streamId, reason))

    def _destroy_subscribers(self, stream_id: str, reason: str) -> None:
        for sub in list(self._subscribers.get(stream_id, ())):
            sub._destroy(reason)

    def _property_changes(self, stream: Stream, changes: list[Change]) -> None:
        for prop, old, new in changes:
            if not self.isConnected():
                return
            self._dispatch(StreamPropertyChangedEvent(stream, prop, old, new, self))

    def _track_published(self, fact: C.TrackPublished) -> None:
        conn = self._remote.get(fact.identity)
        if conn is None:
            logger.warning("track %s published by %r, a participant never announced: ignored", fact.track.sid, fact.identity)
            return
        stream, created, changes = self._place(conn, fact.track)
        if created:
            self._stream_created(stream)
            return
        self._property_changes(stream, changes)
        for sub in list(self._subscribers.get(stream.streamId, ())):
            sub._update_wants()
        if fact.track.kind == "audio":
            self._enforce_force_mute(stream)

    def _track_unpublished(self, fact: C.TrackUnpublished) -> None:
        removal = self._grouping.remove(fact.track_sid)
        if removal is None:
            return
        stream = self._remote_streams[removal.stream_id]
        changes = stream._remove_track(fact.track_sid)
        self._drop_wants(fact.track_sid)
        if not removal.emptied:
            self._property_changes(stream, changes)
            return
        del self._remote_streams[removal.stream_id]
        reason = "forceUnpublished" if self._force_unpublish_pending(fact.identity) else "clientDisconnected"
        self._destroy_stream(stream, reason)

    def _track_muted(self, fact: C.TrackMuted | C.TrackUnmuted) -> None:
        stream = self._home(fact.track_sid)
        if stream is None:
            return
        muted = isinstance(fact, C.TrackMuted)
        self._property_changes(stream, stream._set_muted(fact.track_sid, muted))
        if fact.track_sid == stream.video_track_sid:
            for sub in list(self._subscribers.get(stream.streamId, ())):
                sub._publisher_video(not muted)

    def _track_dimensions(self, fact: C.TrackDimensionsChanged) -> None:
        stream = self._home(fact.track_sid)
        if stream is not None:
            self._property_changes(stream, stream._set_dimensions(fact.track_sid, fact.width, fact.height))

    # --- subscriptions ------------------------------------------------------------------------

    def _track_subscribed(self, fact: C.TrackSubscribed) -> None:
        self._subscribed.add(fact.track_sid)
        for fut in self._sub_waiters.pop(fact.track_sid, []):
            if not fut.done():
                fut.set_result(None)

    def _track_unsubscribed(self, fact: C.TrackUnsubscribed) -> None:
        self._subscribed.discard(fact.track_sid)

    def _track_subscription_failed(self, fact: C.TrackSubscriptionFailed) -> None:
        self._fail_waiters(fact.track_sid, OTError(OT_UNABLE_TO_SUBSCRIBE, f"LiveKit could not subscribe: {fact.message}", 1501))

    def _fail_waiters(self, track_sid: str, error: OTError) -> None:
        for fut in self._sub_waiters.pop(track_sid, []):
            if not fut.done():
                fut.set_exception(error)

    def _update_wants(self, sub: Subscriber) -> None:
        wanted = sub._wanted_sids()
        for sid in wanted:
            self._want(sub, sid, True)
        for sid in [s for s, subs in self._wants.items() if sub in subs and s not in wanted]:
            self._want(sub, sid, False)

    def _want(self, sub: Subscriber, sid: str, on: bool) -> None:
        subs = self._wants.setdefault(sid, set())
        before = bool(subs)
        if on:
            subs.add(sub)
        else:
            subs.discard(sub)
        if not subs:
            del self._wants[sid]
        if bool(subs) != before and self._session is not None and self.isConnected():
            try:
                self._session.set_subscribed(sid, bool(subs))
            except KeyError:
                logger.warning("track %s is no longer known to LiveKit; (un)subscribe skipped", sid)

    def _drop_wants(self, sid: str) -> None:
        self._wants.pop(sid, None)
        self._subscribed.discard(sid)

    def _forget_subscriber(self, sub: Subscriber) -> None:
        for sid in list(self._wants):
            self._want(sub, sid, False)
        subs = self._subscribers.get(sub.streamId, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._subscribers.pop(sub.streamId, None)

    async def subscribe(
        self,
        stream: Any,
        targetElement: Any = None,
        properties: Mapping[str, Any] | None = None,
        completionHandler: CompletionHandler | None = None,
    ) -> Subscriber | None:
        """``subscribe(stream, targetElement?, properties?, completionHandler?)`` -> Subscriber.

        Waits (at most :data:`SUBSCRIBE_TIMEOUT`) until LiveKit subscribed the wanted tracks.
        ``targetElement`` is ignored (a dict in its place is taken as ``properties``). Errors: not
        connected (1501 OT_NOT_CONNECTED), not a stream of this session (1501 OT_INVALID_PARAMETER),
        a ``publisheronly`` token (1501 OT_PERMISSION_DENIED), LiveKit refused (1501
        OT_UNABLE_TO_SUBSCRIBE), the stream went (OT_STREAM_DESTROYED), timeout (OT_TIMEOUT); the
        Subscriber is destroyed then and None returned.
        """
        if isinstance(targetElement, Mapping) and properties is None:
            properties = targetElement
        error = self._check_subscribe(stream)
        if error is not None:
            self._fail(error, completionHandler)
            return None
        sub = Subscriber(self, stream, properties)
        self._subscribers.setdefault(stream.streamId, []).append(sub)
        sids = sub._wanted_sids()
        self._update_wants(sub)
        try:
            await self._await_subscribed(sids)
        except OTError as err:
            sub._destroy("subscribeFailed")
            self._fail(err, completionHandler)
            return None
        if completionHandler is not None:
            completionHandler(None)
        return sub

    def _check_subscribe(self, stream: Any) -> OTError | None:
        if not self.isConnected():
            return subscribe_not_connected()
        if not isinstance(stream, Stream):
            return subscribe_invalid_parameter(f"Session.subscribe :: stream must be a Stream, not {type(stream).__name__}")
        if self.streams.get(stream.streamId) is not stream:
            if stream.streamId in self._publishers:
                return subscribe_invalid_parameter("Session.subscribe :: subscribing to your own stream is not supported on LiveKit")
            return subscribe_invalid_parameter(f"Session.subscribe :: stream {stream.streamId} is not in this session")
        if self.capabilities.subscribe != 1:
            return subscribe_permission_denied()
        return None

    async def _await_subscribed(self, sids: list[str]) -> None:
        loop = asyncio.get_running_loop()
        waiters = []
        for sid in sids:
            if sid in self._subscribed:
                continue
            fut: asyncio.Future[None] = loop.create_future()
            self._sub_waiters.setdefault(sid, []).append(fut)
            waiters.append(fut)
        if not waiters:
            return
        done, pending = await asyncio.wait(waiters, timeout=SUBSCRIBE_TIMEOUT, return_when=asyncio.FIRST_EXCEPTION)
        for fut in pending:
            fut.cancel()
        for fut in done:
            fut.result()  # raises the OTError it failed with
        if pending:
            raise OTError(OT_TIMEOUT, f"LiveKit did not subscribe within {SUBSCRIBE_TIMEOUT:.0f}s", ExceptionCodes.UNABLE_TO_SUBSCRIBE)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop a Subscriber: it is destroyed with reason ``'Unsubscribe'``."""
        if not isinstance(subscriber, Subscriber) or subscriber.session is not self:
            logger.warning("Session.unsubscribe :: not a Subscriber of this session: %r", subscriber)
            return
        subscriber._destroy("Unsubscribe")

    def getSubscribersForStream(self, stream: Stream) -> list[Subscriber]:
        return list(self._subscribers.get(getattr(stream, "streamId", ""), ()))

    def getPublisherForStream(self, stream: Stream) -> Publisher | None:
        return self._publishers.get(getattr(stream, "streamId", ""))

    # --- publish ----------------------------------------------------------------------------

    async def publish(self, publisher: Any = None, completionHandler: CompletionHandler | None = None) -> Publisher | None:
        """``publish(publisher, completionHandler?)`` -> Publisher (``publisher`` may also be a dict of
        ``OT.initPublisher`` properties, or None for the default audio Publisher).

        The Publisher dispatches ``streamCreated`` before the completion handler runs. Errors: not
        connected (1010, returns None), a ``subscriber`` token (OT_PERMISSION_DENIED 1500), a
        destroyed or already published Publisher, or a second camera (or screen) Publisher on this
        connection (OT_INVALID_PARAMETER 1500), LiveKit failed (OT_STREAM_CREATE_FAILED 1500).
        """
        if publisher is None or isinstance(publisher, Mapping):
            publisher = Publisher(publisher)
        error = self._check_publish(publisher)
        if error is not None:
            self._fail(error, completionHandler)
            return None
        pub: Publisher = publisher
        pub.session = self
        pub._state = "publishing"
        try:
            tracks = await self._publish_tracks(pub)
        except OTError as err:
            pub.session, pub._state = None, "initialized"
            self._fail(err, completionHandler)
            return None
        self._published(pub, tracks)
        if completionHandler is not None:
            completionHandler(None)
        self._own_force_mute(pub)
        return pub

    def _check_publish(self, publisher: Any) -> OTError | None:
        if not self.isConnected() or self.connection is None:
            return publish_not_connected()
        if not isinstance(publisher, Publisher):
            return publish_invalid_parameter(f"Session.publish :: publisher must be a Publisher, not {type(publisher).__name__}")
        if self.capabilities.publish != 1:
            return publish_permission_denied()
        if publisher._state == "destroyed":
            return publish_invalid_parameter("Session.publish :: this Publisher was destroyed")
        if publisher._state != "initialized":
            return publish_invalid_parameter("Session.publish :: this Publisher is already publishing")
        if stream_id_for(self.connection.connectionId, publisher.slot) in self._publishers:
            return publish_invalid_parameter(
                f"Session.publish :: this connection already publishes a {publisher.slot} stream; on LiveKit a connection "
                "has one camera and one screen stream"
            )
        return None

    async def _publish_tracks(self, publisher: Publisher) -> dict[str, C.TrackInfo]:
        assert self._session is not None
        tracks: dict[str, C.TrackInfo] = {}
        sources: list[tuple[Literal["audio", "video"], Any]] = [("audio", publisher.audio_source), ("video", publisher.video_source)]
        for kind, source in sources:
            if source is None:
                continue
            settings = publisher._settings(kind)
            try:
                info = await self._session.publish_media(kind, source, publisher.name, settings)
            except (C.PublishFailure, C.CommandFailure) as failure:
                self._unpublish_tracks(tracks.values())
                raise OTError("OT_STREAM_CREATE_FAILED", f"LiveKit could not publish the {kind}: {failure}", 1500) from None
            tracks[kind] = attrs.evolve(info, source=settings.source)
            if not self.isConnected():
                self._unpublish_tracks(tracks.values())
                raise OTError("OT_NOT_CONNECTED", "The session disconnected while publishing", ExceptionCodes.NOT_CONNECTED)
        return tracks

    def _published(self, publisher: Publisher, tracks: dict[str, C.TrackInfo]) -> None:
        assert self.connection is not None
        slot = publisher.slot
        stream = Stream(stream_id_for(self.connection.connectionId, slot), self.connection, slot, publisher.name)
        for track in tracks.values():
            stream._add_track(track)
            self._local_tracks[track.sid] = publisher
        self._publishers[stream.streamId] = publisher
        publisher._started(stream, tracks)
        for kind, wanted in (("audio", publisher._publish_audio), ("video", publisher._publish_video)):
            if not wanted:
                publisher._apply_mute(kind, True)

    def unpublish(self, publisher: Publisher) -> None:
        """Stop publishing: the Publisher dispatches ``streamDestroyed{reason: "unpublished"}``
        (default action: destroy it); LiveKit unpublishes its tracks in the background."""
        if not isinstance(publisher, Publisher) or publisher.session is not self or publisher.stream is None:
            logger.warning("Session.unpublish :: the Publisher is not publishing in this session: %r", publisher)
            return
        self._unpublish(publisher, "unpublished")

    def _unpublish(self, publisher: Publisher, reason: str, *, native: bool = True) -> None:
        stream = publisher.stream
        if stream is None:
            return
        self._publishers.pop(stream.streamId, None)
        self._stream_gone(stream.streamId)
        tracks = list(publisher._tracks.values())
        for track in tracks:
            self._local_tracks.pop(track.sid, None)
        if native and self.isConnected():
            self._unpublish_tracks(tracks)
        publisher._end_stream(reason)

    def _unpublish_tracks(self, tracks: Any) -> None:
        assert self._session is not None
        for track in list(tracks):
            self._spawn(self._session.unpublish(track.sid), f"unpublishing track {track.sid}")

    def _set_local_muted(self, track_sid: str, muted: bool) -> None:
        if self._session is not None and self.isConnected():
            self._session.set_muted(track_sid, muted)

    def _local_track_muted(self, fact: C.LocalTrackMuted) -> None:
        publisher = self._local_tracks.get(fact.track_sid)
        if publisher is not None:
            publisher._forced_mute(fact.track_sid, fact.muted)

    # --- signals ----------------------------------------------------------------------------

    async def signal(self, options: Mapping[str, Any] | None = None, completionHandler: CompletionHandler | None = None) -> None:
        """``signal({type?, data?, to?, retryAfterReconnect?}, completionHandler?)`` (§3 of the reference).

        A broadcast reaches every connection, this one included (delivered locally on the next
        loop iteration, ``from`` = our connection); ``to`` a Connection reaches only it. While
        reconnecting, the signal is sent after ``sessionReconnected`` (the call returns then) unless
        ``retryAfterReconnect`` is False (500 OT_NOT_CONNECTED). Success means sent, not received.
        """
        request = parse_signal(options, stacklevel=2)
        error = request.error or self._check_signal(request.to)
        if error is not None:
            self._fail(error, completionHandler)
            return
        payload = encode_signal(request.type, request.data)
        to = request.to
        if isinstance(to, Connection) and self.connection is not None and to.connectionId == self.connection.connectionId:
            self._echo(payload)
        else:
            destinations = (to.livekit_identity,) if isinstance(to, Connection) else ()
            error = await self._send_or_queue(payload, destinations, request.retryAfterReconnect)
            if error is not None:
                self._fail(error, completionHandler)
                return
        if completionHandler is not None:
            completionHandler(None)

    def _check_signal(self, to: Any) -> OTError | None:
        if not self.isConnected() or self.connection is None:
            return signal_not_connected()
        if not role_can_signal(self._role):
            return signal_permission_denied()
        if isinstance(to, Session) and to is not self:
            return signal_error(400, "The To field was invalid: a Session other than this one")
        own = self.connection.connectionId
        if isinstance(to, Connection) and to.connectionId != own and self.connections.get(to.connectionId) is not to:
            return signal_connection_not_found(to.connectionId)
        return None

    async def _send_or_queue(self, payload: bytes, destinations: tuple[str, ...], retry: bool) -> OTError | None:
        if not self._reconnecting:
            return self._send_signal(payload, destinations)
        if not retry:
            return signal_error(500, "Unable to send signal while reconnecting: retryAfterReconnect is false")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._retry.append((payload, destinations, fut))
        try:
            await fut
        except OTError as error:
            return error
        return None

    def _send_signal(self, payload: bytes, destinations: tuple[str, ...]) -> OTError | None:
        assert self._session is not None
        try:
            self._session.send_data(payload, topic=SIGNAL_TOPIC, reliable=True, destinations=destinations)
        except Exception as exc:  # noqa: BLE001 - any transport failure is the signal's 2001
            logger.warning("signal not sent: %r", exc)
            return signal_unexpected(f"Signal Failed: {exc}")
        if not destinations:
            self._echo(payload)
        return None

    def _echo(self, payload: bytes) -> None:
        message = decode_signal(payload)
        sender = self.connection
        if message is not None:
            asyncio.get_running_loop().call_soon(self._deliver_signal, message, sender)

    def _flush_retry(self) -> None:
        queued, self._retry = self._retry, []
        for payload, destinations, fut in queued:
            error = self._send_signal(payload, destinations)
            if fut.done():
                continue
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)

    def _data_received(self, fact: C.DataReceived) -> None:
        if fact.topic == SIGNAL_TOPIC:
            self._signal_received(fact)
        elif fact.topic == MODERATION_TOPIC:
            self._notice_received(fact)
        elif is_reserved_topic(fact.topic):
            logger.debug("data on the reserved topic %r ignored (a newer compat.vonage?)", fact.topic)
        else:
            logger.debug("data on topic %r ignored: not a signal", fact.topic)

    def _signal_received(self, fact: C.DataReceived) -> None:
        message = decode_signal(fact.data)
        if message is None:
            logger.warning("a packet on %s from %r is not a signal: ignored", SIGNAL_TOPIC, fact.identity)
            return
        if fact.identity is None:
            self._deliver_signal(message, None)
            return
        conn = self._remote.get(fact.identity)
        if conn is None:
            self._queue_early(fact)
            return
        self._deliver_signal(message, conn)

    def _deliver_signal(self, message: SignalMessage, sender: Connection | None) -> None:
        if not self.isConnected():
            return
        event = SignalEvent(signal_event_type(message.type), message.data, sender, self)
        self._dispatch(event, "signal")
        if message.type:
            self._dispatch(event, event.type)

    def _queue_early(self, fact: C.DataReceived) -> None:
        """§1.4.2: a signal from a connection not yet announced waits for its ``connectionCreated``."""
        assert fact.identity is not None
        queue = self._early.setdefault(fact.identity, [])
        if len(queue) >= EARLY_SIGNAL_LIMIT:
            queue.pop(0)
            logger.warning("too many signals from %r before its connectionCreated: the oldest dropped", fact.identity)
        queue.append(fact)
        if fact.identity not in self._early_timers:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(EARLY_SIGNAL_TTL, self._drop_early, fact.identity, "its connection was not announced in time")
            self._early_timers[fact.identity] = handle

    def _flush_early(self, identity: str) -> None:
        handle = self._early_timers.pop(identity, None)
        if handle is not None:
            handle.cancel()
        for fact in self._early.pop(identity, []):
            self._signal_received(fact)

    def _drop_early(self, identity: str, why: str) -> None:
        handle = self._early_timers.pop(identity, None)
        if handle is not None:
            handle.cancel()
        dropped = self._early.pop(identity, [])
        if dropped:
            logger.warning("%d signal(s) from %r dropped: %s", len(dropped), identity, why)

    # --- moderation ---------------------------------------------------------------------------

    async def forceDisconnect(self, connectionOrId: Any, completionHandler: CompletionHandler | None = None) -> None:
        """Remove a connection (LiveKit RemoveParticipant). Others see ``streamDestroyed`` and
        ``connectionDestroyed`` with ``forceDisconnected``; the target ``sessionDisconnected{forceDisconnected}``."""
        error = self._check_moderator("forceDisconnect", force_disconnect_not_connected, force_disconnect_permission_denied)
        conn = self._find_connection(connectionOrId)
        if error is None and conn is None:
            error = force_disconnect_invalid_parameter()
        if error is None and conn is not None:
            error = await self._moderate(self._core().remove_participant(conn.livekit_identity), force_disconnect_error)
        self._complete(error, completionHandler)

    async def forceUnpublish(self, stream: Any, completionHandler: CompletionHandler | None = None) -> None:
        """Stop a stream: its publisher's LiveKit ``can_publish`` is revoked, then restored once the
        stream is gone (LiveKit unpublishes all of that connection's tracks: its camera and screen
        streams both end). A notice (:mod:`.moderation`) first tells every compat client, which
        report ``streamDestroyed{forceUnpublished}`` (the publisher's client through its Publisher)."""
        if not isinstance(stream, Stream):
            error: OTError | None = force_unpublish_invalid_parameter()
        else:
            error = self._check_moderator("forceUnpublish", force_unpublish_not_connected, force_unpublish_permission_denied)
        if error is None and not self._knows_stream(stream):
            error = force_unpublish_invalid_stream()
        if error is None:
            error = await self._force_unpublish(stream)
        self._complete(error, completionHandler)

    async def _force_unpublish(self, stream: Stream) -> OTError | None:
        identity = stream.connection.livekit_identity
        self._notify(ForceUnpublishNotice(stream.connection.connectionId, stream.streamId))
        self._mark_force_unpublished(identity)
        before = self._perms.get(identity, C.Permissions())
        if self.connection is not None and identity == self.connection.livekit_identity:
            before = permissions_for_role(self._role)
        revoked = attrs.evolve(before, can_publish=False)
        error = await self._moderate(self._core().update_permissions(identity, revoked), force_unpublish_error)
        if error is not None:
            return error
        await self._wait_gone(stream)
        restored = attrs.evolve(before, can_publish=True)
        return await self._moderate(self._core().update_permissions(identity, restored), force_unpublish_error)

    async def _wait_gone(self, stream: Stream) -> None:
        if not self._knows_stream(stream):
            return
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._gone_waiters.setdefault(stream.streamId, []).append(gone)
        await asyncio.wait({gone}, timeout=FORCE_UNPUBLISH_WAIT)
        if not gone.done():
            gone.cancel()
            logger.warning(
                "forceUnpublish: stream %s still there after %.0fs; publishing restored anyway", stream.streamId, FORCE_UNPUBLISH_WAIT
            )

    def _stream_gone(self, stream_id: str) -> None:
        for fut in self._gone_waiters.pop(stream_id, []):
            if not fut.done():
                fut.set_result(None)

    async def forceMuteStream(self, stream: Any) -> None:
        """Mute a stream's audio (LiveKit MutePublishedTrack); its Publisher dispatches ``muteForced``."""
        error = self._check_moderator("forceMute", force_mute_not_connected, force_mute_permission_denied)
        if error is None and not isinstance(stream, Stream):
            error = force_mute_invalid_parameter()
        if error is None and not self._knows_stream(stream):
            error = force_mute_not_found()
        if error is None:
            error = await self._mute_stream(stream)
        self._complete(error, None)

    async def forceMuteAll(self, excludedStreams: Any = None) -> None:
        """Mute every stream's audio but ``excludedStreams``; every client's Session dispatches
        ``muteForced{active: true}`` (notice), and streams published later are muted too until
        :meth:`disableForceMute` (by this client for everyone, and by each compat client for its own)."""
        excluded = list(excludedStreams or [])
        error = self._check_moderator("forceMute", force_mute_not_connected, force_mute_permission_denied)
        if error is None and not all(isinstance(s, Stream) for s in excluded):
            error = force_mute_invalid_parameter()
        if error is not None:
            self._complete(error, None)
            return
        ids = frozenset(s.streamId for s in excluded)
        self._set_force_mute(_ForceMute(True, ids, mine=True))
        self._notify(MuteForcedNotice(True, tuple(sorted(ids))))
        for publisher in list(self._publishers.values()):
            self._own_force_mute(publisher)
        for stream in list(self.streams):
            if stream.streamId not in ids and stream.streamId not in self._publishers:
                error = error or await self._mute_stream(stream)
        self._complete(error, None)

    async def disableForceMute(self) -> None:
        """End ``forceMuteAll``: every client's Session dispatches ``muteForced{active: false}``; nothing is unmuted."""
        error = self._check_moderator("forceMute", force_mute_not_connected, force_mute_permission_denied)
        if error is None:
            self._set_force_mute(_ForceMute(False))
            self._notify(MuteForcedNotice(False))
        self._complete(error, None)

    def _check_moderator(self, capability: str, not_connected: Callable[[], OTError], denied: Callable[[], OTError]) -> OTError | None:
        """The local checks OpenTok.js makes before asking the server: connected, then the capability."""
        if not self.isConnected():
            return not_connected()
        if not self.capabilities.permittedTo(capability):
            return denied()
        return None

    async def _moderate(self, command: Awaitable[None], mapper: Callable[[C.CommandFailure], OTError]) -> OTError | None:
        try:
            await command
        except C.CommandFailure as failure:
            return mapper(failure)
        return None

    async def _mute_stream(self, stream: Stream) -> OTError | None:
        sid = stream.audio_track_sid
        publisher = self._publishers.get(stream.streamId)
        if publisher is not None:
            self._mute_own(publisher)
            return None
        if sid is None:
            logger.info("forceMute: stream %s has no audio; nothing to mute", stream.streamId)
            return None
        return await self._moderate(self._core().mute_remote_track(stream.connection.livekit_identity, sid, True), force_mute_error)

    def _mute_own(self, publisher: Publisher) -> None:
        track = publisher._tracks.get("audio")
        if track is None or not publisher._publish_audio:
            return
        publisher.publishAudio(False)
        publisher._dispatch(Event("muteForced", publisher))

    def _own_force_mute(self, publisher: Publisher) -> None:
        fm = self._force_mute
        if fm.active and publisher.streamId is not None and publisher.streamId not in fm.excluded:
            self._mute_own(publisher)

    def _enforce_force_mute(self, stream: Stream) -> None:
        fm = self._force_mute
        if fm.mine and fm.active and stream.streamId not in fm.excluded and stream.audio_track_sid is not None:
            self._spawn(self._mute_stream(stream), f"forceMuteAll muting {stream.streamId}")

    def _set_force_mute(self, state: _ForceMute) -> None:
        self._force_mute = state
        self._dispatch(MuteForcedEvent(state.active, self))

    def _notify(self, notice: Notice, destinations: tuple[str, ...] = ()) -> None:
        self._core().send_data(encode_notice(notice), topic=MODERATION_TOPIC, reliable=True, destinations=destinations)

    def _notice_received(self, fact: C.DataReceived) -> None:
        notice = decode_notice(fact.data)
        if notice is None:
            logger.warning("a packet on %s from %r is not a notice: ignored", MODERATION_TOPIC, fact.identity)
            return
        if not self._may_moderate(fact.identity):
            logger.warning("moderation notice from %r, which may not moderate: ignored", fact.identity)
            return
        if isinstance(notice, ForceUnpublishNotice):
            for identity, conn in self._remote.items():
                if conn.connectionId == notice.connectionId:
                    self._mark_force_unpublished(identity)
        else:
            self._force_mute_notice(notice)

    def _force_mute_notice(self, notice: MuteForcedNotice) -> None:
        state = _ForceMute(notice.active, frozenset(notice.excludedStreamIds))
        fm = self._force_mute
        if (fm.active, fm.excluded) == (state.active, state.excluded) or (not fm.active and not state.active):
            return  # nothing changed (e.g. the moderator's copy for joiners)
        self._set_force_mute(state)
        for publisher in list(self._publishers.values()):
            self._own_force_mute(publisher)

    def _may_moderate(self, identity: str | None) -> bool:
        if identity is None:
            return True
        conn = self._remote.get(identity)
        return conn is not None and (conn.permissions.forceUnpublish == 1 or conn.permissions.forceMute == 1)

    def _mark_force_unpublished(self, identity: str) -> None:
        self._force_unpublished[identity] = asyncio.get_running_loop().time() + FORCE_UNPUBLISH_TTL

    def _force_unpublish_pending(self, identity: str) -> bool:
        until = self._force_unpublished.get(identity)
        return until is not None and asyncio.get_running_loop().time() <= until

    def _permissions_changed(self, fact: C.PermissionsChanged) -> None:
        caps = capabilities_for_role(permissions_role(fact.permissions))
        if fact.is_local or (self.connection is not None and fact.identity == self.connection.livekit_identity):
            self._local_permissions(fact.permissions, caps)
            return
        conn = self._remote.get(fact.identity)
        if conn is None:
            return
        self._perms[fact.identity] = fact.permissions
        conn.permissions = caps
        if not fact.permissions.can_publish:
            self._mark_force_unpublished(fact.identity)

    def _local_permissions(self, perms: C.Permissions, caps: Capabilities) -> None:
        self._role = permissions_role(perms)
        self.capabilities = caps
        if self.connection is not None:
            self.connection.permissions = caps
        if not perms.can_publish:
            for publisher in list(self._publishers.values()):
                self._unpublish(publisher, "forceUnpublished")

    def _find_connection(self, connectionOrId: Any) -> Connection | None:
        cid = connectionOrId.connectionId if isinstance(connectionOrId, Connection) else connectionOrId
        if not isinstance(cid, str) or not cid:
            return None
        return self.connections.get(cid)

    def _knows_stream(self, stream: Stream) -> bool:
        return self.streams.get(stream.streamId) is stream or stream.streamId in self._publishers

    def _core(self) -> C.Session:
        assert self._session is not None, "not connected"
        return self._session

    # --- recording, reconnect, metadata -------------------------------------------------------

    def _recording_changed(self, fact: C.RecordingStarted | C.RecordingStopped) -> None:
        started = isinstance(fact, C.RecordingStarted)
        if started == self._recording:
            return
        self._recording = started
        archive = Archive(str(uuid.uuid5(uuid.NAMESPACE_URL, f"livekit-room:{self._room_sid}")), self._room_name)
        if started:
            self.archives.add(archive)
        else:
            self.archives.remove(archive.id)
        self._dispatch(ArchiveEvent("archiveStarted" if started else "archiveStopped", archive.id, archive.name, self))

    def _reconnecting_fact(self, fact: C.Reconnecting) -> None:
        if self._reconnecting:
            return
        self._reconnecting = True
        self._dispatch(Event("sessionReconnecting", self))
        for sub in self._all_subscribers():
            sub._link(False)

    def _reconnected_fact(self, fact: C.Reconnected) -> None:
        if not self._reconnecting:
            return
        self._reconnecting = False
        self._dispatch(Event("sessionReconnected", self))
        for sub in self._all_subscribers():
            sub._link(True)
        self._flush_retry()

    def _all_subscribers(self) -> Iterator[Subscriber]:
        for subs in list(self._subscribers.values()):
            yield from list(subs)

    # --- disconnect ---------------------------------------------------------------------------

    def disconnect(self) -> asyncio.Future[None]:
        """Leave the session. ``sessionDisconnected{clientDisconnected}`` and the Publishers'
        ``streamDestroyed`` follow on the next loop iteration; the returned future (await it, or
        not) resolves once they are dispatched and LiveKit closed everything (bounded)."""
        loop = asyncio.get_running_loop()
        if self.currentState == "connecting":
            self.currentState = "disconnecting"
        if self.currentState != "connected" or self._session is None:
            if self._closed is not None:
                return self._closed
            logger.warning("Session.disconnect :: the session is not connected")
            fut: asyncio.Future[None] = loop.create_future()
            fut.set_result(None)
            return fut
        self._session.disconnect()
        return self._teardown("clientDisconnected")

    def _disconnected(self, fact: C.Disconnected) -> None:
        reason = "networkDisconnected" if fact.was_reconnecting else disconnect_reason(fact.reason)
        self._teardown(reason)

    def _teardown(self, reason: str) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        self.currentState = "disconnected"
        self._reconnecting = False
        closed: asyncio.Future[None] = loop.create_future()
        self._closed = closed
        error = OTError("OT_NOT_CONNECTED", "The session disconnected before the signal was sent", 500)
        for _payload, _dest, fut in self._retry:
            if not fut.done():
                fut.set_exception(error)
        self._retry = []
        for sid in list(self._sub_waiters):
            self._fail_waiters(sid, subscribe_not_connected())
        for identity in list(self._early):
            self._drop_early(identity, "the session disconnected")
        loop.call_soon(self._after_disconnect, reason, closed)
        return closed

    def _after_disconnect(self, reason: str, closed: asyncio.Future[None]) -> None:
        event = SessionDisconnectEvent(reason, self)
        self._dispatch(event)
        for publisher in list(self._publishers.values()):
            self._unpublish(publisher, reason, native=False)
        if not event.isDefaultPrevented():
            for sub in list(self._all_subscribers()):
                sub._destroy(reason)
        self.connections.clear()
        self.streams.clear()
        self.archives.clear()
        self.connection = None
        self._spawn(self._finish_close(closed), "closing the session")

    async def _finish_close(self, closed: asyncio.Future[None]) -> None:
        pending = {t for t in self._tasks if not t.done() and t is not asyncio.current_task()}
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
        if self._session is not None:
            await self._session.wait_closed(CLOSE_TIMEOUT)
        if not closed.done():
            closed.set_result(None)

    # --- helpers ------------------------------------------------------------------------------

    def _fail(self, error: OTError, handler: CompletionHandler | None) -> None:
        """Report an error exactly once: to the completion handler if given, else raised."""
        if handler is None:
            raise error
        handler(error)

    def _complete(self, error: OTError | None, handler: CompletionHandler | None) -> None:
        if error is not None:
            self._fail(error, handler)
        elif handler is not None:
            handler(None)

    def _spawn(self, aw: Awaitable[Any], what: str) -> None:
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, what))

    def _task_done(self, task: asyncio.Future[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            logger.warning("%s was cancelled", what)
        elif task.exception() is not None:
            logger.warning("%s failed: %r", what, task.exception())
        elif isinstance(task.result(), OTError):
            logger.warning("%s failed: %s", what, task.result())


def _now_ms() -> float:
    return time.time() * 1000.0


def _check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    opts = dict(options or {})
    for key in opts:
        if key in IGNORED_OPTIONS:
            logger.info("OT.initSession: the option %r has no LiveKit counterpart here and is ignored", key)
        elif key not in SESSION_OPTIONS:
            logger.warning("OT.initSession: unknown option %r ignored", key)
    return opts


async def connect_session(session: Session, core: C.Session, token: str, completionHandler: CompletionHandler | None = None) -> Session:
    """Connect ``session`` on an already connected core Session (tests use a ScriptedSession):
    ``connect`` without the network (the token is still checked)."""

    async def ready(_record: C.SetupRecord) -> C.Session:
        return core

    return await session._connect(token, completionHandler, ready)


_HANDLERS: dict[type, Callable[[Session, Any], None]] = {
    C.Connected: Session._connected,
    C.ParticipantJoined: Session._participant_joined,
    C.ParticipantLeft: Session._participant_left,
    C.TrackPublished: Session._track_published,
    C.TrackUnpublished: Session._track_unpublished,
    C.TrackSubscribed: Session._track_subscribed,
    C.TrackUnsubscribed: Session._track_unsubscribed,
    C.TrackSubscriptionFailed: Session._track_subscription_failed,
    C.TrackMuted: Session._track_muted,
    C.TrackUnmuted: Session._track_muted,
    C.TrackDimensionsChanged: Session._track_dimensions,
    C.DataReceived: Session._data_received,
    C.RecordingStarted: Session._recording_changed,
    C.RecordingStopped: Session._recording_changed,
    C.Reconnecting: Session._reconnecting_fact,
    C.Reconnected: Session._reconnected_fact,
    C.LocalTrackMuted: Session._local_track_muted,
    C.PermissionsChanged: Session._permissions_changed,
    C.Disconnected: Session._disconnected,
}
"""One handler per fact type; facts not listed (active speakers, connection quality, track
started, metadata changes) have no OpenTok event."""

__all__ = ["CONNECT_TIMEOUT", "SUBSCRIBE_TIMEOUT", "Archive", "Session", "SessionState", "connect_session", "initSession"]
