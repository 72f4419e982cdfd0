"""opentok 3.x's enums: same names, same values."""

from __future__ import annotations

from enum import Enum

__all__ = ["VALID_ARCHIVE_RESOLUTIONS", "ArchiveModes", "MediaModes", "OutputModes", "Roles", "StreamModes"]


class Roles(Enum):
    subscriber = "subscriber"
    publisher = "publisher"
    publisher_only = "publisheronly"
    moderator = "moderator"


class MediaModes(Enum):
    routed = "disabled"
    relayed = "enabled"


class ArchiveModes(Enum):
    manual = "manual"
    always = "always"


class OutputModes(Enum):
    composed = "composed"
    individual = "individual"


class StreamModes(Enum):
    auto = "auto"
    manual = "manual"


VALID_ARCHIVE_RESOLUTIONS = frozenset({"640x480", "480x640", "1280x720", "720x1280", "1920x1080", "1080x1920"})
