"""Vonage callbacks: LiveKit webhooks in, session-monitoring and archive JSON out (reference §6), through
the shared outbox; a receiver that fails for a while still gets every callback, in order, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from livekit.protocol import egress as egress_pb
from livekit.protocol import models

from compat._server.translator import DeliverySettings, Vendor, WebhookTranslator
from compat.twilio_video.webhooks import TwilioCallbacks
from compat.vonage import mint_session_id
from compat.vonage.server.callbacks import VonageCallbacks, vonage_translator
from tests.support import wait_for
from tests.twilio.server.callbacks import AUTH_TOKEN, KEY, SECRET, event, participant, post

FAST = DeliverySettings(backoff_min=0.01, backoff_max=0.05, timeout=2.0)
ROOM = models.Room(sid="RM_vonage1", name="visit-7", creation_time=1_700_000_000)
SID = mint_session_id(KEY, "visit-7")


@dataclass
class JsonReceiver:
    url: str = ""
    got: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.refused < self.fail_first:
            self.refused += 1
            return web.Response(status=503)
        assert request.content_type == "application/json"
        self.got.append(json.loads(await request.text()))
        return web.Response(text="")


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _mic(p: models.ParticipantInfo) -> tuple[models.ParticipantInfo, models.TrackInfo]:
    mic = models.TrackInfo(sid="TR_mic", type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE, name="cam")
    cam = models.TrackInfo(sid="TR_cam", type=models.TrackType.VIDEO, source=models.TrackSource.CAMERA, name="cam")
    p.tracks.extend([mic, cam])
    return p, mic


def _events() -> list[Any]:
    alice = participant("alice")
    alice.metadata = json.dumps({"compat.vonage": {"v": 1, "role": "publisher", "data": "user=alice"}})
    with_tracks, mic = _mic(models.ParticipantInfo())
    with_tracks.CopyFrom(alice)
    _mic(with_tracks)
    cam = with_tracks.tracks[1]
    only_mic = models.ParticipantInfo()
    only_mic.CopyFrom(alice)
    only_mic.tracks.append(mic)
    only_cam = models.ParticipantInfo()
    only_cam.CopyFrom(alice)
    only_cam.tracks.append(cam)
    gone = models.ParticipantInfo()
    gone.CopyFrom(alice)
    gone.disconnect_reason = models.DisconnectReason.PARTICIPANT_REMOVED
    request = egress_pb.RoomCompositeEgressRequest(room_name="visit-7")
    composite = egress_pb.EgressInfo(egress_id="EG_1", room_name="visit-7", room_composite=request,
                                     started_at=1_700_000_001 * 10**9, status=egress_pb.EgressStatus.EGRESS_ACTIVE)
    done = egress_pb.EgressInfo()
    done.CopyFrom(composite)
    done.status = egress_pb.EgressStatus.EGRESS_COMPLETE
    done.file_results.append(egress_pb.FileInfo(filename="/rec/visit-7.mp4", location="/rec/visit-7.mp4", size=1234, duration=3 * 10**9))
    return [
        event("room_started", ROOM, 0),
        event("participant_joined", ROOM, 1, participant=alice),
        event("track_published", ROOM, 2, participant=only_mic, track=mic),  # opens the camera stream
        event("track_published", ROOM, 3, participant=with_tracks, track=cam),  # same stream: nothing
        event("egress_started", None, 4, egress_info=composite),
        event("egress_ended", None, 5, egress_info=done),
        event("track_unpublished", ROOM, 6, participant=only_cam, track=mic),  # the camera is left: nothing
        event("track_unpublished", ROOM, 7, participant=gone, track=cam),
        event("participant_left", ROOM, 8, participant=gone),
        event("room_finished", ROOM, 9),
    ]


async def test_vonage_callback_shapes_in_order_through_a_failing_receiver(tmp_path: Path) -> None:
    rec = JsonReceiver(fail_first=5)
    app = web.Application()
    app.router.add_post("/vonage", rec.handle)
    async with serving(app) as base:
        rec.url = base + "/vonage"
        tr = vonage_translator(str(tmp_path / "o.sqlite"), KEY, SECRET, session_callback=rec.url, archive_callback=rec.url, delivery=FAST)
        try:
            async with serving(tr.app) as hook:
                await tr.start()
                async with aiohttp.ClientSession() as http:
                    for ev in _events():
                        assert await post(http, hook + "/livekit", ev) == 200
                        assert await post(http, hook + "/livekit", ev) == 200  # LiveKit re-sends: nothing added
                await wait_for(lambda: len(rec.got) >= 9, timeout=5, what="9 callbacks")
        finally:
            await tr.close()
    assert rec.refused == 5
    names = [(c["event"], c.get("status")) for c in rec.got]
    assert names == [("sessionCreated", None), ("connectionCreated", None), ("streamCreated", None), ("archive", "started"),
                     ("archive", "stopped"), ("archive", "available"), ("streamDestroyed", None), ("connectionDestroyed", None),
                     ("sessionDestroyed", None)]
    created, stream, destroyed = rec.got[1], rec.got[2], rec.got[7]
    assert created["sessionId"] == SID and created["projectId"] == KEY and isinstance(created["timestamp"], int)
    assert created["connection"]["data"] == "user=alice" and created["connection"]["id"].startswith("PA_")
    assert stream["stream"]["id"] == created["connection"]["id"] + "-camera" and stream["stream"]["connection"] == created["connection"]
    assert destroyed["reason"] == "forceDisconnected" and rec.got[6]["reason"] == "forceDisconnected"
    available = rec.got[5]
    assert {k: available[k] for k in ("id", "sessionId", "partnerId", "size", "duration", "url", "createdAt")} == {
        "id": "EG_1", "sessionId": SID, "partnerId": KEY, "size": 1234, "duration": 3, "url": "/rec/visit-7.mp4",
        "createdAt": 1_700_000_001_000}


async def test_one_service_serves_both_vendors(tmp_path: Path) -> None:
    vonage, twilio_forms = JsonReceiver(), []

    async def twilio(request: web.Request) -> web.Response:
        twilio_forms.append(dict(await request.post()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/vonage", vonage.handle)
    app.router.add_post("/twilio", twilio)
    async with serving(app) as base:
        vendors: list[Vendor] = [TwilioCallbacks(AUTH_TOKEN, default_callback=base + "/twilio"),
                                 VonageCallbacks(KEY, session_callback=base + "/vonage")]
        tr = WebhookTranslator(str(tmp_path / "o.sqlite"), KEY, SECRET, vendors, delivery=FAST)
        try:
            async with serving(tr.app) as hook:
                await tr.start()
                async with aiohttp.ClientSession() as http:
                    assert await post(http, hook + "/livekit", event("participant_joined", ROOM, 1, participant=participant("bob"))) == 200
                await wait_for(lambda: len(vonage.got) == 1 and len(twilio_forms) == 1, timeout=10, what="both callbacks")
        finally:
            await tr.close()
    assert vonage.got[0]["event"] == "connectionCreated"
    assert twilio_forms[0]["StatusCallbackEvent"] == "participant-connected" and twilio_forms[0]["SequenceNumber"] == "0"


async def test_close_ends_delivery_even_when_the_wake_up_and_the_cancel_coincide(tmp_path: Path) -> None:
    # Python 3.11's wait_for returns the event instead of raising when the event fires as the
    # cancel arrives (a cancelled send sets it on its way out): close must not depend on the cancel.
    tr = vonage_translator(str(tmp_path / "o.sqlite"), KEY, SECRET, session_callback="http://127.0.0.1:9/x", delivery=FAST)
    await tr.start()
    await asyncio.sleep(0.05)  # the delivery loop waits for work
    tr._wake.set()
    await asyncio.wait_for(tr.close(), 5)
