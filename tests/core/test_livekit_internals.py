"""Fails loudly when the installed livekit changes what compat/core/livekit_internals.py relies on."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc
from livekit.rtc import _ffi_client

from compat.core import livekit_internals as LI

ROOT = Path(__file__).resolve().parents[2]


def test_installed_livekit_is_the_verified_minor_and_pinned() -> None:
    assert rtc.__version__.startswith(LI.VERIFIED_MINOR + "."), (
        f"livekit {rtc.__version__} installed; livekit_internals.py was verified against {LI.VERIFIED_MINOR}.x: "
        "re-check every item there, then move VERIFIED_MINOR and the pin in pyproject.toml"
    )
    major, minor = LI.VERIFIED_MINOR.split(".")
    pin = re.search(r'"livekit>=[^"]*,<([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None and pin.group(1) == f"{major}.{int(minor) + 1}"


def test_publish_track_error_is_the_one_publish_track_raises() -> None:
    assert issubclass(LI.PublishTrackError, Exception)
    assert "PublishTrackError" in inspect.getsource(rtc.LocalParticipant.publish_track)
    assert LI.PublishTrackError("x").message == "x"


def test_streams_feed_their_ring_through_queue_put() -> None:
    for cls in (rtc.AudioStream, rtc.VideoStream):
        init, run = inspect.getsource(cls.__init__), inspect.getsource(cls._run)
        assert "self._queue" in init, cls
        assert "self._queue.put(event)" in run, cls
    assert "self._queue.put(None)" in inspect.getsource(rtc.AudioStream._run)


class _ListSink:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)

    async def get(self) -> None:
        await asyncio.Event().wait()


async def test_redirect_frames_hands_audio_frames_and_the_end_to_the_sink() -> None:
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("internals", source)
    stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)
    sink = _ListSink()
    assert LI.redirect_frames(stream, sink)
    silence = rtc.AudioFrame(np.zeros(480, dtype=np.int16).tobytes(), 48000, 1, 480)
    try:
        for _ in range(50):
            await source.capture_frame(silence)
            if sink.items:
                break
        for _ in range(100):  # bounded: frames arrive within a few 10 ms periods
            if sink.items:
                break
            await asyncio.sleep(0.02)
    finally:
        await asyncio.wait_for(stream.aclose(), 5)
        await source.aclose()
    assert sink.items and isinstance(sink.items[0], rtc.AudioFrameEvent)
    assert sink.items[-1] is None  # end of stream


def test_redirect_frames_refuses_an_object_without_the_ring() -> None:
    assert not LI.redirect_frames(object(), _ListSink())  # type: ignore[arg-type]


def test_ffi_client_has_what_dispose_ffi_uses() -> None:
    client_cls = _ffi_client.FfiClient
    assert hasattr(client_cls, "_instance") and hasattr(client_cls, "_ffi_disposed")
    source = inspect.getsource(client_cls._dispose)
    assert "livekit_ffi_dispose" in source and "_ffi_disposed = True" in source and "mark_consumed" in source
    assert "_ffi_disposed" in inspect.getsource(_ffi_client.FfiHandle.dispose)  # drops after dispose are skipped


def test_dispose_ffi_in_a_fresh_process() -> None:
    code = (
        "from livekit import rtc\n"
        "from livekit.rtc._ffi_client import FfiClient\n"
        "from compat.core import livekit_internals as LI\n"
        "assert not LI.ffi_started() and not LI.dispose_ffi()\n"
        "rtc.AudioSource(48000, 1)\n"
        "assert LI.ffi_started()\n"
        "assert LI.dispose_ffi(quiesce=0.01) and FfiClient._ffi_disposed\n"
        "assert not LI.dispose_ffi()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


async def test_room_keeps_its_info_where_room_sid_now_reads_it() -> None:
    room = rtc.Room()
    assert LI.room_sid_now(room) == "", "livekit.rtc.Room no longer keeps a RoomInfo in _info"


def test_connect_request_can_carry_join_retries() -> None:
    """connect_once sets join_retries on the connect request that Room.connect sends through
    FfiClient.request before its first await."""
    from livekit.rtc._proto import room_pb2

    assert "join_retries" in room_pb2.RoomOptions.DESCRIPTOR.fields_by_name
    client = LI.single_attempt_client()
    assert client is not None, "livekit_internals.single_attempt_client() found no usable FfiClient.request"
    tree = ast.parse(textwrap.dedent(inspect.getsource(rtc.Room.connect)))
    requests = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(".request")]
    awaits = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Await)]
    assert requests and awaits and min(requests) < min(awaits), (
        "Room.connect no longer sends its connect request before its first await: connect_once cannot rewrite it"
    )


def test_current_token_is_the_rooms_token_kept_up_to_date_by_token_refreshed() -> None:
    connect, events = inspect.getsource(rtc.Room.connect), inspect.getsource(rtc.Room._on_room_event)
    assert "self._token = token" in connect
    assert "self._token = event.token_refreshed.token" in events
    assert events.index("self._token = event.token_refreshed.token") < events.index('self.emit("token_refreshed")')
    room: Any = type("R", (), {})()
    assert LI.current_token(room) is None
    room._token = "tok"
    assert LI.current_token(room) == "tok"
