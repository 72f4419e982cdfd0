"""Acceptance: a twilio-python back end (backend_twilio.py) with only its imports swapped runs against
the dev server; its tokens join through compat.twilio_video; its rooms send signed status callbacks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from livekit import rtc

from compat import twilio_video as Video
from compat.devserver import DevServer
from compat.devserver.testing import publish_tone
from compat.twilio_video.webhooks import StatusCallbackTranslator
from tests.support import import_swapped, wait_for

from .callbacks import AUTH_TOKEN, KEY, SECRET, receiver
from .test_status_callbacks import FAST

pytestmark = pytest.mark.media

ACCOUNT = "AC" + "d" * 32
SWAPS = {
    "from twilio.base.exceptions import": "from compat.twilio_video.rest import",
    "from twilio.jwt.access_token import": "from compat.twilio_video.jwt.access_token import",
    "from twilio.jwt.access_token.grants import": "from compat.twilio_video.jwt.access_token.grants import",
    "from twilio.rest import": "from compat.twilio_video.rest import",
}


def swapped_backend() -> Any:
    return import_swapped(Path(__file__).parent / "backend_twilio.py", SWAPS)


async def test_a_twilio_backend_runs_on_livekit_with_only_its_imports_swapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tr = StatusCallbackTranslator(str(tmp_path / "outbox.sqlite"), KEY, SECRET, AUTH_TOKEN, delivery=FAST)
    runner = web.AppRunner(tr.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await tr.start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/livekit"
    try:
        async with receiver() as rec, DevServer(port=0, keys={KEY: SECRET}, webhooks=[hook],
                                                recordings_dir=str(tmp_path / "rec")) as server:
            monkeypatch.setenv("LIVEKIT_URL", server.url)
            await _visit(swapped_backend().VisitService(ACCOUNT, KEY, SECRET), server.url, rec)
            await wait_for(lambda: "room-ended" in _events(rec), timeout=20, what="room-ended")
            await wait_for(lambda: "recording-completed" in _events(rec), timeout=20, what="recording-completed")
    finally:
        await runner.cleanup()
        await tr.close()
    events = _events(rec)
    for name in ("room-created", "participant-connected", "track-added", "recording-started", "participant-disconnected"):
        assert name in events, events
    assert events.index("room-created") == 0 and rec.all_signed()
    seqs = [int(r.params["SequenceNumber"]) for r in rec.got]
    assert seqs == list(range(len(seqs)))


def _events(rec: Any) -> list[str]:
    return [r.params["StatusCallbackEvent"] for r in rec.got]


async def _visit(service: Any, url: str, rec: Any) -> None:
    run = asyncio.to_thread
    sid = await run(service.open_visit, "visit-42", rec.url)
    doctor = rtc.Room()
    await doctor.connect(url, await run(service.token, "doctor", "visit-42"))
    patient = await Video.connect(await run(service.token, "patient", "visit-42"), {"url": url, "name": "visit-42"})
    try:
        async with publish_tone(doctor, 440.0, name="mic"):
            await wait_for_tracks(service, sid)
            assert await run(service.who_is_here, sid) == ["doctor", "patient"]
            [(track_sid, kind, name, enabled)] = await run(service.tracks_of, sid, "doctor")
            assert (kind, name, enabled) == ("audio", "mic", True) and track_sid.startswith("MT")
            await run(service.record_everything, sid)
            [(rt, status, rtype, source)] = await run(service.recordings, sid)
            assert rt.startswith("RT") and status == "processing" and source == track_sid and rtype == "audio"
            assert await run(service.remove, sid, "patient") == "disconnected"
            await wait_for(lambda: patient.state == "disconnected", what="the patient removed")
            assert await run(service.who_is_here, sid) == ["doctor"]
            await asyncio.sleep(1.0)  # some audio in the recording
        assert await run(service.status_or_error, sid, "in-progress") == 53112  # refused before LiveKit
        assert await run(service.close_visit, sid) == "completed"
        assert await run(service.status_or_error, sid) == "completed"
        assert await run(service.status_or_error, "RM" + "0" * 32) == 20404
        with pytest.raises(ValueError, match="24 hours"):
            await run(service.token, "x", "visit-42", 2 * 86400)
    finally:
        await doctor.disconnect()
        patient.disconnect()
        await patient.wait_closed()


async def wait_for_tracks(service: Any, sid: str) -> None:
    for _ in range(100):
        if await asyncio.to_thread(service.tracks_of, sid, "doctor"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the doctor's track never showed in published_tracks")
