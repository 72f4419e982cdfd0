"""``Client``: opentok 3.x's ``opentok.Client`` on a LiveKit server.

``Client(api_key, api_secret, api_url=None, timeout=None, app_version=None)``: ``api_key`` and
``api_secret`` are the **LiveKit** API key and secret (default ``LIVEKIT_API_KEY`` /
``LIVEKIT_API_SECRET``), ``api_url`` the LiveKit server (default ``LIVEKIT_URL``; OpenTok's own
``https://api.opentok.com`` is refused with a message). ``timeout`` (seconds, default 30) bounds
every call. Each blocking method has an ``*_async`` twin for async code; the blocking ones run on
a private loop thread (:mod:`compat._server`) and refuse to run inside an event loop.

Errors: the opentok exception raised for the REST status OpenTok would have answered (see
:mod:`._service`), with the original message and what compat found in parentheses.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Coroutine, Sequence
from typing import Any, NoReturn, TypeVar

from compat._server import run_sync
from compat.vonage.errors import LegacyPlatformError, OTError
from compat.vonage.token import generate_token as mint_token

from ._service import Problem, Service, StreamRecord
from .enums import VALID_ARCHIVE_RESOLUTIONS, ArchiveModes, MediaModes, OutputModes, Roles, StreamModes
from .exceptions import (
    ArchiveError,
    AuthError,
    ForceDisconnectError,
    GetStreamError,
    NotFoundError,
    OpenTokException,
    RequestError,
    SessionPlatformError,
    SignalingError,
)
from .models import Archive, ArchiveList, Session, Stream, StreamList

__all__ = ["Client", "OpenTok"]

T = TypeVar("T")
Table = dict[int, tuple[type[OpenTokException], str]]

OPENTOK_API_URL = "https://api.opentok.com"
DEFAULT_TIMEOUT = 30.0

_AUTH = (AuthError, "You are not authorized: the LiveKit server refused the API key/secret.")
_SIGNAL: Table = {
    400: (SignalingError, "One of the signal properties - data, type, sessionId or connectionId - is invalid."),
    403: (AuthError, "You are not authorized to send the signal. Check your authentication credentials."),
    404: (SignalingError, "The client specified by the connectionId property is not connected to the session."),
    413: (SignalingError, "The type string exceeds the maximum length (128 bytes), or the data string exceeds the maximum size (8 kB)."),
}
_DISCONNECT: Table = {
    400: (ForceDisconnectError, "One of the arguments - sessionId or connectionId - is invalid."),
    403: (AuthError, "You are not authorized to forceDisconnect, check your authentication credentials."),
    404: (ForceDisconnectError, "The client specified by the connectionId property is not connected to the session."),
}
_STREAM: Table = {
    400: (GetStreamError, "Invalid request. You did not pass in a session ID or you passed in an invalid stream ID."),
    403: (AuthError, "You passed in an invalid OpenTok API key or JWT token."),
    404: (GetStreamError, "You passed in an invalid stream ID."),
}
_MUTE: Table = {
    400: (GetStreamError, "Invalid request. The session ID or a stream ID is invalid."),
    403: (AuthError, "Failed to mute, invalid credentials."),
    404: (NotFoundError, "The session or a stream is not found."),
}
_ARCHIVE: Table = {
    400: (RequestError, "Invalid archive request."),
    403: _AUTH,
    404: (NotFoundError, "Archive not found"),
    409: (ArchiveError, "Archive is not in started state"),
}
_START: Table = {**_ARCHIVE, 404: (NotFoundError, "Session not found"), 409: (ArchiveError, "Cannot start archive")}


def _fail(problem: Problem, table: Table) -> NoReturn:
    cls, message = table.get(problem.status, (RequestError, "An unexpected error occurred"))
    raise cls(f"{message} ({problem.message})") from problem


class Client:
    """``opentok.Client`` (see the module docstring)."""

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_url: str | None = None,
        timeout: float | None = None,
        app_version: str | None = None,
    ) -> None:
        key = api_key or os.environ.get("LIVEKIT_API_KEY")
        secret = api_secret or os.environ.get("LIVEKIT_API_SECRET")
        url = api_url or os.environ.get("LIVEKIT_URL")
        if not key or not secret:
            raise OpenTokException("Client(api_key, api_secret): pass the LiveKit API key and secret, "
                                   "or set LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
        if not url or url.rstrip("/") == OPENTOK_API_URL:
            raise OpenTokException("No LiveKit server: pass Client(key, secret, api_url='wss://…') or set LIVEKIT_URL")
        if timeout is not None and timeout <= 0:
            raise OpenTokException("timeout must be a positive number of seconds")
        self.api_key, self.api_secret, self.api_url = str(key), str(secret), url
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.app_version = app_version
        self.proxies: dict[str, str] | None = None  # accepted, unused (no HTTP to a vendor)
        self._service = Service(url, self.api_key, self.api_secret, self.timeout)

    def __repr__(self) -> str:
        return f"<compat opentok Client {self.api_key} on {self.api_url}>"

    # ---- plumbing ------------------------------------------------------------------------------

    async def _do(self, coro: Coroutine[Any, Any, T], table: Table) -> T:
        try:
            return await self._service.bounded(coro)
        except Problem as problem:
            _fail(problem, table)

    def _sync(self, coro: Coroutine[Any, Any, T], name: str) -> T:
        def late(limit: float) -> RequestError:
            return RequestError(f"{name}() did not finish within {limit:g}s (the LiveKit server at {self.api_url})")

        return run_sync(coro, name, self.timeout + 5.0, late)

    # ---- sessions and tokens -------------------------------------------------------------------

    def create_session(self, location: str | None = None, media_mode: MediaModes = MediaModes.relayed,
                       archive_mode: ArchiveModes = ArchiveModes.manual, archive_name: str | None = None,
                       archive_resolution: str | None = None, e2ee: bool = False) -> Session:
        """A new session: a LiveKit room ``ot-<uuid>`` (created now) and its minted session ID."""
        return self._sync(self.create_session_async(location, media_mode, archive_mode, archive_name,
                                                    archive_resolution, e2ee), "create_session")

    async def create_session_async(self, location: str | None = None, media_mode: MediaModes = MediaModes.relayed,
                                   archive_mode: ArchiveModes = ArchiveModes.manual, archive_name: str | None = None,
                                   archive_resolution: str | None = None, e2ee: bool = False) -> Session:
        settings = _session_settings(location, media_mode, archive_mode, archive_name, archive_resolution, e2ee)
        try:
            session_id = await self._service.bounded(self._service.create_session(settings))
        except Problem as problem:
            raise RequestError(f"Failed to create session: {problem.message}") from problem
        return Session(self, session_id, location=location, media_mode=media_mode, archive_mode=archive_mode, e2ee=e2ee)

    def generate_token(self, session_id: str, role: Roles = Roles.publisher, expire_time: Any = None,
                       data: str | None = None, initial_layout_class_list: Sequence[str] = (),
                       use_jwt: bool = True) -> str:
        """A LiveKit token for the session's room (:func:`compat.vonage.generate_token`); no network call.
        ``use_jwt`` is accepted: the token is always a LiveKit JWT."""
        if not isinstance(session_id, str) or not session_id:
            raise OpenTokException(f"Cannot generate token, session_id was not valid {session_id}")
        if not isinstance(role, Roles):
            raise OpenTokException(f"Cannot generate token, {role} is not a valid role")
        if data and len(data) > 1000:
            raise OpenTokException("Cannot generate token, data must be less than 1000 characters")
        try:
            return mint_token(self.api_key, self.api_secret, session_id, role.value, expire_time, data,
                              list(initial_layout_class_list or ()))
        except LegacyPlatformError as exc:
            raise SessionPlatformError(exc.message, exc.code or 1004) from None
        except OTError as exc:
            raise OpenTokException(exc.message) from None

    # ---- signals and moderation ----------------------------------------------------------------

    def send_signal(self, session_id: str, payload: dict[str, Any], connection_id: str | None = None) -> None:
        """RoomService SendData on the signal topic, to one connection or all; clients see ``from`` None."""
        self._sync(self.send_signal_async(session_id, payload, connection_id), "send_signal")

    async def send_signal_async(self, session_id: str, payload: dict[str, Any], connection_id: str | None = None) -> None:
        await self._do(self._service.send_signal(session_id, payload, connection_id), _SIGNAL)

    def signal(self, session_id: str, payload: dict[str, Any], connection_id: str | None = None) -> None:
        """Deprecated in opentok: :meth:`send_signal`."""
        import warnings

        warnings.warn("opentok.signal is deprecated (use opentok.send_signal instead).", DeprecationWarning, stacklevel=2)
        self.send_signal(session_id, payload, connection_id)

    def force_disconnect(self, session_id: str, connection_id: str) -> None:
        """RoomService RemoveParticipant of the client whose ``connection.connectionId`` this is."""
        self._sync(self.force_disconnect_async(session_id, connection_id), "force_disconnect")

    async def force_disconnect_async(self, session_id: str, connection_id: str) -> None:
        await self._do(self._service.force_disconnect(session_id, connection_id), _DISCONNECT)

    def mute_stream(self, session_id: str, stream_id: str) -> None:
        """MutePublishedTrack of the stream's audio. (opentok returns the ``requests.Response``; this None.)"""
        self._sync(self.mute_stream_async(session_id, stream_id), "mute_stream")

    async def mute_stream_async(self, session_id: str, stream_id: str) -> None:
        await self._do(self._service.mute_stream(session_id, stream_id), _MUTE)

    def mute_all(self, session_id: str, excludedStreamIds: list[str] | None) -> None:
        """Mute every stream's audio but the excluded ones; compat clients also mute streams
        published later, until :meth:`disable_force_mute` (a notice on the moderation topic)."""
        self._sync(self.mute_all_async(session_id, excludedStreamIds), "mute_all")

    async def mute_all_async(self, session_id: str, excludedStreamIds: list[str] | None) -> None:
        await self._do(self._service.mute_all(session_id, excludedStreamIds), _MUTE)

    def disable_force_mute(self, session_id: str) -> None:
        self._sync(self.disable_force_mute_async(session_id), "disable_force_mute")

    async def disable_force_mute_async(self, session_id: str) -> None:
        await self._do(self._service.disable_force_mute(session_id), _MUTE)

    # ---- streams -------------------------------------------------------------------------------

    def list_streams(self, session_id: str) -> StreamList:
        return self._sync(self.list_streams_async(session_id), "list_streams")

    async def list_streams_async(self, session_id: str) -> StreamList:
        streams: list[StreamRecord] = await self._do(self._service.streams(session_id), _STREAM)
        return StreamList({"count": len(streams), "items": [s.json() for s in streams]})

    def get_stream(self, session_id: str, stream_id: str) -> Stream:
        return self._sync(self.get_stream_async(session_id, stream_id), "get_stream")

    async def get_stream_async(self, session_id: str, stream_id: str) -> Stream:
        return Stream((await self._do(self._service.stream(session_id, stream_id), _STREAM)).json())

    # ---- archives ------------------------------------------------------------------------------

    def start_archive(self, session_id: str, has_audio: bool = True, has_video: bool = True, name: str | None = None,
                      output_mode: OutputModes = OutputModes.composed, stream_mode: StreamModes = StreamModes.auto,
                      resolution: str | None = None, layout: dict[str, Any] | None = None,
                      multi_archive_tag: str | None = None, max_bitrate: int | None = None,
                      quantization_parameter: int | None = None) -> Archive:
        """A room composite Egress of the session's room (``composed``)."""
        return self._sync(self.start_archive_async(session_id, has_audio, has_video, name, output_mode, stream_mode,
                                                   resolution, layout, multi_archive_tag, max_bitrate,
                                                   quantization_parameter), "start_archive")

    async def start_archive_async(self, session_id: str, has_audio: bool = True, has_video: bool = True,
                                  name: str | None = None, output_mode: OutputModes = OutputModes.composed,
                                  stream_mode: StreamModes = StreamModes.auto, resolution: str | None = None,
                                  layout: dict[str, Any] | None = None, multi_archive_tag: str | None = None,
                                  max_bitrate: int | None = None, quantization_parameter: int | None = None) -> Archive:
        asked = _archive_request(has_audio, has_video, name, output_mode, stream_mode, resolution, layout,
                                 multi_archive_tag, max_bitrate, quantization_parameter)
        return Archive(self, await self._do(self._service.start_archive(session_id, asked), _START))

    def stop_archive(self, archive_id: str) -> Archive:
        return self._sync(self.stop_archive_async(archive_id), "stop_archive")

    async def stop_archive_async(self, archive_id: str) -> Archive:
        return Archive(self, await self._do(self._service.stop_archive(archive_id), _ARCHIVE))

    def get_archive(self, archive_id: str) -> Archive:
        return self._sync(self.get_archive_async(archive_id), "get_archive")

    async def get_archive_async(self, archive_id: str) -> Archive:
        info = await self._do(self._service.egress(archive_id), _ARCHIVE)
        return Archive(self, self._service.archive_json(info))

    def delete_archive(self, archive_id: str) -> None:
        """Hides the archive from this Client's get/list (the file stays where Egress wrote it)."""
        self._sync(self.delete_archive_async(archive_id), "delete_archive")

    async def delete_archive_async(self, archive_id: str) -> None:
        await self._do(self._service.delete_archive(archive_id), {**_ARCHIVE, 409: (RequestError, "An unexpected error occurred")})

    def list_archives(self, offset: int | None = None, count: int | None = None, session_id: str | None = None) -> ArchiveList:
        return self._sync(self.list_archives_async(offset, count, session_id), "list_archives")

    async def list_archives_async(self, offset: int | None = None, count: int | None = None,
                                  session_id: str | None = None) -> ArchiveList:
        items = await self._do(self._service.list_archives(session_id), _ARCHIVE)
        start = int(offset or 0)
        page = items[start:start + int(count)] if count is not None else items[start:]
        return ArchiveList(self, {"count": len(items), "items": page})

    get_archives = list_archives

    def set_archive_layout(self, archive_id: str, layout_type: str, stylesheet: str | None = None,
                           screenshare_type: str | None = None) -> None:
        """Accepted and checked; the dev server's composite keeps its grid layout (docs/parity.md)."""
        if layout_type == "custom" and not stylesheet:
            raise ArchiveError("Invalid request: a custom layout needs a stylesheet.")
        self.get_archive(archive_id)


OpenTok = Client
"""opentok 3.x keeps ``OpenTok`` as the old name of ``Client``."""


def _session_settings(location: str | None, media_mode: Any, archive_mode: Any, archive_name: str | None,
                      archive_resolution: str | None, e2ee: bool) -> dict[str, Any]:
    """create_session's checks, in opentok's order and words; the settings kept in the room metadata."""
    if not isinstance(media_mode, MediaModes):
        raise OpenTokException(f"Cannot create session, {media_mode} is not a valid media mode")
    if not isinstance(archive_mode, ArchiveModes):
        raise OpenTokException(f"Cannot create session, {archive_mode} is not a valid archive mode")
    if archive_mode == ArchiveModes.always and media_mode != MediaModes.routed:
        raise OpenTokException("A session with always archive mode must also have the routed media mode.")
    if archive_name is not None:
        if archive_mode == ArchiveModes.manual:
            raise OpenTokException("You cannot specify a value for archive_name with archive mode: manual.")
        if not 1 <= len(archive_name) <= 80:
            raise OpenTokException("archive_name must be between 1 and 80 characters in length.")
    if archive_resolution is not None:
        if archive_mode == ArchiveModes.manual:
            raise OpenTokException("You cannot specify a value for archive_resolution with archive mode: manual.")
        if archive_resolution not in VALID_ARCHIVE_RESOLUTIONS:
            raise OpenTokException(f"archive_resolution must be one of the allowed values: {sorted(VALID_ARCHIVE_RESOLUTIONS)}.")
    if location:
        try:
            socket.inet_aton(location)
        except OSError:
            raise OpenTokException(f"Cannot create session. Location must be either None or a valid IPv4 address {location}") from None
    if archive_mode == ArchiveModes.always:
        raise OpenTokException("compat: archive_mode=always (automatic archiving) is not supported; "
                               "create a manual session and call start_archive once a client has connected")
    return {"mediaMode": media_mode.name, "archiveMode": archive_mode.value, "location": location, "e2ee": bool(e2ee)}


def _archive_request(has_audio: bool, has_video: bool, name: str | None, output_mode: Any, stream_mode: Any,
                     resolution: str | None, layout: dict[str, Any] | None, multi_archive_tag: str | None,
                     max_bitrate: int | None, quantization_parameter: Any) -> dict[str, Any]:
    """start_archive's checks, in opentok's order and words; what is asked (REST keys)."""
    if not isinstance(output_mode, OutputModes):
        raise OpenTokException(f"Cannot start archive, {output_mode} is not a valid output mode")
    if resolution and output_mode == OutputModes.individual:
        raise OpenTokException("Invalid parameters: Resolution cannot be supplied for individual output mode.")
    if quantization_parameter is not None:
        if not isinstance(quantization_parameter, (int, float)):
            raise OpenTokException("quantization_parameter must be a number")
        if quantization_parameter < 15 or quantization_parameter > 40:
            raise OpenTokException("quantization_parameter must be between 15 and 40")
    if output_mode == OutputModes.individual:
        raise ArchiveError("compat: individual archives (one file per stream) are not supported; use OutputModes.composed")
    if not isinstance(stream_mode, StreamModes):
        raise OpenTokException(f"Cannot start archive, {stream_mode} is not a valid stream mode")
    return {"name": name, "hasAudio": bool(has_audio), "hasVideo": bool(has_video), "outputMode": output_mode.value,
            "streamMode": stream_mode.value, "resolution": resolution, "layout": layout,
            "multiArchiveTag": multi_archive_tag, "maxBitrate": max_bitrate, "quantizationParameter": quantization_parameter}
