"""Acceptance: an opentok back end (backend_opentok.py) with only its imports swapped runs against the
dev server; its tokens join through compat.vonage's client model, its signals reach the client with
``from`` None, its force_disconnect ends the client's session, its archives are Egress files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from livekit import rtc

from compat import vonage as OT
from compat.devserver import DevServer
from compat.devserver.testing import publish_tone
from compat.vonage.server.callbacks import vonage_translator
from tests.support import import_swapped, wait_for

from .test_callbacks import FAST, JsonReceiver, serving

pytestmark = pytest.mark.media

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-0123"
SWAPS = {
    "from opentok import": "from compat.vonage.server import",
    "from opentok.exceptions import": "from compat.vonage.server import",
}


def swapped_backend() -> Any:
    return import_swapped(Path(__file__).parent / "backend_opentok.py", SWAPS)


async def test_an_opentok_backend_runs_on_livekit_with_only_its_imports_swapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Bounded here, below pytest-timeout's 120 s, so that a hang fails with the await it hung in.
    await asyncio.wait_for(_run_backend(tmp_path, monkeypatch), 100)


async def _run_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = JsonReceiver()
    app = web.Application()
    app.router.add_post("/vonage", rec.handle)
    async with serving(app) as base:
        rec.url = base + "/vonage"
        tr = vonage_translator(str(tmp_path / "o.sqlite"), KEY, SECRET, session_callback=rec.url, archive_callback=rec.url, delivery=FAST)
        try:
            async with serving(tr.app) as hook, DevServer(port=0, keys={KEY: SECRET}, webhooks=[hook + "/livekit"],
                                                         recordings_dir=str(tmp_path / "rec")) as server:
                await tr.start()
                monkeypatch.setenv("LIVEKIT_URL", server.url)
                service = swapped_backend().VisitService(KEY, SECRET)
                await _visit(service, server.url)
                await wait_for(lambda: ("archive", "available") in _callbacks(rec), timeout=20, what="the archive callbacks")
                await wait_for(lambda: ("connectionDestroyed", "forceDisconnected") in _callbacks(rec), what="connectionDestroyed")
        finally:
            await tr.close()
    _check_callbacks(_callbacks(rec))


def _callbacks(rec: JsonReceiver) -> list[tuple[str, Any]]:
    return [(c["event"], c.get("status") or c.get("reason")) for c in rec.got]


def _check_callbacks(got: list[tuple[str, Any]]) -> None:
    """Session monitoring and archive callbacks of the visit, in order (the doctor leaves last)."""
    assert got[0] == ("sessionCreated", None), got
    assert got.count(("connectionCreated", None)) == 2 and got.count(("streamCreated", None)) == 1, got
    archive = [g for g in got if g[0] == "archive"]
    assert archive == [("archive", "started"), ("archive", "stopped"), ("archive", "available")], got
    assert got.index(("streamCreated", None)) < got.index(("archive", "started")), got


async def _visit(service: Any, url: str) -> None:
    run = asyncio.to_thread
    sid = await run(service.open_visit)
    assert sid.startswith("2_") and OT.room_for_session_id(sid).startswith("ot-")
    doctor = rtc.Room()
    await doctor.connect(url, await run(service.token, sid, "doctor"))
    patient = OT.initSession(KEY, sid, {"url": url})
    got: list[tuple[str, Any]] = []
    patient.on("signal", lambda e: got.append((e.type, (e.data, e.from_))))
    patient.on("streamPropertyChanged", lambda e: got.append((e.changedProperty, e.newValue)))
    patient.on("sessionDisconnected", lambda e: got.append(("sessionDisconnected", e.reason)))
    await patient.connect(await run(service.token, sid, "patient"))
    try:
        async with publish_tone(doctor, 440.0, name="mic"):
            stream_id = f"{doctor.local_participant.sid}-camera"
            await _until(lambda: service.streams(sid) == [(stream_id, None)], "the doctor's stream")
            await wait_for(lambda: len(patient.streams) == 1, what="the patient sees the stream")
            await _signals(service, sid, patient, got)
            await run(service.mute, sid, stream_id)
            await wait_for(lambda: ("hasAudio", False) in got, what="the patient sees the stream muted")
            await _archive(service, sid)
        assert patient.connection is not None
        await run(service.remove, sid, patient.connection.connectionId)
        await wait_for(lambda: ("sessionDisconnected", "forceDisconnected") in got, what="sessionDisconnected{forceDisconnected}")
    finally:
        await doctor.disconnect()
        if patient.isConnected():
            await asyncio.wait_for(patient.disconnect(), 15)


async def _signals(service: Any, sid: str, patient: OT.Session, got: list[tuple[str, Any]]) -> None:
    await asyncio.to_thread(service.notify, sid, "the doctor is in")
    await asyncio.to_thread(service.notify, sid, "just you", patient.connection.connectionId)  # type: ignore[union-attr]
    await wait_for(lambda: len([g for g in got if g[0] == "signal:notice"]) == 2, what="both signals")
    assert [g for g in got if g[0] == "signal:notice"] == [("signal:notice", ("the doctor is in", None)),
                                                           ("signal:notice", ("just you", None))]


async def _archive(service: Any, sid: str) -> None:
    run = asyncio.to_thread
    archive_id, status = await run(service.start_recording, sid)
    assert status == "started"
    assert await run(service.recordings, sid) == [(archive_id, "started")]
    await asyncio.sleep(1.0)  # some audio in the file
    assert await run(service.stop_recording, archive_id) in ("stopped", "available")
    await _until(lambda: service.recording(archive_id)[0] == "available", "the archive available")
    status, name, file = await run(service.recording, archive_id)
    assert name == "visit recording" and Path(file).stat().st_size > 0
    assert await run(service.recording_or_error, "no-such-archive") == "not found"


async def _until(check: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
