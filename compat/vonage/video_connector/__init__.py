"""The Vonage Video Connector for Python (``vonage_video_connector`` 1.0.3) on LiveKit.

Port a bot by changing its import::

    from compat.vonage import video_connector as vonage_video_connector
    from compat.vonage.video_connector.models import AudioData, PublisherSettings, ...

or leave third-party code untouched and call :func:`install` once at start-up: it makes
``import vonage_video_connector`` and ``from vonage_video_connector.models import ...`` resolve here.

Same methods, keyword names, return values and validation as the original (reference §4.2–4.4):
every method is synchronous and returns at once with a bool (or a model); outcomes arrive on
callbacks. The LiveKit server is ``url=`` of the client, else of :func:`install`, else the
environment's ``LIVEKIT_URL``; ``application_id`` is accepted and not used (the token names the
LiveKit API key); ``session_id`` is a room name or an ID from ``compat.vonage.mint_session_id``,
``token`` a LiveKit token (``compat.vonage.generate_token``).

Threads (docs/parity.md): each client owns a loop thread (its LiveKit session) and a callback
worker thread. Every callback runs on the worker, in order; one that raises is logged and the
client goes on. Calls are safe from any thread, from inside callbacks, and from inside another
library's running asyncio loop (they never block it). ``disconnect()`` waits, bounded, for the
teardown and both threads unless called from a callback or a running loop, where it returns at
once and the (daemon) threads end by themselves.

Additions (PEP 8, documented in docs/parity.md): several clients per process; ``url=``;
``connect(..., on_signal_cb=, on_reconnecting_cb=, on_reconnected_cb=)``; :meth:`send_signal`
(interoperable with the OpenTok model's ``session.signal``); :func:`install`.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pydantic

from compat.core.media import AudioSource, VideoSource
from compat.vonage.signal import parse_signal

from . import _video, models
from ._audio import OutgoingAudio
from ._runtime import AUDIO_QUEUE_MS, Incoming, Outgoing, Runtime
from ._threads import in_foreign_loop
from .models import (
    AudioData,
    Connection,
    MediaBufferStats,
    PublisherSettings,
    SessionSettings,
    SessionVideoPublisherSettings,
    Stream,
    Subscriber,
    SubscriberSettings,
    VideoFrame,
    VideoResolution,
)

__all__ = ["VonageVideoClient", "install", "models"]

logger = logging.getLogger(__name__)

Callback = Callable[..., Any]

STOP_TIMEOUT = 15.0  # disconnect(): teardown (bounded at 10 s inside) plus the loop's own shutdown
WORKER_TIMEOUT = 5.0  # disconnect(): callbacks still queued get this long to run

_LEVELS = {"ERROR": logging.ERROR, "WARN": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG, "TRACE": logging.DEBUG}
_default_url: str | None = None
_clients = itertools.count(1)


def install(url: str | None = None) -> None:
    """Let unmodified code ``import vonage_video_connector`` (and ``.models``): registers this
    package under those names in ``sys.modules``. ``url``: the LiveKit server for clients
    created without one (default: ``LIVEKIT_URL``). Idempotent."""
    global _default_url
    if url is not None:
        _default_url = url
    sys.modules["vonage_video_connector"] = sys.modules[__name__]
    sys.modules["vonage_video_connector.models"] = models


def _check_callbacks(callbacks: dict[str, Any]) -> dict[str, Callback | None]:
    for name, fn in callbacks.items():
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, not {type(fn).__name__}")
    return callbacks


def _check_str(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")


class VonageVideoClient:
    """One connection to a session (module doc). Several clients may live in one process."""

    def __init__(self, *, url: str | None = None) -> None:
        self._url = url
        self._name = f"vonage-video-connector-{next(_clients)}"
        self._lock = threading.Lock()
        self._rt: Runtime | None = None
        self._old: list[Runtime] = []  # runtimes ended by server loss, joined at disconnect()

    # --- session ---------------------------------------------------------------------------------

    def connect(
        self,
        application_id: str,
        session_id: str,
        token: str,
        *,
        session_settings: SessionSettings | None = None,
        on_error_cb: Callback | None = None,
        on_connected_cb: Callback | None = None,
        on_disconnected_cb: Callback | None = None,
        on_connection_created_cb: Callback | None = None,
        on_connection_dropped_cb: Callback | None = None,
        on_stream_received_cb: Callback | None = None,
        on_stream_dropped_cb: Callback | None = None,
        on_audio_data_cb: Callback | None = None,
        on_ready_for_audio_cb: Callback | None = None,
        on_media_buffer_drained_cb: Callback | None = None,
        on_signal_cb: Callback | None = None,
        on_reconnecting_cb: Callback | None = None,
        on_reconnected_cb: Callback | None = None,
    ) -> bool:
        """Start connecting; True when dispatched (then wait for ``on_connected_cb`` or
        ``on_error_cb``). False when already connected or connecting, or the settings are invalid."""
        _check_str(application_id=application_id, session_id=session_id, token=token)
        callbacks = _check_callbacks(dict(
            on_error_cb=on_error_cb, on_connected_cb=on_connected_cb, on_disconnected_cb=on_disconnected_cb,
            on_connection_created_cb=on_connection_created_cb, on_connection_dropped_cb=on_connection_dropped_cb,
            on_stream_received_cb=on_stream_received_cb, on_stream_dropped_cb=on_stream_dropped_cb,
            on_audio_data_cb=on_audio_data_cb, on_ready_for_audio_cb=on_ready_for_audio_cb,
            on_media_buffer_drained_cb=on_media_buffer_drained_cb, on_signal_cb=on_signal_cb,
            on_reconnecting_cb=on_reconnecting_cb, on_reconnected_cb=on_reconnected_cb,
        ))
        settings = self._settings(session_settings)
        if settings is None:
            return False
        with self._lock:
            if self._rt is not None and not self._rt.ended:
                logger.warning("connect: already connected or connecting")
                return False
            if self._rt is not None:
                self._old.append(self._rt)
            url = self._url or _default_url or os.environ.get("LIVEKIT_URL")
            self._rt = Runtime(self._name, url, session_id, token, settings, callbacks)
        return True

    @staticmethod
    def _settings(settings: SessionSettings | None) -> SessionSettings | None:
        if settings is None:
            return SessionSettings()
        if not isinstance(settings, SessionSettings):
            raise AttributeError(f"session_settings must be a SessionSettings, not {type(settings).__name__}")
        try:  # attributes may have been assigned after construction: check them again
            checked = SessionSettings.model_validate(settings.model_dump(warnings=False))
        except pydantic.ValidationError as exc:
            logger.warning("connect: invalid session_settings: %s", exc)
            return None
        if checked.logging is not None:
            logger.setLevel(_LEVELS[checked.logging.level])
        return checked

    def disconnect(self) -> bool:
        """Leave the session; True (also when not connected). Waits, bounded, for the teardown and
        the client's threads, except from a callback or a running asyncio loop (module doc)."""
        with self._lock:
            rt, self._rt = self._rt, None
            old, self._old = self._old, []
        runtimes = [*old, rt] if rt is not None else old
        for r in runtimes:
            r.stop()
        if in_foreign_loop(None):
            return True
        for r in runtimes:
            r.loop_thread.join(STOP_TIMEOUT)
            r.worker.join(WORKER_TIMEOUT)
        return True

    def is_connected(self) -> bool:
        rt = self._rt
        return rt is not None and rt.connected and not rt.ended

    def get_connection(self) -> Connection | None:
        rt = self._rt
        return rt.local if rt is not None and rt.connected else None

    def _live(self) -> Runtime | None:
        rt = self._rt
        return rt if rt is not None and rt.connected and not rt.ended else None

    # --- publisher -------------------------------------------------------------------------------

    def publish(
        self,
        settings: PublisherSettings,
        *,
        on_error_cb: Callback | None = None,
        on_stream_created_cb: Callback | None = None,
        on_stream_destroyed_cb: Callback | None = None,
    ) -> bool:
        """Start publishing (one publisher); wait for ``on_stream_created_cb`` and, for audio,
        the session's ``on_ready_for_audio_cb``. False when not connected or already publishing."""
        if not isinstance(settings, PublisherSettings):
            raise TypeError(f"settings must be a PublisherSettings, not {type(settings).__name__}")
        callbacks = _check_callbacks(dict(
            on_error_cb=on_error_cb, on_stream_created_cb=on_stream_created_cb, on_stream_destroyed_cb=on_stream_destroyed_cb,
        ))
        rt = self._live()
        if rt is None:
            logger.warning("publish: not connected")
            return False
        with rt.lock:
            if rt.outgoing is not None:
                logger.warning("publish: already publishing (one publisher per client)")
                return False
            out = rt.outgoing = self._outgoing(rt, settings, callbacks)
        return rt.submit(rt.publish, out)

    @staticmethod
    def _outgoing(rt: Runtime, settings: PublisherSettings, callbacks: dict[str, Callback | None]) -> Outgoing:
        video_format = rt.pub_video or SessionVideoPublisherSettings(resolution=VideoResolution())
        out = Outgoing(settings, callbacks, rt.pub_audio, video_format if settings.has_video else None)
        if settings.has_audio:
            fmt = rt.pub_audio
            out.audio = AudioSource(fmt.sample_rate, fmt.number_of_channels, queue_size_ms=AUDIO_QUEUE_MS)
            out.out_audio = OutgoingAudio(fmt.sample_rate, fmt.number_of_channels)
        if settings.has_video:
            out.video = VideoSource(video_format.resolution.width, video_format.resolution.height)
        return out

    def unpublish(self) -> bool:
        """Stop publishing; True (also when not publishing). Returns at once; ``on_stream_destroyed_cb`` follows."""
        rt = self._rt
        if rt is None:
            return True
        with rt.lock:
            out, rt.outgoing = rt.outgoing, None
        if out is not None:
            out.live = False
            rt.submit(rt.unpublish, out)
        return True

    def is_publishing(self) -> bool:
        rt = self._live()
        return rt is not None and rt.outgoing is not None

    def add_audio(self, audio_data: AudioData) -> bool:
        """Queue PCM for the publisher (any chunk length, any allowed rate: resampled). False when
        not connected or not publishing audio."""
        if not isinstance(audio_data, AudioData):
            raise TypeError(f"audio_data must be an AudioData, not {type(audio_data).__name__}")
        rt = self._live()
        out = rt.outgoing if rt is not None else None
        if rt is None or out is None or out.out_audio is None or not out.live:
            return False
        count = audio_data.number_of_frames * audio_data.number_of_channels
        samples = np.frombuffer(audio_data.sample_buffer, dtype=np.int16, count=count)
        out.out_audio.push(samples, audio_data.sample_rate, audio_data.number_of_channels)
        rt.wake_audio(out)
        return True

    def add_video(self, video_frame: VideoFrame) -> bool:
        """Queue a frame for the publisher; it must have the ``SessionVideoPublisherSettings``
        resolution and format (False, logged, otherwise: LiveKit would rescale the stream)."""
        if not isinstance(video_frame, VideoFrame):
            raise TypeError(f"video_frame must be a VideoFrame, not {type(video_frame).__name__}")
        rt = self._live()
        out = rt.outgoing if rt is not None else None
        if rt is None or out is None or out.video_format is None or not out.live:
            return False
        fmt = out.video_format
        if video_frame.format != fmt.format or video_frame.resolution != fmt.resolution:
            logger.warning(
                "add_video: a %dx%d %s frame, the publisher takes %dx%d %s: not sent",
                video_frame.resolution.width, video_frame.resolution.height, video_frame.format,
                fmt.resolution.width, fmt.resolution.height, fmt.format,
            )
            return False
        if len(video_frame.frame_buffer) < _video.frame_size(fmt.format, fmt.resolution.width, fmt.resolution.height):
            logger.warning("add_video: frame_buffer is shorter than a %s frame of that size: not sent", fmt.format)
            return False
        self._queue_frame(rt, out, _video.to_livekit(video_frame))
        return True

    @staticmethod
    def _queue_frame(rt: Runtime, out: Outgoing, frame: Any) -> None:
        assert out.video_format is not None
        queue = out.out_video
        if len(queue) >= max(1, int(out.video_format.fps * 1.0)):
            queue.popleft()
            out.video_dropped += 1
            if out.video_dropped == 1 or out.video_dropped % 100 == 0:
                logger.warning("add_video faster than %d fps: %d queued frame(s) dropped so far", out.video_format.fps, out.video_dropped)
        queue.append(frame)
        rt.wake_video(out)

    def clear_media_buffers(self) -> bool:
        """Drop queued outgoing audio and video (barge-in). False when not connected."""
        rt = self._live()
        if rt is None:
            return False
        rt.clear_buffers()
        return True

    def get_media_buffer_stats(self) -> MediaBufferStats:
        rt = self._live()
        return rt.stats() if rt is not None else MediaBufferStats()

    # --- subscribers -----------------------------------------------------------------------------

    def subscribe(
        self,
        stream: Stream,
        *,
        settings: SubscriberSettings | None = None,
        on_error_cb: Callback | None = None,
        on_connected_cb: Callback | None = None,
        on_disconnected_cb: Callback | None = None,
        on_audio_data_cb: Callback | None = None,
        on_render_frame_cb: Callback | None = None,
        on_caption_text_cb: Callback | None = None,
    ) -> bool:
        """Subscribe to a received stream (looked up by ``stream.id``); wait for ``on_connected_cb``.
        False when not connected, the stream is unknown, or already subscribed."""
        if not isinstance(stream, Stream):
            raise TypeError(f"stream must be a Stream, not {type(stream).__name__}")
        if settings is not None and not isinstance(settings, SubscriberSettings):
            raise TypeError(f"settings must be a SubscriberSettings, not {type(settings).__name__}")
        callbacks = _check_callbacks(dict(
            on_error_cb=on_error_cb, on_connected_cb=on_connected_cb, on_disconnected_cb=on_disconnected_cb,
            on_audio_data_cb=on_audio_data_cb, on_render_frame_cb=on_render_frame_cb, on_caption_text_cb=on_caption_text_cb,
        ))
        rt = self._live()
        if rt is None:
            logger.warning("subscribe: not connected")
            return False
        with rt.lock:
            feed = rt.roster.find_stream(stream.id)
            if feed is None or stream.id in rt.incoming:
                logger.warning("subscribe: stream %s is %s", stream.id, "unknown" if feed is None else "already subscribed")
                return False
            sub = Incoming(Subscriber(stream=feed.stream), settings or SubscriberSettings(), callbacks)
            rt.incoming[stream.id] = sub
        return rt.loop_thread.call(rt.subscribe, sub, stream.id)

    def unsubscribe(self, stream: Stream) -> bool:
        """End a subscription; False when there is none for ``stream.id``."""
        if not isinstance(stream, Stream):
            raise TypeError(f"stream must be a Stream, not {type(stream).__name__}")
        rt = self._live()
        if rt is None:
            return False
        with rt.lock:  # taken out now, so a second unsubscribe (or a new subscribe) sees it gone
            sub = rt.incoming.pop(stream.id, None)
        return sub is not None and rt.loop_thread.call(rt.close_incoming, sub)

    # --- signals (addition) ----------------------------------------------------------------------

    def send_signal(self, type: str | None = None, data: str | None = None, to: Connection | None = None) -> bool:
        """Send an OpenTok signal (received by the OpenTok model's ``signal`` events and by other
        clients' ``on_signal_cb(session, type, data, connection)``); ``to``: one Connection, or
        everyone (the sender included, as OpenTok). False (logged) when invalid or not connected."""
        rt = self._live()
        if rt is None:
            logger.warning("send_signal: not connected")
            return False
        options = {k: v for k, v in (("type", type), ("data", data)) if v is not None}
        error = parse_signal(options).error
        identity = None
        if error is None and to is not None:
            with rt.lock:
                peer = rt.roster.find_connection(to.id) if isinstance(to, Connection) else None
            identity = peer.identity if peer is not None else None
            if identity is None:
                logger.warning("send_signal: no connection %r in the session", getattr(to, "id", to))
                return False
        if error is not None:
            logger.warning("send_signal: %s", error.message)
            return False
        return rt.loop_thread.call(rt.send_signal, type, data, identity)
