"""The only module that talks to ``livekit.rtc.Room``: LiveKit events in, facts out.

Rules kept here (see docs/livekit_python_sdk reference, sections 1.3-1.4 and 5):

* every rtc handler is registered before ``connect()``; handlers are sync and fast;
* ``connect()`` is never cancelled: it runs in its own task and is bounded by
  ``RoomOptions.connect_timeout``; a caller that gives up leaves it to finish and
  be disconnected;
* state present at connect becomes a :class:`RoomSnapshot` (LiveKit sends no
  participant_connected/track_published for it), taken synchronously when connect()
  returns, before the room's listen task can run;
* a participant's join burst (participant_connected + track_published x N) becomes one
  ParticipantJoined fact with its tracks; a leave burst (track_unsubscribed/
  track_unpublished per track, then participant_disconnected) becomes TrackUnsubscribed
  facts and one ParticipantLeft, without TrackUnpublished. A burst ends when an unrelated
  event arrives or after ``BURST_WINDOW`` seconds of quiet;
* every AudioStream/VideoStream opened here is closed on unsubscribe, participant leave
  and disconnect; every native AudioSource/VideoSource on unpublish and disconnect;
* a session still open when its event loop shuts down (``asyncio.run`` returning) is
  closed then, and at interpreter exit livekit's FFI is disposed and quiesced before
  Python finalises (see :func:`shutdown`), so a bot needs no ``os._exit``.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import threading
import time
from collections.abc import AsyncGenerator
from typing import Any, Literal

from livekit import rtc

from . import facts as F
from .livekit_internals import PublishTrackError, dispose_ffi, ffi_started, redirect_frames
from .media import AudioSource, VideoSource
from .session import FrameStream, Session, bounded

logger = logging.getLogger("compat.core")

BURST_WINDOW = 0.15
PUBLISH_TIMEOUT = 20.0
EXIT_TIMEOUT = 10.0  # bound on closing the sessions of one event loop when it shuts down

_KIND: dict[int, F.TrackKind] = {rtc.TrackKind.KIND_AUDIO: "audio", rtc.TrackKind.KIND_VIDEO: "video"}
_SOURCE = {
    rtc.TrackSource.SOURCE_CAMERA: "camera",
    rtc.TrackSource.SOURCE_MICROPHONE: "microphone",
    rtc.TrackSource.SOURCE_SCREENSHARE: "screen_share",
    rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO: "screen_share_audio",
}
_SOURCE_BACK = {v: k for k, v in _SOURCE.items()}
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
        return F.DisconnectCause.UNKNOWN
    if name == "UNKNOWN_REASON":
        return F.DisconnectCause.UNKNOWN
    try:
        return F.DisconnectCause[name]
    except KeyError:
        return F.DisconnectCause.UNKNOWN


def track_info(pub: rtc.TrackPublication) -> F.TrackInfo:
    return F.TrackInfo(
        sid=pub.sid,
        name=pub.name,
        kind=_KIND.get(pub.kind, "audio"),
        muted=pub.muted,
        source=_SOURCE.get(pub.source, "unknown"),
    )


def participant_info(p: rtc.Participant) -> F.ParticipantInfo:
    return F.ParticipantInfo(sid=p.sid, identity=p.identity, name=p.name, metadata=p.metadata)


_STATUS = re.compile(r"\b([45]\d\d) [A-Z][A-Za-z]")  # "401 Unauthorized", "403 Forbidden"


def connect_failure(message: str) -> F.ConnectFailure:
    m = _STATUS.search(message)
    return F.ConnectFailure(message, int(m.group(1)) if m else None)


class _Sink:
    """Replaces an rtc stream's internal ring: frames go straight into our FrameStream."""

    __slots__ = ("_stream",)

    def __init__(self, stream: FrameStream[Any]) -> None:
        self._stream = stream

    def put(self, event: Any) -> None:
        if event is None:
            self._stream._end()
        else:
            self._stream.put(event.frame)

    async def get(self) -> None:  # never used: we never iterate the rtc stream itself
        await asyncio.Event().wait()


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
        self._identity = ""
        # bursts
        self._pending: list[F.Fact] = []
        self._pending_kind: Literal["join", "leave"] | None = None
        self._pending_identity = ""
        self._pending_join: F.ParticipantInfo | None = None
        self._pending_tracks: list[F.TrackInfo] = []
        self._timer: asyncio.TimerHandle | None = None
        # media
        self._remote_tracks: dict[str, tuple[str, rtc.RemoteTrack]] = {}
        self._streams: dict[FrameStream[Any], tuple[str, Any]] = {}
        self._local: dict[str, tuple[rtc.LocalTrack, Any, Any]] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._pumps: dict[FrameStream[Any], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._data_queue: asyncio.Queue[tuple[bytes, str, bool]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._teardown: asyncio.Task[None] | None = None
        self._register()
        _track(self)

    # --- connect -------------------------------------------------------------------------

    def _register(self) -> None:
        on = self._room.on
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

    async def _connect(self, url: str, token: str, options: rtc.RoomOptions) -> None:
        try:
            await self._room.connect(url, token, options)
        except rtc.ConnectError as exc:
            _live.discard(self)
            raise connect_failure(exc.message) from None
        except Exception as exc:  # noqa: BLE001 - anything else the SDK raises is a connect failure too
            _live.discard(self)
            raise F.ConnectFailure(f"{type(exc).__name__}: {exc}") from exc
        finally:
            _ensure_exit_hook()  # the FFI exists now, so our hook runs before the SDK's
        # Synchronously, before the listen task gets a chance to run:
        room = self._room
        lp = room.local_participant
        self._identity = lp.identity
        self._recording = room.is_recording
        participants = tuple(
            F.ParticipantState(participant_info(p), tuple(track_info(pub) for pub in p.track_publications.values()))
            for p in room.remote_participants.values()
        )
        local = participant_info(lp)
        self._connected = True
        self._sender = self._loop.create_task(self._send_loop())
        # Facts arriving while we wait for the room SID are kept in the backlog, after
        # the snapshot, so the order stays right.
        sid_task = self._loop.create_task(room.sid)
        done, _ = await asyncio.wait({sid_task}, timeout=2.0)
        sid = sid_task.result() if done and sid_task.exception() is None else ""
        if not done:
            sid_task.cancel()
        self._snapshot = F.RoomSnapshot(
            room_sid=sid, room_name=room.name, local=local, participants=participants,
            is_recording=self._recording,
        )
        self._backlog.insert(0, F.Connected(self._snapshot))

    def _abandon(self, task: asyncio.Task[None]) -> None:
        """The caller gave up on connect(); disconnect if it eventually succeeded."""
        if not task.cancelled() and task.exception() is None:
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
            assert info is not None
            self._deliver(F.ParticipantJoined(info, tuple(tracks)))
        elif kind == "leave":
            pending, self._pending = self._pending, []
            for fact in pending:
                self._deliver(fact)

    def _emit(self, fact: F.Fact) -> None:
        self._flush()
        self._deliver(fact)

    # --- rtc handlers (sync) -------------------------------------------------------------

    def _on_participant_connected(self, p: rtc.RemoteParticipant) -> None:
        self._flush()
        self._pending_kind = "join"
        self._pending_identity = p.identity
        self._pending_join = participant_info(p)
        self._pending_tracks = [track_info(pub) for pub in p.track_publications.values()]
        self._arm()

    def _on_track_published(self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if self._pending_kind == "join" and self._pending_identity == p.identity:
            if all(t.sid != pub.sid for t in self._pending_tracks):
                self._pending_tracks.append(track_info(pub))
            self._arm()
            return
        self._emit(F.TrackPublished(p.identity, track_info(pub)))

    def _on_track_unpublished(self, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if p.state == rtc.ParticipantState.PARTICIPANT_STATE_DISCONNECTED:
            self._close_track(pub.sid)
            return  # part of a leave: Twilio/OpenTok report the leave, not unpublishes
        if self._pending_kind == "leave" and self._pending_identity == p.identity:
            self._pending.append(F.TrackUnpublished(p.identity, pub.sid))
            self._arm()
            return
        self._flush()
        self._pending_kind = "leave"
        self._pending_identity = p.identity
        self._pending = [F.TrackUnpublished(p.identity, pub.sid)]
        self._arm()

    def _on_track_unsubscribed(self, track: Any, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        self._close_track(pub.sid)
        fact = F.TrackUnsubscribed(p.identity, pub.sid)
        if self._pending_kind == "leave" and self._pending_identity == p.identity:
            self._pending.append(fact)
            self._arm()
            return
        self._emit(fact)

    def _on_participant_disconnected(self, p: rtc.RemoteParticipant) -> None:
        if self._pending_kind == "leave" and self._pending_identity == p.identity:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._pending_kind = None
            pending, self._pending = self._pending, []
            for fact in pending:
                if isinstance(fact, F.TrackUnsubscribed):
                    self._deliver(fact)
        elif self._pending_kind == "join" and self._pending_identity == p.identity:
            self._flush()
        else:
            self._flush()
        for sid, (owner, _track) in list(self._remote_tracks.items()):
            if owner == p.identity:
                self._close_track(sid)
        self._deliver(F.ParticipantLeft(p.identity, disconnect_cause(p.disconnect_reason) if p.disconnect_reason else None))

    def _on_track_subscribed(self, track: rtc.RemoteTrack, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        self._remote_tracks[pub.sid] = (p.identity, track)
        self._emit(F.TrackSubscribed(p.identity, pub.sid))
        if not self._closing:
            self._probes[pub.sid] = self._loop.create_task(self._probe(p.identity, pub.sid, track))

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
            self._deliver(F.TrackStarted(identity, sid, frame.width, frame.height))
        else:
            self._deliver(F.TrackStarted(identity, sid))

    def _on_track_subscription_failed(self, p: rtc.RemoteParticipant, track_sid: str, error: str) -> None:
        self._emit(F.TrackSubscriptionFailed(p.identity, track_sid, error))

    def _on_track_muted(self, p: rtc.Participant, pub: rtc.TrackPublication) -> None:
        if isinstance(p, rtc.RemoteParticipant):
            self._emit(F.TrackMuted(p.identity, pub.sid))

    def _on_track_unmuted(self, p: rtc.Participant, pub: rtc.TrackPublication) -> None:
        if isinstance(p, rtc.RemoteParticipant):
            self._emit(F.TrackUnmuted(p.identity, pub.sid))

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        self._emit(
            F.DataReceived(
                packet.participant.identity if packet.participant is not None else None,
                packet.data,
                packet.topic or "",
                packet.kind == rtc.DataPacketKind.KIND_RELIABLE,
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
        self._reconnecting = True
        self._emit(F.Reconnecting())

    def _on_reconnected(self) -> None:
        self._reconnecting = False
        self._emit(F.Reconnected())

    def _on_disconnected(self, reason: Any = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._flush()
        self._deliver(F.Disconnected(disconnect_cause(reason), self._closing, self._reconnecting))
        self._start_teardown()

    # --- media: remote ----------------------------------------------------------------------

    def _open(self, track_sid: str, capacity: int, make: Any) -> FrameStream[Any]:
        stream: FrameStream[Any] = FrameStream(capacity, track_sid=track_sid, closer=self._close_stream)
        entry = self._remote_tracks.get(track_sid)
        if entry is None or self._closing or self._ended:
            stream._end()
            return stream
        native = make(entry[1])
        # Frames go straight from the stream's native-event task into our bounded,
        # counting ring: no extra task or copy per frame.
        if not redirect_frames(native, _Sink(stream)):  # without that internal ring: pump
            self._pumps[stream] = self._loop.create_task(self._pump(native, stream))
        self._streams[stream] = (track_sid, native)
        return stream

    @staticmethod
    async def _pump(native: Any, stream: FrameStream[Any]) -> None:
        async for event in native:
            if stream.closed:
                break
            stream.put(event.frame)
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
        entry = self._streams.pop(stream, None)
        if entry is not None:
            self._spawn(bounded(entry[1].aclose(), 5.0, "closing a media stream"))

    def _close_track(self, track_sid: str) -> None:
        self._remote_tracks.pop(track_sid, None)
        for stream, (sid, _native) in list(self._streams.items()):
            if sid == track_sid:
                self._close_stream(stream)

    def _spawn(self, aw: Any) -> None:
        task = self._loop.create_task(aw)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
            raise F.PublishFailure(f"publish timed out after {PUBLISH_TIMEOUT}s")
        try:
            pub = task.result()
        except PublishTrackError as exc:
            self._release_local(key)
            raise F.PublishFailure(exc.message) from None
        except Exception as exc:  # noqa: BLE001
            self._release_local(key)
            raise F.PublishFailure(str(exc)) from None
        entry = self._local.pop(key)
        self._local[pub.sid] = entry
        if self._closing or self._ended:
            self._release_local(pub.sid)
        return F.TrackInfo(sid=pub.sid, name=name, kind=kind, source=settings.source)

    def _late_publish(self, task: asyncio.Task[Any], key: str) -> None:
        if task.cancelled() or task.exception() is not None:
            self._release_local(key)
            return
        entry = self._local.pop(key, None)
        if entry is not None:
            sid = task.result().sid
            self._local[sid] = entry
            self._spawn(self.unpublish(sid))

    def _release_local(self, key: str) -> None:
        entry = self._local.pop(key, None)
        if entry is None:
            return
        _track, source, native = entry
        source._detach(native)
        self._spawn(bounded(native.aclose(), 5.0, "closing a media source"))

    async def unpublish(self, track_sid: str) -> None:
        if track_sid not in self._local:
            return
        if not self._closing and not self._ended:
            await bounded(self._room.local_participant.unpublish_track(track_sid), 10.0, "unpublish_track")
        self._release_local(track_sid)

    def set_muted(self, track_sid: str, muted: bool) -> None:
        entry = self._local.get(track_sid)
        if entry is None or self._ended:
            return
        track = entry[0]
        if muted:
            track.mute()
        else:
            track.unmute()

    # --- data -------------------------------------------------------------------------------

    def send_data(self, payload: bytes, *, topic: str, reliable: bool) -> None:
        if self._closing or self._ended:
            return
        self._data_queue.put_nowait((payload, topic, reliable))

    async def _send_loop(self) -> None:
        queue = self._data_queue
        lp = self._room.local_participant
        while True:
            payload, topic, reliable = await queue.get()
            try:
                await lp.publish_data(payload, reliable=reliable, topic=topic)
            except Exception as exc:  # noqa: BLE001 - fire-and-forget, like the vendors
                logger.warning("data packet on topic %r not sent: %s", topic, exc)

    # --- stats ------------------------------------------------------------------------------

    async def get_stats(self) -> list[F.ConnectionStats]:
        if not self._connected or self._ended or self._closing:
            return []
        task = self._loop.create_task(self._room.get_rtc_stats())
        done, _ = await asyncio.wait({task}, timeout=5.0)
        if not done:
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            raise TimeoutError("getStats timed out after 5s")
        stats = task.result()
        by_track = {sid: sid for sid in self._remote_tracks}
        return [
            F.ConnectionStats("publisher", tuple(_rtp(s, by_track) for s in stats.publisher_stats if _is_rtp(s))),
            F.ConnectionStats("subscriber", tuple(_rtp(s, by_track) for s in stats.subscriber_stats if _is_rtp(s))),
        ]

    async def simulate_scenario(self, name: str) -> None:
        """Test hook: LiveKit's ``Room.simulate_scenario`` (e.g. ``"SIGNAL_RECONNECT"``)."""
        kind = getattr(rtc.SimulateScenarioKind, f"SIMULATE_{name}")
        await bounded(self._room.simulate_scenario(kind), 10.0, "simulate_scenario")

    # --- disconnect -------------------------------------------------------------------------

    def disconnect(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._detached = True
        self._flush_silently()
        self._start_teardown()

    def _flush_silently(self) -> None:
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
            await bounded(self._room.disconnect(), 10.0, "room.disconnect")
        if self._sender is not None:
            self._sender.cancel()
        for key in list(self._local):
            self._release_local(key)
        while self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10.0)
            break

    async def wait_closed(self, timeout: float = 10.0) -> None:
        if self._teardown is None:
            return
        await asyncio.wait({self._teardown}, timeout=timeout)


def _is_rtp(s: Any) -> bool:
    return s.WhichOneof("stats") in ("outbound_rtp", "inbound_rtp")


def _rtp(s: Any, tracks: dict[str, str]) -> F.RtpStats:
    which = s.WhichOneof("stats")
    if which == "outbound_rtp":
        o = s.outbound_rtp
        return F.RtpStats(
            direction="outbound", kind=o.stream.kind, ssrc=o.stream.ssrc, track_sid=None,
            timestamp_ms=o.rtc.timestamp or time.time() * 1000, codec=o.stream.codec_id or None,
            bytes=o.sent.bytes_sent, packets=o.sent.packets_sent,
            frame_width=o.outbound.frame_width or None, frame_height=o.outbound.frame_height or None,
            frames_per_second=o.outbound.frames_per_second or None,
        )
    i = s.inbound_rtp
    tid = i.inbound.track_identifier
    return F.RtpStats(
        direction="inbound", kind=i.stream.kind, ssrc=i.stream.ssrc, track_sid=tracks.get(tid, tid or None),
        timestamp_ms=i.rtc.timestamp or time.time() * 1000, codec=i.stream.codec_id or None,
        bytes=i.inbound.bytes_received, packets=i.received.packets_received, packets_lost=i.received.packets_lost,
        jitter_s=i.received.jitter, frame_width=i.inbound.frame_width or None,
        frame_height=i.inbound.frame_height or None, frames_per_second=i.inbound.frames_per_second or None,
    )


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
) -> RtcSession:
    """Connect a new RtcSession. Raises :class:`ConnectFailure` (``timed_out`` when the
    whole join took longer than ``overall_timeout``; the native connect then finishes in
    the background and is disconnected)."""
    loop = asyncio.get_running_loop()
    session = RtcSession(loop=loop)
    options = rtc.RoomOptions(auto_subscribe=auto_subscribe, connect_timeout=connect_timeout)
    task = loop.create_task(session._connect(url, token, options))
    try:
        done, _ = await asyncio.wait({task}, timeout=overall_timeout)
    except asyncio.CancelledError:
        task.add_done_callback(session._abandon)
        raise
    if not done:
        task.add_done_callback(session._abandon)
        raise F.ConnectFailure(f"connect timed out after {overall_timeout}s", timed_out=True)
    task.result()
    return session

__all__ = [
    "BURST_WINDOW", "EXIT_TIMEOUT", "PUBLISH_TIMEOUT", "RtcSession", "close_sessions", "connect_failure",
    "disconnect_cause", "open_session", "participant_info", "shutdown", "track_info",
]
