"""``Publisher``: media this client publishes (OpenTok.js ``ot/publisher.js``), fed by a bot.

A bot has no camera or microphone: a Publisher publishes a :class:`compat.core.media.AudioSource`
(16-bit PCM) and/or a :class:`compat.core.media.VideoSource` (raw frames), given as the
``audioSource`` / ``videoSource`` properties of ``OT.initPublisher``. Without ``audioSource`` a
48 kHz mono ``AudioSource`` is created (``publisher.audio_source``); without ``videoSource`` the
Publisher has no video (OpenTok would open the camera). ``None``/``False`` means none, as in
OpenTok.js; a device ID (a string) is refused with 1011. A ``VideoSource(is_screencast=True)``
makes a screen stream (``videoType`` ``"screen"``, LiveKit source screen share).

Push media with the sources (PEP 8 additions)::

    publisher = OT.initPublisher(None, {"name": "bot", "audioSource": AudioSource(48000, 1)})
    await session.publish(publisher)
    await publisher.audio_source.capture_frame(AudioFrame(pcm, 48000, 1, 480))

Browser-only properties (``insertMode``, ``width``, ``resolution``, ``mirror``, ...) are accepted
and ignored (debug log); unknown ones are logged at WARNING.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from compat.core import PublishSettings, TrackInfo
from compat.core.media import AudioSource, VideoSource

from .errors import OTError, invalid_parameter
from .eventing import EventDispatcher
from .events import Event, StreamEvent
from .stream import Stream

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)

PUBLISHER_PROPERTIES: Final = frozenset({"name", "publishAudio", "publishVideo", "audioSource", "videoSource", "enableDtx"})
IGNORED_PROPERTIES: Final = frozenset(
    {
        "insertDefaultUI", "insertMode", "width", "height", "fitMode", "mirror", "style", "showControls",
        "resolution", "frameRate", "audioBitrate", "enableStereo", "audioFallback", "audioFallbackEnabled",
        "scalableVideo", "preferredVideoCodecs", "videoContentHint", "initials", "publishCaptions",
        "maxResolution", "facingMode", "disableAudioProcessing", "echoCancellation", "noiseSuppression",
        "autoGainControl", "videoFilter", "audioFilter", "allowAudioCaptureWhileMuted",
    }
)  # fmt: skip

PublisherState = Literal["initialized", "publishing", "published", "destroyed"]


def _audio_source(value: Any) -> AudioSource | None:
    if value is None or value is False:
        return None
    if isinstance(value, AudioSource):
        return value
    raise invalid_parameter(
        f"audioSource must be a compat.core.media.AudioSource (or None/False for no audio), not {type(value).__name__}: "
        "a bot has no microphone to open by device ID"
    )


def _video_source(value: Any) -> VideoSource | None:
    if value is None or value is False:
        return None
    if isinstance(value, VideoSource):
        return value
    raise invalid_parameter(
        f"videoSource must be a compat.core.media.VideoSource (or None/False for no video), not {type(value).__name__}: "
        "a bot has no camera or screen to open by device ID"
    )


def _check_keys(props: Mapping[str, Any]) -> None:
    for key in props:
        if key in IGNORED_PROPERTIES:
            logger.debug("OT.initPublisher ignores the browser property %r", key)
        elif key not in PUBLISHER_PROPERTIES:
            logger.warning("OT.initPublisher ignores the unknown property %r", key)


class Publisher(EventDispatcher):
    """``OT.Publisher``: ``id``, ``element`` (None), ``stream``, ``streamId``, ``session``, ``accessAllowed``.

    Events: ``streamCreated``, ``streamDestroyed{reason}`` (cancelable; default: destroy the
    Publisher), ``destroyed``, ``muteForced``.
    """

    def __init__(self, properties: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        props = dict(properties or {})
        _check_keys(props)
        self.id = f"OT_{uuid.uuid4()}"
        self.element: Any = None
        self.accessAllowed = True
        self.session: Session | None = None
        self.stream: Stream | None = None
        self.name = str(props.get("name") or "")
        self.audio_source = _audio_source(props["audioSource"]) if "audioSource" in props else AudioSource(48000, 1)
        self.video_source = _video_source(props.get("videoSource"))
        if self.audio_source is None and self.video_source is None:
            raise invalid_parameter("OT.initPublisher: audioSource and videoSource are both None: there is nothing to publish")
        self._publish_audio = bool(props.get("publishAudio", True))
        self._publish_video = bool(props.get("publishVideo", True))
        self._dtx = props.get("enableDtx")
        self._tracks: dict[str, TrackInfo] = {}  # kind -> our published track
        self._state: PublisherState = "initialized"
        self._destroying = False

    # --- properties -------------------------------------------------------------------------

    @property
    def streamId(self) -> str | None:
        return self.stream.streamId if self.stream is not None else None

    @property
    def slot(self) -> Literal["camera", "screen"]:
        """Addition: the stream this Publisher makes (``"screen"`` for a screencast VideoSource)."""
        return "screen" if self.video_source is not None and self.video_source.is_screencast else "camera"

    def videoWidth(self) -> int | None:
        return self.video_source.width if self.video_source is not None else None

    def videoHeight(self) -> int | None:
        return self.video_source.height if self.video_source is not None else None

    # --- methods ----------------------------------------------------------------------------

    def publishAudio(self, value: bool) -> Publisher:
        """Start/stop sending audio (LiveKit mute); remote clients see ``streamPropertyChanged{hasAudio}``."""
        self._publish_audio = bool(value)
        self._apply_mute("audio", not self._publish_audio)
        return self

    def publishVideo(self, value: bool, completionHandler: Callable[[OTError | None], Any] | None = None) -> Publisher:
        """Start/stop sending video (LiveKit mute); remote clients see ``streamPropertyChanged{hasVideo}``."""
        self._publish_video = bool(value)
        self._apply_mute("video", not self._publish_video)
        if completionHandler is not None:
            completionHandler(None)
        return self

    def destroy(self) -> Publisher:
        """Unpublish (Publisher ``streamDestroyed{reset}``) if publishing, then dispatch ``destroyed``."""
        if self._state == "destroyed" or self._destroying:
            return self
        self._destroying = True
        if self.session is not None and self.stream is not None:
            self.session._unpublish(self, "reset")
        self._state = "destroyed"
        self.session = None
        self._dispatch(Event("destroyed", self))
        return self

    # --- internals (driven by the Session) ------------------------------------------------

    def _settings(self, kind: Literal["audio", "video"]) -> PublishSettings:
        screen = self.slot == "screen"
        if kind == "audio":
            return PublishSettings(source="screen_share_audio" if screen else "microphone", dtx=self._dtx)
        return PublishSettings(source="screen_share" if screen else "camera")

    def _apply_mute(self, kind: str, muted: bool) -> None:
        track = self._tracks.get(kind)
        if track is None or self.session is None or self.stream is None:
            return
        self.session._set_local_muted(track.sid, muted)
        self.stream._set_muted(track.sid, muted)

    def _forced_mute(self, track_sid: str, muted: bool) -> None:
        """The server (a moderator) muted or unmuted one of our tracks."""
        kind = next((k for k, t in self._tracks.items() if t.sid == track_sid), None)
        if kind is None or self.stream is None:
            return
        self.stream._set_muted(track_sid, muted)
        if kind == "video":
            self._publish_video = not muted
            return
        was_publishing = self._publish_audio
        self._publish_audio = not muted
        if muted and was_publishing:
            self._dispatch(Event("muteForced", self))

    def _started(self, stream: Stream, tracks: dict[str, TrackInfo]) -> None:
        self.stream = stream
        self._tracks = tracks
        self._state = "published"
        self._dispatch(StreamEvent("streamCreated", stream, self))

    def _end_stream(self, reason: str) -> None:
        """Our stream ended: ``streamDestroyed{reason}`` once per stream, default action destroy."""
        stream = self.stream
        if stream is None:
            return
        self._tracks = {}
        self._state = "initialized"
        event = StreamEvent("streamDestroyed", stream, self, reason, cancelable=True)
        self._dispatch(event)
        self.stream = None
        if not event.isDefaultPrevented() and not self._destroying:
            self.destroy()

    def __repr__(self) -> str:
        return f"Publisher({self.id!r}, streamId={self.streamId!r})"


def initPublisher(
    targetElement: Any = None,
    properties: Mapping[str, Any] | None = None,
    completionHandler: Callable[[OTError | None], Any] | None = None,
) -> Publisher:
    """``OT.initPublisher(targetElement?, properties?, completionHandler?)`` -> Publisher.

    ``targetElement`` (a DOM element in OpenTok.js) is ignored; a dict given in its place is
    taken as ``properties``. An invalid property raises the OTError (1011), after passing it to the
    completion handler when one is given (there is no Publisher to return). The handler runs
    synchronously, with None on success.
    """
    if isinstance(targetElement, Mapping) and properties is None:
        properties = targetElement
    try:
        publisher = Publisher(properties)
    except OTError as error:
        if completionHandler is None:
            raise
        completionHandler(error)
        raise
    if completionHandler is not None:
        completionHandler(None)
    return publisher


__all__ = ["IGNORED_PROPERTIES", "PUBLISHER_PROPERTIES", "Publisher", "PublisherState", "initPublisher"]
