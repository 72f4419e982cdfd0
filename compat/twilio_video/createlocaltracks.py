"""``createLocalAudioTrack``, ``createLocalVideoTrack``, ``createLocalTracks`` for a bot.

The originals capture the microphone and camera (getUserMedia). A bot has no devices: each
track made here is fed by the bot itself, through ``await track.capture_frame(AudioFrame)``
/ ``track.capture_frame(VideoFrame)`` (additions), or ``track.source``. Until the bot sends
its first frame the track sends silence (20 ms frames) or black (5 frames a second), as a
quiet microphone or a dark camera would: subscribers get ``trackStarted`` as soon as it is
published. The first frame from the bot, or ``track.stop()``, ends the fill for good.

Options follow lib/createlocaltrack.js and lib/createlocaltracks.ts: ``name`` names the
track (default: its id); media constraints that make sense without a device set the
source's format (audio ``sampleRate``, ``channelCount``; video ``width``, ``height``, as a
number or ``{"exact"|"ideal": number}``); device and browser constraints (``deviceId``,
``frameRate``, ``facingMode``, ``workaroundWebKitBug*``, ``logLevel``, ...) are accepted and
have no effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.core.media import AudioSource, VideoSource

from .localaudiotrack import LocalAudioTrack
from .localvideotrack import LocalVideoTrack

DEFAULT_WIDTH, DEFAULT_HEIGHT = 640, 480  # a browser camera's usual default
LocalMediaTrack = LocalAudioTrack | LocalVideoTrack


def _options(options: Any, what: str) -> Mapping[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"{what} must be an object")
    return options


def _number(options: Mapping[str, Any], key: str, default: int) -> int:
    """A constraint given as a number or as ``{exact|ideal: number}``."""
    value = options.get(key)
    if isinstance(value, Mapping):
        value = value.get("exact", value.get("ideal"))
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise TypeError(f"options.{key} must be a positive number")
    return int(value)


def _name(options: Mapping[str, Any]) -> str | None:
    name = options.get("name")
    if name is not None and not isinstance(name, str):
        raise TypeError("options.name must be a string")
    return name


def make_audio_track(options: Any = None) -> LocalAudioTrack:
    opts = _options(options, "options")
    source = AudioSource(_number(opts, "sampleRate", 48000), _number(opts, "channelCount", 1), idle_fill=True)
    return LocalAudioTrack(source, name=_name(opts))


def make_video_track(options: Any = None) -> LocalVideoTrack:
    opts = _options(options, "options")
    source = VideoSource(_number(opts, "width", DEFAULT_WIDTH), _number(opts, "height", DEFAULT_HEIGHT), idle_fill=True)
    return LocalVideoTrack(source, name=_name(opts))


def make_tracks(options: Any = None) -> list[LocalMediaTrack]:
    """lib/createlocaltracks.ts ``createLocalTracks``: with neither ``audio`` nor ``video`` in
    the options both are made; otherwise each one that is ``True`` or an options object."""
    opts = _options(options, "options")
    absent = "audio" not in opts and "video" not in opts
    tracks: list[LocalMediaTrack] = []
    for key, make in (("audio", make_audio_track), ("video", make_video_track)):
        wanted = opts.get(key, absent)
        if wanted is None or wanted is False:
            continue
        if wanted is not True and not isinstance(wanted, Mapping):
            raise TypeError(f"options.{key} must be a boolean or an object")
        tracks.append(make(None if wanted is True else wanted))
    return tracks


async def createLocalAudioTrack(options: Any = None) -> LocalAudioTrack:
    """A LocalAudioTrack fed by the bot (16-bit PCM through ``capture_frame``); it sends
    silence until the bot's first frame. ``options``: ``name``, ``sampleRate`` (48000), ``channelCount`` (1)."""
    return make_audio_track(options)


async def createLocalVideoTrack(options: Any = None) -> LocalVideoTrack:
    """A LocalVideoTrack fed by the bot (``capture_frame``); it sends black until the bot's
    first frame. ``options``: ``name``, ``width`` (640), ``height`` (480)."""
    return make_video_track(options)


async def createLocalTracks(options: Any = None) -> list[LocalMediaTrack]:
    """``[LocalAudioTrack, LocalVideoTrack]`` fed by the bot (see :func:`make_tracks`);
    ``options.audio`` / ``options.video``: ``True``, ``False`` or the options of
    :func:`createLocalAudioTrack` / :func:`createLocalVideoTrack`."""
    return make_tracks(options)

__all__ = ["createLocalAudioTrack", "createLocalTracks", "createLocalVideoTrack", "make_tracks"]
