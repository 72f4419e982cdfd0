"""Session.signal and received signals against a ScriptedSession (§3, §1.4.2)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from compat import core as C
from compat import vonage as OT
from tests.vonage.helpers import Recorder, connected, info, snapshot, spin

BOB = C.ParticipantState(info("bob"), ())


def packet(type_: str | None, data: Any) -> bytes:
    body = {k: v for k, v in (("type", type_), ("data", data)) if v is not None}
    return json.dumps(body).encode()


async def test_broadcast_is_sent_and_echoed_with_own_connection() -> None:
    session, core = await connected(snapshot(BOB))
    rec = Recorder()
    rec.listen(session, ("signal", "signal:chat"), "session")
    handler: list[Any] = []
    await session.signal({"type": "chat", "data": "hi"}, handler.append)
    assert handler == [None]
    assert core.sent_to == [(b'{"type":"chat","data":"hi"}', OT.SIGNAL_TOPIC, True, ())]
    assert rec.events == []  # echoed on a later loop iteration, as from the server
    await spin()
    assert rec.events == [("session", "signal:chat", ("hi", "PA_me")), ("session", "signal:chat", ("hi", "PA_me"))]
    assert [lab for lab, e in rec.raw] == ["session", "session"]


async def test_targeted_signal_reaches_only_its_connection() -> None:
    session, core = await connected(snapshot(BOB))
    bob = session.connections.get("PA_bob")
    seen: list[Any] = []
    session.on("signal", seen.append)
    await session.signal({"data": "psst", "to": bob})
    assert core.sent_to[-1][3] == ("bob",)
    await spin()
    assert seen == []  # not echoed
    await session.signal({"data": "me", "to": session.connection})
    assert len(core.sent_to) == 1  # to ourselves: delivered locally only
    await spin()
    assert [e.data for e in seen] == ["me"] and seen[0].type == "signal"


async def test_received_signal_dispatch_order_and_type_quirk() -> None:
    session, core = await connected(snapshot(BOB))
    seen: list[tuple[str, str, Any]] = []
    session.on("signal", lambda e: seen.append(("signal", e.type, e.from_.connectionId)))
    session.on("signal:x", lambda e: seen.append(("signal:x", e.type, e.data)))
    core.feed(C.DataReceived("bob", packet("x", "d"), OT.SIGNAL_TOPIC))
    core.feed(C.DataReceived("bob", packet(None, "untyped"), OT.SIGNAL_TOPIC))
    assert seen == [("signal", "signal:x", "PA_bob"), ("signal:x", "signal:x", "d"), ("signal", "signal", "PA_bob")]


async def test_server_signal_has_no_sender_and_other_topics_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    session, core = await connected()
    seen: list[Any] = []
    session.on("signal", seen.append)
    core.feed(C.DataReceived(None, packet("s", "from server"), OT.SIGNAL_TOPIC))
    core.feed(C.DataReceived(None, b"twilio data", "chat"))
    core.feed(C.DataReceived(None, b"not json", OT.SIGNAL_TOPIC))
    assert [(e.data, e.from_) for e in seen] == [("from server", None)]
    assert "is not a signal" in caplog.text


async def test_signal_from_unannounced_connection_waits_for_connection_created() -> None:
    session, core = await connected()
    order: list[str] = []
    session.on("connectionCreated", lambda e: order.append("connectionCreated"))
    session.on("signal", lambda e: order.append(f"signal {e.data} from {e.from_.connectionId}"))
    core.feed(C.DataReceived("carol", packet("t", "early"), OT.SIGNAL_TOPIC))
    assert order == []
    core.feed(C.ParticipantJoined(info("carol")))
    assert order == ["connectionCreated", "signal early from PA_carol"]


async def test_early_signals_of_a_connection_that_leaves_are_dropped_logged(caplog: pytest.LogCaptureFixture) -> None:
    session, core = await connected()
    core.feed(C.DataReceived("ghost", packet("t", "x"), OT.SIGNAL_TOPIC), C.ParticipantLeft("ghost"))
    assert "dropped" in caplog.text and session._early == {}


async def test_signal_errors() -> None:
    session = OT.Session("devkey", "room")
    with pytest.raises(OT.OTError) as nc:
        await session.signal({"data": "x"})
    assert (nc.value.name, nc.value.code) == ("OT_NOT_CONNECTED", 500)
    only, _ = await connected(role="publisheronly")
    with pytest.raises(OT.OTError) as denied:
        await only.signal({"data": "x"})
    assert (denied.value.name, denied.value.code) == ("OT_PERMISSION_DENIED", 403)
    sub, core = await connected(snapshot(BOB), role="subscriber")
    await sub.signal({"data": "subscribers may signal"})
    errors: list[Any] = []
    await sub.signal({"type": "bad type!"}, errors.append)
    assert errors[0].code == 400
    bob = sub.connections.get("PA_bob")
    core.feed(C.ParticipantLeft("bob"))
    with pytest.raises(OT.OTError) as gone:
        await sub.signal({"data": "x", "to": bob})
    assert (gone.value.name, gone.value.code) == ("OT_NOT_FOUND", 404)


async def test_signal_during_reconnect_is_queued_or_fails() -> None:
    session, core = await connected(snapshot(BOB))
    core.feed(C.Reconnecting())
    with pytest.raises(OT.OTError) as no_retry:
        await session.signal({"data": "now", "retryAfterReconnect": False})
    assert no_retry.value.code == 500
    task = asyncio.ensure_future(session.signal({"data": "later"}))
    await spin()
    assert not task.done() and core.sent_to == []
    core.feed(C.Reconnected())
    await task
    assert [p for p, *_ in core.sent_to] == [b'{"data":"later"}']
    core.feed(C.Reconnecting())
    lost = asyncio.ensure_future(session.signal({"data": "lost"}))
    await spin()
    core.feed(C.Disconnected(C.DisconnectCause.UNKNOWN, was_reconnecting=True))
    with pytest.raises(OT.OTError) as dropped:
        await lost
    assert dropped.value.name == "OT_NOT_CONNECTED"
