"""LocalParticipant: this participant. Publishes and unpublishes local tracks.

Events: ``trackPublished(pub)`` and ``trackPublicationFailed(error, track)`` (both deferred
until the code awaiting ``publishTrack()`` has resumed, as in the original: see
:func:`after_awaiters`),
``trackEnabled(track)``, ``trackDisabled(track)``, ``trackStopped(track)``,
``networkQualityLevelChanged(level, stats)``, ``reconnecting(p)``, ``reconnected()``,
``disconnected(p)``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from compat.core import CommandFailure, PublishFailure, PublishSettings

from . import datatracks
from .errors import (
    TrackInvalidError,
    TrackNameCharsInvalidError,
    TrackNameInvalidError,
    TrackNameIsDuplicatedError,
    TrackNameTooLongError,
    TwilioError,
)
from .localaudiotrack import LocalAudioTrack
from .localdatatrack import LocalDataTrack
from .localtrackpublication import (
    LocalAudioTrackPublication,
    LocalDataTrackPublication,
    LocalTrackPublication,
    LocalVideoTrackPublication,
)
from .localvideotrack import LocalVideoTrack
from .options import ConnectOptions, LocalTrackPublishOptions, NetworkQualityConfiguration, _is_number
from .participant import Participant

if TYPE_CHECKING:
    from compat.core import Session

    from .room import Room

logger = logging.getLogger(__name__)

MAX_TRACK_NAME = 128
AWAIT_HOPS = 8
"""Loop iterations :func:`after_awaiters` waits: enough for a caller behind this many chained
awaitables (a task, gather, asyncio.wait, publishTracks) to resume first."""
LocalTrack = LocalAudioTrack | LocalVideoTrack | LocalDataTrack

LocalParticipantEvent = Literal[
    "connected",
    "disconnected",
    "networkQualityLevelChanged",
    "reconnected",
    "reconnecting",
    "trackDisabled",
    "trackEnabled",
    "trackPublicationFailed",
    "trackPublished",
    "trackStopped",
]


def check_track_name(name: str, taken: set[str]) -> TwilioError | None:
    """Twilio's track-name rules (53301-53304), checked before anything reaches LiveKit."""
    if not name:
        return TrackNameInvalidError(f"Track name is invalid: {name!r}")
    if len(name) > MAX_TRACK_NAME:
        return TrackNameTooLongError(f"Track name is too long ({len(name)} > {MAX_TRACK_NAME} characters)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return TrackNameCharsInvalidError("Track name contains invalid characters (control characters)")
    if name in taken:
        return TrackNameIsDuplicatedError(f"Track name is duplicated: {name!r}")
    return None


def after_awaiters(callback: Any, *args: Any, hops: int = AWAIT_HOPS) -> None:
    """Run ``callback(*args)`` once whoever awaits the current result has resumed.

    twilio-video.js ``LocalParticipant#_getOrCreateLocalTrackPublication`` resolves the
    publication and emits ``trackPublished`` (or ``trackPublicationFailed``) in a
    ``setTimeout``: every promise continuation, however chained (``Promise.all``,
    ``publishTracks``), runs before it. asyncio has no microtask queue, but its callbacks
    run in the order they are scheduled: a callback that re-schedules itself ``hops`` times
    runs after any chain of fewer than ``hops`` wake-ups that starts when the result is
    set (a task's awaiter: 1, ``gather``: 2, ``publishTracks`` in a task: 3)."""
    loop = asyncio.get_running_loop()
    if hops <= 0:
        callback(*args)
    else:
        loop.call_soon(lambda: after_awaiters(callback, *args, hops=hops - 1))


class LocalParticipant(Participant[LocalParticipantEvent, LocalTrackPublication]):
    _JSON_PROPERTIES = (*Participant._JSON_PROPERTIES, "signalingRegion")  # lib/localparticipant.js

    def __init__(self, sid: str, identity: str, session: Session, options: ConnectOptions) -> None:
        super().__init__(sid, identity, "connected")
        self.signalingRegion = options.region
        self._session = session
        self._options = options
        self._room_ref: weakref.ref[Room] | None = None
        self._by_track: dict[int, LocalTrackPublication] = {}
        self._listeners: dict[int, list[tuple[str, Any]]] = {}
        self._pending: dict[int, asyncio.Future[LocalTrackPublication]] = {}
        self._pending_track_names: dict[int, str] = {}
        self._withdrawn: set[int] = set()
        self._encoding: dict[str, int | None] = {
            "maxAudioBitrate": options.maxAudioBitrate,
            "maxVideoBitrate": options.maxVideoBitrate,
        }
        self._nq: NetworkQualityConfiguration | None = options.networkQuality
        self._data_names: dict[int, tuple[str, bool]] = {}  # published LocalDataTracks: (name, reliable)
        self._announcing = True  # False once LiveKit refused our attributes (no grant)
        self._tracks_to_stop: list[Any] = []  # made by connect(): stopped at disconnect (lib/localparticipant.js)

    # --- publishing --------------------------------------------------------------------

    async def publishTrack(self, track: Any, options: Any = None) -> LocalTrackPublication:
        """Publish a LocalAudioTrack, LocalVideoTrack or LocalDataTrack.

        Resolves with the existing publication when the track is already published, whatever
        the options (lib/localparticipant.js ``publishTrack`` looks the publication up before it
        reads them). Otherwise
        rejects with RangeError for a bad ``priority`` or TypeError for a non-track or
        non-object options, without an event; or with a TwilioError (53301-53304 name rules,
        53300 when LiveKit refuses the track), then also reported by a deferred
        ``trackPublicationFailed(error, track)``.
        After ``room.disconnect()`` it rejects, without an event, with the plain Error of
        twilio-video.js ``LocalParticipant#_getOrCreateLocalTrackPublication`` ("Unexpected
        error: The <track> cannot be published"), a RuntimeError here as every plain JS Error.
        """
        return await self._publish(track, options, emit=True)

    async def publishTracks(self, tracks: Any) -> list[LocalTrackPublication]:
        if not isinstance(tracks, (list, tuple)):
            raise TypeError("tracks must be an Array of LocalAudioTrack, LocalVideoTrack, LocalDataTrack or MediaStreamTrack")
        return list(await asyncio.gather(*(self.publishTrack(t) for t in tracks)))

    async def _publish(self, track: Any, options: Any, *, emit: bool) -> LocalTrackPublication:
        # lib/localparticipant.js publishTrack: an existing publication resolves before the
        # options are looked at, so bad options do not reject it (a publish in flight does check them).
        existing = self._by_track.get(id(track))
        if existing is not None:
            return existing
        if not isinstance(track, (LocalAudioTrack, LocalVideoTrack, LocalDataTrack)):
            raise TypeError("track must be a LocalAudioTrack, LocalVideoTrack, LocalDataTrack or MediaStreamTrack")
        opts = LocalTrackPublishOptions.parse(options)
        pending = self._pending.get(id(track))
        if pending is not None:
            return await asyncio.shield(pending)
        if self.state == "disconnected":
            # twilio-video.js LocalParticipant#_getOrCreateLocalTrackPublication: a track added
            # after the disconnect never reaches the signaling, which rejects with this Error.
            raise RuntimeError(f"Unexpected error: The {track.toString()} cannot be published")
        taken = {p.trackName for p in self.tracks.values()} | set(self._pending_track_names.values())
        error = check_track_name(track.name, taken)
        if error is not None:
            after_awaiters(self.emit, "trackPublicationFailed", error, track)
            raise error
        future: asyncio.Future[LocalTrackPublication] = asyncio.get_running_loop().create_future()
        self._pending[id(track)] = future
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending_track_names[id(track)] = track.name
        try:
            pub = await self._publish_to_session(track, opts.priority)
        except TwilioError as exc:
            future.set_exception(exc)
            after_awaiters(self.emit, "trackPublicationFailed", exc, track)
            raise
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            raise
        finally:
            self._pending.pop(id(track), None)
            self._pending_track_names.pop(id(track), None)
        future.set_result(pub)
        if emit:
            after_awaiters(self._announce, pub)
        return pub

    @property
    def _room(self) -> Room | None:
        """The Room, held weakly: the Room holds us, and a cycle would leave the whole room graph
        to Python's cyclic collector when the application drops the Room."""
        return self._room_ref() if self._room_ref is not None else None

    @_room.setter
    def _room(self, room: Room | None) -> None:
        self._room_ref = weakref.ref(room) if room is not None else None

    def _announce(self, pub: LocalTrackPublication) -> None:
        room = self._room
        if room is not None and room.state == "connected" and self.tracks.get(pub.trackSid) is pub:
            self.emit("trackPublished", pub)

    async def _publish_to_session(self, track: Any, priority: str) -> LocalTrackPublication:
        pub: LocalTrackPublication
        if isinstance(track, LocalDataTrack):
            sid = datatracks.data_track_sid(self.sid, track.name)  # the SID remotes derive too
            pub = LocalDataTrackPublication(sid, track, self, priority)
            track._sessions.append(self._session)
            self._data_names[id(track)] = (track.name, track.reliable)
            await self._announce_data_tracks()
        else:
            kind = track.kind
            try:
                info = await self._session.publish_media(
                    "audio" if kind == "audio" else "video", track.source, track.name, self._settings(track)
                )
            except PublishFailure as exc:
                raise TrackInvalidError(f"Track is invalid: LiveKit refused it ({exc.message})") from None
            if self.state == "disconnected" or id(track) in self._withdrawn:
                self._withdrawn.discard(id(track))
                failure = None
                try:
                    await self._session.unpublish(info.sid)
                except CommandFailure as exc:  # logged at WARNING by the core
                    failure = exc
                raise RuntimeError(f"The {track.toString()} was unpublished") from failure
            cls = LocalAudioTrackPublication if kind == "audio" else LocalVideoTrackPublication
            pub = cls(info.sid, track, self, priority)
            if not track.isEnabled:
                self._session.set_muted(info.sid, True)
        self._put_publication(pub)
        self._by_track[id(track)] = pub
        self._watch(track)
        return pub

    def _settings(self, track: Any) -> PublishSettings:
        o = self._options
        if isinstance(track, LocalAudioTrack):
            dtx = None
            for c in o.preferredAudioCodecs:
                if c.codec == "opus":
                    dtx = c.dtx
                    break
            return PublishSettings(source="microphone", max_bitrate=self._encoding["maxAudioBitrate"], dtx=dtx)
        codec: Any = None
        simulcast: bool | None = None
        if o.preferredVideoCodecs == "auto":
            codec, simulcast = "vp8", True
        else:
            for v in o.preferredVideoCodecs:
                codec = v.codec.lower()
                simulcast = v.simulcast if v.codec == "VP8" else False
                break
        return PublishSettings(
            source="camera", max_bitrate=self._encoding["maxVideoBitrate"], video_codec=codec, simulcast=simulcast
        )

    def _watch(self, track: Any) -> None:
        def on_enabled(t: Any) -> None:
            self._toggled(t, True)

        def on_disabled(t: Any) -> None:
            self._toggled(t, False)

        def on_stopped(t: Any) -> None:
            self.emit("trackStopped", t)

        handlers = [("enabled", on_enabled), ("disabled", on_disabled), ("stopped", on_stopped)]
        for name, handler in handlers:
            track.on(name, handler)
        self._listeners[id(track)] = handlers

    def _unwatch(self, track: Any) -> None:
        for name, handler in self._listeners.pop(id(track), []):
            track.off(name, handler)

    def _toggled(self, track: Any, enabled: bool) -> None:
        self.emit("trackEnabled" if enabled else "trackDisabled", track)
        pub = self._by_track.get(id(track))
        if pub is not None:
            if track.kind != "data" and self.state != "disconnected":
                self._session.set_muted(pub.trackSid, not enabled)
            pub.emit("trackEnabled" if enabled else "trackDisabled")

    # --- unpublishing ------------------------------------------------------------------

    def unpublishTrack(self, track: Any) -> LocalTrackPublication | None:
        """Stop publishing ``track`` (it is not stopped). Returns the publication or None."""
        if not isinstance(track, (LocalAudioTrack, LocalVideoTrack, LocalDataTrack)):
            raise TypeError("track must be a LocalAudioTrack, LocalVideoTrack, LocalDataTrack or MediaStreamTrack")
        pub = self._by_track.pop(id(track), None)
        if pub is None:
            if id(track) in self._pending:
                self._withdrawn.add(id(track))  # the pending publishTrack() rejects
            return None
        self._drop_publication(pub.trackSid)
        self._unwatch(track)
        if isinstance(track, LocalDataTrack):
            if self._session in track._sessions:
                track._sessions.remove(self._session)
            self._data_names.pop(id(track), None)
            if self._room is not None and self.state != "disconnected":
                self._room._spawn(self._announce_data_tracks())
        elif self._room is not None:
            self._room._spawn(self._session.unpublish(pub.trackSid))
        return pub

    async def _announce_data_tracks(self) -> None:
        """Tell other compat participants which data tracks we publish (datatracks.py)
        through our LiveKit attributes. Without the canUpdateOwnMetadata grant this is
        logged once and they see each data track with its first message instead."""
        if not self._announcing:
            return
        value = datatracks.encode(self._data_names.values())
        try:
            await self._session.set_attributes({datatracks.ANNOUNCE_KEY: value})
        except CommandFailure as exc:  # logged at WARNING by the core
            self._announcing = False
            logger.warning(
                "data tracks are not announced (%s): other participants see each one with its first message", exc.message
            )

    def unpublishTracks(self, tracks: Any) -> list[LocalTrackPublication]:
        if not isinstance(tracks, (list, tuple)):
            raise TypeError("tracks must be an Array of LocalAudioTrack, LocalVideoTrack, LocalDataTrack or MediaStreamTrack")
        out = []
        for t in tracks:
            pub = self.unpublishTrack(t)
            if pub is not None:
                out.append(pub)
        return out

    def _unpublish_all_silently(self) -> None:
        for pub in list(self._by_track.values()):
            track = pub.track
            self._unwatch(track)
            if isinstance(track, LocalDataTrack) and self._session in track._sessions:
                track._sessions.remove(self._session)
        self._by_track.clear()
        self._data_names.clear()
        to_stop, self._tracks_to_stop = self._tracks_to_stop, []
        for track in to_stop:
            track.stop()
        for sid in list(self.tracks):
            self._drop_publication(sid)

    # --- parameters --------------------------------------------------------------------

    def setParameters(self, encodingParameters: Any = None) -> LocalParticipant:
        """Bitrate caps ``{maxAudioBitrate?, maxVideoBitrate?}``: None clears both, a field
        set to None/0 clears that cap. LiveKit cannot change the encoding of a published
        track, so new caps apply to tracks published afterwards."""
        if encodingParameters is None:
            self._encoding = {"maxAudioBitrate": None, "maxVideoBitrate": None}
            return self
        if not isinstance(encodingParameters, Mapping):
            raise TypeError("encodingParameters must be an object")
        for key in ("maxAudioBitrate", "maxVideoBitrate"):
            if key in encodingParameters:
                value = encodingParameters[key]
                if value is not None and (not _is_number(value) or value < 0):
                    raise TypeError(f"encodingParameters.{key} must be a number")
                self._encoding[key] = int(value) if value else None
        return self

    def setNetworkQualityConfiguration(self, networkQualityConfiguration: Any) -> LocalParticipant:
        """Change verbosities; values not given keep their setting. No-op when NQ is off."""
        if not isinstance(networkQualityConfiguration, (Mapping, NetworkQualityConfiguration)):
            raise TypeError("networkQualityConfiguration must be an object")
        if self._nq is not None:
            self._nq = NetworkQualityConfiguration.parse(networkQualityConfiguration, self._nq)
        return self

    def setBandwidthProfile(self, *args: Any) -> None:
        logger.warning("setBandwidthProfile is not implemented (as in twilio-video.js)")

__all__ = ["AWAIT_HOPS", "MAX_TRACK_NAME", "LocalParticipant", "LocalParticipantEvent", "after_awaiters", "check_track_name"]
