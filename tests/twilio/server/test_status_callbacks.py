"""Status callbacks: fields and X-Twilio-Signature (checked with twilio's RequestValidator), retries,
per-room order, a 1,000-event burst, and SIGKILL of the translator mid-burst."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web
from livekit.protocol import egress as egress_pb
from livekit.protocol import models

from compat.devserver.testing import free_port
from compat.twilio_video.rest.sids import to_twilio
from compat.twilio_video.webhooks import DeliverySettings, StatusCallbackTranslator
from tests.support import wait_for

from .callbacks import AUTH_TOKEN, KEY, SECRET, assert_in_order, event, participant, post, receiver, room

FAST = DeliverySettings(backoff_min=0.05, backoff_max=0.3, timeout=5.0)


@contextlib.asynccontextmanager
async def translator(db: Path, settings: DeliverySettings = FAST) -> AsyncIterator[tuple[str, StatusCallbackTranslator]]:
    tr = StatusCallbackTranslator(str(db), KEY, SECRET, AUTH_TOKEN, delivery=settings)
    runner = web.AppRunner(tr.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await tr.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/livekit", tr
    finally:
        await runner.cleanup()
        await tr.close()


def _events(rm: models.Room) -> list:  # type: ignore[type-arg]
    mic = models.TrackInfo(sid="TR_mic1", name="mic", type=models.TrackType.AUDIO)
    alice = participant("alice", mic)
    track_req = egress_pb.TrackEgressRequest(room_name=rm.name, track_id="TR_mic1")
    rec = dict(egress_id="EG_rec1", room_id=rm.sid, room_name=rm.name, track=track_req)
    done = egress_pb.FileInfo(filename="/r/a.ogg", location="/r/a.ogg", duration=3_000_000_000, size=1234)
    comp = dict(egress_id="EG_cmp1", room_id=rm.sid, room_name=rm.name, room_composite=egress_pb.RoomCompositeEgressRequest())
    S = egress_pb.EgressStatus  # noqa: N806 - the proto enum's short name
    return [
        event("room_started", rm),
        event("participant_joined", rm, participant=alice),
        event("track_published", rm, participant=alice, track=mic),
        event("egress_started", None, egress_info=egress_pb.EgressInfo(status=S.EGRESS_STARTING, **rec)),  # type: ignore[arg-type]
        event("egress_ended", None, egress_info=egress_pb.EgressInfo(status=S.EGRESS_COMPLETE, file_results=[done], **rec)),  # type: ignore[arg-type]
        event("egress_ended", None, 2, egress_info=egress_pb.EgressInfo(status=S.EGRESS_FAILED, error="disk full", **rec)),  # type: ignore[arg-type]
        event("egress_started", None, 3, egress_info=egress_pb.EgressInfo(status=S.EGRESS_STARTING, **comp)),  # type: ignore[arg-type]
        event("egress_updated", None, 4, egress_info=egress_pb.EgressInfo(status=S.EGRESS_ACTIVE, **comp)),  # type: ignore[arg-type]
        event("egress_ended", None, 5, egress_info=egress_pb.EgressInfo(status=S.EGRESS_COMPLETE, file_results=[done], **comp)),  # type: ignore[arg-type]
        event("track_unpublished", rm, participant=alice, track=mic),
        event("participant_left", rm, participant=alice),
        event("participant_connection_aborted", rm, 9, participant=alice),  # no Twilio callback
        event("room_finished", rm),
    ]


async def test_each_event_has_twilios_fields_and_a_valid_signature(tmp_path: Path) -> None:
    async with receiver() as rec, translator(tmp_path / "o.sqlite") as (url, _tr), aiohttp.ClientSession() as http:
        rm = room("visit-a", rec.url)
        for ev in _events(rm):
            assert await post(http, url, ev) == 200
        assert await post(http, url, _events(rm)[1]) == 200  # sent again by LiveKit: nothing new
        await wait_for(lambda: len(rec.got) == 12, what="12 callbacks")
        await asyncio.sleep(0.2)
    assert len(rec.got) == 12 and rec.all_signed()
    got = [r.params for r in rec.got]
    assert [p["StatusCallbackEvent"] for p in got] == [
        "room-created", "participant-connected", "track-added", "recording-started", "recording-completed",
        "recording-failed", "composition-enqueued", "composition-started", "composition-available",
        "track-removed", "participant-disconnected", "room-ended"]
    assert [p["SequenceNumber"] for p in got] == [str(n) for n in range(12)]
    rsid = to_twilio("RM", rm.sid)
    for p in got:
        assert (p["RoomSid"], p["RoomName"], p["AccountSid"], p["RoomType"]) == (rsid, "visit-a", "AC" + "c" * 32, "group")
        assert p["Timestamp"].endswith("Z") and len(p["Timestamp"]) == 24
        assert p["RoomStatus"] == ("completed" if p["StatusCallbackEvent"] == "room-ended" else "in-progress")
    joined, added, _, done, failed = got[1:6]
    assert joined["ParticipantIdentity"] == "alice" and joined["ParticipantStatus"] == "connected"
    assert joined["ParticipantSid"] == to_twilio("PA", participant("alice").sid)
    assert (added["TrackSid"], added["TrackKind"], added["TrackName"]) == (to_twilio("MT", "TR_mic1"), "audio", "mic")
    assert done["RecordingSid"] == to_twilio("RT", "EG_rec1") and done["SourceSid"] == to_twilio("MT", "TR_mic1")
    assert (done["Type"], done["Container"], done["Codec"], done["Duration"], done["Size"]) == ("audio", "ogg", "OPUS", "3", "1234")
    assert done["ParticipantIdentity"] == "alice" and done["MediaUri"].endswith("/Media")
    assert failed["FailedOperation"] == "disk full"
    assert got[8]["CompositionSid"] == to_twilio("CJ", "EG_cmp1") and got[8]["Size"] == "1234"
    left = got[10]
    assert left["ParticipantStatus"] == "disconnected" and int(left["ParticipantDuration"]) >= 3
    assert int(got[11]["RoomDuration"]) >= 5


async def test_unverified_webhooks_are_refused(tmp_path: Path) -> None:
    async with translator(tmp_path / "o.sqlite") as (url, _tr), aiohttp.ClientSession() as http:
        async with http.post(url, data=b"{}", headers={"Authorization": "nope"}) as resp:
            assert resp.status == 401


async def test_a_receiver_that_fails_for_a_while_still_gets_everything_in_order(tmp_path: Path) -> None:
    async with receiver() as rec, translator(tmp_path / "o.sqlite") as (url, _tr), aiohttp.ClientSession() as http:
        rec.failing = True
        expected = await _burst(http, url, rec.url, rooms=3, per_room=10)
        await wait_for(lambda: rec.refused >= 10, what="refusals")
        rec.failing = False
        await wait_for(lambda: len(rec.got) >= 30, timeout=20, what="30 callbacks")
    assert_in_order(rec.by_room(), expected)
    assert rec.all_signed()


async def test_a_burst_of_1000_webhooks_is_delivered_in_per_room_order(tmp_path: Path) -> None:
    async with receiver() as rec, translator(tmp_path / "o.sqlite") as (url, _tr), aiohttp.ClientSession() as http:
        expected = await _burst(http, url, rec.url, rooms=10, per_room=100)
        await wait_for(lambda: len(rec.got) >= 1000, timeout=60, what="1000 callbacks")
    assert_in_order(rec.by_room(), expected)
    assert rec.all_signed()


async def _burst(http: aiohttp.ClientSession, url: str, callback: str, *, rooms: int, per_room: int,
                 acked: list[int] | None = None) -> dict[str, list[str]]:
    """participant_joined × per_room in each room: rooms in parallel, each room in order; each
    event re-sent until acknowledged (as LiveKit does)."""
    expected: dict[str, list[str]] = {}

    async def one_room(r: int) -> None:
        rm = room(f"burst-{r}", callback)
        expected[to_twilio("RM", rm.sid)] = names = [f"r{r}-p{i}" for i in range(per_room)]
        for i, name in enumerate(names):
            ev = event("participant_joined", rm, i, participant=participant(name))
            while not await _try(http, url, ev):  # noqa: ASYNC110 - re-sending with a pause, as LiveKit does
                await asyncio.sleep(0.05)
            if acked is not None:
                acked.append(1)

    await asyncio.gather(*(one_room(r) for r in range(rooms)))
    return expected


async def _try(http: aiohttp.ClientSession, url: str, ev: object) -> bool:
    try:
        return await post(http, url, ev) == 200  # type: ignore[arg-type]
    except (aiohttp.ClientError, OSError):
        return False


class TranslatorProcess:
    def __init__(self, db: Path, port: int) -> None:
        self.args = [sys.executable, "-m", "compat.twilio_video.webhooks", "--db", str(db), "--port", str(port),
                     "--keys", f"{KEY}:{SECRET}", "--auth-token", AUTH_TOKEN]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(*self.args, stdout=asyncio.subprocess.PIPE,
                                                         stderr=asyncio.subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        assert b"twilio status callbacks on" in line, line

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 15)


async def test_sigkill_mid_burst_and_restart_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    proc = TranslatorProcess(tmp_path / "outbox.sqlite", port)
    url = f"http://127.0.0.1:{port}/livekit"
    acked: list[int] = []
    async with receiver() as rec, aiohttp.ClientSession() as http:
        await proc.start()
        try:
            burst = asyncio.create_task(_burst(http, url, rec.url, rooms=20, per_room=50, acked=acked))
            await wait_for(lambda: len(acked) >= 300, timeout=30, what="300 acknowledged webhooks")
            await proc.kill()  # mid-burst: some callbacks committed, not delivered
            killed_at = len(acked)
            await asyncio.sleep(0.5)
            await proc.start()
            expected = await asyncio.wait_for(burst, 60)
            await wait_for(lambda: len({(p.params["RoomSid"], p.params["SequenceNumber"]) for p in rec.got}) >= 1000,
                           timeout=60, what="1000 distinct callbacks")
        finally:
            await proc.stop()
    assert 300 <= killed_at < 1000
    assert_in_order(rec.by_room(), expected)
    assert rec.all_signed()
