"""Option dictionaries of twilio-video.js as small attrs classes, with the original's checks.

Every public function here accepts either the attrs object or a plain ``dict`` with the
JavaScript key names (``{"name": "room", "automaticSubscription": False}``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .errors import RangeError

logger = logging.getLogger(__name__)

Priority = Literal["low", "standard", "high"]
PRIORITIES = ("low", "standard", "high")
AUDIO_CODECS = ("isac", "opus", "PCMA", "PCMU")
VIDEO_CODECS = ("H264", "VP8", "VP9")


def _invalid_type(name: str, type_: str) -> TypeError:
    article = "an" if type_[:1].lower() in "aeiou" else "a"
    return TypeError(f"{name} must be {article} {type_}")


def _invalid_value(name: str, values: tuple[str, ...]) -> RangeError:
    return RangeError(f"{name} must be one of {', '.join(values)}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@attrs.frozen
class AudioCodecSettings:
    """``{codec}``; for opus also ``dtx`` (default True, as a bare ``'opus'`` gives)."""

    codec: str
    dtx: bool = True


@attrs.frozen
class VideoCodecSettings:
    """``{codec}``; for VP8 also ``simulcast`` (default False)."""

    codec: str
    simulcast: bool = False


@attrs.frozen
class NetworkQualityConfiguration:
    """Verbosity of network-quality reports: ``local`` 1-3 (default 1), ``remote`` 0-3 (default 0)."""

    local: int = 1
    remote: int = 0

    @classmethod
    def parse(cls, value: Any, current: NetworkQualityConfiguration | None = None) -> NetworkQualityConfiguration:
        base = current or cls()
        if isinstance(value, NetworkQualityConfiguration):
            return value
        if value is True:
            return cls()
        if not isinstance(value, Mapping):
            raise _invalid_type("options.networkQuality", "boolean or NetworkQualityConfiguration")
        local, remote = base.local, base.remote
        if "local" in value:
            if not _is_number(value["local"]):
                raise _invalid_type("networkQuality.local", "number")
            local = int(value["local"]) if 1 <= value["local"] <= 3 else 1
        if "remote" in value:
            if not _is_number(value["remote"]):
                raise _invalid_type("networkQuality.remote", "number")
            remote = int(value["remote"]) if 0 <= value["remote"] <= 3 else 0
        return cls(local, remote)


@attrs.frozen
class LocalTrackPublishOptions:
    """``publishTrack`` options: ``priority`` (default ``'standard'``)."""

    priority: str = "standard"

    @classmethod
    def parse(cls, value: Any) -> LocalTrackPublishOptions:
        if value is None:
            return cls()
        if isinstance(value, LocalTrackPublishOptions):
            return value
        if not isinstance(value, Mapping):
            raise _invalid_type("options", "object")
        priority = value.get("priority", "standard")
        if priority not in PRIORITIES:
            raise _invalid_value("LocalTrackPublishOptions.priority", PRIORITIES)
        return cls(priority)


# Keys of ConnectOptions that are accepted and have no effect here (browser, telemetry or
# deprecated options; see docs/parity.md).
IGNORED_KEYS = frozenset(
    {
        "bandwidthProfile",
        "disposeMediaElement",
        "dscpTagging",
        "enableDscp",
        "enumerateDevices",
        "eventListener",
        "getUserMedia",
        "iceServers",
        "iceTransportPolicy",
        "insights",
        "logLevel",
        "loggerName",
        "mapMediaElement",
        "MediaStream",
        "notifyWarnings",
        "receiveTranscriptions",
        "rtcConfiguration",
        "RTCPeerConnection",
    }
)

SUPPORTED_KEYS = frozenset(
    {
        "name",
        "tracks",
        "audio",
        "video",
        "automaticSubscription",
        "dominantSpeaker",
        "networkQuality",
        "preferredAudioCodecs",
        "preferredVideoCodecs",
        "maxAudioBitrate",
        "maxVideoBitrate",
        "region",
        # additions of this package:
        "url",
        "connectTimeout",
    }
)


@attrs.frozen
class ConnectOptions:
    """The ConnectOptions of ``connect()`` this package honours (see docs/parity.md).

    Additions: ``url`` (the LiveKit server; default: environment ``LIVEKIT_URL``) and
    ``connectTimeout`` (seconds for the whole join; default 30).
    """

    name: str | None = None
    tracks: tuple[Any, ...] | None = None
    automaticSubscription: bool = True
    dominantSpeaker: bool = False
    networkQuality: NetworkQualityConfiguration | None = None
    preferredAudioCodecs: tuple[AudioCodecSettings, ...] = ()
    preferredVideoCodecs: tuple[VideoCodecSettings, ...] | Literal["auto"] = ()
    maxAudioBitrate: int | None = None
    maxVideoBitrate: int | None = None
    region: str = "gll"
    url: str | None = None
    connectTimeout: float = 30.0
    # without ``tracks``: the tracks connect() makes (createLocalTracks's audio/video options);
    # None when the key is absent
    audio: bool | Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    video: bool | Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    ignored: tuple[str, ...] = ()

    @classmethod
    def parse(cls, options: Any) -> ConnectOptions:
        """Validate a dict (JavaScript key names) the way ``lib/connect.js`` does."""
        if isinstance(options, ConnectOptions):
            return options
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise _invalid_type("options", "object")
        from .localaudiotrack import LocalAudioTrack
        from .localdatatrack import LocalDataTrack
        from .localvideotrack import LocalVideoTrack

        values: dict[str, Any] = {}
        ignored: list[str] = []
        for key, value in options.items():
            if not isinstance(key, str):
                raise TypeError("Illegal call to connect: ConnectOptions keys must be strings")
            if key in IGNORED_KEYS:
                ignored.append(key)
                continue
            if key not in SUPPORTED_KEYS:
                raise TypeError(f'Illegal call to connect: unknown ConnectOptions "{key}"')
            if value is None and key not in ("tracks",):
                continue  # filterObject(): undefined/null means "use the default"
            values[key] = value
        if ignored:
            logger.info("ConnectOptions without effect on LiveKit: %s", ", ".join(sorted(ignored)))

        out: dict[str, Any] = {"ignored": tuple(sorted(ignored))}
        if "name" in values:
            if not isinstance(values["name"], str):
                raise _invalid_type("options.name", "string")
            out["name"] = values["name"]
        if "tracks" in values and values["tracks"] is not None:
            tracks = values["tracks"]
            if not isinstance(tracks, (list, tuple)) or not all(
                isinstance(t, (LocalAudioTrack, LocalVideoTrack, LocalDataTrack)) for t in tracks
            ):
                raise TypeError(
                    "options.tracks must be an Array of LocalAudioTrack, LocalVideoTrack or MediaStreamTrack"
                )
            out["tracks"] = tuple(tracks)
        for key in ("audio", "video"):
            if key in values:
                if not isinstance(values[key], (bool, Mapping)):
                    raise _invalid_type(f"options.{key}", "boolean or object")
                out[key] = values[key]
        for key in ("automaticSubscription", "dominantSpeaker"):
            if key in values:
                if not isinstance(values[key], bool):
                    raise _invalid_type(f"options.{key}", "boolean")
                out[key] = values[key]
        if "networkQuality" in values:
            nq = values["networkQuality"]
            if nq is False:
                out["networkQuality"] = None
            else:
                out["networkQuality"] = NetworkQualityConfiguration.parse(nq)
        for key in ("maxAudioBitrate", "maxVideoBitrate"):
            if key in values:
                if not _is_number(values[key]) or values[key] < 0:
                    raise _invalid_type(f"options.{key}", "number")
                out[key] = int(values[key]) or None
        if "preferredAudioCodecs" in values:
            out["preferredAudioCodecs"] = tuple(
                _audio_codec(c, i) for i, c in enumerate(_as_list(values["preferredAudioCodecs"], "preferredAudioCodecs"))
            )
        if "preferredVideoCodecs" in values:
            pv = values["preferredVideoCodecs"]
            if pv == "auto":
                if values.get("maxVideoBitrate"):  # lib/connect.js: a 0 or null bitrate is no conflict
                    raise TypeError(
                        'Illegal call to connect: ConnectOptions "maxVideoBitrate" is not compatible with '
                        '"preferredVideoCodecs=auto"'
                    )
                out["preferredVideoCodecs"] = "auto"
            else:
                out["preferredVideoCodecs"] = tuple(
                    _video_codec(c, i) for i, c in enumerate(_as_list(pv, "preferredVideoCodecs"))
                )
        for key in ("region", "url"):
            if key in values:
                if not isinstance(values[key], str):
                    raise _invalid_type(f"options.{key}", "string")
                out[key] = values[key]
        if "connectTimeout" in values:
            if not _is_number(values["connectTimeout"]) or values["connectTimeout"] <= 0:
                raise _invalid_type("options.connectTimeout", "positive number")
            out["connectTimeout"] = float(values["connectTimeout"])
        return cls(**out)


def _as_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _invalid_type(f"options.{name}", "array")
    return list(value)


def _audio_codec(value: Any, i: int) -> AudioCodecSettings:
    if isinstance(value, AudioCodecSettings):
        return value
    if isinstance(value, str):
        value = {"codec": value}
    if not isinstance(value, Mapping):
        raise _invalid_type(f"options.preferredAudioCodecs[{i}]", "string or AudioCodecSettings")
    codec = value.get("codec")
    if codec not in AUDIO_CODECS:
        raise _invalid_value(f"options.preferredAudioCodecs[{i}].codec", AUDIO_CODECS)
    dtx = value.get("dtx", True)
    if not isinstance(dtx, bool):
        raise _invalid_type(f"options.preferredAudioCodecs[{i}].dtx", "boolean")
    return AudioCodecSettings(codec, dtx)


def _video_codec(value: Any, i: int) -> VideoCodecSettings:
    if isinstance(value, VideoCodecSettings):
        return value
    if isinstance(value, str):
        value = {"codec": value}
    if not isinstance(value, Mapping):
        raise _invalid_type(f"options.preferredVideoCodecs[{i}]", "string or VideoCodecSettings")
    codec = value.get("codec")
    if codec not in VIDEO_CODECS:
        raise _invalid_value(f"options.preferredVideoCodecs[{i}].codec", VIDEO_CODECS)
    simulcast = value.get("simulcast", False)
    if not isinstance(simulcast, bool):
        raise _invalid_type(f"options.preferredVideoCodecs[{i}].simulcast", "boolean")
    return VideoCodecSettings(codec, simulcast)

__all__ = [
    "AUDIO_CODECS",
    "IGNORED_KEYS",
    "PRIORITIES",
    "SUPPORTED_KEYS",
    "VIDEO_CODECS",
    "AudioCodecSettings",
    "ConnectOptions",
    "LocalTrackPublishOptions",
    "NetworkQualityConfiguration",
    "VideoCodecSettings",
]
