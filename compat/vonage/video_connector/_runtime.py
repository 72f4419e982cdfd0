"""One connection of a VonageVideoClient: everything that runs on the client's own loop.

The facade (``__init__.py``) validates a call on the caller's thread, updates the shared state
under ``lock`` and hands the work to this loop (:meth:`Runtime.submit`); outcomes come back as
callbacks posted to the worker thread. Nothing here ever runs user code.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import attrs
import numpy as np

from compat import core as C
from compat.core.media import AudioFrame, AudioSource, VideoSource
from compat.core.media import VideoFrame as LkFrame
from compat.core.session import bounded
from compat.vonage.errors import OTError, connect_legacy_session
from compat.vonage.signal import SIGNAL_TOPIC, decode_signal, encode_signal
from compat.vonage.token import inspect_token

from . import _video
from ._audio import Mixer, OutgoingAudio, Samples, frame_samples
from ._roster import Feed, Roster, connection_for, stream_id_for
from ._threads import CallbackWorker, LoopThread
from .models import (
    AudioBufferStats,
    AudioData,
    CaptionsData,
    Connection,
    MediaBufferStats,
    Publisher,
    PublisherSettings,
    Session,
    SessionAudioSettings,
    SessionSettings,
    SessionVideoPublisherSettings,
    Stream,
    Subscriber,
    SubscriberSettings,
    VideoBufferStats,
    VideoFormat,
)

logger = logging.getLogger(__name__)

Callback = Callable[..., Any]

# Native codes (reference §2.4), as the original passes them to on_error_cb.
AUTHORIZATION_FAILURE = 1004
CONNECTION_FAILED = 1006
CONNECTION_TIMED_OUT = 1021
CONNECTION_DROPPED = 1022
UNABLE_TO_PUBLISH = 1500
PUBLISHER_TIMED_OUT = 1541
SUBSCRIBER_WEBRTC_ERROR = 1600

CONNECT_TIMEOUT = 10.0  # each signalling attempt
CONNECT_DEADLINE = 30.0  # the whole join, as Pipecat's bound
TEARDOWN_TIMEOUT = 10.0
AUDIO_QUEUE_MS = 200  # LiveKit's own queue behind ours: small, so stats and barge-in stay exact
VIDEO_BACKLOG_S = 1.0
WAKE_BOUND = 0.5  # pacers re-check their buffers at least this often
FRAME_S = 0.010  # one audio frame
PAD_MARGIN = 0.003  # a partial frame is padded this long before LiveKit's queue would run dry


@attrs.define
class Outgoing:
    """The one publisher: its sources, buffers and pacers."""

    settings: PublisherSettings
    callbacks: dict[str, Callback | None]
    audio_format: SessionAudioSettings
    video_format: SessionVideoPublisherSettings | None
    model: Publisher | None = None
    audio: AudioSource | None = None
    video: VideoSource | None = None
    out_audio: OutgoingAudio | None = None
    out_video: collections.deque[LkFrame] = attrs.field(factory=collections.deque)
    track_sids: list[str] = attrs.field(factory=list)
    tasks: list[asyncio.Task[None]] = attrs.field(factory=list)
    wake_audio: asyncio.Event | None = None
    wake_video: asyncio.Event | None = None
    waiting: bool = False  # the audio pacer is idle: a producer must wake it
    live: bool = True  # False once unpublished: add_audio/add_video refuse
    video_dropped: int = 0


@attrs.define
class Incoming:
    """One subscription: the stream, its settings and callbacks, its open frame streams."""

    model: Subscriber
    settings: SubscriberSettings
    callbacks: dict[str, Callback | None]
    frames: dict[str, tuple[C.FrameStream[Any], asyncio.Task[None]]] = attrs.field(factory=dict)


class Runtime:
    """See the module doc. Created by ``connect``; ended by ``disconnect`` (:meth:`stop`)."""

    def __init__(
        self,
        name: str,
        url: str | None,
        session_id: str,
        token: str,
        settings: SessionSettings,
        callbacks: dict[str, Callback | None],
    ) -> None:
        self.lock = threading.RLock()
        self.url = url
        self.token = token
        self.session_model = Session(id=session_id)
        self.callbacks = callbacks
        av = settings.av
        self.pub_audio = (av.audio_publisher if av else None) or SessionAudioSettings()
        self.mix_audio = (av.audio_subscribers_mix if av else None) or SessionAudioSettings()
        self.pub_video = av.video_publisher if av else None
        self.render_format: VideoFormat = self.pub_video.format if self.pub_video else "YUV420P"
        self.roster = Roster()
        self.local: Connection | None = None
        self.connected = False
        self.ended = False  # the session is over (failed, lost or disconnected)
        self.outgoing: Outgoing | None = None
        self.incoming: dict[str, Incoming] = {}  # by stream id
        self.mixer = Mixer(frame_samples(self.mix_audio.sample_rate) * self.mix_audio.number_of_channels)
        self.session: C.Session | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._disconnect_reported = False
        self.worker = CallbackWorker(f"{name}-callbacks")
        self.loop_thread = LoopThread(f"{name}-loop")
        self.loop_thread.start(self._on_stop)
        self.submit(self._connect)

    # --- plumbing ------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> bool:
        """From any thread: run ``fn(*args)`` as a task on the loop (False when the loop is gone)."""
        return self.loop_thread.call(self._spawn, fn, *args)

    def _spawn(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(fn(*args))
        self._tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Video Connector operation failed", exc_info=task.exception())

    def post(self, name: str, *args: Any, media: bool = False) -> None:
        """Queue the session callback ``name`` (left out: nothing)."""
        self.worker.post(name, self.callbacks.get(name), *args, media=media)

    def session_error(self, description: str, code: int) -> None:
        logger.warning("session %s: %s (%d)", self.session_model.id, description, code)
        self.post("on_error_cb", self.session_model, description, code)

    # --- connect ---------------------------------------------------------------------------------

    async def _connect(self) -> None:
        try:
            room = inspect_token(self.token, self.session_model.id).room
            if C.session_platform(room) == "legacy":  # compat.rollout put it on the old platform
                raise connect_legacy_session(room)
        except OTError as exc:  # an old-platform or unusable token: refused before any network call
            self._fail(exc.message, exc.code or AUTHORIZATION_FAILURE)
            return
        if not self.url:
            self._fail("No LiveKit server URL: set LIVEKIT_URL, or pass url= to VonageVideoClient or install()", CONNECTION_FAILED)
            return
        self._connect_task = asyncio.current_task()
        record = C.begin_setup(room, "vonage-video-connector")
        try:
            session = await C.open_session(self.url, self.token, connect_timeout=CONNECT_TIMEOUT, overall_timeout=CONNECT_DEADLINE,
                                           record=record)
        except C.ConnectFailure as exc:
            record.failed(_connect_code(exc))
            self._fail(str(exc), _connect_code(exc))
            return
        with self.lock:
            if self.ended:  # disconnect() came first: leave at once
                session.disconnect()
                return
            self.session = session
        session.start(self._on_fact)

    def _fail(self, description: str, code: int) -> None:
        """The initial connect failed: on_error_cb only (no on_disconnected_cb, as the original)."""
        with self.lock:
            self.ended = True
            self._disconnect_reported = True
        self.session_error(description, code)

    # --- facts -----------------------------------------------------------------------------------

    def _on_fact(self, fact: C.Fact) -> None:
        handler = _FACTS.get(type(fact))
        if handler is not None:
            handler(self, fact)

    def _connected(self, fact: C.Connected) -> None:
        snap = fact.snapshot
        with self.lock:
            self.local = connection_for(snap.local)
            self.connected = True
        self.post("on_connected_cb", self.session_model)
        for state in snap.participants:
            self._joined(C.ParticipantJoined(state.info, state.tracks))

    def _joined(self, fact: C.ParticipantJoined) -> None:
        with self.lock:
            old = self.roster.replaces(fact.participant.identity)
        if old is not None:  # rejoined without a leave: the old connection is gone (as the OpenTok model)
            self._left(C.ParticipantLeft(old.identity))
        with self.lock:
            peer = self.roster.add(fact.participant, fact.tracks)
        self.post("on_connection_created_cb", self.session_model, peer.connection)

    def _published(self, fact: C.TrackPublished) -> None:
        with self.lock:
            self.roster.add_track(fact.identity, fact.track)

    def _subscribed(self, fact: C.TrackSubscribed) -> None:
        with self.lock:
            feed = self.roster.subscribed(fact.track_sid)
            if feed is None:
                return
            announce, feed.announced = not feed.announced, True
            sub = self.incoming.get(feed.stream.id)
            kind = self.roster.kind_of(fact.track_sid) or ""
        if announce:
            self.post("on_stream_received_cb", self.session_model, feed.stream)
        if sub is not None:
            self._open_track(sub, fact.track_sid, kind)

    def _track_gone(self, fact: C.TrackUnsubscribed | C.TrackUnpublished) -> None:
        with self.lock:
            gone = self.roster.gone(fact.track_sid, isinstance(fact, C.TrackUnpublished))
        if gone is None:
            return
        feed, dropped = gone
        with self.lock:
            sub = self.incoming.get(feed.stream.id)
        if sub is not None:
            if sub.frames.get(fact.track_sid) is not None and isinstance(fact, C.TrackUnsubscribed):
                # An unpublish or a leave delivers its facts together: decide once they are in.
                asyncio.get_running_loop().call_soon(self._maybe_lost, sub, fact.track_sid)
            self._close_track(sub, fact.track_sid)
        if dropped:
            self._stream_dropped(feed)

    def _maybe_lost(self, sub: Incoming, track_sid: str) -> None:
        """A subscribed track was unsubscribed while still published (the server took it away,
        or its media failed): the subscriber's on_error_cb, as the original's WebRTC error."""
        with self.lock:
            kind = self.roster.kind_of(track_sid)
            current = self.incoming.get(sub.model.stream.id) is sub and not self.ended
        if kind is not None and current:  # still published, still subscribed to its stream
            self._subscriber_error(sub, f"the stream's {kind} track was lost", SUBSCRIBER_WEBRTC_ERROR)

    def _subscription_failed(self, fact: C.TrackSubscriptionFailed) -> None:
        with self.lock:
            feed = self.roster.find_track(fact.track_sid)
            kind = self.roster.kind_of(fact.track_sid)
            sub = self.incoming.get(feed.stream.id) if feed is not None else None
        if sub is not None:
            self._subscriber_error(sub, f"subscribing to the stream's {kind} failed: {fact.message}", SUBSCRIBER_WEBRTC_ERROR)
        else:
            logger.warning("subscribing to track %s of %s failed: %s", fact.track_sid, fact.identity, fact.message)

    def _subscriber_error(self, sub: Incoming, description: str, code: int) -> None:
        logger.warning("subscriber of stream %s: %s (%d)", sub.model.stream.id, description, code)
        self.worker.post("subscriber on_error_cb", sub.callbacks.get("on_error_cb"), sub.model, description, code)

    def _left(self, fact: C.ParticipantLeft) -> None:
        with self.lock:
            left = self.roster.remove(fact.identity)
        if left is None:
            return
        peer, feeds = left
        for feed in feeds:
            if feed.announced:
                self._stream_dropped(feed)
        self.post("on_connection_dropped_cb", self.session_model, peer.connection)

    def _stream_dropped(self, feed: Feed) -> None:
        feed.announced = False
        self._end_incoming(feed.stream.id)
        self.post("on_stream_dropped_cb", self.session_model, feed.stream)

    def _data(self, fact: C.DataReceived) -> None:
        if fact.topic != SIGNAL_TOPIC:
            return
        message = decode_signal(fact.data)
        if message is None:
            logger.warning("a packet on %s from %s is not a signal: ignored", SIGNAL_TOPIC, fact.identity)
            return
        with self.lock:
            peer = self.roster.peer(fact.identity) if fact.identity else None
        data = message.data if isinstance(message.data, str) else "" if message.data is None else str(message.data)
        self.post("on_signal_cb", self.session_model, message.type, data, peer.connection if peer else None)

    def _transcription(self, fact: C.TranscriptionReceived) -> None:
        """Live captions (an addition): a transcription of a stream's track, or one sent by the
        stream's own participant naming no track, goes to that stream's subscriber when it asked
        for captions."""
        with self.lock:
            feed = self.roster.find_track(fact.track_sid) if fact.track_sid else self.roster.camera_feed(fact.identity)
            sub = self.incoming.get(feed.stream.id) if feed is not None else None
        if sub is None or not sub.settings.subscribe_to_captions:
            return
        captions = CaptionsData(text=fact.text, is_final=fact.final)
        self.worker.post("subscriber on_caption_text_cb", sub.callbacks.get("on_caption_text_cb"), sub.model, captions)

    def _reconnecting(self, fact: C.Reconnecting) -> None:
        self.post("on_reconnecting_cb", self.session_model)

    def _reconnected(self, fact: C.Reconnected) -> None:
        self.post("on_reconnected_cb", self.session_model)

    def _disconnected(self, fact: C.Disconnected) -> None:
        if not fact.local:
            self.session_error(f"The connection to the server was lost ({fact.reason.value})", CONNECTION_DROPPED)
        self._spawn(self._end_session)

    # --- subscribers -----------------------------------------------------------------------------

    def subscribe(self, sub: Incoming, stream_id: str) -> None:
        """On the loop: open frame streams for the stream's subscribed tracks, then on_connected_cb."""
        with self.lock:
            feed = self.roster.find_stream(stream_id)
            if feed is None or self.incoming.get(stream_id) is not sub:
                return  # the stream dropped first: its subscriber was ended with it
            tracks = [(sid, self.roster.kind_of(sid) or "") for sid in feed.subscribed]
        if sub.settings.subscribe_to_audio:
            self.mixer.add_stream(stream_id)
        for sid, kind in tracks:
            self._open_track(sub, sid, kind)
        self.worker.post("subscriber on_connected_cb", sub.callbacks.get("on_connected_cb"), sub.model)

    def _open_track(self, sub: Incoming, sid: str, kind: str) -> None:
        session = self.session
        if session is None or sid in sub.frames:
            return
        if kind == "audio" and sub.settings.subscribe_to_audio:
            mix = self.mix_audio
            stream = session.open_audio_frames(
                sid, sample_rate=mix.sample_rate, num_channels=mix.number_of_channels, capacity=50, frame_size_ms=10
            )
            sub.frames[sid] = (stream, self._spawn(self._pump_audio, sub, stream))
        elif kind == "video" and sub.settings.subscribe_to_video and sub.callbacks.get("on_render_frame_cb"):
            stream = session.open_video_frames(sid, capacity=4, rgba=False)
            sub.frames[sid] = (stream, self._spawn(self._pump_video, sub, stream))

    async def _pump_audio(self, sub: Incoming, stream: C.FrameStream[Any]) -> None:
        per_stream = sub.callbacks.get("on_audio_data_cb")
        mixed_cb = self.callbacks.get("on_audio_data_cb")
        key = sub.model.stream.id
        async for frame in stream:
            if per_stream is not None:
                self.worker.post("subscriber on_audio_data_cb", per_stream, sub.model, _audio_data(frame), media=True)
            if mixed_cb is not None:
                for mixed in self.mixer.put(key, np.frombuffer(frame.data, dtype=np.int16)):
                    self.worker.post("on_audio_data_cb", mixed_cb, self.session_model, self._mix_data(mixed), media=True)

    def _mix_data(self, samples: Samples) -> AudioData:
        ch = self.mix_audio.number_of_channels
        return AudioData(
            sample_buffer=memoryview(samples.data), sample_rate=self.mix_audio.sample_rate,
            number_of_channels=ch, number_of_frames=len(samples) // ch,
        )

    async def _pump_video(self, sub: Incoming, stream: C.FrameStream[Any]) -> None:
        """Frames to on_render_frame_cb in the asked format. The subscriber's preferred
        resolution and framerate are applied here (livekit.rtc 1.2 can only pick a simulcast
        layer, which these streams may not have): frames beyond the framerate are dropped before
        any conversion, the rest scaled down to fit the resolution (docs/parity.md)."""
        render = sub.callbacks["on_render_frame_cb"]
        fmt = self.render_format
        wanted = sub.settings.video_settings
        preferred = wanted.preferred_resolution if wanted else None
        pace = _FramePace(wanted.preferred_framerate if wanted else None)
        loop = asyncio.get_running_loop()

        def deliver(frame: LkFrame) -> None:  # on the worker: conversion is off the loop
            assert render is not None
            render(sub.model, _video.from_livekit(frame, fmt, preferred))

        async for frame in stream:
            if pace.take(loop.time()):
                self.worker.post("subscriber on_render_frame_cb", deliver, frame, media=True)

    def _close_track(self, sub: Incoming, sid: str) -> None:
        entry = sub.frames.pop(sid, None)
        if entry is not None:
            self._spawn(entry[0].aclose)

    def _end_incoming(self, stream_id: str) -> None:
        with self.lock:
            sub = self.incoming.pop(stream_id, None)
        if sub is not None:
            self.close_incoming(sub)

    def close_incoming(self, sub: Incoming) -> None:
        """On the loop: close a subscription's frame streams, then its on_disconnected_cb."""
        for sid in list(sub.frames):
            self._close_track(sub, sid)
        self.mixer.remove_stream(sub.model.stream.id)
        self.worker.post("subscriber on_disconnected_cb", sub.callbacks.get("on_disconnected_cb"), sub.model)

    # --- publisher -------------------------------------------------------------------------------

    async def publish(self, out: Outgoing) -> None:
        session, local = self.session, self.local
        if session is None or local is None or not out.live:
            return
        out.model = Publisher(stream=Stream(id=stream_id_for(local.id), connection=local))
        name = out.settings.name
        try:
            if out.audio is not None:
                dtx = out.settings.audio_settings.enable_opus_dtx if out.settings.audio_settings else False
                info = await session.publish_media("audio", out.audio, name, C.PublishSettings(source="microphone", dtx=dtx))
                out.track_sids.append(info.sid)
            if out.video is not None:
                settings = C.PublishSettings(source="camera", simulcast=False, degradation_preference="maintain_resolution")
                out.track_sids.append((await session.publish_media("video", out.video, name, settings)).sid)
        except C.PublishFailure as exc:
            self._publish_failed(out, str(exc))
            return
        self._publish_done(out)

    def _publish_failed(self, out: Outgoing, message: str) -> None:
        code = PUBLISHER_TIMED_OUT if "timed out" in message else UNABLE_TO_PUBLISH
        logger.warning("publishing %r failed: %s", out.settings.name, message)
        self.worker.post("publisher on_error_cb", out.callbacks.get("on_error_cb"), out.model, message, code)
        with self.lock:
            out.live = False
            if self.outgoing is out:
                self.outgoing = None
        self._spawn(self._release, out)

    def _publish_done(self, out: Outgoing) -> None:
        if not out.live:  # unpublished while publishing: undo
            self._spawn(self._release, out)
            return
        out.wake_audio, out.wake_video = asyncio.Event(), asyncio.Event()
        self.worker.post("publisher on_stream_created_cb", out.callbacks.get("on_stream_created_cb"), out.model)
        if out.audio is not None:
            out.tasks.append(self._spawn(self._pace_audio, out))
            self.post("on_ready_for_audio_cb", self.session_model)
        if out.video is not None:
            out.tasks.append(self._spawn(self._pace_video, out))

    async def unpublish(self, out: Outgoing) -> None:
        if out.model is None or not out.track_sids:
            return  # never published (the publish task sees live=False and undoes itself)
        await self._release(out)
        self.worker.post("publisher on_stream_destroyed_cb", out.callbacks.get("on_stream_destroyed_cb"), out.model)

    async def _release(self, out: Outgoing) -> None:
        for task in out.tasks:
            task.cancel()
        out.tasks.clear()
        session, sids = self.session, list(out.track_sids)
        out.track_sids.clear()
        for sid in sids:
            if session is not None:
                await bounded(session.unpublish(sid), TEARDOWN_TIMEOUT, f"unpublishing track {sid}")

    async def _pace_audio(self, out: Outgoing) -> None:
        """Move whole 10 ms frames from our buffer into LiveKit's queue as soon as they are
        queued: LiveKit plays them out in real time, and its back-pressure holds us when a
        producer runs far ahead. Never wait for that queue to play out before sending more:
        LiveKit sends silence whenever its queue runs dry, and each such gap delays all later
        audio for good. With less than a frame left, a partial frame is padded with silence
        only once the producer has paused for a frame and LiveKit is about to run dry; the
        drain is reported once our buffer is empty and LiveKit has played everything."""
        buf, source, wake = out.out_audio, out.audio, out.wake_audio
        assert buf is not None and source is not None and wake is not None
        loop = asyncio.get_running_loop()
        sent = False  # audio went out since the last drain report
        partial_since: float | None = None  # when less than a frame was first left waiting
        while True:
            frame = buf.pop_frame(pad=False)
            if frame is None and (sent or buf.queued_seconds > 0):
                now = loop.time()
                if buf.queued_seconds == 0:
                    partial_since, wait = None, source.queued_duration
                else:
                    partial_since = now if partial_since is None else partial_since
                    wait = max(source.queued_duration - PAD_MARGIN, partial_since + FRAME_S - now)
                if wait > 0:
                    await self._nap(out, wake, buf, wait)
                    continue
                frame = buf.pop_frame(pad=True)  # None when nothing is left: drained
            if frame is not None:
                sent, partial_since = True, None
                await source.capture_frame(AudioFrame(frame.tobytes(), buf.sample_rate, buf.channels, buf.frame))
                continue
            if sent:
                sent = False
                self.post("on_media_buffer_drained_cb", self.stats(), media=False)
                continue
            await self._nap(out, wake, buf, WAKE_BOUND)

    async def _nap(self, out: Outgoing, wake: asyncio.Event, buf: OutgoingAudio, timeout: float) -> None:
        """Wait up to ``timeout`` for a producer to queue audio, unless a whole frame already is."""
        wake.clear()
        out.waiting = True  # set before the re-check: a producer that misses it left data we see
        if not buf.has_frame:
            await _wait(wake, timeout)
        out.waiting = False

    async def _pace_video(self, out: Outgoing) -> None:
        """Send queued frames at the configured fps (a frame that comes late goes out at once)."""
        source, wake, fmt = out.video, out.wake_video, out.video_format
        assert source is not None and wake is not None and fmt is not None
        loop = asyncio.get_running_loop()
        period, due = 1.0 / fmt.fps, 0.0
        while True:
            if not out.out_video:
                wake.clear()
                await _wait(wake, WAKE_BOUND)
                continue
            now = loop.time()
            if now < due:
                await asyncio.sleep(due - now)
            if out.out_video:
                source.capture_frame(out.out_video.popleft())
            due = max(due + period, loop.time())

    def wake_audio(self, out: Outgoing) -> None:
        """From a producer thread, after queueing audio: wake the pacer if it is idle."""
        if out.wake_audio is not None and out.waiting:
            self.loop_thread.call(out.wake_audio.set)

    def wake_video(self, out: Outgoing) -> None:
        """From a producer thread, after queueing a frame into an empty queue."""
        if out.wake_video is not None and not out.wake_video.is_set():
            self.loop_thread.call(out.wake_video.set)

    def stats(self) -> MediaBufferStats:
        """Queued outgoing media (ours plus LiveKit's small audio queue); any thread."""
        out = self.outgoing
        if out is None:
            return MediaBufferStats()
        audio = video = None
        if out.out_audio is not None and out.audio is not None:
            queued = out.out_audio.queued_seconds + out.audio.queued_duration
            audio = AudioBufferStats(duration=timedelta(seconds=queued))
        if out.video_format is not None:
            video = VideoBufferStats(duration=timedelta(seconds=len(out.out_video) / out.video_format.fps))
        return MediaBufferStats(audio=audio, video=video)

    def clear_buffers(self) -> None:
        out = self.outgoing
        if out is None:
            return
        if out.out_audio is not None:
            out.out_audio.clear()
        out.out_video.clear()
        if out.audio is not None:
            self.loop_thread.call(out.audio.clear_queue)

    # --- signals ---------------------------------------------------------------------------------

    def send_signal(self, type_: str | None, data: str | None, to: str | None) -> None:
        """On the loop: send one signal (``to``: an identity, or None for everyone)."""
        session = self.session
        if session is None or self.ended:
            return
        payload = encode_signal(type_, data)
        session.send_data(payload, topic=SIGNAL_TOPIC, reliable=True, destinations=(to,) if to else ())
        if to is None:  # OpenTok delivers a broadcast to its sender too
            self.post("on_signal_cb", self.session_model, type_ or "", data or "", self.local)

    # --- teardown --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Any thread: end the session (returns at once; the loop thread ends after teardown)."""
        with self.lock:
            self.ended = True
            self.connected = False
        self.loop_thread.stop()

    async def _on_stop(self) -> None:
        task = self._connect_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=5.0)
        await self._end_session()
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2.0)
        self.worker.close()

    async def _end_session(self) -> None:
        """Unpublish, unsubscribe and leave (bounded); on_disconnected_cb once."""
        with self.lock:
            self.ended = True
            self.connected = False
            out, self.outgoing = self.outgoing, None
            report, self._disconnect_reported = not self._disconnect_reported, True
        if out is not None:
            out.live = False
            await self.unpublish(out)
        for stream_id in list(self.incoming):
            self._end_incoming(stream_id)
        session = self.session
        if session is not None:
            session.disconnect()
            await session.wait_closed(TEARDOWN_TIMEOUT)
        if report:
            self.post("on_disconnected_cb", self.session_model)


class _FramePace:
    """Lets through at most ``fps`` frames a second on average (all when ``fps`` is None): a
    frame is taken once the next slot is at most half a period away, so a source whose frame
    times do not line up with the slots still yields the full rate."""

    def __init__(self, fps: int | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self.due = 0.0

    def take(self, now: float) -> bool:
        if now + self.period / 2 < self.due:
            return False
        self.due = max(self.due, now) + self.period
        return True


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for ``event`` at most ``timeout`` seconds (a bound, not an error)."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        pass


def _audio_data(frame: AudioFrame) -> AudioData:
    return AudioData(
        sample_buffer=frame.data, sample_rate=frame.sample_rate,
        number_of_channels=frame.num_channels, number_of_frames=frame.samples_per_channel,
    )


def _connect_code(exc: C.ConnectFailure) -> int:
    if exc.status in (401, 403):
        return AUTHORIZATION_FAILURE
    return CONNECTION_TIMED_OUT if exc.timed_out else CONNECTION_FAILED


_FACTS: dict[type, Callable[[Runtime, Any], None]] = {
    C.Connected: Runtime._connected,
    C.ParticipantJoined: Runtime._joined,
    C.ParticipantLeft: Runtime._left,
    C.TrackPublished: Runtime._published,
    C.TrackSubscribed: Runtime._subscribed,
    C.TrackUnsubscribed: Runtime._track_gone,
    C.TrackUnpublished: Runtime._track_gone,
    C.TrackSubscriptionFailed: Runtime._subscription_failed,
    C.TranscriptionReceived: Runtime._transcription,
    C.DataReceived: Runtime._data,
    C.Reconnecting: Runtime._reconnecting,
    C.Reconnected: Runtime._reconnected,
    C.Disconnected: Runtime._disconnected,
}
