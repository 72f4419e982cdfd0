"""Room: the connected room, built by :func:`compat.twilio_video.connect`.

Properties: ``sid``, ``name``, ``state`` (``'connected'``, ``'reconnecting'``,
``'disconnected'``), ``localParticipant``, ``participants`` (RemoteParticipants by SID),
``dominantSpeaker``, ``isRecording``, ``mediaRegion``. Methods: ``disconnect()``,
``getStats()``, ``refreshInactiveMedia()``.

Event order follows twilio-video.js (reference section 3.6): see the module
``compat.twilio_video`` docstring and docs/parity.md.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast, get_args

from compat import core as C
from compat.core.roster import Roster
from compat.core.topics import is_reserved

from .datatracks import data_track_sid, decode
from .errormapping import disconnect_error, reconnecting_error, subscription_error
from .eventemitter import EventEmitter
from .localparticipant import LocalParticipant
from .networkquality import LEVELS
from .options import ConnectOptions
from .remoteparticipant import RemoteParticipant, RemoteParticipantEvent, RemoteParticipantTrackEvent
from .remotetrackpublication import RemoteTrackPublication
from .stats import StatsReport, build_reports
from .util import JSMap, valueToJSON

logger = logging.getLogger(__name__)
_counter = itertools.count(1)

RoomState = Literal["connected", "reconnecting", "disconnected"]

RoomEvent = Literal[
    RemoteParticipantTrackEvent,  # re-emitted with the participant appended
    "disconnected",
    "dominantSpeakerChanged",
    "participantConnected",
    "participantDisconnected",
    "participantReconnected",
    "participantReconnecting",
    "reconnected",
    "reconnecting",
    "recordingStarted",
    "recordingStopped",
]

# RemoteParticipant events the Room re-emits with the participant appended.
REEMITTED: tuple[RemoteParticipantTrackEvent, ...] = get_args(RemoteParticipantTrackEvent)


class Room(EventEmitter[RoomEvent]):
    # The enumerable own properties of lib/room.js: its toJSON.
    _JSON_PROPERTIES = (
        *("dominantSpeaker", "isRecording", "localParticipant", "name", "participants", "sid", "state", "mediaRegion"),
    )

    def __init__(self, session: C.Session, options: ConnectOptions) -> None:
        super().__init__()
        snap = session.snapshot
        self._session = session
        self._options = options
        self._instance = next(_counter)
        self.sid = snap.room_sid
        self.name = snap.room_name
        self.mediaRegion: str | None = None
        self.state: RoomState = "connected"
        self.isRecording = snap.is_recording
        self.localParticipant = LocalParticipant(snap.local.sid, snap.local.identity, session, options)
        self.localParticipant._room = self
        self._roster: Roster[RemoteParticipant, RemoteTrackPublication] = Roster(
            sid=lambda p: p.sid, identity=lambda p: p.identity, gone=lambda p: p.state == "disconnected",
            tracks=lambda p: p.tracks, by_sid=JSMap(),
        )
        self.participants = cast("JSMap[str, RemoteParticipant]", self._roster.by_sid)  # the same map
        self._reemitters: dict[int, list[tuple[RemoteParticipantEvent, Callable[..., Any]]]] = {}
        self._speaker: str | None = None
        self._dominant: RemoteParticipant | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        for state in snap.participants:
            p = self._make_participant(state.info)
            for t in state.tracks:
                p._add_publication(t, emit=False)
            self._data_tracks(p, state.info.attributes, emit=False, subscribe=False)
            self._attach(p)

    # --- properties --------------------------------------------------------------------

    @property
    def dominantSpeaker(self) -> RemoteParticipant | None:
        return self._dominant

    def toString(self) -> str:
        return f"[Room #{self._instance}: {self.sid}]"

    def toJSON(self) -> dict[str, Any]:
        """``lib/room.js`` ``toJSON``: ``valueToJSON(this)`` (util.py)."""
        return cast("dict[str, Any]", valueToJSON(self))

    def __repr__(self) -> str:
        return self.toString()

    # --- methods -----------------------------------------------------------------------

    def disconnect(self) -> Room:
        """Leave the room. Synchronously emits LocalParticipant ``disconnected``, then
        ``trackUnsubscribed`` for every subscribed remote track, then Room
        ``disconnected(room, None)``; remote participants stay ``connected``. Idempotent.
        LiveKit teardown continues in the background: ``await room.wait_closed()`` (an
        addition) to wait until every stream and source is closed."""
        if self.state == "disconnected":
            return self
        self._session.disconnect()
        self._disconnect(None)
        return self

    async def wait_closed(self, timeout: float = 10.0) -> None:
        """Addition: wait (bounded) until the LiveKit connection and all media are closed."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self._session.wait_closed(timeout)

    async def getStats(self) -> list[StatsReport]:
        """One StatsReport per peer connection (LiveKit: publisher and subscriber)."""
        if self.state == "disconnected":
            return []
        return build_reports(await self._session.get_stats(), self)

    def refreshInactiveMedia(self) -> Room:
        """Browser/mobile workaround in the original; nothing to do here."""
        return self

    # --- internals ---------------------------------------------------------------------

    def _spawn(self, aw: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("background operation failed: %r", task.exception())

    def _make_participant(self, info: C.ParticipantInfo) -> RemoteParticipant:
        p = RemoteParticipant(info.sid, info.identity, self._session)
        self._roster.add(p)
        return p

    def _attach(self, p: RemoteParticipant) -> None:
        """Room re-emitters on a participant, and its ``disconnected`` listener that removes it
        and emits ``participantDisconnected``, registered as twilio-video.js
        ``connectParticipant`` (lib/room.js) does: after ``participantConnected``. So a
        participant present at connect gives Room ``participantDisconnected`` before the
        application's own ``disconnected`` listeners run, and one that joined later gives it
        after the listeners the application attached in ``participantConnected``."""
        handlers: list[tuple[RemoteParticipantEvent, Callable[..., Any]]] = []
        for name in REEMITTED:
            handlers.append((name, self._reemitter(name, p)))
        handlers.append(("reconnecting", lambda _p: self.emit("participantReconnecting", p, p)))
        handlers.append(("reconnected", lambda: self.emit("participantReconnected", p)))
        for event, handler in handlers:
            p.on(event, handler)
        remover = lambda _p: self._remove_participant(p)  # noqa: E731 - kept to be removed at our disconnect
        p.once("disconnected", remover)
        self._reemitters[id(p)] = [*handlers, ("disconnected", remover)]

    def _remove_participant(self, p: RemoteParticipant) -> None:
        """lib/room.js ``connectParticipant``'s ``participantDisconnected`` listener."""
        if self.participants.get(p.sid) is not p:
            return
        self._roster.remove(p)
        self._detach(p)
        self.emit("participantDisconnected", p)
        if self._dominant is p:
            self._dominant = None
            self._speaker = None
            self.emit("dominantSpeakerChanged", None)

    def _reemitter(self, name: RemoteParticipantTrackEvent, p: RemoteParticipant) -> Callable[..., None]:
        def reemit(*args: Any) -> None:
            self.emit(name, *args, p)

        return reemit

    def _detach(self, p: RemoteParticipant) -> None:
        for name, handler in self._reemitters.pop(id(p), []):
            p.off(name, handler)

    def _start(self) -> None:
        for p in list(self.participants.values()):  # announced data tracks present at connect
            self._subscribe_data(p)
        self._session.start(self._on_fact)

    def _on_fact(self, fact: C.Fact) -> None:
        if self.state == "disconnected":
            return
        handler = _HANDLERS.get(type(fact))
        if handler is not None:
            handler(self, fact)

    # --- fact handlers -----------------------------------------------------------------

    def _participant_joined(self, fact: C.ParticipantJoined) -> None:
        """Tracks the participant had when it joined are in ``participant.tracks`` at
        ``participantConnected``, without ``trackPublished`` (twilio-video.js emits it from the
        RemoteParticipant constructor, lib/remoteparticipant.js ``_addTrackPublication``,
        before anyone listens); tracks LiveKit reported as published after the join
        (``fact.published``) follow with ``trackPublished``, as later publications do."""
        old = self._roster.replaces(fact.participant.identity)
        if old is not None:
            self._participant_left(C.ParticipantLeft(old.identity))
        p = self._make_participant(fact.participant)
        later = set(fact.published)
        for t in fact.tracks:
            if t.sid not in later:
                p._add_publication(t, emit=False)
        self._data_tracks(p, fact.participant.attributes, emit=False, subscribe=False)
        self.emit("participantConnected", p)
        self._attach(p)
        self._subscribe_data(p)
        infos = {t.sid: t for t in fact.tracks}
        for sid in fact.published:
            if sid in infos and sid not in p.tracks and p.state != "disconnected":
                p._add_publication(infos[sid], emit=True)

    def _participant_left(self, fact: C.ParticipantLeft) -> None:
        p = self._roster.get(fact.identity)
        if p is None:
            return
        p._disconnect()  # its disconnected listeners include the Room's (_remove_participant)
        if self.participants.get(p.sid) is p:  # the application removed the Room's listener
            self._roster.remove(p)
            self._detach(p)

    def _participant_reconnecting(self, fact: C.ParticipantReconnecting) -> None:
        p = self._roster.get(fact.identity)
        if p is not None:
            p._reconnecting()

    def _participant_reconnected(self, fact: C.ParticipantReconnected) -> None:
        p = self._roster.get(fact.identity)
        if p is not None:
            p._reconnected()

    def _pub(self, identity: str, sid: str) -> tuple[RemoteParticipant, RemoteTrackPublication] | None:
        return self._roster.pub(identity, sid)

    def _track_published(self, fact: C.TrackPublished) -> None:
        p = self._roster.get(fact.identity)
        if p is None or fact.track.sid in p.tracks:
            return
        p._add_publication(fact.track, emit=True)

    def _track_unpublished(self, fact: C.TrackUnpublished) -> None:
        p = self._roster.get(fact.identity)
        if p is not None:
            p._remove_publication(fact.track_sid)

    def _track_subscribed(self, fact: C.TrackSubscribed) -> None:
        found = self._pub(fact.identity, fact.track_sid)
        if found is not None:
            found[0]._subscribe(found[1])

    def _track_unsubscribed(self, fact: C.TrackUnsubscribed) -> None:
        found = self._pub(fact.identity, fact.track_sid)
        if found is not None:
            found[0]._unsubscribe(found[1])

    def _track_subscription_failed(self, fact: C.TrackSubscriptionFailed) -> None:
        found = self._pub(fact.identity, fact.track_sid)
        if found is not None:
            found[1]._fail(subscription_error(fact.message))

    def _track_muted(self, fact: C.TrackMuted | C.TrackUnmuted) -> None:
        found = self._pub(fact.identity, fact.track_sid)
        if found is not None:
            found[1]._set_enabled(isinstance(fact, C.TrackUnmuted))

    def _track_started(self, fact: C.TrackStarted) -> None:
        found = self._pub(fact.identity, fact.track_sid)
        if found is not None and found[1].track is not None:
            found[1].track._start(fact.width, fact.height)

    def _data_received(self, fact: C.DataReceived) -> None:
        if is_reserved(fact.topic):
            return  # another vendor model's own traffic (compat/core/topics.py), never a data track
        if fact.identity is None:
            logger.debug("data packet from the server API (no participant) ignored")
            return
        p = self._roster.get(fact.identity)
        if p is None:
            return
        if fact.topic in p._withdrawn:
            logger.debug("message on unpublished data track %r of %s dropped", fact.topic, p.identity)
            return
        pub = self._data_publication(p, fact.topic, fact.reliable, emit=True, subscribe=True)
        track = pub.track
        if track is not None:
            track._message(fact.data)

    # --- data tracks (datatracks.py) ---------------------------------------------------

    def _attributes_changed(self, fact: C.AttributesChanged) -> None:
        p = self._roster.get(fact.identity)
        if p is not None and not fact.is_local:
            self._data_tracks(p, fact.attributes, emit=True, subscribe=True)

    def _data_tracks(self, p: RemoteParticipant, attributes: tuple[tuple[str, str], ...], *, emit: bool, subscribe: bool) -> None:
        """Reconcile a compat participant's announced data tracks with its publications:
        an unannounced one is unpublished (``trackUnsubscribed``, ``trackUnpublished``), a
        newly announced one published (and subscribed with automaticSubscription)."""
        announced = decode(attributes)
        if announced is None and p._announced is None:
            return  # a plain LiveKit participant: data tracks come with their first message
        before, now = p._announced or {}, announced or {}
        p._announced = announced
        for name in [n for n in before if n not in now]:
            p._withdrawn.add(name)
            p._remove_publication(data_track_sid(p.sid, name))
        for name, reliable in now.items():
            p._withdrawn.discard(name)
            self._data_publication(p, name, reliable, emit=emit, subscribe=subscribe)

    def _data_publication(
        self, p: RemoteParticipant, name: str, reliable: bool, *, emit: bool, subscribe: bool
    ) -> RemoteTrackPublication:
        sid = data_track_sid(p.sid, name)
        pub = p.tracks.get(sid)
        if pub is None:
            pub = p._add_publication(C.TrackInfo(sid=sid, name=name, kind="data"), emit=emit)
            p._data_reliable[sid] = reliable
            if subscribe and self._options.automaticSubscription:
                p._subscribe(pub, reliable=reliable)
        return pub

    def _subscribe_data(self, p: RemoteParticipant) -> None:
        """Subscribe (automaticSubscription) the data tracks added silently before the
        application could listen (present at connect or at the participant's join)."""
        if not self._options.automaticSubscription:
            return
        for pub in list(p.dataTracks.values()):
            if pub.track is None:
                p._subscribe(pub, reliable=p._data_reliable.get(pub.trackSid, True))

    def _active_speakers(self, fact: C.ActiveSpeakersChanged) -> None:
        if not self._options.dominantSpeaker:
            return
        loudest = fact.identities[0] if fact.identities else None
        if loudest == self._speaker:
            return
        self._speaker = loudest
        p = self._roster.get(loudest)
        self._dominant = p
        self.emit("dominantSpeakerChanged", p)

    def _connection_quality(self, fact: C.ConnectionQualityChanged) -> None:
        nq = self.localParticipant._nq
        if nq is None:
            return
        level = LEVELS[fact.quality]
        if fact.is_local or fact.identity == self.localParticipant.identity:
            self.localParticipant._set_network_quality(level, nq.local)
            return
        if nq.remote < 1:
            return
        p = self._roster.get(fact.identity)
        if p is not None:
            p._set_network_quality(level, nq.remote)

    def _recording(self, fact: C.RecordingStarted | C.RecordingStopped) -> None:
        recording = isinstance(fact, C.RecordingStarted)
        if recording == self.isRecording:
            return
        self.isRecording = recording
        self.emit("recordingStarted" if recording else "recordingStopped")

    def _reconnecting(self, fact: C.Reconnecting) -> None:
        if self.state != "connected":
            return
        self.state = "reconnecting"
        self.localParticipant._set_state("reconnecting")
        self._defer("reconnecting", reconnecting_error())

    def _reconnected(self, fact: C.Reconnected) -> None:
        if self.state != "reconnecting":
            return
        self.state = "connected"
        self._defer("reconnected")
        lp = self.localParticipant
        lp._set_state("connected")
        lp._defer("reconnected")

    def _disconnected(self, fact: C.Disconnected) -> None:
        self._disconnect(disconnect_error(fact.reason, fact.was_reconnecting))
        self._spawn(self._session.wait_closed())

    def _disconnect(self, error: Any) -> None:
        self.state = "disconnected"
        lp = self.localParticipant
        lp._set_state("disconnected")
        for p in list(self.participants.values()):
            p._unsubscribe_all()
        self.emit("disconnected", self, error)
        lp._unpublish_all_silently()
        self._release()

    def _release(self) -> None:
        """After our own disconnect no participant event can come: remove the listeners the Room
        keeps on its participants and they keep on their publications. Each closes over both
        ends (a reference cycle), so without this the whole graph waits for Python's cyclic
        collector, which then runs inside some later call (measured: 10-19 ms inside the next
        connect at 16 participants). twilio-video.js removes a participant's re-emitters when it
        leaves (lib/room.js ``connectParticipant``); this does it for those still present."""
        for p in list(self.participants.values()):
            self._detach(p)
            p._release()


_HANDLERS: dict[type, Any] = {
    C.ParticipantJoined: Room._participant_joined,
    C.ParticipantLeft: Room._participant_left,
    C.ParticipantReconnecting: Room._participant_reconnecting,
    C.ParticipantReconnected: Room._participant_reconnected,
    C.TrackPublished: Room._track_published,
    C.TrackUnpublished: Room._track_unpublished,
    C.TrackSubscribed: Room._track_subscribed,
    C.TrackUnsubscribed: Room._track_unsubscribed,
    C.TrackSubscriptionFailed: Room._track_subscription_failed,
    C.TrackMuted: Room._track_muted,
    C.TrackUnmuted: Room._track_muted,
    C.TrackStarted: Room._track_started,
    C.DataReceived: Room._data_received,
    C.AttributesChanged: Room._attributes_changed,
    C.ActiveSpeakersChanged: Room._active_speakers,
    C.ConnectionQualityChanged: Room._connection_quality,
    C.RecordingStarted: Room._recording,
    C.RecordingStopped: Room._recording,
    C.Reconnecting: Room._reconnecting,
    C.Reconnected: Room._reconnected,
    C.Disconnected: Room._disconnected,
}

__all__ = ["REEMITTED", "Room", "RoomEvent", "RoomState", "data_track_sid"]
