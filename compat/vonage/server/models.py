"""opentok 3.x's result objects: ``Session``, ``Archive``/``ArchiveList``, ``Stream``/``StreamList``."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .enums import OutputModes, StreamModes
from .exceptions import OpenTokException

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Archive", "ArchiveList", "Session", "Stream", "StreamList"]


class Session:
    """``opentok.Session``: ``session_id``, and the ``create_session`` settings as attributes."""

    def __init__(self, sdk: Client, session_id: str, **kwargs: Any) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise OpenTokException(f"Cannot instantiate Session, session_id was not valid {session_id}")
        self.session_id = session_id
        self.sdk = sdk
        for key, value in kwargs.items():
            setattr(self, key, value)

    def generate_token(self, **kwargs: Any) -> str:
        """``sdk.generate_token(self.session_id, **kwargs)``."""
        return self.sdk.generate_token(self.session_id, **kwargs)


class Archive:
    """``opentok.Archive``: built from the REST JSON of an archive (see ``_service.archive_fields``)."""

    def __init__(self, sdk: Client, values: dict[str, Any]) -> None:
        self.sdk = sdk
        self.id: str = values["id"]
        self.name: str | None = values.get("name")
        self.status: str = values["status"]
        self.session_id: str = values["sessionId"]
        self.partner_id: str = values.get("partnerId", "")
        self.created_at = datetime.datetime.fromtimestamp(values.get("createdAt", 0) // 1000, datetime.timezone.utc)
        self.size: int = values.get("size", 0)
        self.duration: int = values.get("duration", 0)
        self.has_audio: bool = values.get("hasAudio", True)
        self.has_video: bool = values.get("hasVideo", True)
        self.output_mode = OutputModes[values.get("outputMode", "composed")]
        self.stream_mode = StreamModes(values.get("streamMode", "auto"))
        self.streams: list[Any] = values.get("streams") or []
        self.url: str | None = values.get("url")
        self.resolution: str | None = values.get("resolution")
        self.max_bitrate: int | None = values.get("maxBitrate")
        self.quantization_parameter: int | None = values.get("quantizationParameter")
        self.has_transcription: bool = values.get("hasTranscription", False)
        self.transcription_properties: Any = values.get("transcriptionProperties")
        self.reason: str = values.get("reason", "")

    def stop(self) -> None:
        """Stop recording; this object takes the stopped archive's fields."""
        stopped = self.sdk.stop_archive(self.id)
        for key, value in stopped.attrs().items():
            setattr(self, key, value)

    def delete(self) -> None:
        self.sdk.delete_archive(self.id)

    def attrs(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "sdk"}

    def json(self) -> str:
        return json.dumps(self.attrs(), default=_plain, indent=4)

    def __repr__(self) -> str:
        return f"<Archive {self.id} {self.status}>"


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (OutputModes, StreamModes)):
        return value.value
    return None


class ArchiveList:
    """``opentok.ArchiveList``: ``count`` (all matching archives) and ``items`` (this page)."""

    def __init__(self, sdk: Client, values: dict[str, Any]) -> None:
        self.count: int = values.get("count", 0)
        self.items = [Archive(sdk, item) for item in values.get("items", [])]

    def __iter__(self) -> Iterator[Archive]:
        return iter(self.items)

    def attrs(self) -> dict[str, Any]:
        return {"count": self.count, "items": [a.attrs() for a in self.items]}


class Stream:
    """``opentok.Stream``: ``id``, ``videoType``, ``name``, ``layoutClassList`` (the REST JSON's keys)."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.id: str = kwargs.get("id", "")
        self.videoType: str | None = kwargs.get("videoType")
        self.name: str = kwargs.get("name", "")
        self.layoutClassList: list[str] = kwargs.get("layoutClassList", [])

    def attrs(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"<Stream {self.id} {self.videoType}>"


class StreamList:
    """``opentok.StreamList``: ``count`` and ``items``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.count: int = values.get("count", 0)
        self.items = [Stream(item) for item in values.get("items", [])]

    def __iter__(self) -> Iterator[Stream]:
        return iter(self.items)

    def attrs(self) -> dict[str, Any]:
        return {"count": self.count, "items": [s.attrs() for s in self.items]}
