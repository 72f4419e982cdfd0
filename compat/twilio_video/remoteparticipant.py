"""RemoteParticipant: another participant in the room (no public methods).

Events: ``trackPublished(pub)``, ``trackUnpublished(pub)``, ``trackSubscribed(track, pub)``,
``trackUnsubscribed(track, pub)``, ``trackSubscriptionFailed(error, pub)``,
``trackEnabled(pub)``, ``trackDisabled(pub)``, ``trackStarted(track)``,
``trackDimensionsChanged(track)``, ``trackMessage(data, track)``,
``trackPublishPriorityChanged(priority, pub)``, ``trackSwitchedOff/On(track, pub)``,
``networkQualityLevelChanged(level, stats)``, ``reconnecting(p)``, ``reconnected()`` (its own
full reconnect, which the core holds: same object, publications and tracks), ``disconnected(p)``.
A participant that leaves keeps its publications in ``tracks``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from .participant import Participant
from .remoteaudiotrack import RemoteAudioTrack
from .remotedatatrack import RemoteDataTrack
from .remotetrackpublication import (
    RemoteAudioTrackPublication,
    RemoteDataTrackPublication,
    RemoteTrackPublication,
    RemoteVideoTrackPublication,
)
from .remotevideotrack import RemoteVideoTrack

if TYPE_CHECKING:
    from compat.core import Session, TrackInfo

RemoteParticipantTrackEvent = Literal[
    "trackDimensionsChanged",
    "trackDisabled",
    "trackEnabled",
    "trackMessage",
    "trackPublished",
    "trackPublishPriorityChanged",  # wired, never fired (no LiveKit signal)
    "trackStarted",
    "trackSubscribed",
    "trackSubscriptionFailed",
    "trackSwitchedOff",  # wired, never fired
    "trackSwitchedOn",  # wired, never fired
    "trackUnpublished",
    "trackUnsubscribed",
]
"""The track events of a RemoteParticipant; the Room re-emits each with the participant appended."""

RemoteParticipantEvent = Literal[
    RemoteParticipantTrackEvent,
    "disconnected",
    "networkQualityLevelChanged",
    "reconnected",
    "reconnecting",
]

_PUB_CLASSES: dict[str, type[RemoteTrackPublication]] = {
    "audio": RemoteAudioTrackPublication,
    "video": RemoteVideoTrackPublication,
    "data": RemoteDataTrackPublication,
}


class RemoteParticipant(Participant[RemoteParticipantEvent, RemoteTrackPublication]):
    def __init__(self, sid: str, identity: str, session: Session) -> None:
        super().__init__(sid, identity, "connected")
        self._session = session
        self._forwarders: dict[str, list[tuple[Any, Callable[..., Any]]]] = {}  # track SID -> our listeners on its publication
        # data tracks it announces (compat participants only, see datatracks.py): name ->
        # reliable, None when it announces none; names it unpublished; each data track's mode
        self._announced: dict[str, bool] | None = None
        self._withdrawn: set[str] = set()
        self._data_reliable: dict[str, bool] = {}

    # --- publications ------------------------------------------------------------------

    def _add_publication(self, info: TrackInfo, *, emit: bool) -> RemoteTrackPublication:
        pub = _PUB_CLASSES[info.kind](info.sid, info.name, info.kind, enabled=not info.muted)
        forwarders: list[tuple[Any, Callable[..., Any]]] = [
            ("trackEnabled", lambda: self.emit("trackEnabled", pub)),
            ("trackDisabled", lambda: self.emit("trackDisabled", pub)),
            ("subscriptionFailed", lambda error: self.emit("trackSubscriptionFailed", error, pub)),
            ("publishPriorityChanged", lambda priority: self.emit("trackPublishPriorityChanged", priority, pub)),
            ("trackSwitchedOff", lambda track: self.emit("trackSwitchedOff", track, pub)),
            ("trackSwitchedOn", lambda track: self.emit("trackSwitchedOn", track, pub)),
        ]
        for event, forward in forwarders:
            pub.on(event, forward)
        self._forwarders[pub.trackSid] = forwarders
        self._put_publication(pub)
        if emit:
            self.emit("trackPublished", pub)
        return pub

    def _release(self) -> None:
        """Remove the listeners this participant keeps on its publications (each closes over
        both: a reference cycle), once no event can come any more (our Room disconnected), so
        that reference counting frees them when the application lets go."""
        for sid, forwarders in self._forwarders.items():
            pub = self.tracks.get(sid)
            if pub is not None:
                for event, forward in forwarders:
                    pub.off(event, forward)
        self._forwarders.clear()

    def _remove_publication(self, sid: str) -> None:
        pub = self.tracks.get(sid)
        if pub is None:
            return
        if pub.track is not None:
            self._unsubscribe(pub)
        self._drop_publication(sid)
        self._forwarders.pop(sid, None)
        self.emit("trackUnpublished", pub)

    # --- subscriptions -----------------------------------------------------------------

    def _subscribe(self, pub: RemoteTrackPublication, *, reliable: bool = True) -> None:
        if pub.track is not None:
            return
        track: Any
        if pub.kind == "audio":
            track = RemoteAudioTrack(pub.trackSid, pub.trackName, self._session, enabled=pub.isTrackEnabled)
        elif pub.kind == "video":
            track = RemoteVideoTrack(pub.trackSid, pub.trackName, self._session, enabled=pub.isTrackEnabled)
        else:
            track = RemoteDataTrack(pub.trackSid, pub.trackName, reliable=reliable)
            track.on("message", lambda data, t: self.emit("trackMessage", data, t))
        if pub.kind != "data":
            track.on("dimensionsChanged", lambda t: self.emit("trackDimensionsChanged", t))
            track.on("started", lambda t: self.emit("trackStarted", t))
        pub._set_track(track)
        self.emit("trackSubscribed", track, pub)

    def _unsubscribe(self, pub: RemoteTrackPublication) -> None:
        track = pub.track
        if track is None:
            return
        pub._set_track(None)
        self.emit("trackUnsubscribed", track, pub)

    def _unsubscribe_all(self) -> None:
        for pub in list(self.tracks.values()):
            if pub.track is not None:
                self._unsubscribe(pub)

    # --- its own reconnect (core: ParticipantReconnecting/Reconnected) ------------------

    def _reconnecting(self) -> None:
        """State ``reconnecting``: its publications and tracks stay as they are."""
        if self.state == "connected":
            self._set_state("reconnecting")

    def _reconnected(self) -> None:
        if self.state == "reconnecting":
            self.state = "connected"  # announced as ``reconnected`` (with no arguments), not ``connected``
            self.emit("reconnected")

    def _disconnect(self) -> None:
        """State ``disconnected``: unsubscribe every track, then emit ``disconnected``."""
        if self.state == "disconnected":
            return
        self.state = "disconnected"
        self._unsubscribe_all()
        self.emit("disconnected", self)

__all__ = ["RemoteParticipant", "RemoteParticipantEvent", "RemoteParticipantTrackEvent"]
