"""Participant name/metadata/attribute updates and room metadata, as others see them."""

from __future__ import annotations

import asyncio

import pytest

from compat.devserver.testing import LiveKitServer
from tests.support import EventLog, wait_for

pytestmark = pytest.mark.media


async def test_own_metadata_name_and_attributes_reach_everyone(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r", can_update_own_metadata=True)
    b = await dev_server.connect("b", "r")
    log_a, log_b = EventLog(), EventLog()
    for log, room in ((log_a, a), (log_b, b)):
        log.listen(room, "participant_metadata_changed", "participant_name_changed", "participant_attributes_changed")
    try:
        await a.local_participant.set_metadata("ready")
        ((who, old, new),) = await log_b.wait("participant_metadata_changed")
        assert (who.identity, old, new) == ("a", "", "ready")
        await log_a.wait("participant_metadata_changed")  # the local participant sees its own change too

        await a.local_participant.set_name("Dr. A")
        ((who, old, new),) = await log_b.wait("participant_name_changed")
        assert (who.identity, new) == ("a", "Dr. A")

        await a.local_participant.set_attributes({"role": "clinician"})
        ((changed, who),) = await log_b.wait("participant_attributes_changed")
        assert changed == {"role": "clinician"} and who.identity == "a"
        assert b.remote_participants["a"].attributes == {"role": "clinician"}
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_metadata_update_without_permission_is_refused(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "r")  # canUpdateOwnMetadata defaults to false
    b = await dev_server.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "participant_metadata_changed")
    try:
        # The server answers NOT_ALLOWED; livekit 1.2.1 does not surface it as an error.
        await asyncio.wait_for(a.local_participant.set_metadata("nope"), 10)
        await asyncio.sleep(0.5)
        assert log_b.events == []
        assert b.remote_participants["a"].metadata == ""
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_room_metadata_and_recording_flag_reach_clients(dev_server: LiveKitServer) -> None:
    a = await dev_server.connect("a", "meta-room")
    changes: list[tuple[str, str]] = []
    a.on("room_metadata_changed", lambda old, new: changes.append((old, new)))
    try:
        room = dev_server.embedded.rooms["meta-room"]
        room.set_metadata("visit-42")
        await wait_for(lambda: changes == [("", "visit-42")], what="room_metadata_changed")
        assert a.metadata == "visit-42"
        room.set_recording(True)
        await wait_for(lambda: a.is_recording, what="room.is_recording")
        room.set_recording(False)
        await wait_for(lambda: not a.is_recording, what="recording to stop")
    finally:
        await a.disconnect()
