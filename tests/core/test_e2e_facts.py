"""The facts an RtcSession produces from real livekit.rtc peers on the dev server, in order:
joins, publishes, mutes, data to everyone and to chosen identities, explicit subscriptions
(``auto_subscribe=False``), video size changes, moderation through RoomService with the
session's own roomAdmin token (and without one), metadata and permission changes, leaves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import numpy as np
import pytest
from livekit import api, rtc

from compat import core as C
from compat.core import rtc_session
from compat.core.media import AudioSource, VideoSource
from compat.core.rtc_session import RtcSession, open_session
from compat.devserver.testing import LiveKitServer, publish_tone
from tests.support import wait_for

pytestmark = pytest.mark.media

# Facts whose timing depends on audio levels and network measurements: left out of the sequences.
NOISE = (C.ActiveSpeakersChanged, C.ConnectionQualityChanged)


class Peer:
    """One RtcSession and the facts it delivered (noise left out)."""

    def __init__(self, session: RtcSession) -> None:
        self.session = session
        self.facts: list[C.Fact] = []
        session.start(self._on_fact)

    def _on_fact(self, fact: C.Fact) -> None:
        if not isinstance(fact, NOISE):
            self.facts.append(fact)

    def mark(self) -> int:
        return len(self.facts)

    def since(self, mark: int) -> list[C.Fact]:
        return self.facts[mark:]

    async def wait(self, kind: type, count: int = 1, *, since: int = 0, timeout: float = 10.0) -> list[Any]:
        def found() -> list[Any]:
            return [f for f in self.facts[since:] if isinstance(f, kind)]

        await wait_for(lambda: len(found()) >= count, timeout, f"{count} {kind.__name__} fact(s)")
        return found()


async def join(server: LiveKitServer, identity: str, *, auto_subscribe: bool = True, **grants: Any) -> Peer:
    token = server.token(identity, "r", **grants)
    return Peer(await open_session(server.url, token, auto_subscribe=auto_subscribe, overall_timeout=20.0))


@contextlib.asynccontextmanager
async def tone(peer: Peer) -> AsyncIterator[C.TrackInfo]:
    source = AudioSource(48000, 1)
    info = await peer.session.publish_media("audio", source, "mic", C.PublishSettings(source="microphone"))

    async def feed() -> None:
        t = np.arange(480) / 48000
        samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        while True:
            await source.capture_frame(rtc.AudioFrame(samples.tobytes(), 48000, 1, 480))

    task = asyncio.create_task(feed())
    try:
        yield info
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def camera(peer: Peer, size: Callable[[], tuple[int, int]]) -> AsyncIterator[C.TrackInfo]:
    """A video track whose frames have the size ``size()`` returns at each frame."""
    w, h = size()
    source = VideoSource(w, h)
    info = await peer.session.publish_media("video", source, "cam", C.PublishSettings(source="camera", simulcast=False))

    async def feed() -> None:
        while True:
            w, h = size()
            source.capture_frame(rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, bytes(w * h * 4)))
            await asyncio.sleep(1 / 15)

    task = asyncio.create_task(feed())
    try:
        yield info
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_fact_order_from_real_peers(dev_server: LiveKitServer) -> None:
    alice = await join(dev_server, "alice")
    peers = [alice]
    try:
        async with tone(alice) as mic:
            await _scenario(dev_server, alice, mic, peers)
    finally:
        for peer in peers:
            peer.session.disconnect()
        for peer in peers:
            await peer.session.wait_closed()


async def _scenario(server: LiveKitServer, alice: Peer, mic: C.TrackInfo, peers: list[Peer]) -> None:
    await wait_for(lambda: bool(server.embedded.rooms["r"].participants["alice"].tracks), 10.0, "alice's track")
    mod = await join(server, "mod", auto_subscribe=False, room_admin=True)
    peers.append(mod)
    # join with tracks: alice and her microphone are in the snapshot; nothing is subscribed
    (connected,) = mod.facts[:1]
    assert isinstance(connected, C.Connected)
    snap = connected.snapshot
    assert snap.local.identity == "mod" and snap.local.permissions.room_admin
    assert snap.local.joined_at_ms > 0
    (state,) = snap.participants
    assert state.info.identity == "alice" and state.info.joined_at_ms > 0
    assert state.info.permissions == C.Permissions()
    assert [(t.sid, t.kind, t.source) for t in state.tracks] == [(mic.sid, "audio", "microphone")]
    assert mod.facts == [connected]

    # a join, then a publish
    bob = await join(server, "bob")
    peers.append(bob)
    (joined,) = await mod.wait(C.ParticipantJoined)
    assert joined.participant.identity == "bob" and joined.tracks == () and joined.participant.joined_at_ms > 0
    assert joined.participant.permissions == C.Permissions()
    size = [(320, 240)]
    async with camera(bob, lambda: size[0]) as cam:
        await mod.wait(C.TrackPublished)
        assert mod.facts[1:] == [joined, C.TrackPublished("bob", attrs.evolve(cam, width=320, height=240))]
        await _rest(server, alice, mic, bob, cam, mod, size)


async def _rest(
    server: LiveKitServer, alice: Peer, mic: C.TrackInfo, bob: Peer, cam: C.TrackInfo, mod: Peer,
    size: list[tuple[int, int]],
) -> None:
    # remote mute / unmute
    m = mod.mark()
    a = alice.mark()
    b = bob.mark()
    alice.session.set_muted(mic.sid, True)
    await mod.wait(C.TrackMuted, since=m)
    alice.session.set_muted(mic.sid, False)
    await mod.wait(C.TrackUnmuted, since=m)
    await bob.wait(C.TrackUnmuted, since=b)  # bob's may come later than mod's: the next marks follow both
    assert mod.since(m) == [C.TrackMuted("alice", mic.sid), C.TrackUnmuted("alice", mic.sid)]
    assert not [f for f in alice.since(a) if isinstance(f, C.LocalTrackMuted)]  # our own mutes are no LocalTrackMuted

    # data to everyone, to bob only, to mod only
    m, b = mod.mark(), bob.mark()
    alice.session.send_data(b"all", topic="chat", reliable=True)
    alice.session.send_data(b"to-bob", topic="chat", reliable=True, destinations=("bob",))
    alice.session.send_data(b"to-mod", topic="chat", reliable=True, destinations=("mod",))
    await mod.wait(C.DataReceived, 2, since=m)
    await bob.wait(C.DataReceived, 2, since=b)
    await asyncio.sleep(0.3)
    assert mod.since(m) == [C.DataReceived("alice", b"all", "chat", True), C.DataReceived("alice", b"to-mod", "chat", True)]
    assert bob.since(b) == [C.DataReceived("alice", b"all", "chat", True), C.DataReceived("alice", b"to-bob", "chat", True)]

    # explicit subscriptions (mod does not auto-subscribe), and a size change seen by a reader
    m = mod.mark()
    mod.session.set_subscribed(cam.sid, True)
    await mod.wait(C.TrackStarted, since=m, timeout=15)
    frames = mod.session.open_video_frames(cam.sid, capacity=2, rgba=False)
    size[0] = (640, 480)
    await mod.wait(C.TrackDimensionsChanged, since=m, timeout=15)
    mod.session.set_subscribed(cam.sid, False)
    await mod.wait(C.TrackUnsubscribed, since=m)
    assert frames.closed
    with pytest.raises(KeyError):
        mod.session.set_subscribed("TR_unknown", True)
    mod.session.set_subscribed(cam.sid, True)
    await mod.wait(C.TrackSubscribed, 2, since=m)
    # A forwarding server must first get a keyframe from the publisher (a PLI round trip, at most one
    # per 300 ms): wait for the picture rather than assume it within the settle time below.
    await mod.wait(C.TrackStarted, 2, since=m, timeout=15)
    await asyncio.sleep(0.5)
    assert mod.since(m) == [
        C.TrackSubscribed("bob", cam.sid),
        C.TrackStarted("bob", cam.sid, 320, 240),
        C.TrackDimensionsChanged("bob", cam.sid, 640, 480),
        C.TrackUnsubscribed("bob", cam.sid),
        C.TrackSubscribed("bob", cam.sid),
        C.TrackStarted("bob", cam.sid, 640, 480),
    ]

    # moderation with a roomAdmin token
    m, a, b = mod.mark(), alice.mark(), bob.mark()
    await mod.session.mute_remote_track("alice", mic.sid, True)
    await alice.wait(C.LocalTrackMuted, since=a)
    await mod.wait(C.TrackMuted, since=m)
    await asyncio.sleep(0.3)
    assert mod.since(m) == [C.TrackMuted("alice", mic.sid)]
    assert [f for f in alice.since(a) if isinstance(f, C.LocalTrackMuted)] == [C.LocalTrackMuted(mic.sid, True)]

    m, b = mod.mark(), bob.mark()
    await mod.session.update_permissions("bob", C.Permissions(can_publish=False))
    await bob.wait(C.PermissionsChanged, since=b)
    await mod.wait(C.PermissionsChanged, since=m)
    await asyncio.sleep(0.5)
    # LiveKit stores the new permission, then unpublishes what it no longer allows
    revoked = C.Permissions(can_publish=False)
    assert mod.since(m) == [
        C.PermissionsChanged("bob", revoked, is_local=False),
        C.TrackUnsubscribed("bob", cam.sid),
        C.TrackUnpublished("bob", cam.sid),
    ]
    assert bob.since(b) == [C.PermissionsChanged("bob", revoked, is_local=True)]

    async with server.api() as lkapi:
        m, b = mod.mark(), bob.mark()
        await lkapi.room.update_participant(api.UpdateParticipantRequest(room="r", identity="bob", metadata="hello"))
        await bob.wait(C.MetadataChanged, since=b)
        await mod.wait(C.MetadataChanged, since=m)
        assert mod.since(m) == [C.MetadataChanged("bob", "hello", is_local=False)]
        assert bob.since(b) == [C.MetadataChanged("bob", "hello", is_local=True)]

    m, a = mod.mark(), alice.mark()
    await mod.session.remove_participant("alice")
    await alice.wait(C.Disconnected, since=a)
    await mod.wait(C.ParticipantLeft, since=m)
    removed = C.DisconnectCause.PARTICIPANT_REMOVED
    assert mod.since(m) == [C.ParticipantLeft("alice", removed)]
    assert alice.since(a) == [C.Disconnected(removed, local=False, was_reconnecting=False)]

    # without roomAdmin, and an unknown participant
    with pytest.raises(C.ModerationFailure) as refused:
        await bob.session.remove_participant("mod")
    assert refused.value.reason == "permission_denied"
    with pytest.raises(C.ModerationFailure) as missing:
        await mod.session.remove_participant("ghost")
    assert missing.value.reason == "not_found"

    m = mod.mark()
    bob.session.disconnect()
    await mod.wait(C.ParticipantLeft, since=m)
    assert mod.since(m) == [C.ParticipantLeft("bob", C.DisconnectCause.CLIENT_INITIATED)]


def _tracks_of(peer: Peer, identity: str) -> dict[str, C.TrackInfo]:
    """The tracks of ``identity`` the peer was told about, by name."""
    infos: list[C.TrackInfo] = []
    for fact in peer.facts:
        if isinstance(fact, C.ParticipantJoined) and fact.participant.identity == identity:
            infos.extend(fact.tracks)
        elif isinstance(fact, C.TrackPublished) and fact.identity == identity:
            infos.append(fact.track)
    return {t.name: t for t in infos}


async def test_a_participant_whose_identity_joins_again_is_kept(
    dev_server: LiveKitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leave with DUPLICATE_IDENTITY (here a second connection of the identity, as a full
    reconnect makes one) is a reconnect: the participant keeps its vendor SIDs, a track published
    again under the same name, kind and source is the same track (its explicit subscription carried
    over, its frame stream re-attached), a new one is published, one not published again is
    unsubscribed and unpublished after REJOIN_GRACE; commands reach the new publications."""
    monkeypatch.setattr(rtc_session, "REJOIN_GRACE", 3.0)
    watcher = await join(dev_server, "watcher", auto_subscribe=False)
    old = await dev_server.connect("bot", "r")
    rooms = [old]
    frames: list[int] = [0]
    try:
        async with publish_tone(old, 440, "mic"), publish_tone(old, 550, "extra"):
            await wait_for(lambda: len(_tracks_of(watcher, "bot")) == 2, 10.0, "the bot's two tracks")
            before = _tracks_of(watcher, "bot")
            mic, extra = before["mic"].sid, before["extra"].sid
            for sid in (mic, extra):
                watcher.session.set_subscribed(sid, True)
            await watcher.wait(C.TrackSubscribed, 2)
            stream = watcher.session.open_audio_frames(mic, sample_rate=48000, num_channels=1, capacity=500, frame_size_ms=None)

            async def consume() -> None:
                async for _frame in stream:
                    frames[0] += 1

            consumer = asyncio.create_task(consume())
            await wait_for(lambda: frames[0] > 50, 10.0, "frames of the mic")
            mark = watcher.mark()
            new = await dev_server.connect("bot", "r")
            rooms.append(new)
            async with publish_tone(new, 440, "mic"), publish_tone(new, 660, "other"):
                await watcher.wait(C.ParticipantReconnected, since=mark)
                count = frames[0]
                await wait_for(lambda: frames[0] > count + 100, 10.0, "frames of the mic after the rejoin")
                await watcher.wait(C.TrackUnpublished, since=mark, timeout=rtc_session.REJOIN_GRACE + 5.0)
                other = _tracks_of(watcher, "bot")["other"]
                assert watcher.since(mark) == [
                    C.ParticipantReconnecting("bot"),
                    C.ParticipantReconnected("bot"),
                    C.TrackPublished("bot", other),
                    C.TrackUnsubscribed("bot", extra),
                    C.TrackUnpublished("bot", extra),
                ], watcher.since(mark)
                assert not stream.closed and not consumer.done()
                # the vendor SID commands LiveKit's current publication
                mark = watcher.mark()
                watcher.session.set_subscribed(mic, False)
                await watcher.wait(C.TrackUnsubscribed, since=mark)
                await asyncio.wait_for(consumer, 5.0)  # the stream ended with the unsubscription
                assert watcher.since(mark) == [C.TrackUnsubscribed("bot", mic)]
    finally:
        watcher.session.disconnect()
        await watcher.session.wait_closed()
        for room in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(room.disconnect(), 5.0)


async def test_transcription_streams_become_facts(dev_server: LiveKitServer) -> None:
    """A plain livekit.rtc participant sends LiveKit's lk.transcription text streams (one-shot
    and chunked, the final flag in the header or in the trailer): one fact per stream, read to
    its end; other topics are not transcriptions."""
    watcher = await join(dev_server, "watcher")
    speaker = await dev_server.connect("speaker", "r")
    try:
        async with publish_tone(speaker, 440, "mic") as publication:
            mic = publication.sid
            await watcher.wait(C.TrackSubscribed)
            mark = watcher.mark()
            lp = speaker.local_participant
            await lp.send_text("hel", topic="lk.transcription", attributes={
                "lk.transcribed_track_id": mic, "lk.segment_id": "SG_1", "lk.transcription_final": "false",
            })
            writer = await lp.stream_text(topic="lk.transcription", attributes={"lk.transcribed_track_id": mic, "lk.segment_id": "SG_1"})
            await writer.write("hello ")
            await writer.write("world")
            await writer.aclose(attributes={"lk.transcription_final": "true"})
            await lp.send_text("not a caption", topic="chat")
            await lp.send_text("no track named", topic="lk.transcription")
            found = await watcher.wait(C.TranscriptionReceived, 3, since=mark)
            await asyncio.sleep(0.3)
            assert found[:2] == [
                C.TranscriptionReceived("speaker", mic, "SG_1", "hel", False),
                C.TranscriptionReceived("speaker", mic, "SG_1", "hello world", True),
            ]
            last = found[2]
            assert (last.identity, last.track_sid, last.text, last.final) == ("speaker", "", "no track named", False)
            assert last.segment_id  # the stream's own ID
            assert len([f for f in watcher.since(mark) if isinstance(f, C.TranscriptionReceived)]) == 3  # no "chat"
    finally:
        watcher.session.disconnect()
        await watcher.session.wait_closed()
        await asyncio.wait_for(speaker.disconnect(), 5.0)
