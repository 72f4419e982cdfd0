"""End-to-end examples of the property test: real rtc participants act, and the event
trace the application sees must equal the reference model of section 3.6."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer, publish_tone
from tests.media import publish_video
from tests.support import wait_for
from tests.twilio.helpers import announced, close, twilio_connect
from tests.twilio.model import Model, Recorder

pytestmark = pytest.mark.media


async def converge(rec: Recorder, model: Model, what: str) -> None:
    """Wait until the trace has as many events as the model expects, then compare."""
    await wait_for(lambda: len(rec.events) >= len(model.events), 15, f"{what}: {model.events[len(rec.events):]}")
    await asyncio.sleep(0.2)  # nothing unexpected after it
    assert not rec.identity_errors, rec.identity_errors
    assert rec.events == model.events, what


def sid_of(room_participants: dict[str, rtc.RemoteParticipant], identity: str) -> str:
    return room_participants[identity].sid


async def test_scenario_present_join_publish_mute_data_unpublish_leave(lk_server: LiveKitServer) -> None:
    alice = await lk_server.connect("alice", "pm")
    bob: rtc.Room | None = None
    model = Model(dominant_speaker=False)
    rec = Recorder()
    try:
        async with publish_tone(alice, 440) as alice_mic:
            await announced(lk_server, "pm", "alice", 1)
            room = await twilio_connect(lk_server, "bot", "pm")
            rec.attach_room(room)
            for p in room.participants.values():
                rec.attach_participant(p)
            model.initial(alice.local_participant.sid, "alice", [(alice_mic.sid, "mic", "audio", False)])

            model.subscribe("alice", alice_mic.sid)
            model.started("alice", alice_mic.sid)
            await converge(rec, model, "existing track subscribed and started")

            bob = await lk_server.connect("bob", "pm")
            model.join(bob.local_participant.sid, "bob", [])
            await converge(rec, model, "bob joined")

            async with publish_video(bob, 320, 240) as bob_cam:
                model.publish("bob", bob_cam.sid, "cam", "video")
                model.subscribe("bob", bob_cam.sid)
                model.started("bob", bob_cam.sid)
                await converge(rec, model, "bob published a camera")

                alice_mic.track.mute()  # type: ignore[union-attr]
                model.set_enabled("alice", alice_mic.sid, False)
                await converge(rec, model, "alice muted")

                await bob.local_participant.publish_data("hi", topic="chat")
                model.data("bob", "chat", b"hi")
                await converge(rec, model, "bob sent data")

                await bob.local_participant.unpublish_track(bob_cam.sid)
                model.unpublish("bob", bob_cam.sid)
                await converge(rec, model, "bob unpublished")

            await alice.disconnect()
            model.leave("alice")
            await converge(rec, model, "alice left")

            room.disconnect()
            model.disconnect()
            assert rec.events == model.events  # synchronous
            await room.wait_closed()
            assert room._session.open_resources() == 0
    finally:
        await alice.disconnect()
        if bob is not None:
            await bob.disconnect()


async def test_scenario_join_with_tracks_then_leave_with_data_track(lk_server: LiveKitServer) -> None:
    model = Model(dominant_speaker=False)
    rec = Recorder()
    room = await twilio_connect(lk_server, "bot", "pm2")
    rec.attach_room(room)
    carol = rtc.Room()
    try:
        await carol.connect(lk_server.url, lk_server.token("carol", "pm2"), rtc.RoomOptions(connect_timeout=10))
        model.join(carol.local_participant.sid, "carol", [])
        await converge(rec, model, "carol joined")
        async with publish_tone(carol, 700) as mic:
            model.publish("carol", mic.sid, "mic", "audio")
            model.subscribe("carol", mic.sid)
            model.started("carol", mic.sid)
            await converge(rec, model, "carol published")
            await carol.local_participant.publish_data(b"\xff", topic="bin")
            model.data("carol", "bin", b"\xff")
            await converge(rec, model, "binary data")
            await carol.disconnect()
            model.leave("carol")
            await converge(rec, model, "carol left with two subscribed tracks")
        room.disconnect()
        model.disconnect()
        assert rec.events == model.events
    finally:
        await carol.disconnect()
        await close(room)


async def test_scenario_two_present_then_publish_mute_data_unpublish_leave(lk_server: LiveKitServer) -> None:
    alice = await lk_server.connect("alice", "pm3")
    bob = await lk_server.connect("bob", "pm3")
    model = Model(dominant_speaker=False)
    rec = Recorder()
    try:
        async with publish_tone(alice, 440) as alice_mic:
            await announced(lk_server, "pm3", "alice", 1)
            room = await twilio_connect(lk_server, "bot", "pm3")
            rec.attach_room(room)
            for p in room.participants.values():
                rec.attach_participant(p)
            assert sorted(p.identity for p in room.participants.values()) == ["alice", "bob"]
            for p in room.participants.values():  # the server's order
                tracks = [(alice_mic.sid, "mic", "audio", False)] if p.identity == "alice" else []
                model.initial(p.sid, p.identity, tracks)
            model.subscribe("alice", alice_mic.sid)
            model.started("alice", alice_mic.sid)
            await converge(rec, model, "existing track subscribed and started")

            async with publish_video(bob, 320, 240) as bob_cam:
                model.publish("bob", bob_cam.sid, "cam", "video")
                model.subscribe("bob", bob_cam.sid)
                model.started("bob", bob_cam.sid)
                await converge(rec, model, "bob published a camera")

                alice_mic.track.mute()  # type: ignore[union-attr]
                model.set_enabled("alice", alice_mic.sid, False)
                await converge(rec, model, "alice muted")
                alice_mic.track.unmute()  # type: ignore[union-attr]
                model.set_enabled("alice", alice_mic.sid, True)
                await converge(rec, model, "alice unmuted")

                await bob.local_participant.publish_data("hi", topic="chat")
                model.data("bob", "chat", b"hi")
                await converge(rec, model, "bob sent data")

                await bob.local_participant.unpublish_track(bob_cam.sid)
                model.unpublish("bob", bob_cam.sid)
                await converge(rec, model, "bob unpublished")

            await alice.disconnect()
            model.leave("alice")
            await converge(rec, model, "alice left")

            room.disconnect()
            model.disconnect()
            assert rec.events == model.events  # synchronous
            await room.wait_closed()
            assert room._session.open_resources() == 0
    finally:
        await alice.disconnect()
        await bob.disconnect()
