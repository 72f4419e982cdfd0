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
# publish_track() raises this; livekit.rtc 1.2 does not re-export it from the package.
from livekit.rtc.participant import PublishTrackError

logger = logging.getLogger("compat.core")

VERIFIED_MINOR = "1.2"

__all__ = ["PublishTrackError", "VERIFIED_MINOR", "dispose_ffi", "ffi_started", "redirect_frames"]


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
