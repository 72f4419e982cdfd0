"""``Subscriber``: a remote stream this client receives (OpenTok.js ``ot/subscriber.js``).

``session.subscribe(stream)`` subscribes to the stream's LiveKit tracks (the session connects
with ``auto_subscribe=False``: OpenTok subscribes explicitly). ``subscribeToAudio(False)`` /
``subscribeToVideo(False)`` unsubscribe from that track (other Subscribers of the same stream keep
theirs). A bot reads the media with bounded async iterators (PEP 8 additions)::

    async for frame in subscriber.audio_frames(sample_rate=48000, num_channels=1):
        ...  # compat.core.media.AudioFrame, 16-bit PCM

They are :class:`compat.core.FrameStream` s: when the bot is slower than the track the oldest
frame is dropped and counted (``.dropped``, logged); they end when the Subscriber is destroyed,
the track goes away or the session disconnects.

Events: ``destroyed{reason}``, ``videoDisabled{reason}`` / ``videoEnabled{reason}`` (``publishVideo``
when the publisher mutes/unmutes, ``subscribeToVideo`` for our own toggle), ``disconnected`` /
``connected`` around a reconnect.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from compat.core import FrameStream

from .errors import OT_NOT_FOUND, OTError
from .eventing import EventDispatcher
from .events import DestroyedEvent, Event, VideoEnabledChangedEvent
from .stream import Stream

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)


class Subscriber(EventDispatcher):
    """``OT.Subscriber``: ``id``, ``element`` (None), ``stream``, ``streamId``, ``session``."""

    def __init__(self, session: Session, stream: Stream, properties: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        props = dict(properties or {})
        self.id = f"OT_{uuid.uuid4()}"
        self.element: Any = None
        self.session: Session | None = session
        self.stream = stream
        self.streamId = stream.streamId
        self._audio_wanted = bool(props.get("subscribeToAudio", True))
        self._video_wanted = bool(props.get("subscribeToVideo", True))
        self._volume = int(props.get("audioVolume", 100))
        self._frames: list[FrameStream[Any]] = []
        self._destroyed = False

    # --- methods ----------------------------------------------------------------------------

    def subscribeToAudio(self, value: bool = True) -> Subscriber:
        """Receive the stream's audio or not (local only; the publisher is not affected)."""
        self._audio_wanted = bool(value)
        self._update_wants()
        return self

    def subscribeToVideo(self, value: bool = True) -> Subscriber:
        """Receive the stream's video or not; dispatches ``videoDisabled/videoEnabled{subscribeToVideo}``."""
        value = bool(value)
        changed = value != self._video_wanted
        self._video_wanted = value
        self._update_wants()
        if changed and self.stream.video_track_sid is not None:
            self._dispatch(VideoEnabledChangedEvent("videoEnabled" if value else "videoDisabled", "subscribeToVideo", self))
        return self

    def setAudioVolume(self, value: int) -> Subscriber:
        """Stored and returned by ``getAudioVolume``; frames are delivered unscaled (no playout here)."""
        self._volume = max(0, min(100, int(value)))
        return self

    def getAudioVolume(self) -> int:
        return self._volume

    def isAudioBlocked(self) -> bool:
        return False

    def videoWidth(self) -> int | None:
        dims = self.stream.videoDimensions
        return dims["width"] if dims else None

    def videoHeight(self) -> int | None:
        dims = self.stream.videoDimensions
        return dims["height"] if dims else None

    # --- media (additions) --------------------------------------------------------------------

    def audio_frames(
        self, *, sample_rate: int = 48000, num_channels: int = 1, capacity: int = 50, frame_size_ms: int | None = None
    ) -> FrameStream[Any]:
        """Bounded async iterator over the stream's audio (``AudioFrame``, 16-bit PCM); see the module doc.

        :raises compat.vonage.OTError: ``OT_NOT_FOUND`` when the stream has no audio, the Subscriber
            is destroyed, or it does not subscribe to audio.
        """
        sid = self._media_sid(self.stream.audio_track_sid, self._audio_wanted, "audio")
        assert self.session is not None and self.session._session is not None
        frames = self.session._session.open_audio_frames(
            sid, sample_rate=sample_rate, num_channels=num_channels, capacity=capacity, frame_size_ms=frame_size_ms
        )
        self._frames.append(frames)
        return frames

    def video_frames(self, *, capacity: int = 4, rgba: bool = True) -> FrameStream[Any]:
        """Bounded async iterator over the stream's video (``VideoFrame``, RGBA unless ``rgba=False``)."""
        sid = self._media_sid(self.stream.video_track_sid, self._video_wanted, "video")
        assert self.session is not None and self.session._session is not None
        frames = self.session._session.open_video_frames(sid, capacity=capacity, rgba=rgba)
        self._frames.append(frames)
        return frames

    def _media_sid(self, sid: str | None, wanted: bool, kind: str) -> str:
        if self._destroyed or self.session is None or self.session._session is None:
            raise OTError(OT_NOT_FOUND, f"This Subscriber is destroyed: it has no {kind} to read")
        if sid is None:
            raise OTError(OT_NOT_FOUND, f"Stream {self.streamId} has no {kind} track")
        if not wanted:
            raise OTError(OT_NOT_FOUND, f"This Subscriber does not subscribe to {kind}: call subscribeTo{kind.title()}(True)")
        return sid

    # --- internals (driven by the Session) ------------------------------------------------

    def _wanted_sids(self) -> list[str]:
        out = []
        if self._audio_wanted and self.stream.audio_track_sid is not None:
            out.append(self.stream.audio_track_sid)
        if self._video_wanted and self.stream.video_track_sid is not None:
            out.append(self.stream.video_track_sid)
        return out

    def _update_wants(self) -> None:
        if self.session is not None and not self._destroyed:
            self.session._update_wants(self)

    def _publisher_video(self, enabled: bool) -> None:
        if self._video_wanted and not self._destroyed:
            self._dispatch(VideoEnabledChangedEvent("videoEnabled" if enabled else "videoDisabled", "publishVideo", self))

    def _link(self, connected: bool) -> None:
        if not self._destroyed:
            self._dispatch(Event("connected" if connected else "disconnected", self))

    def _destroy(self, reason: str) -> None:
        """Stop receiving, end the frame iterators, dispatch ``destroyed{reason}``."""
        if self._destroyed:
            return
        session = self.session
        if session is not None:
            session._forget_subscriber(self)
        self._destroyed = True
        for frames in self._frames:
            _close_now(frames)
        self._frames.clear()
        self.session = None
        self._dispatch(DestroyedEvent(reason, self))

    def __repr__(self) -> str:
        return f"Subscriber({self.id!r}, streamId={self.streamId!r})"


def _close_now(frames: FrameStream[Any]) -> None:
    """``await frames.aclose()`` without awaiting: it never suspends (it ends the iterator and
    makes the core forget it), so one step of the coroutine runs it to the end."""
    try:
        frames.aclose().send(None)
    except StopIteration:
        pass


__all__ = ["Subscriber"]
