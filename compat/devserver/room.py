"""Rooms and participants: the state every signalling session reads and changes.

All changes happen on the server's event loop; each change produces the signalling updates
LiveKit sends, queued in order on each recipient's session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from google.protobuf.message import DecodeError
from livekit.protocol import models, rtc

from compat.devserver.auth import VideoGrant
from compat.devserver.ids import new_id
from compat.devserver.media import TrackForwarder

log = logging.getLogger(__name__)


_QUALITY_SCORES: dict[models.ConnectionQuality, float] = {
    models.ConnectionQuality.EXCELLENT: 4.5,
    models.ConnectionQuality.GOOD: 3.5,
    models.ConnectionQuality.POOR: 2.0,
}


class ParticipantLink(Protocol):
    """What the model asks of a participant's connection (session.py's SignalConnection).

    The model never calls a signalling session directly: it sends through this, so rooms and
    participants sit below signalling, as livekit-server's pkg/rtc sits below pkg/service."""

    @property
    def subscriptions(self) -> Mapping[str, object]:
        """The track sids the client is subscribed to."""

    def send(self, response: rtc.SignalResponse) -> None:
        """Queue a signalling message to the client."""

    def deliver_data(self, payload: bytes, reliable: bool) -> None:
        """Send a serialized DataPacket on the client's reliable or lossy data channel."""

    def subscribe(self, publisher: Participant, track: PublishedTrack) -> None:
        """Start sending a published track's media to the client."""

    def unsubscribe(self, track_sid: str) -> None:
        """Stop sending a track's media to the client."""

    def connection_quality(self, now: float) -> models.ConnectionQuality:
        """The client's connection quality as the server sees it."""

    async def kick(self, reason: models.DisconnectReason) -> None:
        """Tell the client to leave, then end the connection."""


class RoomObserver:
    """Hooks for the control plane (webhooks, recording), called synchronously on the loop.

    Subclasses override what they need; they must not block (queue network work elsewhere)."""

    def room_started(self, room: Room) -> None:
        pass

    def room_finished(self, room: Room) -> None:
        pass

    def participant_joined(self, room: Room, participant: Participant) -> None:
        pass

    def participant_left(self, room: Room, participant: Participant) -> None:
        pass

    def track_published(self, room: Room, participant: Participant, track: PublishedTrack) -> None:
        pass

    def track_unpublished(self, room: Room, participant: Participant, track: PublishedTrack) -> None:
        pass


class PublishedTrack:
    """A track a participant announced (AddTrack) and, once media arrives, relays."""

    def __init__(self, info: models.TrackInfo, cid: str) -> None:
        self.info = info
        self.cid = cid
        self.forwarder: TrackForwarder | None = None

    @property
    def sid(self) -> str:
        return self.info.sid

    @property
    def kind(self) -> str:
        return "audio" if self.info.type == models.TrackType.AUDIO else "video"


class Participant:
    def __init__(
        self,
        room: Room,
        identity: str,
        grant: VideoGrant,
        *,
        name: str,
        metadata: str,
        attributes: dict[str, str],
        auto_subscribe: bool,
    ) -> None:
        self.room = room
        self.grant = grant
        self.info = models.ParticipantInfo(
            sid=new_id("PA_"),
            identity=identity,
            state=models.ParticipantInfo.State.JOINING,
            name=name,
            metadata=metadata,
            attributes=attributes,
            joined_at=int(time.time()),
            joined_at_ms=int(time.time() * 1000),
            version=1,
            permission=grant.permission(),
        )
        self.auto_subscribe = auto_subscribe
        self.tracks: dict[str, PublishedTrack] = {}
        self.session: ParticipantLink | None = None
        self.last_seen = time.monotonic()
        self.quality: models.ConnectionQuality = models.ConnectionQuality.EXCELLENT
        self.disconnect_reason: models.DisconnectReason = models.DisconnectReason.UNKNOWN_REASON
        # Its resume was refused (server.py, _refuse_resume): the client is making a full reconnect
        # under the same identity, so closing its old connection is not a leave (session.py, run).
        self.resume_refused = False
        # The highest DataPacket.sequence taken from its reliable channel: a resumed client resends
        # what follows it (ReconnectResponse.last_message_seq).
        self.last_reliable_seq = 0

    @property
    def sid(self) -> str:
        return self.info.sid

    @property
    def identity(self) -> str:
        return self.info.identity

    @property
    def hidden(self) -> bool:
        return self.info.permission.hidden

    def snapshot(self) -> models.ParticipantInfo:
        info = models.ParticipantInfo()
        info.CopyFrom(self.info)
        del info.tracks[:]
        info.tracks.extend(t.info for t in self.tracks.values())
        info.is_publisher = bool(self.tracks)
        return info

    def bump(self) -> None:
        self.info.version += 1

    def take_reliable_sequence(self, sequence: int) -> bool:
        """Whether a reliable packet numbered ``sequence`` is new (livekit-server's
        handleReceivedDataMessage): one at or below the last taken is a client's resend after a
        resume, and is dropped. 0 is an unnumbered packet, always taken."""
        if sequence == 0:
            return True
        if sequence <= self.last_reliable_seq:
            return False
        self.last_reliable_seq = sequence
        return True

    def may_publish(self, source: models.TrackSource) -> bool:
        """LiveKit's publish rule: can_publish, and the source listed when can_publish_sources is set."""
        permission = self.info.permission
        return permission.can_publish and (not permission.can_publish_sources or source in permission.can_publish_sources)

    def update_info(self, name: str, metadata: str, attributes: Mapping[str, str]) -> bool:
        """Apply a name/metadata/attributes update as LiveKit does (empty name or metadata: unchanged;
        an empty attribute value deletes the key). True if anything changed."""
        info = self.info
        changed = False
        if name and name != info.name:
            info.name = name
            changed = True
        if metadata and metadata != info.metadata:
            info.metadata = metadata
            changed = True
        for key, value in attributes.items():
            if value == "":
                if key in info.attributes:
                    del info.attributes[key]
                    changed = True
            elif info.attributes.get(key) != value:
                info.attributes[key] = value
                changed = True
        return changed

    def send(self, response: rtc.SignalResponse) -> None:
        if self.session is not None:
            self.session.send(response)


class Room:
    def __init__(
        self,
        manager: RoomManager,
        name: str,
        *,
        empty_timeout: float,
        departure_timeout: float,
        max_participants: int = 0,
        metadata: str = "",
    ) -> None:
        self.manager = manager
        now = time.time()
        self.info = models.Room(
            sid=new_id("RM_"),
            name=name,
            empty_timeout=int(empty_timeout),
            departure_timeout=int(departure_timeout),
            max_participants=max_participants,
            creation_time=int(now),
            creation_time_ms=int(now * 1000),
            metadata=metadata,
            enabled_codecs=[models.Codec(mime="audio/opus"), models.Codec(mime="video/VP8")],
        )
        self.empty_timeout = empty_timeout
        self.departure_timeout = departure_timeout
        self.participants: dict[str, Participant] = {}  # by identity
        self.closed = False
        self._ever_joined = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._active_speakers: dict[str, float] = {}
        self._qualities: dict[str, rtc.ConnectionQualityInfo] = {}  # by participant sid, at the last tick
        self._arm_close_timer(empty_timeout)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def sid(self) -> str:
        return self.info.sid

    def snapshot(self) -> models.Room:
        info = models.Room()
        info.CopyFrom(self.info)
        info.num_participants = sum(1 for p in self.participants.values() if not p.hidden)
        info.num_publishers = sum(1 for p in self.participants.values() if p.tracks and not p.hidden)
        return info

    # ---- membership -------------------------------------------------------------------------

    def visible_to(self, viewer: Participant) -> list[Participant]:
        return [p for p in self.participants.values() if p is not viewer and not p.hidden]

    def is_full(self) -> bool:
        limit = self.info.max_participants
        return limit > 0 and len(self.participants) >= limit

    def add(self, participant: Participant) -> None:
        self.participants[participant.identity] = participant
        self._ever_joined = True
        self._cancel_close_timer()
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name=f"room {self.name} ticker")
        self.manager.notify(lambda o: o.participant_joined(self, participant))

    def announce_joined(self, participant: Participant) -> None:
        """Tell the others (once the newcomer has its JoinResponse)."""
        self.broadcast_participant(participant)

    async def remove(self, participant: Participant, reason: models.DisconnectReason) -> None:
        """Take a participant out: stop its tracks, tell the others, maybe schedule closing."""
        if self.participants.get(participant.identity) is not participant:
            return
        del self.participants[participant.identity]
        participant.disconnect_reason = reason
        participant.info.state = models.ParticipantInfo.State.DISCONNECTED
        participant.info.disconnect_reason = reason
        for track in list(participant.tracks.values()):
            await self.unpublish(participant, track, announce=False)
        participant.bump()
        self.broadcast_participant(participant)
        self._active_speakers.pop(participant.sid, None)
        self.manager.notify(lambda o: o.participant_left(self, participant))
        if not self.participants:
            self._arm_close_timer(self.departure_timeout)

    async def kick(self, participant: Participant, reason: models.DisconnectReason) -> None:
        """Server-side removal: a connected client is told to leave (then removed); one whose
        connection is gone is removed at once."""
        if participant.session is not None:
            await participant.session.kick(reason)
        else:
            await self.remove(participant, reason)

    # ---- tracks -----------------------------------------------------------------------------

    def publish(self, participant: Participant, track: PublishedTrack) -> None:
        """A track whose media has arrived: announce it, subscribe everyone who auto-subscribes.

        As in LiveKit, a track is announced only once its media is negotiated, so others never
        see a track the server cannot relay, and its codec is known.
        """
        participant.tracks[track.sid] = track
        participant.bump()
        self.broadcast_participant(participant)
        self.manager.notify(lambda o: o.track_published(self, participant, track))
        for other in list(self.participants.values()):
            if other is participant or other.session is None:
                continue
            if other.auto_subscribe and other.info.permission.can_subscribe:
                try:
                    other.session.subscribe(participant, track)
                except Exception:  # one subscriber's failure must not cost the publisher or the others the track
                    log.exception("%s: subscribing to %s's %s failed", other.identity, participant.identity, track.sid)

    async def unpublish(self, participant: Participant, track: PublishedTrack, *, announce: bool = True) -> None:
        if participant.tracks.pop(track.sid, None) is None:
            return
        for other in list(self.participants.values()):
            if other.session is not None:
                other.session.unsubscribe(track.sid)
        if track.forwarder is not None:
            await track.forwarder.stop()
        self.manager.notify(lambda o: o.track_unpublished(self, participant, track))
        if announce:
            participant.bump()
            participant.send(rtc.SignalResponse(track_unpublished=rtc.TrackUnpublishedResponse(track_sid=track.sid)))
            self.broadcast_participant(participant)

    def find_track(self, sid: str, *, excluding: Participant) -> tuple[Participant, PublishedTrack] | None:
        """The publisher and track with this sid, among the others' tracks."""
        for other in self.participants.values():
            if other is not excluding and sid in other.tracks:
                return other, other.tracks[sid]
        return None

    async def set_permission(self, participant: Participant, permission: models.ParticipantPermission) -> None:
        """Change a participant's permission and apply it: tracks it may no longer publish are
        unpublished, losing can_subscribe ends its subscriptions, regaining it (with auto-subscribe)
        subscribes it to every track again. The caller announces the change."""
        could_subscribe = participant.info.permission.can_subscribe
        participant.info.permission.CopyFrom(permission)
        for track in list(participant.tracks.values()):
            if not participant.may_publish(track.info.source):
                await self.unpublish(participant, track)
        link = participant.session
        if link is None:
            return
        if not permission.can_subscribe:
            for sid in list(link.subscriptions):
                link.unsubscribe(sid)
        elif not could_subscribe and participant.auto_subscribe:
            for other in list(self.participants.values()):
                if other is not participant:
                    for track in list(other.tracks.values()):
                        link.subscribe(other, track)

    def set_muted(self, participant: Participant, track: PublishedTrack, muted: bool) -> None:
        if track.info.muted == muted:
            return
        track.info.muted = muted
        if not muted and track.forwarder is not None:
            track.forwarder.unmuted()
        participant.bump()
        self.broadcast_participant(participant)

    # ---- data -----------------------------------------------------------------------------------

    def relay_data(self, sender: Participant, payload: bytes, *, reliable: bool) -> None:
        """Forward a client's DataPacket to its destinations on the channel it came on."""
        if not sender.info.permission.can_publish_data:
            return
        packet = models.DataPacket()
        try:
            packet.ParseFromString(payload)
        except DecodeError:
            log.info("%s sent an undecodable data packet", sender.identity)
            return
        if reliable and not sender.take_reliable_sequence(packet.sequence):
            log.info("%s resent reliable data packet #%d; already relayed", sender.identity, packet.sequence)
            return
        packet.participant_identity = sender.identity
        packet.participant_sid = sender.sid
        destinations = set(packet.destination_identities)
        if packet.HasField("user"):
            packet.user.participant_identity = sender.identity
            packet.user.participant_sid = sender.sid
            destinations.update(packet.user.destination_identities)
        self._deliver(packet, reliable, destinations, exclude=sender)

    def send_data(
        self, payload: bytes, *, reliable: bool = True, destination_identities: Iterable[str] = (), topic: str | None = None
    ) -> None:
        """Server-originated data (RoomService.SendData): no sender identity."""
        packet = models.DataPacket(
            kind=models.DataPacket.Kind.RELIABLE if reliable else models.DataPacket.Kind.LOSSY,
            user=models.UserPacket(payload=payload, topic=topic),
        )
        self._deliver(packet, reliable, set(destination_identities), exclude=None)

    def _deliver(self, packet: models.DataPacket, reliable: bool, destinations: set[str], exclude: Participant | None) -> None:
        data = packet.SerializeToString()
        for participant in self.participants.values():
            if participant is exclude or participant.session is None:
                continue
            if destinations and participant.identity not in destinations:
                continue
            participant.session.deliver_data(data, reliable)

    # ---- updates ----------------------------------------------------------------------------

    def broadcast_participant(self, participant: Participant) -> None:
        """ParticipantUpdate to everyone who may see it (hidden ones only see themselves)."""
        update = rtc.SignalResponse(update=rtc.ParticipantUpdate(participants=[participant.snapshot()]))
        for other in self.participants.values():
            if other is participant or not participant.hidden:
                other.send(update)
        if participant.identity not in self.participants:
            participant.send(update)

    def broadcast(self, response: rtc.SignalResponse, *, exclude: Participant | None = None) -> None:
        for other in self.participants.values():
            if other is not exclude:
                other.send(response)

    def configure(
        self,
        *,
        empty_timeout: float | None = None,
        departure_timeout: float | None = None,
        max_participants: int | None = None,
        metadata: str | None = None,
    ) -> None:
        """Change a live room's settings (CreateRoom on an existing room does this in LiveKit)."""
        if empty_timeout is not None:
            self.empty_timeout = empty_timeout
            self.info.empty_timeout = int(empty_timeout)
            if not self.participants and not self._ever_joined:
                self._arm_close_timer(empty_timeout)
        if departure_timeout is not None:
            self.departure_timeout = departure_timeout
            self.info.departure_timeout = int(departure_timeout)
        changed = False
        if max_participants is not None and max_participants != self.info.max_participants:
            self.info.max_participants = max_participants
            changed = True
        if metadata is not None and metadata != self.info.metadata:
            self.info.metadata = metadata
            changed = True
        if changed:
            self.broadcast_room_update()

    def set_metadata(self, metadata: str) -> None:
        self.info.metadata = metadata
        self.broadcast_room_update()

    def set_recording(self, active: bool) -> None:
        if self.info.active_recording != active:
            self.info.active_recording = active
            self.broadcast_room_update()

    def broadcast_room_update(self) -> None:
        self.broadcast(rtc.SignalResponse(room_update=rtc.RoomUpdate(room=self.snapshot())))

    # ---- speakers and quality -----------------------------------------------------------------

    async def _tick(self) -> None:
        server = self.manager
        quality_every = server.quality_interval
        next_quality = 0.0
        while not self.closed:
            await asyncio.sleep(server.speaker_interval)
            now = time.monotonic()
            self._update_speakers(now)
            if now >= next_quality:
                next_quality = now + quality_every
                self._update_quality(now)

    def speaker_levels(self, now: float) -> dict[str, float]:
        levels: dict[str, float] = {}
        for participant in self.participants.values():
            best = 0.0
            for track in participant.tracks.values():
                fwd = track.forwarder
                if fwd is not None and fwd.kind == "audio" and not track.info.muted:
                    best = max(best, fwd.current_level(now))
            if best >= self.manager.speaker_threshold:
                levels[participant.sid] = best
        return levels

    def _update_speakers(self, now: float) -> None:
        levels = self.speaker_levels(now)
        previous = self._active_speakers
        if set(levels) == set(previous):
            self._active_speakers = levels
            return
        changed = [models.SpeakerInfo(sid=sid, level=lvl, active=True) for sid, lvl in sorted(levels.items(), key=lambda kv: -kv[1])]
        changed += [models.SpeakerInfo(sid=sid, level=0.0, active=False) for sid in previous if sid not in levels]
        self._active_speakers = levels
        self.broadcast(rtc.SignalResponse(speakers_changed=rtc.SpeakersChanged(speakers=changed)))

    def _update_quality(self, now: float) -> None:
        """As livekit-server's Room.connectionQualityWorker: only when an active participant is new or
        its quality changed, each active participant gets its own quality and that of every participant
        whose tracks it subscribes to. Unchanged qualities are not resent (each reaches every room
        object of a client process as an event)."""
        qualities: dict[str, rtc.ConnectionQualityInfo] = {}
        for participant in self.participants.values():
            if participant.session is None or participant.info.state != models.ParticipantInfo.State.ACTIVE:
                continue
            participant.quality = participant.session.connection_quality(now)
            score = _QUALITY_SCORES.get(participant.quality, 0.0)
            qualities[participant.sid] = rtc.ConnectionQualityInfo(
                participant_sid=participant.sid, quality=participant.quality, score=score
            )
        previous, self._qualities = self._qualities, qualities
        if all(sid in previous and previous[sid].quality == info.quality for sid, info in qualities.items()):
            return
        publisher_of = {sid: other.sid for other in self.participants.values() for sid in other.tracks}
        for participant in self.participants.values():
            if participant.sid not in qualities or participant.session is None:
                continue
            subscribed = {publisher_of[sid] for sid in participant.session.subscriptions if sid in publisher_of}
            sids = [participant.sid, *sorted(subscribed - {participant.sid})]
            updates = [qualities[sid] for sid in sids if sid in qualities]
            participant.send(rtc.SignalResponse(connection_quality=rtc.ConnectionQualityUpdate(updates=updates)))

    # ---- lifetime -----------------------------------------------------------------------------

    def _arm_close_timer(self, delay: float) -> None:
        self._cancel_close_timer()
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(max(delay, 0.0), lambda: self.manager.spawn(self.close_if_empty()))

    def _cancel_close_timer(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    async def close_if_empty(self) -> None:
        if not self.participants and not self.closed:
            await self.close(models.DisconnectReason.ROOM_CLOSED)

    async def close(self, reason: models.DisconnectReason) -> None:
        """Disconnect everyone with `reason`, stop every task, forget the room."""
        if self.closed:
            return
        self.closed = True
        self._cancel_close_timer()
        for participant in list(self.participants.values()):
            await self.kick(participant, reason)
        ticker = self._ticker
        if ticker is not None:
            ticker.cancel()
            try:
                await ticker
            except asyncio.CancelledError:
                pass
        self.manager.forget(self)
        self.manager.notify(lambda o: o.room_finished(self))


class RoomManager:
    """Every room of one server, plus the settings rooms share."""

    def __init__(
        self,
        *,
        empty_timeout: float,
        departure_timeout: float,
        max_participants: int,
        speaker_interval: float = 0.3,
        speaker_threshold: float = 0.01,
        quality_interval: float = 2.0,
    ) -> None:
        self.rooms: dict[str, Room] = {}
        self.empty_timeout = empty_timeout
        self.departure_timeout = departure_timeout
        self.max_participants = max_participants
        self.speaker_interval = speaker_interval
        self.speaker_threshold = speaker_threshold
        self.quality_interval = quality_interval
        self.observers: list[RoomObserver] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dev server task %s failed", task.get_name(), exc_info=task.exception())

    def notify(self, call: Callable[[RoomObserver], None]) -> None:
        """Call one RoomObserver hook on every observer (typed: `notify(lambda o: o.room_started(room))`);
        an observer that fails is logged and does not stop the others."""
        for observer in self.observers:
            try:
                call(observer)
            except Exception:
                log.exception("room observer %s failed", type(observer).__name__)

    def get(self, name: str) -> Room | None:
        return self.rooms.get(name)

    def get_or_create(
        self,
        name: str,
        *,
        empty_timeout: float | None = None,
        departure_timeout: float | None = None,
        max_participants: int | None = None,
        metadata: str = "",
    ) -> Room:
        room = self.rooms.get(name)
        if room is None:
            room = Room(
                self,
                name,
                empty_timeout=self.empty_timeout if empty_timeout is None else empty_timeout,
                departure_timeout=self.departure_timeout if departure_timeout is None else departure_timeout,
                max_participants=self.max_participants if max_participants is None else max_participants,
                metadata=metadata,
            )
            self.rooms[name] = room
            self.notify(lambda o: o.room_started(room))
        return room

    def forget(self, room: Room) -> None:
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    def all_participants(self) -> Iterable[Participant]:
        for room in self.rooms.values():
            yield from room.participants.values()

    async def close_all(self, reason: models.DisconnectReason) -> None:
        for room in list(self.rooms.values()):
            await room.close(reason)
