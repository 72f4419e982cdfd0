"""``Video``: vonage-video 1.x (``vonage_video.Video``) on a LiveKit server, with its pydantic models.

``Video(api_key=None, api_secret=None, livekit_url=None, *, timeout=30.0)``: the **LiveKit** API key
and secret (default ``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET``) and server (``LIVEKIT_URL``) take
the place of ``vonage.Vonage(Auth(application_id, private_key)).video``. Calls, models and errors
keep vonage-video's names; bad model fields raise pydantic's ``ValidationError`` (or the
``VideoError`` subclass the original's validators raise) before anything reaches LiveKit. Each
blocking call has an ``*_async`` twin. What differs: docs/parity.md.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Coroutine
from enum import Enum
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from compat._server import run_sync
from compat.vonage.errors import LegacyPlatformError, OTError
from compat.vonage.token import generate_token as mint_token

from ._service import Problem, Service
from .video_errors import (
    AuthenticationError,
    HttpRequestError,
    IndividualArchivePropertyError,
    InvalidArchiveStateError,
    NoAudioOrVideoError,
    NotFoundError,
    ServerError,
    SessionPlatformError,
    TokenExpiryError,
    VideoError,
)

__all__ = [
    "Archive",
    "ArchiveMode",
    "CreateArchiveRequest",
    "ListArchivesFilter",
    "MediaMode",
    "OutputMode",
    "SessionOptions",
    "SignalData",
    "StreamInfo",
    "StreamMode",
    "TokenOptions",
    "TokenRole",
    "Video",
    "VideoSession",
]

T = TypeVar("T")
MAX_EXPIRY_S = 30 * 24 * 3600


class TokenRole(str, Enum):
    SUBSCRIBER = "subscriber"
    PUBLISHER = "publisher"
    PUBLISHER_ONLY = "publisheronly"
    MODERATOR = "moderator"


class ArchiveMode(str, Enum):
    MANUAL = "manual"
    ALWAYS = "always"


class MediaMode(str, Enum):
    ROUTED = "routed"
    RELAYED = "relayed"


class OutputMode(str, Enum):
    COMPOSED = "composed"
    INDIVIDUAL = "individual"


class StreamMode(str, Enum):
    AUTO = "auto"
    MANUAL = "manual"


class SessionOptions(BaseModel):
    archive_mode: ArchiveMode | None = None
    location: str | None = None
    media_mode: MediaMode | None = None
    e2ee: bool | None = None
    p2p_preference: str | None = "disabled"


class VideoSession(BaseModel):
    session_id: str
    archive_mode: ArchiveMode | None = None
    media_mode: MediaMode | None = None
    location: str | None = None
    e2ee: bool | None = None


class TokenOptions(BaseModel):
    session_id: str
    role: TokenRole | None = TokenRole.PUBLISHER
    connection_data: str | None = Field(default=None, max_length=1000)
    initial_layout_class_list: list[str] | None = None
    exp: int | None = None
    jti: str = Field(default_factory=lambda: str(uuid.uuid4()))
    iat: int = Field(default_factory=lambda: int(time.time()))

    @field_validator("exp")
    @classmethod
    def validate_exp(cls, v: int | None) -> int | None:
        if v is not None and v < time.time():
            raise TokenExpiryError("Token expiry date must be in the future.")
        if v is not None and v > time.time() + MAX_EXPIRY_S:
            raise TokenExpiryError("Token expiry date must be less than 30 days from now.")
        return v

    @model_validator(mode="after")
    def set_exp(self) -> TokenOptions:
        if self.exp is None:
            self.exp = self.iat + 15 * 60
        return self


class SignalData(BaseModel):
    type: str = Field(..., max_length=128)
    data: str = Field(..., max_length=8192)


class StreamInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str | None = None
    video_type: str | None = Field(default=None, alias="videoType")
    name: str | None = None
    layout_class_list: list[str] | None = Field(default=None, alias="layoutClassList")


class CreateArchiveRequest(BaseModel):
    session_id: str
    has_audio: bool | None = None
    has_video: bool | None = None
    has_transcription: bool | None = None
    layout: dict[str, Any] | None = None
    multi_archive_tag: str | None = None
    name: str | None = None
    output_mode: OutputMode | None = None
    resolution: str | None = None
    stream_mode: StreamMode | None = None
    max_bitrate: int | None = Field(default=None, ge=100_000, le=6_000_000)
    quantization_parameter: int | None = Field(default=None, ge=15, le=40)

    @model_validator(mode="after")
    def validate_audio_or_video(self) -> CreateArchiveRequest:
        if self.has_audio is False and self.has_video is False:
            raise NoAudioOrVideoError("One of `has_audio` or `has_video` must be included.")
        if self.output_mode == OutputMode.INDIVIDUAL and (self.resolution or self.layout or self.quantization_parameter):
            raise IndividualArchivePropertyError("`resolution`, `layout` and `quantization_parameter` cannot be set "
                                                 "for `archive_mode: 'individual'`.")
        if self.output_mode != OutputMode.INDIVIDUAL and self.has_transcription:
            raise IndividualArchivePropertyError("The `has_transcription` property can only be set for `archive_mode: 'individual'`.")
        return self


class ListArchivesFilter(BaseModel):
    offset: int | None = None
    page_size: int | None = 100
    session_id: str | None = None


class Archive(BaseModel):
    """vonage-video's ``Archive`` (built from the REST JSON, camelCase aliases)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    id: str | None = None
    status: str | None = None
    name: str | None = None
    reason: str | None = None
    session_id: str | None = Field(default=None, alias="sessionId")
    application_id: str | None = Field(default=None, alias="applicationId")
    created_at: int | None = Field(default=None, alias="createdAt")
    size: int | None = None
    duration: int | None = None
    output_mode: OutputMode | None = Field(default=None, alias="outputMode")
    stream_mode: StreamMode | None = Field(default=None, alias="streamMode")
    has_audio: bool | None = Field(default=None, alias="hasAudio")
    has_video: bool | None = Field(default=None, alias="hasVideo")
    has_transcription: bool | None = Field(default=None, alias="hasTranscription")
    sha256_sum: str | None = Field(default=None, alias="sha256sum")
    password: str | None = None
    updated_at: int | None = Field(default=None, alias="updatedAt")
    multi_archive_tag: str | None = Field(default=None, alias="multiArchiveTag")
    event: str | None = None
    resolution: str | None = None
    url: str | None = None
    max_bitrate: int | None = Field(default=None, alias="maxBitrate")
    quantization_parameter: int | None = Field(default=None, alias="quantizationParameter")


def _http(problem: Problem, conflict: type[VideoError] | None = None) -> NoReturn:
    if problem.status == 409 and conflict is not None:
        raise conflict(problem.message) from problem
    cls: type[HttpRequestError] = {403: AuthenticationError, 404: NotFoundError}.get(problem.status, HttpRequestError)
    if problem.status >= 500:
        cls = ServerError
    raise cls(problem.message, 401 if problem.status == 403 else problem.status) from problem


class Video:
    """``vonage_video.Video`` (see the module docstring)."""

    def __init__(self, api_key: str | None = None, api_secret: str | None = None, livekit_url: str | None = None,
                 *, timeout: float = 30.0) -> None:
        key = api_key or os.environ.get("LIVEKIT_API_KEY")
        secret = api_secret or os.environ.get("LIVEKIT_API_SECRET")
        url = livekit_url or os.environ.get("LIVEKIT_URL")
        if not key or not secret or not url:
            raise VideoError("Video(api_key, api_secret, livekit_url): the LiveKit API key, secret and server URL "
                             "(or LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_URL)")
        self.api_key, self.api_secret, self.timeout = str(key), str(secret), timeout
        self._service = Service(url, self.api_key, self.api_secret, timeout)

    async def _do(self, coro: Coroutine[Any, Any, T], conflict: type[VideoError] | None = None) -> T:
        try:
            return await self._service.bounded(coro)
        except Problem as problem:
            _http(problem, conflict)

    def _sync(self, coro: Coroutine[Any, Any, T], name: str) -> T:
        return run_sync(coro, name, self.timeout + 5.0, lambda t: ServerError(f"{name}() did not finish within {t:g}s", 504))

    # ---- tokens and sessions -------------------------------------------------------------------

    def generate_client_token(self, token_options: TokenOptions) -> bytes:
        """A LiveKit token (bytes, as the original's) for the session's room; no network call."""
        o = token_options
        try:
            token = mint_token(self.api_key, self.api_secret, o.session_id, (o.role or TokenRole.PUBLISHER).value, o.exp,
                               o.connection_data, o.initial_layout_class_list)
        except LegacyPlatformError as exc:
            raise SessionPlatformError(exc.message, exc.code or 1004) from None
        except OTError as exc:
            raise VideoError(exc.message) from None
        return token.encode()

    def create_session(self, options: SessionOptions | None = None) -> VideoSession:
        return self._sync(self.create_session_async(options), "create_session")

    async def create_session_async(self, options: SessionOptions | None = None) -> VideoSession:
        o = options or SessionOptions()
        if o.archive_mode == ArchiveMode.ALWAYS:
            raise VideoError("compat: archive_mode=always (automatic archiving) is not supported; call start_archive")
        media = o.media_mode or MediaMode.ROUTED
        settings = {"mediaMode": media.value, "archiveMode": "manual", "location": o.location, "e2ee": bool(o.e2ee)}
        session_id = await self._do(self._service.create_session(settings))
        return VideoSession(session_id=session_id, archive_mode=o.archive_mode, media_mode=media, location=o.location, e2ee=o.e2ee)

    # ---- signals, moderation, streams ----------------------------------------------------------

    def send_signal(self, session_id: str, data: SignalData, connection_id: str | None = None) -> None:
        self._sync(self.send_signal_async(session_id, data, connection_id), "send_signal")

    async def send_signal_async(self, session_id: str, data: SignalData, connection_id: str | None = None) -> None:
        await self._do(self._service.send_signal(session_id, {"type": data.type, "data": data.data}, connection_id))

    def disconnect_client(self, session_id: str, connection_id: str) -> None:
        self._sync(self.disconnect_client_async(session_id, connection_id), "disconnect_client")

    async def disconnect_client_async(self, session_id: str, connection_id: str) -> None:
        await self._do(self._service.force_disconnect(session_id, connection_id))

    def mute_stream(self, session_id: str, stream_id: str) -> None:
        self._sync(self.mute_stream_async(session_id, stream_id), "mute_stream")

    async def mute_stream_async(self, session_id: str, stream_id: str) -> None:
        await self._do(self._service.mute_stream(session_id, stream_id))

    def mute_all_streams(self, session_id: str, excluded_stream_ids: list[str] | None = None) -> None:
        """Mute all but the excluded streams now; compat clients mute later ones too, until
        :meth:`disable_mute_all_streams`."""
        self._sync(self.mute_all_streams_async(session_id, excluded_stream_ids), "mute_all_streams")

    async def mute_all_streams_async(self, session_id: str, excluded_stream_ids: list[str] | None = None) -> None:
        await self._do(self._service.mute_all(session_id, excluded_stream_ids))

    def disable_mute_all_streams(self, session_id: str) -> None:
        self._sync(self.disable_mute_all_streams_async(session_id), "disable_mute_all_streams")

    async def disable_mute_all_streams_async(self, session_id: str) -> None:
        await self._do(self._service.disable_force_mute(session_id))

    def list_streams(self, session_id: str) -> list[StreamInfo]:
        return self._sync(self.list_streams_async(session_id), "list_streams")

    async def list_streams_async(self, session_id: str) -> list[StreamInfo]:
        return [StreamInfo(**s.json()) for s in await self._do(self._service.streams(session_id))]

    def get_stream(self, session_id: str, stream_id: str) -> StreamInfo:
        return self._sync(self.get_stream_async(session_id, stream_id), "get_stream")

    async def get_stream_async(self, session_id: str, stream_id: str) -> StreamInfo:
        return StreamInfo(**(await self._do(self._service.stream(session_id, stream_id))).json())

    # ---- archives ------------------------------------------------------------------------------

    def start_archive(self, options: CreateArchiveRequest) -> Archive:
        return self._sync(self.start_archive_async(options), "start_archive")

    async def start_archive_async(self, options: CreateArchiveRequest) -> Archive:
        if options.output_mode == OutputMode.INDIVIDUAL:
            raise VideoError("compat: individual archives (one file per stream) are not supported; use OutputMode.COMPOSED")
        asked = {"name": options.name, "hasAudio": options.has_audio is not False, "hasVideo": options.has_video is not False,
                 "streamMode": (options.stream_mode or StreamMode.AUTO).value, "resolution": options.resolution,
                 "multiArchiveTag": options.multi_archive_tag, "maxBitrate": options.max_bitrate,
                 "quantizationParameter": options.quantization_parameter}
        return Archive(**await self._do(self._service.start_archive(options.session_id, asked)))

    def stop_archive(self, archive_id: str) -> Archive:
        return self._sync(self.stop_archive_async(archive_id), "stop_archive")

    async def stop_archive_async(self, archive_id: str) -> Archive:
        return Archive(**await self._do(self._service.stop_archive(archive_id), InvalidArchiveStateError))

    def get_archive(self, archive_id: str) -> Archive:
        return self._sync(self.get_archive_async(archive_id), "get_archive")

    async def get_archive_async(self, archive_id: str) -> Archive:
        info = await self._do(self._service.egress(archive_id))
        return Archive(**self._service.archive_json(info))

    def delete_archive(self, archive_id: str) -> None:
        self._sync(self.delete_archive_async(archive_id), "delete_archive")

    async def delete_archive_async(self, archive_id: str) -> None:
        await self._do(self._service.delete_archive(archive_id), InvalidArchiveStateError)

    def list_archives(self, filter: ListArchivesFilter | None = None) -> tuple[list[Archive], int, int | None]:
        return self._sync(self.list_archives_async(filter), "list_archives")

    async def list_archives_async(self, filter: ListArchivesFilter | None = None) -> tuple[list[Archive], int, int | None]:
        f = filter or ListArchivesFilter()
        items = await self._do(self._service.list_archives(f.session_id))
        start, size = f.offset or 0, f.page_size or 100
        page = items[start:start + size]
        following = start + size if start + size < len(items) else None
        return [Archive(**a) for a in page], len(items), following
