"""Every use of livekit's private internals, fenced in one place.

Verified against livekit (``livekit.rtc``) 1.2.1; pyproject.toml pins ``livekit<1.3`` for
that reason. tests/core/test_livekit_internals.py fails loudly when an installed livekit
changes any of what is relied on here; update this module (and the pin) together.
Nothing else in compat may reach into ``livekit.rtc``'s private names.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from livekit import rtc
from livekit.rtc import _ffi_client
from livekit.rtc._proto import room_pb2

# publish_track() raises this; livekit.rtc 1.2 does not re-export it from the package.
from livekit.rtc.participant import PublishTrackError

logger = logging.getLogger(__name__)

VERIFIED_MINOR = "1.2"

__all__ = [
    "VERIFIED_MINOR",
    "PublishTrackError",
    "connect_once",
    "current_token",
    "dispose_ffi",
    "ffi_started",
    "redirect_frames",
    "room_sid_now",
    "single_attempt_client",
]


def redirect_frames(native: rtc.AudioStream | rtc.VideoStream, sink: Any) -> bool:
    """Make ``native`` hand its frame events to ``sink.put`` instead of its own ring.

    Relies on: AudioStream/VideoStream keep their consumer ring in ``_queue`` and their
    event task calls ``self._queue.put(event)`` per frame (AudioStream also
    ``put(None)`` at end of stream); ``sink`` also needs ``async get()`` in case the
    stream is iterated. Returns False (nothing changed) when the attribute is missing.
    """
    if not hasattr(getattr(native, "_queue", None), "put"):
        return False
    native._queue = sink
    return True


def ffi_started() -> bool:
    """Whether this process has initialised livekit's native FFI.

    Relies on: ``FfiClient._instance`` holds the client once ``FfiClient.instance`` made it.
    """
    return _ffi_client.FfiClient._instance is not None


def dispose_ffi(quiesce: float = 0.1) -> bool:
    """Dispose the native FFI now, the way the SDK's own atexit hook does, then give
    callbacks already on their way into Python ``quiesce`` seconds to finish.

    Why: after ``livekit_ffi_dispose`` no new event is sent, but a native thread that took
    the callback just before may still be waiting for the GIL. If it gets it only once the
    interpreter is finalising, CPython (< 3.14) ends that thread with ``pthread_exit``; the
    forced unwind reaches a Rust ``extern "C"`` frame and the process aborts ("thread
    caused non-unwinding panic"). Sleeping releases the GIL so those callbacks run now.

    Relies on: ``FfiClient._instance._dispose()`` (marks live handles consumed, calls
    ``livekit_ffi_dispose``, sets ``FfiClient._ffi_disposed`` so the SDK's atexit hook and
    later handle drops do nothing; it is a no-op in a forked child). Returns whether this
    call disposed it.
    """
    client = _ffi_client.FfiClient._instance
    if client is None or _ffi_client.FfiClient._ffi_disposed:
        return False
    client._dispose()
    if not _ffi_client.FfiClient._ffi_disposed:  # another process's client (fork): left alone
        return False
    time.sleep(quiesce)
    return True


def room_sid_now(room: rtc.Room) -> str:
    """The room SID livekit.rtc holds now (``Room.sid`` is an awaitable that may wait).

    Relies on: ``Room._info`` is the room's ``RoomInfo`` proto, refreshed by room updates.
    """
    sid: str = room._info.sid
    return sid


def current_token(room: rtc.Room) -> str | None:
    """The access token the room holds now: the one it connected with, or the last one the
    server pushed (``token_refreshed`` carries no argument). Moderation calls are authorised
    by it, so they keep working after LiveKit refreshed an expiring token.

    Relies on: ``Room.connect`` stores its token in ``Room._token`` and the
    ``token_refreshed`` event handler overwrites it before emitting.
    """
    token = getattr(room, "_token", None)
    return token if isinstance(token, str) and token else None


def single_attempt_client() -> Any:
    """The FFI client whose connect requests get ``join_retries = 0``, or None.

    ``rtc.RoomOptions`` does not expose the FFI's ``RoomOptions.join_retries`` (the Rust
    SDK's default 3 makes one ``Room.connect()`` dial up to four times, each attempt a
    signal connection plus a validation request, ~32 s against an unreachable host).
    :func:`connect_once` sets the field on the connect request on its way to the FFI."""
    try:
        client = _ffi_client.FfiClient.instance
        if callable(client.request) and "join_retries" in room_pb2.RoomOptions.DESCRIPTOR.fields_by_name:
            return client
    except Exception as exc:  # noqa: BLE001 - a livekit-rtc without these internals
        logger.warning("cannot limit native connects to one attempt (%r): a connect may go on retrying after its deadline", exc)
        return None
    logger.warning("cannot limit native connects to one attempt: a connect may go on retrying after its deadline")
    return None


async def connect_once(room: rtc.Room, url: str, token: str, options: rtc.RoomOptions, client: Any) -> None:
    """``room.connect()`` as one native attempt (``join_retries = 0``), never cancelled.

    ``Room.connect`` builds its FFI request and sends it synchronously before its first
    await, so the one-shot wrapper installed here sees exactly that request (an instance
    attribute shadowing ``FfiClient.request``, removed by its first connect request).
    ``client`` comes from :func:`single_attempt_client`; None: a plain ``room.connect()``."""
    if client is None:
        await room.connect(url, token, options)
        return
    original = client.request  # the bound method, or whatever already wraps it
    saved = client.__dict__.get("request")
    applied = False

    def restore() -> None:
        if client.__dict__.get("request") is request:
            if saved is None:
                del client.request
            else:
                client.request = saved

    def request(req: Any) -> Any:
        nonlocal applied
        if req.WhichOneof("message") == "connect" and not applied:
            applied = True
            restore()
            req.connect.options.join_retries = 0
        return original(req)

    client.request = request
    try:
        await room.connect(url, token, options)
    finally:
        restore()
        if not applied:
            logger.warning("native connect sent without join_retries=0: it may retry after its deadline")
