"""The Video Connector models: every field, default and rule of reference §4.4."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from compat.vonage.video_connector import models as M


def pcm(samples: int) -> memoryview:
    return memoryview(bytes(2 * samples)).cast("h")


def test_identities() -> None:
    conn = M.Connection(id="", creation_time=datetime.min)
    assert conn.data == ""
    stream = M.Stream(id="s", connection=conn)
    assert M.Publisher(stream=stream).stream == M.Subscriber(stream=stream).stream == stream
    assert M.Session(id="x").id == "x"
    with pytest.raises(ValidationError):
        M.Stream(id="s")  # type: ignore[call-arg]


@pytest.mark.parametrize("rate", M.AUDIO_SAMPLE_RATES)
def test_audio_data_rates(rate: int) -> None:
    data = M.AudioData(sample_buffer=pcm(rate // 100), sample_rate=rate, number_of_channels=1, number_of_frames=rate // 100)
    assert data.model_copy(update={"number_of_frames": 1}).number_of_frames == 1


@pytest.mark.parametrize(
    "change",
    [
        {"sample_rate": 22050},
        {"number_of_channels": 3},
        {"number_of_channels": 0},
        {"number_of_frames": 481},  # more than the buffer holds
        {"number_of_channels": 2},  # 480 frames x 2 channels do not fit in 480 samples
        {"sample_buffer": memoryview(bytes(960))},  # itemsize 1
        {"sample_buffer": memoryview(bytes(1920)).cast("i")},  # itemsize 4
        {"sample_buffer": b"\0" * 960},  # not a memoryview
    ],
)
def test_audio_data_rules(change: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"sample_buffer": pcm(480), "sample_rate": 48000, "number_of_channels": 1, "number_of_frames": 480}
    with pytest.raises(ValidationError):
        M.AudioData(**{**fields, **change})


def test_video_models() -> None:
    assert M.VideoResolution() == M.VideoResolution(width=640, height=480)
    assert M.VideoResolution(width=1920, height=1080).width == 1920
    for bad in ({"width": 0}, {"height": -1}, {"width": 1921, "height": 1080}, {"width": 3840, "height": 540 + 1}):
        with pytest.raises(ValidationError):
            M.VideoResolution(**bad)
    frame = M.VideoFrame(frame_buffer=memoryview(bytes(10)), resolution=M.VideoResolution())
    assert frame.format == "YUV420P"
    for fmt in ("RGB24", "ARGB32"):
        assert M.VideoFrame(frame_buffer=memoryview(bytes(1)), resolution=M.VideoResolution(), format=fmt).format == fmt
    with pytest.raises(ValidationError):
        M.VideoFrame(frame_buffer=memoryview(bytes(1)), resolution=M.VideoResolution(), format="NV12")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        M.VideoFrame(frame_buffer=pcm(4), resolution=M.VideoResolution())
    assert M.CaptionsData(text="hi", is_final=True).is_final


def test_session_settings() -> None:
    s = M.SessionSettings()
    assert (s.enable_migration, s.av, s.logging) == (False, None, None)
    av = M.SessionAVSettings()
    assert (av.audio_publisher, av.audio_subscribers_mix, av.video_publisher) == (None, None, None)
    audio = M.SessionAudioSettings()
    assert (audio.sample_rate, audio.number_of_channels) == (48000, 2)
    with pytest.raises(ValidationError):
        M.SessionAudioSettings(sample_rate=11025)
    with pytest.raises(ValidationError):
        M.SessionAudioSettings(number_of_channels=6)
    video = M.SessionVideoPublisherSettings(resolution=M.VideoResolution())
    assert (video.fps, video.format) == (30, "YUV420P")
    with pytest.raises(ValidationError):
        M.SessionVideoPublisherSettings()  # type: ignore[call-arg]
    for fps in (0, 31):
        with pytest.raises(ValidationError):
            M.SessionVideoPublisherSettings(resolution=M.VideoResolution(), fps=fps)


@pytest.mark.parametrize("level", ["ERROR", "warn", "Info", "debug", "TRACE"])
def test_logging_levels_in_any_case(level: str) -> None:
    assert M.LoggingSettings(level=level).level == level.upper()  # type: ignore[arg-type]


def test_logging_rules() -> None:
    assert M.LoggingSettings().level == "WARN"
    with pytest.raises(ValidationError):
        M.LoggingSettings(level="verbose")  # type: ignore[arg-type]


def test_publisher_settings() -> None:
    p = M.PublisherSettings(name="Bot")
    assert (p.has_audio, p.has_video, p.enable_captions, p.audio_settings) == (True, True, False, None)
    a = M.PublisherAudioSettings()
    assert (a.enable_stereo_mode, a.enable_opus_dtx) == (True, False)
    with pytest.raises(ValidationError):
        M.PublisherSettings()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        M.PublisherSettings(name="")
    with pytest.raises(ValidationError):
        M.PublisherSettings(name="Bot", has_audio=False, has_video=False)
    assert p.model_copy(update={"has_video": False}).has_video is False


def test_subscriber_settings() -> None:
    s = M.SubscriberSettings()
    assert (s.subscribe_to_audio, s.subscribe_to_video, s.subscribe_to_captions, s.video_settings) == (True, True, False, None)
    with pytest.raises(ValidationError):
        M.SubscriberSettings(subscribe_to_audio=False, subscribe_to_video=False)
    v = M.SubscriberVideoSettings()
    assert (v.preferred_resolution, v.preferred_framerate) == (None, None)
    for fps in (0, 31):
        with pytest.raises(ValidationError):
            M.SubscriberVideoSettings(preferred_framerate=fps)


def test_buffer_stats() -> None:
    stats = M.MediaBufferStats()
    assert (stats.audio, stats.video) == (None, None)
    full = M.MediaBufferStats(audio=M.AudioBufferStats(duration=timedelta(milliseconds=20)), video=M.VideoBufferStats(duration=timedelta()))
    assert full.audio is not None and full.audio.duration == timedelta(milliseconds=20)
