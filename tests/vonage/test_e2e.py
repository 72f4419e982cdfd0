"""End to end through the dev server: compat.vonage sessions with real livekit.rtc participants
as the remote side. Each ordering rule of §1.4, signals between compat sessions and with a plain
LiveKit participant both ways, moderation with and without rights, roles, audio both ways,
reconnect, and nothing left open after disconnect()."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from compat import vonage as OT
from compat.core.media import AudioFrame, AudioSource
from compat.core.rtc_session import RtcSession
from compat.devserver.testing import FRAME_SAMPLES, SAMPLE_RATE, LiveKitServer, dominant_frequency, publish_tone, read_audio, sine
from tests.support import wait_for
from tests.vonage.helpers import PUBLISHER_EVENTS, SESSION_EVENTS, Recorder

pytestmark = pytest.mark.media


def ot_token(server: LiveKitServer, room: str, identity: str, role: str = "publisher", data: str | None = None) -> str:
    return OT.generate_token(server.api_key, server.api_secret, room, role=role, identity=identity, data=data)


async def ot_connect(server: LiveKitServer, room: str, identity: str, rec: Recorder | None = None, role: str = "publisher") -> OT.Session:
    """A compat session (OT.Session: several clients of one session ID in one process)."""
    session = OT.Session(server.api_key, room, {"url": server.url})
    if rec is not None:
        rec.listen(session, SESSION_EVENTS, identity)
        session.on("signal:chat", rec._record(identity))
    await session.connect(ot_token(server, room, identity, role))
    return session


async def close(*sessions: OT.Session) -> None:
    for session in sessions:
        if session.isConnected():
            await asyncio.wait_for(session.disconnect(), 15)
        core = session._session
        if core is not None:
            await core.wait_closed()
            assert core.open_resources() == 0
        assert not {t for t in session._tasks if not t.done()}


async def until(rec: Recorder, label: str, *names: str, timeout: float = 10.0) -> None:
    """Wait until ``label`` recorded the event names, in order, after what it already had."""
    await wait_for(lambda: _contains(rec.names(label), names), timeout, f"{label}: {names} (got {rec.names(label)})")


async def announced(server: LiveKitServer, room: str, identity: str, tracks: int, timeout: float = 10.0) -> None:
    """Wait until the server lists ``identity`` in ``room`` with ``tracks`` published tracks."""
    from livekit import api

    async with server.api() as lkapi:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            resp = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            if any(p.identity == identity and len(p.tracks) >= tracks for p in resp.participants):
                return
            assert loop.time() < deadline, f"timed out waiting for {identity} with {tracks} track(s) in {room}"
            await asyncio.sleep(0.05)


def _contains(seq: list[str], sub: tuple[str, ...]) -> bool:
    it = iter(seq)
    return all(name in it for name in sub)


def of(rec: Recorder, label: str, name: str) -> list[Any]:
    return [s for lab, t, s in rec.events if lab == label and t == name]


@contextlib.asynccontextmanager
async def bot_tone(publisher: OT.Publisher, freq: float) -> AsyncIterator[None]:
    source = publisher.audio_source
    assert source is not None

    async def feed() -> None:
        n = 0
        while True:
            data = sine(freq, n, FRAME_SAMPLES)
            n += FRAME_SAMPLES
            await source.capture_frame(AudioFrame(data.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))

    task = asyncio.create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_connect_join_publish_mute_leave_order_and_audio_in(lk_server: LiveKitServer) -> None:
    room, rec = "ot-order", Recorder()
    alice = await lk_server.connect("alice", room)
    bob: rtc.Room | None = None
    try:
        async with publish_tone(alice, 440):
            await announced(lk_server, room, "alice", 1)
            bot = await ot_connect(lk_server, room, "bot", rec)
            assert rec.names("bot")[:4] == ["sessionConnected", "connectionCreated", "connectionCreated", "streamCreated"]
            assert bot.connection is not None
            own, first = of(rec, "bot", "connectionCreated")
            assert own == (bot.connection.connectionId, None) and first == (alice.local_participant.sid, None)
            stream_id = f"{alice.local_participant.sid}-camera"
            assert of(rec, "bot", "streamCreated") == [(stream_id, None)]
            stream = bot.streams.get(stream_id)
            assert stream is not None and stream.hasAudio and not stream.hasVideo and stream.videoType is None

            subscriber = await bot.subscribe(stream)
            assert subscriber is not None
            frames = subscriber.audio_frames()
            samples = []
            async for frame in frames:
                samples.append(np.frombuffer(frame.data, dtype=np.int16).copy())
                if len(samples) >= 60:
                    break
            assert abs(dominant_frequency(np.concatenate(samples[20:])) - 440) < 20

            bob = await lk_server.connect("bob", room)
            await until(rec, "bot", "connectionCreated")
            async with publish_tone(bob, 660) as bob_mic:
                bob_stream = f"{bob.local_participant.sid}-camera"
                await wait_for(lambda: (bob_stream, None) in of(rec, "bot", "streamCreated"), 10, "bob's stream")
                bob_mic.track.mute()  # type: ignore[union-attr]
                await wait_for(lambda: bool(of(rec, "bot", "streamPropertyChanged")), 10, "hasAudio change")
                assert of(rec, "bot", "streamPropertyChanged") == [(bob_stream, "hasAudio", True, False)]
                await bob.disconnect()
            await until(rec, "bot", "streamDestroyed", "connectionDestroyed")
            assert of(rec, "bot", "streamDestroyed")[-1] == (bob_stream, "clientDisconnected")
            assert of(rec, "bot", "connectionDestroyed")[-1] == (bob.local_participant.sid, "clientDisconnected")

            mark = len(rec.events)
            await close(bot)
            assert [t for _, t, _ in rec.events[mark:]] == ["sessionDisconnected"]
            assert rec.events[-1][2] == "clientDisconnected"
            assert frames.closed
    finally:
        await alice.disconnect()


async def test_own_streams_through_the_publisher_and_audio_out(lk_server: LiveKitServer) -> None:
    room, rec = "ot-publish", Recorder()
    listener = await lk_server.connect("listener", room)
    try:
        bot = await ot_connect(lk_server, room, "bot", rec)
        publisher = OT.initPublisher(None, {"name": "bot-voice", "audioSource": AudioSource(SAMPLE_RATE, 1)})
        rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
        order: list[str] = []
        publisher.on("streamCreated", lambda e: order.append("streamCreated"))
        async with bot_tone(publisher, 550):
            await bot.publish(publisher, lambda err: order.append(f"handler {err}"))
            assert order == ["streamCreated", "handler None"]
            track = await remote_track(listener, "bot", rtc.TrackKind.KIND_AUDIO)
            assert abs(dominant_frequency(await read_audio(track, 40)) - 550) < 20
            assert "streamCreated" not in rec.names("bot")  # own streams never through the Session
            bot.unpublish(publisher)
            assert rec.names("publisher") == ["streamCreated", "streamDestroyed", "destroyed"]
            assert of(rec, "publisher", "streamDestroyed") == [(f"{bot.connection.connectionId}-camera", "unpublished")]  # type: ignore[union-attr]
        await close(bot)
    finally:
        await listener.disconnect()


async def remote_track(room: rtc.Room, identity: str, kind: rtc.TrackKind.ValueType) -> rtc.Track:
    """The first subscribed track of ``kind`` that ``identity`` publishes, as ``room`` sees it."""

    def track() -> rtc.Track | None:
        p = room.remote_participants.get(identity)
        for pub in p.track_publications.values() if p else ():
            if pub.track is not None and pub.kind == kind:
                return pub.track
        return None

    await wait_for(lambda: track() is not None, 10, f"{identity}'s {rtc.TrackKind.Name(kind)}")
    found = track()
    assert found is not None
    return found


async def test_signals_between_compat_sessions_and_a_plain_participant(lk_server: LiveKitServer) -> None:
    room, rec = "ot-signals", Recorder()
    plain = rtc.Room()
    plain_got: list[tuple[str | None, bytes]] = []
    plain.on("data_received", lambda p: plain_got.append((p.topic, p.data)))
    await lk_server.connect("plain", room, room_object=plain)
    a = await ot_connect(lk_server, room, "a", rec)
    b = await ot_connect(lk_server, room, "b", rec)
    try:
        await until(rec, "a", "connectionCreated", "connectionCreated", "connectionCreated")
        assert a.connection is not None and b.connection is not None
        await a.signal({"type": "chat", "data": "hello all"})
        await wait_for(lambda: len(of(rec, "b", "signal:chat")) == 2 and len(of(rec, "a", "signal:chat")) == 2, 10, "broadcast")
        assert of(rec, "a", "signal:chat")[0] == ("hello all", a.connection.connectionId)  # the sender's own copy
        assert of(rec, "b", "signal:chat")[0] == ("hello all", a.connection.connectionId)
        await wait_for(lambda: bool(plain_got), 10, "the plain participant's copy")
        assert plain_got[0] == (OT.SIGNAL_TOPIC, b'{"type":"chat","data":"hello all"}')

        b_conn = a.connections.get(b.connection.connectionId)
        await a.signal({"type": "chat", "data": "only b", "to": b_conn})
        await wait_for(lambda: len(of(rec, "b", "signal:chat")) == 4, 10, "targeted")
        await asyncio.sleep(0.3)
        assert len(of(rec, "a", "signal:chat")) == 2 and len(plain_got) == 1

        payload = json.dumps({"type": "chat", "data": "from plain"}).encode()
        await plain.local_participant.publish_data(payload, reliable=True, topic=OT.SIGNAL_TOPIC)
        await plain.local_participant.publish_data(b"a twilio data track message", reliable=True, topic="chat")
        await wait_for(lambda: len(of(rec, "a", "signal:chat")) == 4, 10, "plain -> compat")
        assert of(rec, "a", "signal:chat")[-1] == ("from plain", plain.local_participant.sid)
        await asyncio.sleep(0.3)
        assert len(of(rec, "a", "signal:chat")) == 4  # the "chat"-topic packet is not a signal
    finally:
        await close(a, b)
        await plain.disconnect()


async def test_moderation_with_and_without_rights(lk_server: LiveKitServer) -> None:
    room, rec = "ot-moderation", Recorder()
    moderator = await ot_connect(lk_server, room, "mod", rec, role="moderator")
    target = await ot_connect(lk_server, room, "target", rec)
    observer = await ot_connect(lk_server, room, "observer", rec)
    try:
        publisher = await target.publish({"name": "target-voice"})
        assert publisher is not None and publisher.stream is not None
        rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
        sid = publisher.stream.streamId
        await wait_for(lambda: moderator.streams.get(sid) is not None and observer.streams.get(sid) is not None, 10, "streams")

        with pytest.raises(OT.OTError) as denied:
            await observer.forceDisconnect(moderator.connection)
        assert (denied.value.name, denied.value.code) == ("OT_PERMISSION_DENIED", 1520)
        with pytest.raises(OT.OTError) as denied_mute:
            await observer.forceMuteStream(observer.streams.get(sid))
        assert denied_mute.value.code == 1540

        await moderator.forceMuteStream(moderator.streams.get(sid))
        await wait_for(lambda: "muteForced" in rec.names("publisher"), 10, "muteForced on the target's Publisher")
        await wait_for(lambda: (sid, "hasAudio", True, False) in of(rec, "observer", "streamPropertyChanged"), 10, "hasAudio")

        await moderator.forceUnpublish(moderator.streams.get(sid))
        await wait_for(lambda: "streamDestroyed" in rec.names("publisher"), 10, "the target's Publisher streamDestroyed")
        assert of(rec, "publisher", "streamDestroyed") == [(sid, "forceUnpublished")]
        await wait_for(lambda: bool(of(rec, "observer", "streamDestroyed")), 10, "observer streamDestroyed")
        assert of(rec, "observer", "streamDestroyed") == [(sid, "forceUnpublished")]
        await wait_for(lambda: target.capabilities.publish == 1, 10, "publishing restored")

        target_id = target.connection.connectionId  # type: ignore[union-attr]
        await moderator.forceDisconnect(target_id)
        await until(rec, "target", "sessionDisconnected")
        assert of(rec, "target", "sessionDisconnected") == ["forceDisconnected"]
        await wait_for(lambda: bool(of(rec, "observer", "connectionDestroyed")), 10, "observer connectionDestroyed")
        assert of(rec, "observer", "connectionDestroyed") == [(target_id, "forceDisconnected")]
    finally:
        await close(moderator, target, observer)


async def test_force_mute_all(lk_server: LiveKitServer) -> None:
    room, rec = "ot-mute-all", Recorder()
    moderator = await ot_connect(lk_server, room, "mod", rec, role="moderator")
    member = await ot_connect(lk_server, room, "member", rec)
    try:
        await until(rec, "member", "connectionCreated", "connectionCreated")
        await moderator.forceMuteAll()
        await until(rec, "member", "muteForced")
        assert of(rec, "member", "muteForced") == [True] and of(rec, "mod", "muteForced") == [True]
        publisher = await member.publish({"name": "late"})
        assert publisher is not None and publisher.stream is not None and not publisher.stream.hasAudio
        await moderator.disableForceMute()
        await wait_for(lambda: of(rec, "member", "muteForced") == [True, False], 10, "muteForced{active: false}")
    finally:
        await close(moderator, member)


async def test_roles(lk_server: LiveKitServer) -> None:
    room = "ot-roles"
    plain = await lk_server.connect("plain", room)
    sessions: list[OT.Session] = []
    try:
        async with publish_tone(plain, 440):
            await announced(lk_server, room, "plain", 1)
            stream_id = f"{plain.local_participant.sid}-camera"
            for role in ("subscriber", "publisher", "publisheronly", "moderator"):
                session = await ot_connect(lk_server, room, f"as-{role}", role=role)
                sessions.append(session)
                assert session.capabilities.publish == (0 if role == "subscriber" else 1)
                await wait_for(lambda: session.streams.get(stream_id) is not None, 10, "the plain stream")  # noqa: B023
                stream = session.streams.get(stream_id)
                if role == "publisheronly":
                    with pytest.raises(OT.OTError) as no_sub:
                        await session.subscribe(stream)
                    assert no_sub.value.code == 1501
                    with pytest.raises(OT.OTError) as no_signal:
                        await session.signal({"data": "x"})
                    assert no_signal.value.code == 403
                else:
                    assert await session.subscribe(stream) is not None
                    await session.signal({"data": "x"})
                if role == "subscriber":
                    with pytest.raises(OT.OTError) as no_pub:
                        await session.publish()
                    assert (no_pub.value.name, no_pub.value.code) == ("OT_PERMISSION_DENIED", 1500)
                else:
                    assert await session.publish() is not None
    finally:
        await close(*sessions)
        await plain.disconnect()


# SIGNAL_RECONNECT: a resume; DISCONNECT_SIGNAL_ON_RESUME: the resume fails, a full reconnect follows.
RECONNECTS = ["SIGNAL_RECONNECT", "DISCONNECT_SIGNAL_ON_RESUME"]


async def _reconnect(
    lk_server: LiveKitServer, room: str, rec: Recorder, scenario: str
) -> tuple[OT.Session, OT.Session]:
    bot = await ot_connect(lk_server, room, "bot", rec)
    peer = await ot_connect(lk_server, room, "peer", rec)
    core = bot._session
    assert isinstance(core, RtcSession)
    await until(rec, "bot", "connectionCreated", "connectionCreated")
    mark = len(rec.names("bot"))
    await core.simulate_scenario(scenario)
    await until(rec, "bot", "sessionReconnecting", timeout=20)
    queued = asyncio.ensure_future(bot.signal({"type": "chat", "data": "queued"})) if bot._reconnecting else None
    await until(rec, "bot", "sessionReconnected", timeout=30)
    if queued is not None:
        await asyncio.wait_for(queued, 10)
    assert rec.names("bot")[mark : mark + 2] == ["sessionReconnecting", "sessionReconnected"]
    return bot, peer


@pytest.mark.parametrize("scenario", RECONNECTS)
async def test_reconnect_events_and_queued_signal(lk_server: LiveKitServer, scenario: str) -> None:
    """§1.4.5: sessionReconnecting -> sessionReconnected; a signal sent meanwhile goes out after it."""
    rec = Recorder()
    bot, peer = await _reconnect(lk_server, "ot-reconnect", rec, scenario)
    try:
        assert bot.connection is not None
        names = rec.names("bot")
        if "signal:chat" in names:  # the signal was queued: delivered (echo) only after sessionReconnected
            assert names.index("signal:chat") > names.index("sessionReconnected")
        await bot.signal({"type": "chat", "data": "after"})
        await wait_for(lambda: ("after", bot.connection.connectionId) in of(rec, "bot", "signal:chat"), 10, "echo")  # type: ignore[union-attr]
    finally:
        await close(bot, peer)


@pytest.mark.parametrize("scenario", RECONNECTS)
async def test_peer_keeps_seeing_a_reconnected_client(lk_server: LiveKitServer, scenario: str) -> None:
    """The peer keeps the bot's Connection (same connectionId), with no connectionDestroyed/Created:
    a resume keeps the participant; a full reconnect is held and reconciled by the peer's core."""
    rec = Recorder()
    bot, peer = await _reconnect(lk_server, "ot-reconnect-peer", rec, scenario)
    try:
        assert bot.connection is not None
        bot_id = bot.connection.connectionId
        await bot.signal({"type": "chat", "data": "after"})
        await wait_for(lambda: ("after", bot_id) in of(rec, "peer", "signal:chat"), 10, "the peer gets the signal")
        connections = [(t, s) for lab, t, s in rec.events if lab == "peer" and t.startswith("connection")]
        assert [t for t, (cid, _r) in connections if cid == bot_id] == ["connectionCreated"], connections
        assert peer.connection is not None
        assert {cid for _t, (cid, _r) in connections} == {bot_id, peer.connection.connectionId}, connections
    finally:
        await close(bot, peer)
