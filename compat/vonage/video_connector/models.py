"""The Video Connector's models (``vonage_video_connector.models`` 1.0.3), as pydantic v2 models.

Same names, fields, defaults and validation as the original (docs/vonage reference §4.4), so
keyword construction, defaults, ``ValidationError`` and ``model_copy`` behave as there:

* ``AudioData.sample_buffer`` is a ``memoryview`` of 16-bit samples (itemsize 2), interleaved;
  ``number_of_frames * number_of_channels`` samples must fit in it.
* ``VideoFrame.frame_buffer`` is a ``memoryview`` of bytes (itemsize 1) in ``format``:
  ``YUV420P`` (planar I420: Y, then U and V at half size, rounded up), ``RGB24`` (3 bytes a pixel,
  in memory B, G, R) or ``ARGB32`` (4 bytes a pixel, in memory B, G, R, A): the libyuv names
  the native SDK uses, whose byte order is the reverse of the name.
* ``LoggingSettings.level`` is accepted in any case (``"warn"``, ``"INFO"``) and kept upper-case.

Buffers passed to callbacks stay valid after the callback here (each frame is a fresh buffer);
code written for the original copies them anyway, which is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AUDIO_SAMPLE_RATES",
    "MAX_PIXELS",
    "AudioBufferStats",
    "AudioData",
    "CaptionsData",
    "Connection",
    "LoggingSettings",
    "MediaBufferStats",
    "Publisher",
    "PublisherAudioSettings",
    "PublisherSettings",
    "Session",
    "SessionAVSettings",
    "SessionAudioSettings",
    "SessionSettings",
    "SessionVideoPublisherSettings",
    "Stream",
    "Subscriber",
    "SubscriberSettings",
    "SubscriberVideoSettings",
    "VideoBufferStats",
    "VideoFormat",
    "VideoFrame",
    "VideoResolution",
]

AUDIO_SAMPLE_RATES = (8000, 12000, 16000, 24000, 32000, 44100, 48000)
"""The sample rates the original accepts (Opus's, plus 44.1 kHz)."""

MAX_PIXELS = 1920 * 1080
"""The largest frame the original accepts (width × height)."""

VideoFormat = Literal["YUV420P", "RGB24", "ARGB32"]
LogLevel = Literal["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]

_BUFFERS = ConfigDict(arbitrary_types_allowed=True)


def _check_rate(value: int) -> int:
    if value not in AUDIO_SAMPLE_RATES:
        raise ValueError(f"sample_rate must be one of {AUDIO_SAMPLE_RATES}, not {value}")
    return value


def _check_channels(value: int) -> int:
    if value not in (1, 2):
        raise ValueError(f"number_of_channels must be 1 or 2, not {value}")
    return value


# --- identities -----------------------------------------------------------------------------------


class Session(BaseModel):
    """The session a callback is about (a value object, not a handle)."""

    id: str


class Connection(BaseModel):
    """A participant's connection: ``id`` (the LiveKit participant SID here), when it joined, and
    the connection data its token carries."""

    id: str
    creation_time: datetime
    data: str = ""


class Stream(BaseModel):
    """One OpenTok stream of a participant (its camera and first microphone, a screen share, or a
    further camera or microphone: grouped as the OpenTok model). Subscribe by ``id``: a Stream built by
    the caller with the same ``id`` is as good as one received."""

    id: str
    connection: Connection


class Publisher(BaseModel):
    stream: Stream


class Subscriber(BaseModel):
    stream: Stream


# --- media ----------------------------------------------------------------------------------------


class AudioData(BaseModel):
    """16-bit PCM, interleaved."""

    model_config = _BUFFERS

    sample_buffer: memoryview
    sample_rate: int
    number_of_channels: int
    number_of_frames: int

    _rate = field_validator("sample_rate")(_check_rate)
    _channels = field_validator("number_of_channels")(_check_channels)

    @field_validator("sample_buffer")
    @classmethod
    def _samples(cls, value: memoryview) -> memoryview:
        if value.itemsize != 2:
            raise ValueError(f"sample_buffer must hold 16-bit samples (itemsize 2), not itemsize {value.itemsize}")
        return value

    @field_validator("number_of_frames")
    @classmethod
    def _frames(cls, value: int) -> int:
        if value < 0:
            raise ValueError("number_of_frames must not be negative")
        return value

    @model_validator(mode="after")
    def _fits(self) -> AudioData:
        needed = self.number_of_frames * self.number_of_channels
        if self.sample_buffer.nbytes // 2 < needed:
            raise ValueError(
                f"sample_buffer holds {self.sample_buffer.nbytes // 2} samples, fewer than number_of_frames × "
                f"number_of_channels = {needed}"
            )
        return self


class VideoResolution(BaseModel):
    width: int = 640
    height: int = 480

    @field_validator("width", "height")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("width and height must be positive")
        return value

    @model_validator(mode="after")
    def _not_too_large(self) -> VideoResolution:
        if self.width * self.height > MAX_PIXELS:
            raise ValueError(f"{self.width}x{self.height} is larger than 1920x1080 pixels")
        return self


class VideoFrame(BaseModel):
    """One video frame, tightly packed in ``format`` (module doc)."""

    model_config = _BUFFERS

    frame_buffer: memoryview
    resolution: VideoResolution
    format: VideoFormat = "YUV420P"

    @field_validator("frame_buffer")
    @classmethod
    def _bytes(cls, value: memoryview) -> memoryview:
        if value.itemsize != 1:
            raise ValueError(f"frame_buffer must be a byte buffer (itemsize 1), not itemsize {value.itemsize}")
        return value


class CaptionsData(BaseModel):
    text: str
    is_final: bool


# --- settings -------------------------------------------------------------------------------------


class SessionAudioSettings(BaseModel):
    sample_rate: int = 48000
    number_of_channels: int = 2

    _rate = field_validator("sample_rate")(_check_rate)
    _channels = field_validator("number_of_channels")(_check_channels)


class SessionVideoPublisherSettings(BaseModel):
    resolution: VideoResolution
    fps: int = Field(default=30, ge=1, le=30)
    format: VideoFormat = "YUV420P"


class SessionAVSettings(BaseModel):
    audio_publisher: SessionAudioSettings | None = None
    audio_subscribers_mix: SessionAudioSettings | None = None
    video_publisher: SessionVideoPublisherSettings | None = None


class LoggingSettings(BaseModel):
    level: LogLevel = "WARN"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class SessionSettings(BaseModel):
    enable_migration: bool = False
    av: SessionAVSettings | None = None
    logging: LoggingSettings | None = None


class PublisherAudioSettings(BaseModel):
    enable_stereo_mode: bool = True
    enable_opus_dtx: bool = False


class PublisherSettings(BaseModel):
    name: str = Field(min_length=1)
    has_audio: bool = True
    has_video: bool = True
    enable_captions: bool = False
    audio_settings: PublisherAudioSettings | None = None

    @model_validator(mode="after")
    def _some_media(self) -> PublisherSettings:
        if not (self.has_audio or self.has_video):
            raise ValueError("at least one of has_audio and has_video must be true")
        return self


class SubscriberVideoSettings(BaseModel):
    preferred_resolution: VideoResolution | None = None
    preferred_framerate: int | None = Field(default=None, ge=1, le=30)


class SubscriberSettings(BaseModel):
    subscribe_to_audio: bool = True
    subscribe_to_video: bool = True
    subscribe_to_captions: bool = False
    video_settings: SubscriberVideoSettings | None = None

    @model_validator(mode="after")
    def _some_media(self) -> SubscriberSettings:
        if not (self.subscribe_to_audio or self.subscribe_to_video):
            raise ValueError("at least one of subscribe_to_audio and subscribe_to_video must be true")
        return self


class AudioBufferStats(BaseModel):
    duration: timedelta


class VideoBufferStats(BaseModel):
    duration: timedelta


class MediaBufferStats(BaseModel):
    audio: AudioBufferStats | None = None
    video: VideoBufferStats | None = None
