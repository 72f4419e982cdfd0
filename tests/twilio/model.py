"""A reference model of twilio-video.js event order (reference section 3.6), and a recorder
that turns the real objects' events into the same comparable form.

Events are ``(emitter, name, args)`` where emitter is ``"room"``, ``"lp"`` or
``"p:<participant sid>"`` and args are keys: ``("P", sid)`` for a RemoteParticipant,
``("pub", sid)`` for a publication, ``("track", sid)`` for a track, ``"room"``, ``"lp"``,
``None``, an error code, or a plain str/bytes payload.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

from compat import twilio_video as Video

Event = tuple[str, str, tuple[Any, ...]]

MODEL_ROOM_EVENTS: tuple[Video.RoomEvent, ...] = (
    "participantConnected",
    "participantDisconnected",
    "trackPublished",
    "trackUnpublished",
    "trackSubscribed",
    "trackUnsubscribed",
    "trackEnabled",
    "trackDisabled",
    "trackMessage",
    "trackStarted",
    "trackDimensionsChanged",
    "dominantSpeakerChanged",
    "reconnecting",
    "reconnected",
    "disconnected",
)
MODEL_PARTICIPANT_EVENTS: tuple[Video.RemoteParticipantEvent, ...] = (
    "trackPublished",
    "trackUnpublished",
    "trackSubscribed",
    "trackUnsubscribed",
    "trackEnabled",
    "trackDisabled",
    "trackMessage",
    "trackStarted",
    "trackDimensionsChanged",
    "disconnected",
    "networkQualityLevelChanged",
)
MODEL_LP_EVENTS: tuple[Video.LocalParticipantEvent, ...] = ("disconnected", "reconnecting", "reconnected", "networkQualityLevelChanged")
LEVELS = {"excellent": 5, "good": 3, "poor": 1, "lost": 0}


def data_sid(participant_sid: str, topic: str) -> str:
    return "TR_data_" + hashlib.sha1(f"{participant_sid}\0{topic}".encode()).hexdigest()[:20]


@attrs.define
class MPub:
    sid: str
    name: str
    kind: str
    enabled: bool = True
    subscribed: bool = False
    started: bool = False


@attrs.define
class MParticipant:
    sid: str
    identity: str
    initial: bool
    pubs: dict[str, MPub] = attrs.Factory(dict)
    connected: bool = True


class Model:
    """What the application must see, action by action."""

    def __init__(self, *, dominant_speaker: bool = True, auto_subscribe: bool = True) -> None:
        self.participants: dict[str, MParticipant] = {}  # by sid, in room.participants order
        self.left: list[MParticipant] = []
        self.events: list[Event] = []
        self.deferred: list[Event] = []
        self.dominant_speaker = dominant_speaker
        self.auto_subscribe = auto_subscribe
        self.speaker: str | None = None
        self.dominant: str | None = None
        self.state = "connected"
        self.local_identity = "me"
        self.levels: dict[str, int] = {}  # emitter label -> last level
        self.network_quality_remote = 1

    # helpers
    def by_identity(self, identity: str) -> MParticipant | None:
        for p in self.participants.values():
            if p.identity == identity:
                return p
        return None

    def _both(self, p: MParticipant, name: str, *args: Any) -> None:
        room_ev: Event = ("room", name, (*args, ("P", p.sid)))
        p_ev: Event = (f"p:{p.sid}", name, args)
        # Initial participants: the Room's re-emitters were attached before the app's
        # listeners; joined ones: the app attached inside participantConnected, first.
        self.events.extend([room_ev, p_ev] if p.initial else [p_ev, room_ev])

    # actions
    def initial(self, sid: str, identity: str, tracks: list[tuple[str, str, str, bool]]) -> None:
        p = MParticipant(sid, identity, True)
        for tsid, name, kind, muted in tracks:
            p.pubs[tsid] = MPub(tsid, name, kind, enabled=not muted)
        self.participants[sid] = p

    def join(self, sid: str, identity: str, tracks: list[tuple[str, str, str, bool]]) -> None:
        p = MParticipant(sid, identity, False)
        for tsid, name, kind, muted in tracks:
            p.pubs[tsid] = MPub(tsid, name, kind, enabled=not muted)
        self.participants[sid] = p
        self.events.append(("room", "participantConnected", (("P", sid),)))

    def publish(self, identity: str, tsid: str, name: str, kind: str, muted: bool = False) -> None:
        p = self.by_identity(identity)
        assert p is not None
        p.pubs[tsid] = MPub(tsid, name, kind, enabled=not muted)
        self._both(p, "trackPublished", ("pub", tsid))

    def subscribe(self, identity: str, tsid: str) -> None:
        p = self.by_identity(identity)
        assert p is not None
        pub = p.pubs[tsid]
        if pub.subscribed:
            return
        pub.subscribed = True
        self._both(p, "trackSubscribed", ("track", tsid), ("pub", tsid))

    def unsubscribe(self, identity: str, tsid: str) -> None:
        p = self.by_identity(identity)
        assert p is not None
        pub = p.pubs[tsid]
        if not pub.subscribed:
            return
        pub.subscribed = False
        pub.started = False
        self._both(p, "trackUnsubscribed", ("track", tsid), ("pub", tsid))

    def unpublish(self, identity: str, tsid: str) -> None:
        p = self.by_identity(identity)
        assert p is not None
        self.unsubscribe(identity, tsid)
        del p.pubs[tsid]
        self._both(p, "trackUnpublished", ("pub", tsid))

    def set_enabled(self, identity: str, tsid: str, enabled: bool) -> None:
        p = self.by_identity(identity)
        assert p is not None
        pub = p.pubs[tsid]
        if pub.enabled == enabled:
            return
        pub.enabled = enabled
        self._both(p, "trackEnabled" if enabled else "trackDisabled", ("pub", tsid))

    def started(self, identity: str, tsid: str) -> None:
        p = self.by_identity(identity)
        assert p is not None
        pub = p.pubs[tsid]
        if not pub.subscribed or pub.started:
            return
        pub.started = True
        if pub.kind == "video":
            self._both(p, "trackDimensionsChanged", ("track", tsid))
        self._both(p, "trackStarted", ("track", tsid))

    def data(self, identity: str, topic: str, payload: bytes) -> None:
        p = self.by_identity(identity)
        assert p is not None
        tsid = data_sid(p.sid, topic)
        if tsid not in p.pubs:
            self.publish(identity, tsid, topic, "data")
            if self.auto_subscribe:
                self.subscribe(identity, tsid)
        if p.pubs[tsid].subscribed:
            try:
                value: Any = payload.decode("utf-8")
            except UnicodeDecodeError:
                value = payload
            self._both(p, "trackMessage", value, ("track", tsid))

    def leave(self, identity: str) -> None:
        p = self.by_identity(identity)
        assert p is not None
        p.connected = False
        for tsid, pub in p.pubs.items():
            if pub.subscribed:
                pub.subscribed = False
                self._both(p, "trackUnsubscribed", ("track", tsid), ("pub", tsid))
        # One emit of the participant's "disconnected": the Room's listener (lib/room.js
        # connectParticipant) was attached before the app's for an initial participant, after
        # the app's (attached inside participantConnected) for one that joined.
        own: list[Event] = [(f"p:{p.sid}", "disconnected", (("P", p.sid),))]
        room: list[Event] = [("room", "participantDisconnected", (("P", p.sid),))]
        del self.participants[p.sid]
        self.left.append(p)
        if self.dominant == p.sid:
            self.dominant = None
            self.speaker = None
            room.append(("room", "dominantSpeakerChanged", (None,)))
        self.events.extend(room + own if p.initial else own + room)

    def speakers(self, identities: list[str]) -> None:
        if not self.dominant_speaker:
            return
        loudest = identities[0] if identities else None
        if loudest == self.speaker:
            return
        self.speaker = loudest
        p = self.by_identity(loudest) if loudest is not None else None
        self.dominant = p.sid if p is not None else None
        self.events.append(("room", "dominantSpeakerChanged", (("P", p.sid) if p is not None else None,)))

    def quality(self, identity: str, quality: str) -> None:
        """networkQuality {local: 1, remote: self.network_quality_remote}: level changes only."""
        if identity == self.local_identity:
            label = "lp"
        else:
            p = self.by_identity(identity)
            if p is None or self.network_quality_remote < 1:
                return
            label = f"p:{p.sid}"
        level = LEVELS[quality]
        if self.levels.get(label) == level:
            return
        self.levels[label] = level
        self.events.append((label, "networkQualityLevelChanged", (level, None)))

    def reconnecting(self) -> None:
        if self.state != "connected":
            return
        self.state = "reconnecting"
        self.events.append(("lp", "reconnecting", ("lp",)))
        self.deferred.append(("room", "reconnecting", (53001,)))

    def reconnected(self) -> None:
        if self.state != "reconnecting":
            return
        self.state = "connected"
        self.deferred.append(("room", "reconnected", ()))
        self.deferred.append(("lp", "reconnected", ()))

    def disconnect(self, error: int | None = None) -> None:
        self.state = "disconnected"
        self.events.append(("lp", "disconnected", ("lp",)))
        for p in self.participants.values():
            for tsid, pub in p.pubs.items():
                if pub.subscribed:
                    pub.subscribed = False
                    self._both(p, "trackUnsubscribed", ("track", tsid), ("pub", tsid))
        self.events.append(("room", "disconnected", ("room", error)))


class Recorder:
    """Listens like an application would and records events as model keys, checking that a
    key always denotes the same object (argument identities)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.identity_errors: list[str] = []
        self._objects: dict[Any, Any] = {}
        self._subs: dict[str, list[Any]] = {}  # track objects (kept alive: ids are not reused)
        self.participants: dict[str, Video.RemoteParticipant] = {}

    def attach_room(self, room: Video.Room) -> None:
        self.room = room
        for name in MODEL_ROOM_EVENTS:
            room.on(name, self._rec("room", name))
        for lp_event in MODEL_LP_EVENTS:
            room.localParticipant.on(lp_event, self._rec("lp", lp_event))
        room.on("participantConnected", self.attach_participant)

    def attach_participant(self, p: Video.RemoteParticipant) -> None:
        self.participants[p.sid] = p
        for name in MODEL_PARTICIPANT_EVENTS:
            p.on(name, self._rec(f"p:{p.sid}", name))

    def _rec(self, label: str, name: str) -> Any:
        def record(*args: Any) -> None:
            for a in args:
                if isinstance(a, (Video.RemoteAudioTrack, Video.RemoteVideoTrack, Video.RemoteDataTrack)):
                    self._check_track(name, a)
            self.events.append((label, name, tuple(self.key(a) for a in args)))

        return record

    def key(self, obj: Any) -> Any:
        if obj is None or isinstance(obj, (str, bytes, int)):
            return obj
        if isinstance(obj, Video.TwilioError):
            return obj.code
        if isinstance(obj, Video.Room):
            return "room"
        if isinstance(obj, Video.LocalParticipant):
            return "lp"
        if isinstance(obj, Video.RemoteParticipant):
            k: Any = ("P", obj.sid)
        elif isinstance(obj, Video.RemoteTrackPublication):
            k = ("pub", obj.trackSid)
        elif isinstance(obj, (Video.RemoteAudioTrack, Video.RemoteVideoTrack, Video.RemoteDataTrack)):
            k = ("track", obj.sid)
        else:
            return repr(obj)
        if k[0] == "track":
            return k  # a new track object per subscription: checked by _check_track
        seen = self._objects.setdefault(k, obj)
        if seen is not obj:
            self.identity_errors.append(f"{k} denotes two different objects")
        return k

    def _check_track(self, name: str, track: Any) -> None:
        """Room- and participant-level events of one subscription carry the same track
        object; each subscription has a new one; later events carry the current one."""
        subs = self._subs.setdefault(track.sid, [])
        if name == "trackSubscribed":
            if len(subs) % 2 == 1 and subs[-1] is not track:
                self.identity_errors.append(f"trackSubscribed of {track.sid}: room and participant got different tracks")
            if len(subs) % 2 == 0 and subs and subs[-1] is track:
                self.identity_errors.append(f"track object of {track.sid} reused for a new subscription")
            subs.append(track)
        elif not subs or subs[-1] is not track:
            self.identity_errors.append(f"{name}: track {track.sid} is not the subscribed track object")
