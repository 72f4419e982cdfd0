"""Members shared by LocalAudioTrack and LocalVideoTrack (the LocalMediaTrack mixin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from compat.core.media import AudioSource, VideoSource

from .eventemitter import E
from .track import MediaTrack

LocalMediaTrackEvent = Literal["disabled", "enabled", "stopped"]
"""Events of LocalAudioTrack and LocalVideoTrack (no capture device: no ``started``, ``muted``, ``unmuted``)."""


def track_name(options: Any, name: str | None, default: str) -> str:
    """``options.name`` (or the ``name=`` keyword); defaults to the track id, like the original."""
    if options is not None and not isinstance(options, Mapping):
        raise TypeError("options must be an object")
    if options is not None and "name" in options and options["name"] is not None:
        name = options["name"]
    if name is None:
        return default
    if not isinstance(name, str):
        raise TypeError("options.name must be a string")
    return name


class LocalMediaTrackMixin(MediaTrack[E]):
    """``id``, ``isEnabled``, ``isMuted``, ``isStopped``; ``enable/disable/stop/restart``."""

    id: str
    source: AudioSource | VideoSource
    _JSON_PROPERTIES = (*MediaTrack._JSON_PROPERTIES, "id", "isEnabled", "isMuted", "isStopped")

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(kind, name)
        self.isMuted = False
        self.isStopped = False
        self.isStarted = True

    def enable(self, enabled: bool = True) -> Any:
        """Enable (or with False, disable) the track; emits ``enabled``/``disabled`` on change.
        A disabled track is muted in LiveKit (subscribers see ``trackDisabled``)."""
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a boolean")
        if enabled != self.isEnabled:
            self.isEnabled = enabled
            self.emit("enabled" if enabled else "disabled", self)
        return self

    def disable(self) -> Any:
        return self.enable(False)

    def stop(self) -> Any:
        """Stop the track (emits ``stopped`` once). It stays published, sending nothing."""
        if not self.isStopped:
            self.isStopped = True
            self.source.end_idle_fill()
            self.emit("stopped", self)
        return self

    async def restart(self, constraints: Any = None) -> None:
        raise TypeError("restart() is only supported for tracks created by createLocalTracks() in a browser")

__all__ = ["LocalMediaTrackEvent", "LocalMediaTrackMixin", "track_name"]
