"""The only module that talks to ``livekit.rtc.Room``: LiveKit events in, facts out.

Rules kept here (see docs/livekit_python_sdk reference, sections 1.3-1.4 and 5):

* every rtc handler is registered before ``connect()``; handlers are sync and fast;
* ``connect()`` is never cancelled (python-sdks #784): it runs in its own task. The
  join is bounded by a deadline (:func:`open_session`): each native connect makes a
  single attempt (``join_retries`` 0, see :func:`livekit_internals.connect_once`) whose signal timeout ends
  before the deadline, retries are made here and only while time is left, so nothing
  dials after the deadline. A caller that gives up leaves the attempt in flight to end
  by itself (the FFI offers no way to stop it) and be disconnected if it succeeded;
* state present at connect becomes a :class:`RoomSnapshot` (LiveKit sends no
  participant_connected/track_published for it), taken synchronously when connect()
  returns, before the room's listen task can run;
* a participant's join burst (participant_connected + track_published x N) becomes one
  ParticipantJoined fact with its tracks, those reported by track_published marked as
  published (livekit.rtc cannot tell a track of the join's own update from one published
  right after); a leave burst (track_unsubscribed/
  track_unpublished per track, then participant_disconnected) becomes TrackUnsubscribed
  facts and one ParticipantLeft, without TrackUnpublished. A burst ends when an unrelated
  event arrives or after ``BURST_WINDOW`` seconds of quiet. An unsubscription is held as the
  start of a leave burst (its streams parked, ended when it is reported), since only the
  burst's end tells a leave from a reconnect;
* every AudioStream/VideoStream opened here is closed on unsubscribe, participant leave
  and disconnect; every native AudioSource/VideoSource on unpublish and disconnect;
* track SIDs in facts are **vendor-facing** and stable for the session: the LiveKit SID a
  track had when it was first reported. LiveKit re-issues SIDs on a full reconnect (our
  tracks are republished, and after a server restart everyone's are); commands and frame
  streams go through a map to the *current* LiveKit publication;
* reconnect reconciliation (mirrors twilio-video.js ``RoomV2._update`` for a ``synced``
  room state, lib/signaling/v2/room.js: participants still there are kept, the others are
  disconnected): from ``reconnecting`` to ``reconnected`` LiveKit's leave/join/unsubscribe
  noise is held back; then the room as it is now is compared with the room as reported.
  Participants who stayed keep their SIDs, publications and subscriptions, and frame
  streams opened on their tracks are re-attached to the new native tracks. Participants
  (and tracks) absent after the reconnect are waited for up to ``REJOIN_GRACE`` seconds
  (after a server restart everybody rejoins at their own pace) unless the room visibly
  survived (a participant kept its LiveKit SID), then reported as left/unpublished.
* a remote participant's own full reconnect (its resume failed, or the server restarted) shows
  as a leave with DUPLICATE_IDENTITY (the server removes the old participant when the
  identity joins again), then a join with new SIDs. Such a leave is held with the same
  machinery: the participant is missing and its tracks unbound (streams parked), reported as
  ParticipantReconnecting; its rejoin within ``REJOIN_GRACE`` is reconciled as above
  (ParticipantReconnected, then only real changes), otherwise the leave is reported then.
* a session still open when its event loop shuts down (``asyncio.run`` returning) is
  closed then, and at interpreter exit livekit's FFI is disposed and quiesced before
  Python finalises (see :func:`shutdown`), so a bot needs no ``os._exit``.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import functools
import inspect
import logging
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal

import attrs
import jwt
from livekit import rtc
from livekit.protocol import models
from livekit.rtc.room import EventTypes

from . import facts as F
from . import moderation
from .livekit_internals import (
    PublishTrackError,
    connect_once,
    current_token,
    dispose_ffi,
    ffi_started,
    redirect_frames,
    room_sid_now,
    single_attempt_client,
)
from .media import AudioSource, VideoSource
from .quality import SetupRecord
from .session import FrameStream, Session, _log_late_failure, bounded, bounded_command

logger = logging.getLogger(__name__)

BURST_WINDOW = 0.15
PUBLISH_TIMEOUT = 20.0
# Joining (see open_session): at most JOIN_ATTEMPTS native attempts (the SDK's own default,
# 1 + RoomOptions.join_retries 3, now driven from here), each with a signal timeout that
# expires DIAL_MARGIN seconds before the deadline; no attempt shorter than MIN_ATTEMPT.
JOIN_ATTEMPTS = 4
SIGNAL_TIMEOUT = 5.0  # the FFI's default signal-connection timeout
DIAL_MARGIN = 0.5
MIN_ATTEMPT = 0.5
REJOIN_GRACE = 12.0  # after a reconnect: how long absent participants/tracks may take to return
COMMAND_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0  # bound on closing the sessions of one event loop when it shuts down
# LiveKit's transcription text streams (LiveKit Agents, egress): topic and attribute names.
TRANSCRIPTION_TOPIC = "lk.transcription"
TRANSCRIBED_TRACK = "lk.transcribed_track_id"
TRANSCRIPTION_FINAL = "lk.transcription_final"
SEGMENT_ID = "lk.segment_id"
TRANSCRIPTION_TIMEOUT = 60.0  # one segment's stream, opened to closed

_KIND: dict[int, F.TrackKind] = {rtc.TrackKind.KIND_AUDIO: "audio", rtc.TrackKind.KIND_VIDEO: "video"}
_SOURCE = {
    rtc.TrackSource.SOURCE_CAMERA: "camera",
    rtc.TrackSource.SOURCE_MICROPHONE: "microphone",
    rtc.TrackSource.SOURCE_SCREENSHARE: "screen_share",
    rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO: "screen_share_audio",
}
_SOURCE_BACK = {v: k for k, v in _SOURCE.items()}
_DEGRADATION: dict[str, Any] = {  # the proto field takes the IntEnum's value
    "balanced": rtc.DegradationPreference.BALANCED,
    "maintain_framerate": rtc.DegradationPreference.MAINTAIN_FRAMERATE,
    "maintain_resolution": rtc.DegradationPreference.MAINTAIN_RESOLUTION,
}
_CODEC = {"vp8": rtc.VideoCodec.VP8, "h264": rtc.VideoCodec.H264, "vp9": rtc.VideoCodec.VP9, "av1": rtc.VideoCodec.AV1}
_QUALITY = {
    rtc.ConnectionQuality.QUALITY_EXCELLENT: F.Quality.EXCELLENT,
    rtc.ConnectionQuality.QUALITY_GOOD: F.Quality.GOOD,
    rtc.ConnectionQuality.QUALITY_POOR: F.Quality.POOR,
    rtc.ConnectionQuality.QUALITY_LOST: F.Quality.LOST,
}


def disconnect_cause(reason: int | None) -> F.DisconnectCause:
    """LiveKit DisconnectReason value -> neutral cause."""
    if reason is None:
        return F.DisconnectCause.UNKNOWN
    try:
        name = rtc.DisconnectReason.Name(reason)  # type: ignore[arg-type]
    except ValueError:
        logger.warning("unknown LiveKit DisconnectReason value %r, reported as UNKNOWN", reason)
        return F.DisconnectCause.UNKNOWN
    if name == "UNKNOWN_REASON":
        return F.DisconnectCause.UNKNOWN
    try:
        return F.DisconnectCause[name]
    except KeyError:
        logger.warning("LiveKit DisconnectReason %s has no DisconnectCause, reported as UNKNOWN", name)
        return F.DisconnectCause.UNKNOWN


def track_info(pub: rtc.TrackPublication) -> F.TrackInfo:
    return F.TrackInfo(
        sid=pub.sid,
        name=pub.name,
        kind=_KIND.get(pub.kind, "audio"),
        muted=pub.muted,
        source=_SOURCE.get(pub.source, "unknown"),
        width=pub.width,
        height=pub.height,
    )


def permissions(perm: Any, *, room_admin: bool = False) -> F.Permissions:
    """LiveKit's ParticipantPermission -> neutral Permissions. ``room_admin`` is a token grant
    that LiveKit does not tell other participants about: only our own is known (from our token)."""
    return F.Permissions(
        can_publish=perm.can_publish,
        can_subscribe=perm.can_subscribe,
        can_publish_data=perm.can_publish_data,
        room_admin=room_admin,
    )


def tracks_of(p: rtc.RemoteParticipant) -> tuple[F.TrackInfo, ...]:
    """The tracks a participant has when it is first reported, by SID: livekit.rtc lists them in
    no defined order (not publication order, and not the same on every client), and vendor models
    derive stream IDs from the order (an OpenTok stream slot goes to the first track seen)."""
    return tuple(sorted((track_info(pub) for pub in p.track_publications.values()), key=lambda t: t.sid))


def _join_order(p: rtc.RemoteParticipant) -> tuple[float, str]:
    """Participants present at connect in the order they joined (livekit.rtc's is arbitrary)."""
    joined = p.joined_at
    return (joined.timestamp() if joined is not None else 0.0), p.sid


def participant_info(p: rtc.Participant, *, room_admin: bool = False) -> F.ParticipantInfo:
    joined = p.joined_at
    return F.ParticipantInfo(
        sid=p.sid,
        identity=p.identity,
        name=p.name,
        metadata=p.metadata,
        joined_at_ms=joined.timestamp() * 1000 if joined is not None else 0.0,
        permissions=permissions(p.permissions, room_admin=room_admin),
        attributes=tuple(sorted(p.attributes.items())),
    )


def token_grants_admin(token: str | None, room: str) -> bool:
    """Whether ``token`` (ours: already accepted by the server, so not verified again here)
    carries roomAdmin for ``room``."""
    if not token:
        return False
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        logger.warning("our access token cannot be decoded (%s): roomAdmin taken as absent", exc)
        return False
    video = claims.get("video") or {}
    return bool(video.get("roomAdmin")) and video.get("room") == room  # LiveKit requires the room to match


_STATUS = re.compile(r"\b([45]\d\d) [A-Z][A-Za-z]")  # "401 Unauthorized", "403 Forbidden"


def connect_failure(message: str) -> F.ConnectFailure:
    m = _STATUS.search(message)
    return F.ConnectFailure(message, int(m.group(1)) if m else None)


SizeWatcher = Callable[[tuple[int, int]], None]


class _Sink:
    """Replaces an rtc stream's internal ring: frames go straight into our FrameStream. On a
    video stream it also tells ``on_size`` when the frames' size changes (a comparison per
    frame that flows through Python anyway: see F.TrackDimensionsChanged)."""

    __slots__ = ("_on_size", "_size", "_stream")

    def __init__(self, stream: FrameStream[Any], on_size: SizeWatcher | None = None) -> None:
        self._stream = stream
        self._on_size = on_size
        self._size = (0, 0)

    def put(self, event: Any) -> None:
        if event is None:
            self._stream._end()
            return
        frame = event.frame
        if self._on_size is not None:
            size = (frame.width, frame.height)
            if size != self._size:
                self._size = size
                self._on_size(size)
        self._stream.put(frame)

    async def get(self) -> None:  # never used: we never iterate the rtc stream itself
        await asyncio.Event().wait()


class _Parked:
    """The sink of a native stream being let go while its FrameStream waits for the
    track to come back after a reconnect: its last frames and its end are ignored."""

    __slots__ = ()

    def put(self, event: Any) -> None:
        pass

    async def get(self) -> None:
        await asyncio.Event().wait()


@attrs.define
class _Track:
    """A remote track as reported to the vendor model, and its current LiveKit SID."""

    info: F.TrackInfo
    lk_sid: str
    subscribed: bool = False


@attrs.define
class _Remote:
    """A remote participant as reported to the vendor model."""

    info: F.ParticipantInfo
    lk_sid: str
    tracks: dict[str, _Track] = attrs.Factory(dict)


def _presigned(method: Any) -> Callable[..., None]:
    """``method`` as a plain function carrying its signature: ``rtc.EventEmitter.emit`` reads a
    handler's signature on every emit (to drop extra arguments), and for a bound method that costs
    ~2x a function's; a ``__signature__`` attribute is returned at once. Same calls, same arity."""

    def handler(*args: Any) -> None:
        method(*args)

    handler.__signature__ = _bound_signature(method.__func__)  # type: ignore[attr-defined]
    return handler


@functools.cache
def _bound_signature(function: Callable[..., None]) -> inspect.Signature:
    """The signature of ``function`` bound to an instance (without ``self``): the same for every
    session, so computed once per method, not at every connect."""
    signature = inspect.signature(function)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


class RtcSession(Session):
    """A Session on a real ``livekit.rtc.Room``. Create with :func:`open_session`."""

    def __init__(self, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._room = rtc.Room(loop=loop)
        self._connected = False
        self._closing = False
        self._ended = False
        self._reconnecting = False
        self._recording = False
        # bursts
        self._pending: list[F.Fact] = []
        self._pending_kind: Literal["join", "leave"] | None = None
        self._pending_identity = ""
        self._pending_join: F.ParticipantInfo | None = None
        self._pending_tracks: list[F.TrackInfo] = []
        self._pending_published: list[str] = []  # SIDs of the burst's track_published events
        self._timer: asyncio.TimerHandle | None = None
        # what the vendor model was told, and vendor-facing SIDs -> LiveKit's current ones
        self._reported: dict[str, _Remote] = {}
        self._vsid: dict[str, str] = {}  # LiveKit track SID -> vendor SID, where they differ
        # reconnect reconciliation
        self._held = False  # between reconnecting and reconnected
        self._carry = False  # from reconnecting until everything absent returned or was reported
        self._missing: set[str] = set()  # identities not seen since the drop
        self._unbound: set[str] = set()  # vendor track SIDs not seen since the drop
        self._resub: set[str] = set()  # vendor track SIDs subscribed before, awaiting the new track
        # remote participants reconnecting (left with DUPLICATE_IDENTITY, awaited like the missing
        # ones above), with the cause to report if they do not come back
        self._rejoining: dict[str, F.DisconnectCause] = {}
        self._grace: asyncio.TimerHandle | None = None
        # media (remote tracks and streams keyed by vendor SID; a parked stream has no native)
        self._remote_tracks: dict[str, tuple[str, rtc.RemoteTrack]] = {}
        self._streams: dict[FrameStream[Any], tuple[str, Any]] = {}
        self._makers: dict[FrameStream[Any], Callable[[rtc.RemoteTrack], Any]] = {}
        self._local: dict[str, tuple[rtc.LocalTrack, Any, Any]] = {}
        self._local_pubs: dict[str, rtc.LocalTrackPublication] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._pumps: dict[FrameStream[Any], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._data_queue: asyncio.Queue[tuple[bytes, str, bool, tuple[str, ...]]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._teardown: asyncio.Task[None] | None = None
        self._gave_up = False  # the caller of open_session() stopped waiting
        self._record = SetupRecord(None, None)  # the rollout's quality record (inert without a store)
        # moderation: RoomService calls authorised by our own (latest) token
        self._url = ""
        self._token: str | None = None
        self._auto_subscribe = True
        self._admin = False  # our token grants roomAdmin for this room
        self._local_info: F.ParticipantInfo | None = None  # as last reported (permissions, metadata)
        self._local_muted: dict[str, bool] = {}  # vendor SID -> the mute state our track is known to have
        self._dims: dict[str, tuple[int, int]] = {}  # vendor SID -> video size reported (from TrackStarted on)
        self._rtc_handlers: list[tuple[EventTypes, Callable[..., None]]] = []
        self._register()
        _track(self)

    # --- connect -------------------------------------------------------------------------

    def _register(self) -> None:
        def on(event: EventTypes, handler: Callable[..., None]) -> None:
            presigned = _presigned(handler)
            self._room.on(event, presigned)
            self._rtc_handlers.append((event, presigned))

        on("participant_connected", self._on_participant_connected)
        on("participant_disconnected", self._on_participant_disconnected)
        on("track_published", self._on_track_published)
        on("track_unpublished", self._on_track_unpublished)
        on("track_subscribed", self._on_track_subscribed)
        on("track_unsubscribed", self._on_track_unsubscribed)
        on("track_subscription_failed", self._on_track_subscription_failed)
        on("track_muted", self._on_track_muted)
        on("track_unmuted", self._on_track_unmuted)
        on("data_received", self._on_data_received)
        on("active_speakers_changed", self._on_active_speakers)
        on("connection_quality_changed", self._on_connection_quality)
        on("room_updated", self._on_room_updated)
        on("reconnecting", self._on_reconnecting)
        on("reconnected", self._on_reconnected)
        on("disconnected", self._on_disconnected)
        on("local_track_republished", self._on_local_track_republished)
        on("participant_permissions_changed", self._on_permissions_changed)
        on("participant_metadata_changed", self._on_metadata_changed)
        on("participant_attributes_changed", self._on_attributes_changed)
        on("token_refreshed", self._on_token_refreshed)
        self._room.register_text_stream_handler(TRANSCRIPTION_TOPIC, self._on_transcription_stream)

    async def _connect(self, url: str, token: str, options: rtc.RoomOptions, deadline: float) -> None:
        self._url, self._token = url, token
        self._auto_subscribe = options.auto_subscribe
        try:
            await self._join(url, token, options, deadline)
        except BaseException:
            _live.discard(self)
            raise
        finally:
            _ensure_exit_hook()  # the FFI exists now, so our hook runs before the SDK's
        # Synchronously, before the listen task gets a chance to run:
        room = self._room
        lp = room.local_participant
        self._recording = room.is_recording
        present = sorted(room.remote_participants.values(), key=_join_order)
        participants = tuple(F.ParticipantState(participant_info(p), tracks_of(p)) for p in present)
        self._admin = token_grants_admin(token, room.name)
        local = self._local_info = participant_info(lp, room_admin=self._admin)
        for state, rp in zip(participants, present, strict=True):
            self._reported[state.info.identity] = _Remote(
                state.info, rp.sid, {t.sid: _Track(t, t.sid) for t in state.tracks}
            )
        self._connected = True
        self._sender = self._loop.create_task(self._send_loop())
        sid = room_sid_now(room)  # usually known at join: then connect returns without another loop turn
        if not sid:
            sid = await self._wait_room_sid(room)
        self._snapshot = F.RoomSnapshot(
            room_sid=sid, room_name=room.name, local=local, participants=participants,
            is_recording=self._recording,
        )
        self._backlog.insert(0, F.Connected(self._snapshot))

    async def _wait_room_sid(self, room: rtc.Room) -> str:
        """The room SID LiveKit sends after the join; "" (with a warning) if it takes over 2 s.
        Facts arriving meanwhile are kept in the backlog, after the snapshot, so the order stays right."""
        sid_task = self._loop.create_task(room.sid)
        done, _ = await asyncio.wait({sid_task}, timeout=2.0)
        sid = sid_task.result() if done and sid_task.exception() is None else ""
        if not done:
            sid_task.cancel()
            logger.warning("room SID not known 2s after connect; the snapshot has an empty room SID")
        elif not sid:
            logger.warning("room SID unavailable after connect (%r); the snapshot has an empty room SID", sid_task.exception())
        return sid

    async def _join(self, url: str, token: str, options: rtc.RoomOptions, deadline: float) -> None:
        """Native connect attempts until one succeeds, one fails for good (an HTTP 4xx), or
        no attempt fits before ``deadline`` (see :func:`open_session`)."""
        loop = self._loop
        per_attempt = options.connect_timeout or SIGNAL_TIMEOUT
        attempts = JOIN_ATTEMPTS if _SINGLE_ATTEMPT_HOOK else 1
        for attempt in range(1, attempts + 1):
            left = deadline - loop.time()
            signal_timeout = max(0.1, min(per_attempt, max(left - DIAL_MARGIN, left / 2)))
            try:
                attempt_options = dataclasses.replace(options, connect_timeout=signal_timeout)
                await connect_once(self._room, url, token, attempt_options, _SINGLE_ATTEMPT_HOOK)
                return
            except rtc.ConnectError as exc:
                failure = connect_failure(exc.message)
            except Exception as exc:
                raise F.ConnectFailure(f"{type(exc).__name__}: {exc}") from exc
            left = deadline - loop.time()
            if (failure.status is not None and failure.status < 500) or self._gave_up or attempt == attempts:
                raise failure
            if left - DIAL_MARGIN < MIN_ATTEMPT:
                raise F.ConnectFailure(f"{failure.message} (no time left for another attempt)", failure.status)
            logger.warning("connect attempt %d/%d failed: %s; retrying (%.1fs left)", attempt, attempts, failure.message, left)
        raise AssertionError("unreachable")

    @property
    def livekit_room_sid(self) -> str:
        """LiveKit's current room SID as livekit.rtc knows it (refreshed by its room updates;
        may differ from ``snapshot.room_sid``, which vendor models keep for the session)."""
        sid = room_sid_now(self._room)
        return sid or (self._snapshot.room_sid if self._snapshot is not None else "")

    def _abandon(self, task: asyncio.Task[None]) -> None:
        """The caller gave up on connect(); disconnect if it eventually succeeded."""
        if task.cancelled():
            logger.warning("an abandoned connect was cancelled")
        elif task.exception() is not None:
            logger.warning("an abandoned connect ended after its deadline: %s", task.exception())
        else:
            logger.warning("an abandoned connect succeeded after its deadline; disconnecting")
            self.disconnect()

    # --- bursts ----------------------------------------------------------------------------

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(BURST_WINDOW, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        kind, self._pending_kind = self._pending_kind, None
        if kind == "join":
            info, self._pending_join = self._pending_join, None
            tracks, self._pending_tracks = self._pending_tracks, []
            published, self._pending_published = self._pending_published, []
            assert info is not None
            self._deliver(F.ParticipantJoined(info, tuple(tracks), tuple(published)))
        elif kind == "leave":
            pending, self._pending = self._pending, []
            for fact in pending:
                self._deliver_loss(fact)

    def _deliver_loss(self, fact: F.Fact) -> None:
        """A held TrackUnsubscribed/TrackUnpublished goes out: its parked streams end first."""
        if isinstance(fact, (F.TrackUnsubscribed, F.TrackUnpublished)):
            self._close_track(fact.track_sid)
        self._deliver(fact)

    def _emit(self, fact: F.Fact) -> None:
        self._flush()
        self._deliver(fact)

    # --- reported state and SID map -------------------------------------------------------

    def _deliver(self, fact: F.Fact) -> None:
        self._note(fact)
        super()._deliver(fact)

    def _note(self, fact: F.Fact) -> None:
        """Keep ``_reported`` equal to what the vendor model has been told."""
        rep = self._reported
        if isinstance(fact, F.ParticipantJoined):
            rep[fact.participant.identity] = _Remote(
                fact.participant, fact.participant.sid, {t.sid: _Track(t, t.sid) for t in fact.tracks}
            )
        elif isinstance(fact, F.ParticipantLeft):
            gone = rep.pop(fact.identity, None)
            for t in gone.tracks.values() if gone is not None else ():
                self._vsid.pop(t.lk_sid, None)
        elif isinstance(fact, F.TrackPublished):
            if fact.identity in rep:
                rep[fact.identity].tracks[fact.track.sid] = _Track(fact.track, fact.track.sid)
        elif isinstance(fact, (F.PermissionsChanged, F.MetadataChanged, F.AttributesChanged)):
            self._note_info(fact)
        elif isinstance(fact, (F.TrackUnpublished, F.TrackSubscribed, F.TrackUnsubscribed, F.TrackMuted, F.TrackUnmuted)):
            r = rep.get(fact.identity)
            found = r.tracks.get(fact.track_sid) if r is not None else None
            if r is None or found is None:
                return
            t = found
            if isinstance(fact, F.TrackUnpublished):
                del r.tracks[fact.track_sid]
                self._vsid.pop(t.lk_sid, None)
            elif isinstance(fact, (F.TrackSubscribed, F.TrackUnsubscribed)):
                t.subscribed = isinstance(fact, F.TrackSubscribed)
            else:
                t.info = attrs.evolve(t.info, muted=isinstance(fact, F.TrackMuted))

    def _note_info(self, fact: F.PermissionsChanged | F.MetadataChanged | F.AttributesChanged) -> None:
        change: dict[str, Any]
        if isinstance(fact, F.PermissionsChanged):
            change = {"permissions": fact.permissions}
        elif isinstance(fact, F.MetadataChanged):
            change = {"metadata": fact.metadata}
        else:
            change = {"attributes": fact.attributes}
        if fact.is_local:
            if self._local_info is not None:
                self._local_info = attrs.evolve(self._local_info, **change)
        elif fact.identity in self._reported:
            r = self._reported[fact.identity]
            r.info = attrs.evolve(r.info, **change)

    def _v(self, lk_sid: str) -> str:
        """LiveKit track SID -> vendor-facing SID."""
        return self._vsid.get(lk_sid, lk_sid)

    def _track(self, identity: str, vsid: str) -> _Track | None:
        r = self._reported.get(identity)
        return r.tracks.get(vsid) if r is not None else None

    def _match(self, identity: str, pub: rtc.TrackPublication) -> str | None:
        """The vendor SID of a reported track that ``pub`` is (now); rebinds the map when
        LiveKit re-issued the SID (same identity, name, kind and source, not yet seen again
        since the drop). None for a track the vendor model does not know."""
        r = self._reported.get(identity)
        if r is None:
            return None
        vsid: str | None = self._vsid.get(pub.sid, pub.sid)
        if vsid not in r.tracks:
            vsid = None
            if self._carry:
                info = track_info(pub)
                for t in r.tracks.values():
                    i = t.info
                    if i.sid in self._unbound and (i.name, i.kind, i.source) == (info.name, info.kind, info.source):
                        vsid = i.sid
                        break
        if vsid is None:
            return None
        t = r.tracks[vsid]
        if t.lk_sid != pub.sid:
            logger.info("track %s of %s is LiveKit track %s now (was %s)", vsid, identity, pub.sid, t.lk_sid)
            self._vsid.pop(t.lk_sid, None)
            t.lk_sid = pub.sid
            if pub.sid != vsid:
                self._vsid[pub.sid] = vsid
        self._unbound.discard(vsid)
        return vsid

    # --- rtc handlers (sync) -------------------------------------------------------------

    def _on_participant_connected(self, p: rtc.RemoteParticipant) -> None:
        if self._held:
            return  # reconciled at reconnected
        if p.identity in self._missing:
            self._flush()
            self._rejoin(p)
            return
        self._flush()
        self._pending_kind = "join"
        self._pending_identity = p.identity
        self._pending_join = participant_info(p)
        self._pending_tracks = list(tracks_of(p))
        self._pending_published = []
        self._arm()

    def _on_track_published(self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if self._held:
            return
        if self._pending_kind == "join" and self._pending_identity == p.identity:
            if all(t.sid != pub.sid for t in self._pending_tracks):
                self._pending_tracks.append(track_info(pub))
                self._pending_published.append(pub.sid)
            self._arm()
            return
        if self._carry and self._match(p.identity, pub) is not None:
            self._flush()
            self._adopt(p, pub)  # a carried-over track, republished under a new SID
            self._maybe_end_carry()
            return
        self._emit(F.TrackPublished(p.identity, track_info(pub)))

    def _on_track_unpublished(self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        sid = self._v(pub.sid)
        if self._held or sid in self._unbound:
            self._park(sid)
            return  # the reconnect's noise: reconciled at reconnected
        if p.state == rtc.ParticipantState.PARTICIPANT_STATE_DISCONNECTED:
            self._park(sid)  # ended with the leave, or carried over if it is a reconnect
            return  # part of a leave: Twilio/OpenTok report the leave, not unpublishes
        if self._pending_kind == "leave" and self._pending_identity == p.identity:
            self._pending.append(F.TrackUnpublished(p.identity, sid))
            self._arm()
            return
        self._flush()
        self._pending_kind = "leave"
        self._pending_identity = p.identity
        self._pending = [F.TrackUnpublished(p.identity, sid)]
        self._arm()

    def _on_track_unsubscribed(self, track: Any, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        sid = self._v(pub.sid)
        if self._held or sid in self._unbound:
            self._park(sid)
            return
        t = self._track(p.identity, sid)
        if t is not None and not t.subscribed:
            self._close_track(sid)
            return  # already reported (our own set_subscribed(False), see _unsubscribed_by_us)
        # A leave starts like this, and only its end tells whether it is a reconnect (whose
        # streams carry over): held as a leave burst, its media parked until then.
        self._park(sid)
        fact = F.TrackUnsubscribed(p.identity, sid)
        if self._pending_kind == "leave" and self._pending_identity == p.identity:
            self._pending.append(fact)
        else:
            self._flush()
            self._pending_kind = "leave"
            self._pending_identity = p.identity
            self._pending = [fact]
        self._arm()

    def _on_participant_disconnected(self, p: rtc.RemoteParticipant) -> None:
        if self._held or p.identity in self._missing:
            self._park_all(p.identity)
            return
        cause = disconnect_cause(p.disconnect_reason) if p.disconnect_reason else None
        unsubscribed = self._take_leave(p.identity)
        if cause is F.DisconnectCause.DUPLICATE_IDENTITY and p.identity in self._reported and not self._closing:
            self._hold_leave(p.identity, cause)  # its burst was the reconnect's noise: dropped
            return
        for fact in unsubscribed:
            self._deliver_loss(fact)
        self._close_all_of(p.identity)
        self._resub.difference_update(self._reported[p.identity].tracks if p.identity in self._reported else ())
        self._deliver(F.ParticipantLeft(p.identity, cause))

    def _take_leave(self, identity: str) -> list[F.Fact]:
        """End the leave burst of ``identity`` (another burst is flushed): its TrackUnsubscribed
        facts, not yet delivered; its TrackUnpublished ones are dropped (the leave says it)."""
        if self._pending_kind != "leave" or self._pending_identity != identity:
            self._flush()
            return []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending_kind = None
        pending, self._pending = self._pending, []
        return [fact for fact in pending if isinstance(fact, F.TrackUnsubscribed)]

    def _hold_leave(self, identity: str, cause: F.DisconnectCause) -> None:
        """A remote participant left because its identity joined again: it is making a full
        reconnect (the server did not resume it). Awaited as after our own reconnect: its
        tracks parked and unbound until it is back (_rejoin), reported left after the grace."""
        logger.info("participant %s is reconnecting (left with %s): waiting up to %.0fs", identity, cause.name, REJOIN_GRACE)
        self._park_all(identity)
        self._rejoining[identity] = cause
        self._missing.add(identity)
        self._unbound.update(self._reported[identity].tracks)
        self._carry = True
        self._arm_grace()
        self._deliver(F.ParticipantReconnecting(identity))

    def _park_all(self, identity: str) -> None:
        r = self._reported.get(identity)
        for sid in r.tracks if r is not None else ():
            self._park(sid)

    def _close_all_of(self, identity: str) -> None:
        """Close the media of a participant who left, parked streams included."""
        self._close_owned(identity)
        r = self._reported.get(identity)
        for sid in r.tracks if r is not None else ():
            self._close_track(sid)

    def _on_track_subscribed(self, track: rtc.RemoteTrack, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if self._held:
            return  # reconciled at reconnected (from publication.track)
        self._flush()  # a held unsubscribe of this track (a leave burst that was not one) goes out first
        sid = self._match(p.identity, pub) or pub.sid
        t = self._track(p.identity, sid)
        if t is not None and t.subscribed:  # carried over a reconnect: same vendor track, new media
            self._resume_track(p.identity, sid, track)
            self._maybe_end_carry()
            return
        self._subscribed(p.identity, sid, track)

    def _subscribed(self, identity: str, sid: str, track: rtc.RemoteTrack) -> None:
        self._remote_tracks[sid] = (identity, track)
        self._emit(F.TrackSubscribed(identity, sid))
        if not self._closing:
            self._probes[sid] = self._loop.create_task(self._probe(identity, sid, track))

    async def _probe(self, identity: str, sid: str, track: rtc.RemoteTrack) -> None:
        """Wait for the first frame (TrackStarted), then stop looking at frames."""
        is_video = isinstance(track, rtc.RemoteVideoTrack)
        stream = self.open_video_frames(sid, capacity=1, rgba=False) if is_video else self.open_audio_frames(
            sid, sample_rate=48000, num_channels=1, capacity=1, frame_size_ms=None
        )
        try:
            frame = await stream.__anext__()
        except StopAsyncIteration:
            return
        finally:
            await stream.aclose()
            self._probes.pop(sid, None)
        if self._remote_tracks.get(sid, (None,))[0] != identity:
            return
        if is_video:
            self._dims[sid] = (frame.width, frame.height)  # later changes: TrackDimensionsChanged
            self._deliver(F.TrackStarted(identity, sid, frame.width, frame.height))
        else:
            self._deliver(F.TrackStarted(identity, sid))

    def _on_track_subscription_failed(self, p: rtc.RemoteParticipant, track_sid: str, error: str) -> None:
        self._emit(F.TrackSubscriptionFailed(p.identity, self._v(track_sid), error))

    def _on_track_muted(self, p: rtc.Participant, pub: rtc.TrackPublication) -> None:
        if isinstance(p, rtc.LocalParticipant):
            self._local_mute(pub, True)
        elif not self._held:
            self._emit(F.TrackMuted(p.identity, self._v(pub.sid)))

    def _on_track_unmuted(self, p: rtc.Participant, pub: rtc.TrackPublication) -> None:
        if isinstance(p, rtc.LocalParticipant):
            self._local_mute(pub, False)
        elif not self._held:
            self._emit(F.TrackUnmuted(p.identity, self._v(pub.sid)))

    def _local_mute(self, pub: rtc.TrackPublication, muted: bool) -> None:
        """One of our tracks was (un)muted. LiveKit reports our own set_muted calls too: only a
        change to a state we did not ask for (the server's MutePublishedTrack) is a fact."""
        sid = next((v for v, known in self._local_pubs.items() if known is pub or known.sid == pub.sid), None)
        if sid is None or self._local_muted.get(sid, False) == muted:
            return
        self._local_muted[sid] = muted
        self._emit(F.LocalTrackMuted(sid, muted))

    def _on_permissions_changed(self, p: rtc.Participant, perm: Any) -> None:
        is_local = isinstance(p, rtc.LocalParticipant)
        new = permissions(perm, room_admin=self._admin if is_local else False)
        known = self._known_info(p.identity, is_local)
        if known is not None and known.permissions != new:
            self._emit(F.PermissionsChanged(p.identity, new, is_local))

    def _on_metadata_changed(self, p: rtc.Participant, old: str, new: str) -> None:
        is_local = isinstance(p, rtc.LocalParticipant)
        known = self._known_info(p.identity, is_local)
        if known is not None and known.metadata != new:
            self._emit(F.MetadataChanged(p.identity, new, is_local))

    def _on_attributes_changed(self, changed: dict[str, str], p: rtc.Participant) -> None:
        is_local = isinstance(p, rtc.LocalParticipant)
        known = self._known_info(p.identity, is_local)
        now = tuple(sorted(p.attributes.items()))
        if known is not None and known.attributes != now:
            self._emit(F.AttributesChanged(p.identity, now, is_local))

    def _known_info(self, identity: str, is_local: bool) -> F.ParticipantInfo | None:
        """What the vendor model was told about a participant (None: nothing, or held during a
        reconnect, whose reconciliation reports participants as they are then)."""
        if is_local:
            return self._local_info
        if self._held:
            return None
        self._flush()  # a participant still in its join burst is reported first
        r = self._reported.get(identity)
        return r.info if r is not None else None

    def _on_token_refreshed(self) -> None:
        # LiveKit refreshes an expiring token over signalling; moderation calls use the latest.
        self._token = current_token(self._room) or self._token

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        self._emit(
            F.DataReceived(
                packet.participant.identity if packet.participant is not None else None,
                packet.data,
                packet.topic or "",
                packet.kind == rtc.DataPacketKind.KIND_RELIABLE,
            )
        )

    def _on_transcription_stream(self, reader: rtc.TextStreamReader, identity: str) -> None:
        if self._closing:
            reader.close()
            return
        self._spawn(self._read_transcription(reader, identity))

    async def _read_transcription(self, reader: rtc.TextStreamReader, identity: str) -> None:
        """Read one transcription stream to its end (bounded), then report it as one fact."""
        try:
            text = await asyncio.wait_for(reader.read_all(), TRANSCRIPTION_TIMEOUT)
        except (asyncio.TimeoutError, rtc.StreamError) as exc:
            logger.warning("a transcription stream from %s ended unread: %s", identity, exc or "timed out")
            return
        finally:
            reader.close()  # a no-op once read to its end; otherwise drops its FFI subscription
        if self._closing:
            return
        info = reader.info
        attributes = info.attributes or {}
        track = attributes.get(TRANSCRIBED_TRACK, "")
        self._emit(
            F.TranscriptionReceived(
                identity,
                self._v(track) if track else "",
                attributes.get(SEGMENT_ID) or info.stream_id,
                text,
                attributes.get(TRANSCRIPTION_FINAL, "").lower() == "true",
            )
        )

    def _on_active_speakers(self, speakers: list[rtc.Participant]) -> None:
        self._emit(F.ActiveSpeakersChanged(tuple(p.identity for p in speakers)))

    def _on_connection_quality(self, p: rtc.Participant | None, quality: Any) -> None:
        q = _QUALITY.get(quality)
        if p is None or q is None:
            return
        self._emit(F.ConnectionQualityChanged(p.identity, q, isinstance(p, rtc.LocalParticipant)))

    def _on_room_updated(self) -> None:
        recording = self._room.is_recording
        if recording != self._recording:
            self._recording = recording
            self._emit(F.RecordingStarted() if recording else F.RecordingStopped())

    def _on_reconnecting(self) -> None:
        if not self._reconnecting:
            self._record.reconnecting()
        self._reconnecting = True
        self._flush()
        self._held = True
        self._carry = True
        self._cancel_grace()
        self._missing = set(self._reported)
        self._unbound = {sid for r in self._reported.values() for sid in r.tracks}
        self._resub = set()
        self._emit(F.Reconnecting())

    def _on_reconnected(self) -> None:
        self._reconnecting = False
        self._held = False
        self._emit(F.Reconnected())
        room = self._room
        for sid, pub in self._local_pubs.items():
            if pub.sid not in room.local_participant.track_publications:
                logger.warning("local track %s (LiveKit %s) is not published after the reconnect", sid, pub.sid)
        current = list(room.remote_participants.values())
        survived = any(p.identity in self._reported and self._reported[p.identity].lk_sid == p.sid for p in current)
        for p in current:
            if p.identity in self._missing:
                self._rejoin(p)
            elif p.identity not in self._reported:  # joined meanwhile
                self._deliver(F.ParticipantJoined(participant_info(p), tracks_of(p)))
                for rpub in p.track_publications.values():
                    if rpub.track is not None:
                        self._subscribed(p.identity, rpub.sid, rpub.track)
        if survived:  # the server kept the room: whoever is absent has left (unless reconnecting itself)
            self._settle_absent(spare=set(self._rejoining))
        if self._missing or self._unbound or self._resub:
            self._arm_grace()
        else:
            self._carry = False

    def _rejoin(self, p: rtc.RemoteParticipant) -> None:
        """A participant reported before the drop (ours or its own) is (back) in the room: keep it."""
        self._missing.discard(p.identity)
        r = self._reported[p.identity]
        if r.lk_sid != p.sid:
            logger.info("participant %s is LiveKit participant %s now (was %s)", p.identity, p.sid, r.lk_sid)
            r.lk_sid = p.sid
        if self._rejoining.pop(p.identity, None) is not None:
            self._deliver(F.ParticipantReconnected(p.identity))
        for pub in p.track_publications.values():
            self._adopt(p, pub)
        self._maybe_end_carry()

    def _adopt(self, p: rtc.RemoteParticipant, pub: rtc.RemoteTrackPublication) -> None:
        """Reconcile one current publication of a participant who stayed."""
        sid = self._match(p.identity, pub)
        if sid is None:  # published meanwhile
            self._deliver(F.TrackPublished(p.identity, track_info(pub)))
            if pub.track is not None:
                self._subscribed(p.identity, pub.sid, pub.track)
            return
        t = self._reported[p.identity].tracks[sid]
        if t.info.muted != pub.muted:
            self._deliver(F.TrackMuted(p.identity, sid) if pub.muted else F.TrackUnmuted(p.identity, sid))
        if t.subscribed:
            if pub.track is not None:
                self._resume_track(p.identity, sid, pub.track)
            else:
                self._resub.add(sid)
                if not self._auto_subscribe:  # it was subscribed by hand: so is its successor
                    pub.set_subscribed(True)
        elif pub.track is not None:
            self._subscribed(p.identity, sid, pub.track)

    def _resume_track(self, identity: str, sid: str, track: rtc.RemoteTrack) -> None:
        """Media of a carried-over track resumes: re-attach its parked frame streams."""
        self._resub.discard(sid)
        self._remote_tracks[sid] = (identity, track)
        for stream, (s, native) in list(self._streams.items()):
            if s == sid and native is None:
                self._attach(stream, self._makers[stream](track))

    def _settle_absent(self, spare: set[str] | None = None) -> None:
        """Report participants and tracks that did not come back as left / unpublished
        (except those of the ``spare`` identities, still awaited)."""
        self._flush()
        spare = spare or set()
        kept = {sid for identity in spare if (r := self._reported.get(identity)) is not None for sid in r.tracks}
        for identity in sorted(self._missing - spare):
            cause = self._rejoining.pop(identity, None)
            r = self._reported.get(identity)
            if r is None:
                continue
            logger.info("participant %s did not come back after the reconnect: reported as left", identity)
            for sid, t in list(r.tracks.items()):
                self._unbound.discard(sid)
                self._resub.discard(sid)
                if t.subscribed:
                    self._close_track(sid)
                    self._deliver(F.TrackUnsubscribed(identity, sid))
            self._close_all_of(identity)
            self._deliver(F.ParticipantLeft(identity, cause))
        self._missing &= spare
        for identity, r in list(self._reported.items()):
            for sid, t in list(r.tracks.items()):
                if sid in self._unbound - kept:
                    self._resub.discard(sid)
                    if t.subscribed:
                        self._close_track(sid)
                        self._deliver(F.TrackUnsubscribed(identity, sid))
                    self._deliver(F.TrackUnpublished(identity, sid))
        self._unbound &= kept

    def _end_carry(self) -> None:
        self._grace = None
        if self._held or self._ended or self._closing:
            return
        self._settle_absent()
        for identity, r in list(self._reported.items()):
            for sid in list(r.tracks):
                if sid in self._resub:
                    logger.warning("track %s of %s was not subscribed again after the reconnect", sid, identity)
                    self._close_track(sid)
                    self._deliver(F.TrackUnsubscribed(identity, sid))
        self._resub.clear()
        self._carry = False

    def _maybe_end_carry(self) -> None:
        if self._carry and not self._held and not (self._missing or self._unbound or self._resub):
            self._cancel_grace()
            self._carry = False

    def _arm_grace(self) -> None:
        """Wait REJOIN_GRACE from now for whatever is absent (a wait already running longer is kept)."""
        deadline = self._loop.time() + REJOIN_GRACE
        if self._grace is not None:
            if self._grace.when() >= deadline:
                return
            self._grace.cancel()
        self._grace = self._loop.call_at(deadline, self._end_carry)

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def _on_local_track_republished(self, pub: rtc.LocalTrackPublication, previous_sid: str) -> None:
        for sid, known in self._local_pubs.items():
            if known is pub:
                logger.info("local track %s republished by LiveKit as %s (was %s)", sid, pub.sid, previous_sid)

    def _on_disconnected(self, reason: Any = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._held = False
        self._cancel_grace()
        self._flush()
        self._deliver(F.Disconnected(disconnect_cause(reason), self._closing, self._reconnecting))
        self._start_teardown()

    # --- media: remote ----------------------------------------------------------------------

    def _open(self, track_sid: str, capacity: int, make: Any) -> FrameStream[Any]:
        stream: FrameStream[Any] = FrameStream(capacity, track_sid=track_sid, closer=self._close_stream)
        entry = self._remote_tracks.get(track_sid)
        if self._closing or self._ended:
            stream._end()
            return stream
        if entry is None:
            if self._carry and any(t.subscribed for r in self._reported.values() if (t := r.tracks.get(track_sid))):
                self._streams[stream] = (track_sid, None)  # parked until the track is back
                self._makers[stream] = make
            else:
                stream._end()
            return stream
        self._makers[stream] = make
        self._attach(stream, make(entry[1]))
        return stream

    def _attach(self, stream: FrameStream[Any], native: Any) -> None:
        # Frames go straight from the stream's native-event task into our bounded,
        # counting ring: no extra task or copy per frame.
        on_size = self._size_watcher(stream.track_sid) if isinstance(native, rtc.VideoStream) else None
        if not redirect_frames(native, _Sink(stream, on_size)):  # without that internal ring: pump
            self._pumps[stream] = self._loop.create_task(self._pump(native, _Sink(stream, on_size)))
        self._streams[stream] = (stream.track_sid, native)

    def _size_watcher(self, sid: str) -> SizeWatcher:
        def on_size(size: tuple[int, int]) -> None:
            known = self._dims.get(sid)
            entry = self._remote_tracks.get(sid)
            if known is None or known == size or entry is None:
                return  # before TrackStarted (which reports the first size), or no change
            self._dims[sid] = size
            self._emit(F.TrackDimensionsChanged(entry[0], sid, size[0], size[1]))

        return on_size

    def _park(self, track_sid: str) -> None:
        """The native track went away during a reconnect: let go of the native streams, keep
        the FrameStreams open for the track's return."""
        self._remote_tracks.pop(track_sid, None)
        for stream, (sid, native) in list(self._streams.items()):
            if sid != track_sid or native is None:
                continue
            pump = self._pumps.pop(stream, None)
            if pump is not None:
                pump.cancel()
            else:
                redirect_frames(native, _Parked())
            self._streams[stream] = (sid, None)
            self._spawn(bounded(native.aclose(), 5.0, "closing a media stream"))

    @staticmethod
    async def _pump(native: Any, sink: _Sink) -> None:
        stream = sink._stream
        async for event in native:
            if stream.closed:
                break
            sink.put(event)
        stream._end()

    def open_audio_frames(
        self, track_sid: str, *, sample_rate: int, num_channels: int, capacity: int, frame_size_ms: int | None
    ) -> FrameStream[Any]:
        def make(track: rtc.RemoteTrack) -> rtc.AudioStream:
            return rtc.AudioStream(
                track, loop=self._loop, sample_rate=sample_rate, num_channels=num_channels, frame_size_ms=frame_size_ms
            )

        return self._open(track_sid, capacity, make)

    def open_video_frames(self, track_sid: str, *, capacity: int, rgba: bool) -> FrameStream[Any]:
        def make(track: rtc.RemoteTrack) -> rtc.VideoStream:
            return rtc.VideoStream(track, loop=self._loop, format=rtc.VideoBufferType.RGBA if rgba else None)

        return self._open(track_sid, capacity, make)

    def _close_stream(self, stream: FrameStream[Any]) -> None:
        stream._end()
        pump = self._pumps.pop(stream, None)
        if pump is not None:
            pump.cancel()  # a VideoStream consumer does not wake up on aclose()
        self._makers.pop(stream, None)
        entry = self._streams.pop(stream, None)
        if entry is not None and entry[1] is not None:
            self._spawn(bounded(entry[1].aclose(), 5.0, "closing a media stream"))

    def _close_owned(self, identity: str) -> None:
        for sid, (owner, _track) in list(self._remote_tracks.items()):
            if owner == identity:
                self._close_track(sid)

    def _close_track(self, track_sid: str) -> None:
        self._remote_tracks.pop(track_sid, None)
        self._dims.pop(track_sid, None)
        for stream, (sid, _native) in list(self._streams.items()):
            if sid == track_sid:
                self._close_stream(stream)

    def _spawn(self, aw: Any) -> None:
        task = self._loop.create_task(aw)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: _log_late_failure(t, "a background operation"))

    def open_resources(self) -> int:
        return len(self._streams) + len(self._local)

    # --- media: local -----------------------------------------------------------------------

    async def publish_media(self, kind: Literal["audio", "video"], source: Any, name: str, settings: F.PublishSettings) -> F.TrackInfo:
        if self._closing or self._ended:
            raise F.PublishFailure("not connected")
        opts = rtc.TrackPublishOptions()
        track: rtc.LocalTrack
        if kind == "audio":
            assert isinstance(source, AudioSource)
            native: Any = source._attach()
            track = rtc.LocalAudioTrack.create_audio_track(name, native)
            opts.source = _SOURCE_BACK.get(settings.source, rtc.TrackSource.SOURCE_MICROPHONE)
            if settings.max_bitrate:
                opts.audio_encoding.max_bitrate = settings.max_bitrate
            if settings.dtx is not None:
                opts.dtx = settings.dtx
        else:
            assert isinstance(source, VideoSource)
            native = source._attach()
            track = rtc.LocalVideoTrack.create_video_track(name, native)
            opts.source = _SOURCE_BACK.get(settings.source, rtc.TrackSource.SOURCE_CAMERA)
            if settings.max_bitrate:
                opts.video_encoding.max_bitrate = settings.max_bitrate
            if settings.video_codec is not None:
                opts.video_codec = _CODEC[settings.video_codec]
            if settings.simulcast is not None:
                opts.simulcast = settings.simulcast
            if settings.degradation_preference is not None:
                opts.degradation_preference = _DEGRADATION[settings.degradation_preference]
        key = "pending:" + str(id(track))
        self._local[key] = (track, source, native)
        task = self._loop.create_task(self._room.local_participant.publish_track(track, opts))
        try:
            done, _ = await asyncio.wait({task}, timeout=PUBLISH_TIMEOUT)
        except asyncio.CancelledError:  # the caller gave up: undo the publish when it lands
            task.add_done_callback(lambda t: self._late_publish(t, key))
            raise
        if not done:  # never cancel the native publish: undo it if it completes later
            task.add_done_callback(lambda t: self._late_publish(t, key))
            logger.warning("publishing %s track %r timed out after %.0fs", kind, name, PUBLISH_TIMEOUT)
            raise F.PublishFailure(f"publish timed out after {PUBLISH_TIMEOUT}s")
        try:
            pub = task.result()
        except PublishTrackError as exc:
            self._release_local(key)
            logger.warning("publishing %s track %r failed: %s", kind, name, exc.message)
            raise F.PublishFailure(exc.message) from None
        except Exception as exc:  # noqa: BLE001
            self._release_local(key)
            logger.warning("publishing %s track %r failed: %s", kind, name, exc)
            raise F.PublishFailure(str(exc)) from None
        entry = self._local.pop(key)
        self._local[pub.sid] = entry
        self._local_pubs[pub.sid] = pub  # LiveKit updates it in place when it republishes
        if self._closing or self._ended:
            self._release_local(pub.sid)
        width, height = (source.width, source.height) if kind == "video" else (0, 0)
        return F.TrackInfo(sid=pub.sid, name=name, kind=kind, source=settings.source, width=width, height=height)

    def _late_publish(self, task: asyncio.Task[Any], key: str) -> None:
        if task.cancelled() or task.exception() is not None:
            self._release_local(key)
            return
        entry = self._local.pop(key, None)
        if entry is not None:
            pub = task.result()
            self._local[pub.sid] = entry
            self._local_pubs[pub.sid] = pub
            self._spawn(bounded(self.unpublish(pub.sid), COMMAND_TIMEOUT + 1, "unpublishing a late publish"))

    def _release_local(self, key: str) -> None:
        self._local_pubs.pop(key, None)
        self._local_muted.pop(key, None)
        entry = self._local.pop(key, None)
        if entry is None:
            return
        _track, source, native = entry
        source._detach(native)
        self._spawn(bounded(native.aclose(), 5.0, "closing a media source"))

    async def unpublish(self, track_sid: str) -> None:
        """Unpublish by vendor SID (LiveKit's current SID is looked up). Raises
        CommandFailure, logged at WARNING, when LiveKit refuses or does not answer."""
        if track_sid not in self._local:
            return
        pub = self._local_pubs.get(track_sid)
        lk_sid = pub.sid if pub is not None else track_sid
        try:
            if not self._closing and not self._ended:
                await bounded_command(
                    self._room.local_participant.unpublish_track(lk_sid), COMMAND_TIMEOUT,
                    f"unpublishing track {track_sid} (LiveKit {lk_sid})",
                )
        finally:
            self._release_local(track_sid)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        """livekit.rtc 1.2.1 ignores the server's refusal, so a token without
        canUpdateOwnMetadata is refused here, before anything is sent."""
        if self._closing or self._ended:
            return
        lp = self._room.local_participant
        if not lp.permissions.can_update_metadata:
            logger.warning("setting participant attributes refused: the token lacks canUpdateOwnMetadata")
            raise F.CommandFailure("set_attributes", "the access token lacks the canUpdateOwnMetadata grant")
        await bounded_command(lp.set_attributes(attributes), COMMAND_TIMEOUT, "set_attributes")

    def set_muted(self, track_sid: str, muted: bool) -> None:
        entry = self._local.get(track_sid)
        if entry is None or self._ended:
            return
        track = entry[0]
        self._local_muted[track_sid] = muted  # so that LiveKit's report of it is not a LocalTrackMuted
        try:
            if muted:
                track.mute()
            else:
                track.unmute()
        except Exception as exc:
            what = f"{'muting' if muted else 'unmuting'} track {track_sid}"
            logger.warning("%s failed: %s", what, exc)
            raise F.CommandFailure(what, str(exc) or type(exc).__name__) from exc

    # --- data -------------------------------------------------------------------------------

    def send_data(self, payload: bytes, *, topic: str, reliable: bool, destinations: tuple[str, ...] = ()) -> None:
        if self._closing or self._ended:
            return
        self._data_queue.put_nowait((payload, topic, reliable, destinations))

    async def _send_loop(self) -> None:
        queue = self._data_queue
        lp = self._room.local_participant
        while True:
            payload, topic, reliable, destinations = await queue.get()
            try:
                await lp.publish_data(payload, reliable=reliable, topic=topic, destination_identities=list(destinations))
            except Exception as exc:  # noqa: BLE001 - fire-and-forget, like the vendors
                logger.warning("data packet on topic %r not sent: %s", topic, exc)

    # --- subscriptions -----------------------------------------------------------------------

    def set_subscribed(self, track_sid: str, subscribed: bool) -> None:
        """By vendor SID, on LiveKit's current publication. An explicit unsubscribe is reported
        by us, at once: its place in the fact order is then fixed and its frame streams end
        now, whether or not livekit.rtc reports it later (1.2.1 does for a client-side
        unsubscription, after a renegotiation, but drops server-side ones); its own report is
        then dropped (see _on_track_unsubscribed)."""
        identity, t = self._reported_track(track_sid)
        if self._closing or self._ended:
            return
        rp = self._room.remote_participants.get(identity)
        pub = rp.track_publications.get(t.lk_sid) if rp is not None else None
        if pub is None:  # reported, but not bound to a LiveKit publication now (a reconnect)
            what = f"{'subscribing to' if subscribed else 'unsubscribing from'} track {track_sid}"
            logger.warning("%s failed: LiveKit has no publication %s of %s now", what, t.lk_sid, identity)
            raise F.CommandFailure(what, f"track {track_sid} is not available now")
        pub.set_subscribed(subscribed)
        if not subscribed and t.subscribed:
            self._loop.call_soon(self._unsubscribed_by_us, identity, track_sid)

    def _reported_track(self, track_sid: str) -> tuple[str, _Track]:
        for identity, r in self._reported.items():
            t = r.tracks.get(track_sid)
            if t is not None:
                return identity, t
        raise KeyError(track_sid)

    def _unsubscribed_by_us(self, identity: str, track_sid: str) -> None:
        if self._closing or self._ended or self._held:
            return
        self._flush()  # livekit.rtc's own report of it, if held in a burst, goes out first
        t = self._track(identity, track_sid)
        if t is None or not t.subscribed:
            return
        self._close_track(track_sid)
        self._emit(F.TrackUnsubscribed(identity, track_sid))

    # --- moderation (compat/core/moderation.py) -----------------------------------------------

    async def remove_participant(self, identity: str) -> None:
        await moderation.remove_participant(self._url, self._token, self._room.name, identity)

    async def mute_remote_track(self, identity: str, track_sid: str, muted: bool) -> None:
        t = self._track(identity, track_sid)
        lk_sid = t.lk_sid if t is not None else track_sid  # unknown: the server says not_found
        await moderation.mute_published_track(self._url, self._token, self._room.name, identity, lk_sid, muted)

    async def update_permissions(self, identity: str, permissions: F.Permissions) -> None:
        rp = self._room.remote_participants.get(identity)
        current = rp if rp is not None else self._room.local_participant if identity == self._room.local_participant.identity else None
        base = _protocol_permission(current.permissions) if current is not None else models.ParticipantPermission()
        await moderation.update_permissions(self._url, self._token, self._room.name, identity, permissions, base)

    # --- stats ------------------------------------------------------------------------------

    async def get_stats(self) -> list[F.ConnectionStats]:
        if not self._connected or self._ended or self._closing:
            return []
        task = self._loop.create_task(self._room.get_rtc_stats())
        done, _ = await asyncio.wait({task}, timeout=5.0)
        if not done:
            task.add_done_callback(lambda t: _log_late_failure(t, "get_rtc_stats"))
            raise TimeoutError("getStats timed out after 5s")
        stats = task.result()
        return [
            F.ConnectionStats("publisher", _rtp_streams(stats.publisher_stats)),
            F.ConnectionStats("subscriber", _rtp_streams(stats.subscriber_stats)),
        ]

    async def simulate_scenario(self, name: str) -> None:
        """Test hook: LiveKit's ``Room.simulate_scenario`` (e.g. ``"SIGNAL_RECONNECT"``)."""
        kind = getattr(rtc.SimulateScenarioKind, f"SIMULATE_{name}")
        await bounded_command(self._room.simulate_scenario(kind), 10.0, "simulate_scenario")

    # --- disconnect -------------------------------------------------------------------------

    def disconnect(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._detached = True
        self._flush_silently()
        self._start_teardown()

    def _flush_silently(self) -> None:
        self._cancel_grace()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending_kind = None
        self._pending = []

    def _start_teardown(self) -> None:
        if self._teardown is None or self._teardown.cancelled():
            self._teardown = self._loop.create_task(self._do_teardown())
            self._teardown.add_done_callback(self._torn_down)

    def _torn_down(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            _live.discard(self)
            self._unregister()

    def _unregister(self) -> None:
        """Our handlers off the ended rtc.Room: each holds this session, which holds the room (a
        reference cycle that would leave both, and everything they hold, to the cyclic collector)."""
        for event, handler in self._rtc_handlers:
            self._room.off(event, handler)
        self._rtc_handlers.clear()
        self._listener = None  # the vendor model's fact handler: the model holds this session

    def _close_for_exit(self) -> None:
        """Close at loop shutdown; restarts a teardown that the shutdown cancelled."""
        self._closing = True
        self._detached = True
        self._flush_silently()
        self._start_teardown()

    async def _do_teardown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for probe in list(self._probes.values()):
            probe.cancel()
        for sid in list(self._remote_tracks):
            self._close_track(sid)
        for stream in list(self._streams):
            self._close_stream(stream)
        if self._connected:
            await self._finish_record()
            await bounded(self._room.disconnect(), 10.0, "room.disconnect")
        if self._sender is not None:
            self._sender.cancel()
        for key in list(self._local):
            self._release_local(key)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10.0)

    async def _finish_record(self) -> None:
        """Close the quality record with the last stats (TURN relay, audio MOS) while the peer
        connections still exist."""
        if not self._record.active:
            return
        self._record.finish(await bounded(self._room.get_rtc_stats(), 3.0, "get_rtc_stats for the quality record"))

    async def wait_closed(self, timeout: float = 10.0) -> None:
        if self._teardown is None:
            return
        await asyncio.wait({self._teardown}, timeout=timeout)


def _protocol_permission(perm: Any) -> models.ParticipantPermission:
    """livekit.rtc's ParticipantPermission (the FFI's proto) -> livekit.protocol's, field by field:
    the two protos do not share field numbers."""
    return models.ParticipantPermission(
        can_subscribe=perm.can_subscribe,
        can_publish=perm.can_publish,
        can_publish_data=perm.can_publish_data,
        can_publish_sources=list(perm.can_publish_sources),  # same TrackSource numbering
        hidden=perm.hidden,
        can_update_metadata=perm.can_update_metadata,
        can_subscribe_metrics=perm.can_subscribe_metrics,
    )


def _rtp_streams(stats: Any) -> tuple[F.RtpStats, ...]:
    """The RTP streams of one peer connection's report; an outbound stream gets the round-trip
    time its receiver measured (RTCP receiver reports, the remote-inbound-rtp stat)."""
    rtt = {
        s.remote_inbound_rtp.stream.ssrc: s.remote_inbound_rtp.remote_inbound.round_trip_time
        for s in stats
        if s.WhichOneof("stats") == "remote_inbound_rtp" and s.remote_inbound_rtp.remote_inbound.round_trip_time_measurements
    }
    kinds = {"outbound_rtp": lambda s: _outbound(s, rtt), "inbound_rtp": _inbound}
    return tuple(kinds[s.WhichOneof("stats")](s) for s in stats if s.WhichOneof("stats") in kinds)


def _outbound(s: Any, rtt: dict[int, float]) -> F.RtpStats:
    o = s.outbound_rtp
    return F.RtpStats(
        direction="outbound", kind=o.stream.kind, ssrc=o.stream.ssrc, track_sid=None,
        timestamp_ms=o.rtc.timestamp or time.time() * 1000, codec=o.stream.codec_id or None,
        bytes=o.sent.bytes_sent, packets=o.sent.packets_sent,
        frame_width=o.outbound.frame_width or None, frame_height=o.outbound.frame_height or None,
        frames_per_second=o.outbound.frames_per_second or None, round_trip_time_s=rtt.get(o.stream.ssrc),
    )


def _inbound(s: Any) -> F.RtpStats:
    i = s.inbound_rtp
    return F.RtpStats(
        direction="inbound", kind=i.stream.kind, ssrc=i.stream.ssrc, track_sid=i.inbound.track_identifier or None,
        timestamp_ms=i.rtc.timestamp or time.time() * 1000, codec=i.stream.codec_id or None,
        bytes=i.inbound.bytes_received, packets=i.received.packets_received, packets_lost=i.received.packets_lost,
        jitter_s=i.received.jitter, frame_width=i.inbound.frame_width or None,
        frame_height=i.inbound.frame_height or None, frames_per_second=i.inbound.frames_per_second or None,
    )


_SINGLE_ATTEMPT_HOOK: Any = None
_HOOK_CHECKED = False


# --- clean exit ---------------------------------------------------------------------------
# Live sessions and, per event loop, a started async generator whose ``finally`` runs in
# the loop's shutdown_asyncgens() (asyncio.run does that after cancelling the remaining
# tasks): there the loop's sessions are closed, rooms disconnected and streams/sources
# closed while the loop can still run them.

_live: set[RtcSession] = set()
_guards: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}
_hook_lock = threading.Lock()
_hook_registered = False


def _track(session: RtcSession) -> None:
    _live.add(session)
    loop = session._loop
    if loop in _guards or not _running_here(loop):
        return
    guard = _loop_guard(loop)
    try:
        guard.asend(None).send(None)  # runs to the yield; the loop's firstiter hook tracks it
    except StopIteration:
        pass
    _guards[loop] = guard


async def _loop_guard(loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        _guards.pop(loop, None)
        if _running_here(loop):  # not when closed synchronously by shutdown()
            await close_sessions(loop)


def _running_here(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def close_sessions(loop: asyncio.AbstractEventLoop | None = None, timeout: float = EXIT_TIMEOUT) -> None:
    """Close every session of ``loop`` (default: the running one) and wait, bounded,
    until their rooms, streams and sources are closed."""
    loop = loop or asyncio.get_running_loop()
    sessions = [s for s in _live if s._loop is loop]
    for session in sessions:
        session._close_for_exit()
    if sessions:
        logger.debug("closing %d LiveKit session(s) as their event loop shuts down", len(sessions))
        await asyncio.wait([loop.create_task(s.wait_closed(timeout)) for s in sessions], timeout=timeout)


def _ensure_exit_hook() -> None:
    """Register :func:`shutdown` with atexit once the FFI exists: atexit runs hooks in
    reverse order, so ours then runs before livekit's own dispose hook."""
    global _hook_registered
    with _hook_lock:
        if _hook_registered or not ffi_started():
            return
        _hook_registered = True
    atexit.register(shutdown)


def shutdown(timeout: float = EXIT_TIMEOUT) -> None:
    """Close what is still open, then dispose livekit's FFI (see
    livekit_internals.dispose_ffi). Runs at interpreter exit; call it yourself only when
    the process will use no LiveKit room any more. Idempotent."""
    for loop, guard in list(_guards.items()):
        if loop.is_running() and not _running_here(loop):  # a loop still running in another thread
            future = asyncio.run_coroutine_threadsafe(close_sessions(loop, timeout), loop)
            try:
                future.result(timeout + 1.0)
            except Exception as exc:  # noqa: BLE001 - exit must go on
                logger.warning("closing LiveKit sessions at exit failed: %r", exc)
        _close_guard(guard)
    dispose_ffi()


def _close_guard(guard: AsyncGenerator[None, None]) -> None:
    """Finish a guard whose loop is gone, so it is not finalised later on a closed loop."""
    try:
        guard.aclose().send(None)
    except (StopIteration, RuntimeError):
        pass


async def open_session(
    url: str,
    token: str,
    *,
    auto_subscribe: bool = True,
    connect_timeout: float = 10.0,
    overall_timeout: float = 45.0,
    record: SetupRecord | None = None,
    dynacast: bool = False,
) -> RtcSession:
    """Connect a new RtcSession. Raises :class:`ConnectFailure` (``timed_out`` when the join
    did not finish within ``overall_timeout`` seconds).

    ``overall_timeout`` is the deadline of the whole join; ``connect_timeout`` bounds each
    signal-connection attempt (``RoomOptions.connect_timeout``), cut so that every attempt
    times out ``DIAL_MARGIN`` seconds before the deadline. Up to ``JOIN_ATTEMPTS`` native
    attempts of one try each are made while time is left; an HTTP 4xx is not retried.
    After the deadline nothing new is dialled: the attempt in flight, which the FFI cannot
    stop, ends by itself (against an unreachable host: at most the SDK's 3 s validation
    request later) and is disconnected if it still succeeds. ``record`` (compat.core.quality)
    is marked connected here and kept by the session (reconnects, stats at teardown); a failed
    setup is the caller's to mark, with its vendor's code. ``dynacast``: the published video's
    layers nobody watches are turned off when the server says so (``RoomOptions.dynacast``)."""
    global _SINGLE_ATTEMPT_HOOK, _HOOK_CHECKED
    if not _HOOK_CHECKED:
        _HOOK_CHECKED = True
        _SINGLE_ATTEMPT_HOOK = single_attempt_client()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + overall_timeout
    session = RtcSession(loop=loop)
    options = rtc.RoomOptions(auto_subscribe=auto_subscribe, connect_timeout=connect_timeout, dynacast=dynacast)
    task = loop.create_task(session._connect(url, token, options, deadline))
    try:
        done, _ = await asyncio.wait({task}, timeout=overall_timeout)
    except asyncio.CancelledError:
        session._gave_up = True
        task.add_done_callback(session._abandon)
        raise
    if not done:
        session._gave_up = True
        task.add_done_callback(session._abandon)
        raise F.ConnectFailure(f"connect timed out after {overall_timeout}s", timed_out=True)
    task.result()
    if record is not None:
        record.connected()
        session._record = record
    return session

__all__ = [
    "BURST_WINDOW",
    "DIAL_MARGIN",
    "EXIT_TIMEOUT",
    "JOIN_ATTEMPTS",
    "MIN_ATTEMPT",
    "PUBLISH_TIMEOUT",
    "SIGNAL_TIMEOUT",
    "RtcSession",
    "close_sessions",
    "connect_failure",
    "disconnect_cause",
    "open_session",
    "participant_info",
    "shutdown",
    "track_info",
]
