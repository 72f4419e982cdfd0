"""REST calls that need participants with media: subscribe rules (UpdateSubscriptions) and
compositions (room composite egress)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from compat.devserver import DevServer
from compat.devserver.testing import LiveKitServer, publish_tone
from compat.twilio_video.rest import Client, TwilioRestException
from compat.twilio_video.rest.sids import to_twilio
from tests.support import wait_for

pytestmark = pytest.mark.media

ACCOUNT = "AC" + "e" * 32


async def test_subscribe_rules_and_compositions(tmp_path: Path) -> None:
    async with DevServer(port=0, recordings_dir=str(tmp_path)) as dev:
        server = LiveKitServer(dev.url, dev.api_key, dev.api_secret, embedded=dev)
        rooms = Client(dev.api_key, dev.api_secret, ACCOUNT, livekit_url=dev.url).video.v1.rooms
        compositions = Client(dev.api_key, dev.api_secret, ACCOUNT, livekit_url=dev.url).video.v1.compositions
        room = await rooms.create_async(unique_name="rules")
        talker = await server.connect("talker", "rules")
        viewer = await server.connect("viewer", "rules")
        try:
            async with publish_tone(talker, 300.0) as pub:
                def subscribed() -> bool:
                    found = viewer.remote_participants.get("talker")
                    remote = found.track_publications.get(pub.sid) if found is not None else None
                    return remote is not None and remote.subscribed

                await wait_for(subscribed, what="viewer subscribed")
                assert dev.rooms["rules"].participants["viewer"].session.subscriptions  # type: ignore[union-attr]
                rules = rooms(room.sid).participants("viewer").subscribe_rules
                assert (await rules.fetch_async()).rules == [{"type": "include", "all": True}]
                updated = await rules.update_async(rules=[{"type": "include", "all": True}, {"type": "exclude", "publisher": "talker"}])
                assert updated.participant_sid.startswith("PA") and updated.room_sid == room.sid
                session = dev.rooms["rules"].participants["viewer"].session
                assert session is not None
                await wait_for(lambda: not session.subscriptions, what="viewer unsubscribed by the rules (server side)")
                assert len((await rules.fetch_async()).rules) == 2
                await rules.update_async(rules=[{"type": "include", "track": to_twilio("MT", pub.sid)}])
                await wait_for(lambda: bool(session.subscriptions), what="viewer subscribed again by track SID")
                with pytest.raises(TwilioRestException) as info:
                    await rules.update_async(rules=[{"type": "include", "colour": "red"}])
                assert info.value.status == 400

                comp = await compositions.create_async(room.sid, video_layout=None, format="webm")
                assert comp.sid.startswith("CJ") and comp.room_sid == room.sid and comp.format == "webm"
                assert comp.status in ("enqueued", "processing")
                assert [c.sid for c in await compositions.list_async(room_sid=room.sid)] == [comp.sid]
                await asyncio.sleep(0.5)
            await rooms(room.sid).update_async(status="completed")
            await wait_for_status(compositions, comp.sid, "completed")
            done = await compositions(comp.sid).fetch_async()
            assert done.media_external_location and Path(done.media_external_location).exists()
            with pytest.raises(TwilioRestException) as info:
                await compositions.create_async(room.sid)
            assert info.value.code == 20404  # LiveKit composes live rooms only
        finally:
            await talker.disconnect()
            await viewer.disconnect()


async def wait_for_status(compositions: object, sid: str, status: str) -> None:
    for _ in range(100):
        if (await compositions(sid).fetch_async()).status == status:  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"composition {sid} never reached {status}")

