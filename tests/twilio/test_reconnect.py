"""Fault injection, end to end: the dev server is killed (SIGKILL) and restarted, or the
bot's signalling drops; afterwards every command reaches the remote, participants who
stayed produce no leave/rejoin, and one who left meanwhile produces exactly the leave events.

Remote peers are plain ``livekit.rtc`` rooms. Every wait is bounded, and every helper that
publishes media tears down within a bound even when the server is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from livekit import rtc

from compat import twilio_video as Video
from compat.core import rtc_session
from compat.devserver.testing import FRAME_SAMPLES, SAMPLE_RATE, LiveKitServer, ServerProcess, free_port, sine
from tests.support import EventLog, wait_for
from tests.twilio.helpers import ROOM_EVENTS, bot_tone, twilio_connect

pytestmark = pytest.mark.media

ROOM = "fault"


class Peer:
    """A plain livekit.rtc participant recording what it sees; publishes a tone on request."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.room = rtc.Room()
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.data: list[tuple[bytes, str | None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._sources: list[rtc.AudioSource] = []
        for name in ("participant_connected", "participant_disconnected", "track_published", "track_unpublished",
                     "track_muted", "track_unmuted"):
            self.room.on(name, self._recorder(name))
        self.room.on("data_received", lambda pkt: self.data.append((pkt.data, pkt.topic)))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((name, args))

        return record

    async def connect(self, server: LiveKitServer) -> None:
        await server.connect(self.identity, ROOM, room_object=self.room)

    async def publish_tone(self, freq: float, name: str) -> None:
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track(name, source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(self.room.local_participant.publish_track(track, opts), 15.0)
        self._sources.append(source)

        async def feed() -> None:
            n = 0
            while True:
                data = sine(freq, n, FRAME_SAMPLES)
                n += FRAME_SAMPLES
                await source.capture_frame(rtc.AudioFrame(data.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))

        self._tasks.append(asyncio.create_task(feed()))

    def remote_track(self, identity: str, name: str) -> rtc.RemoteTrackPublication | None:
        p = self.room.remote_participants.get(identity)
        if p is None:
            return None
        return next((pub for pub in p.track_publications.values() if pub.name == name), None)

    async def close(self) -> None:
        """Bounded even when the server is gone: feeders stop, disconnect and sources close."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), 5.0)
        for source in self._sources:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(source.aclose(), 3.0)
        self._sources.clear()


async def reconnect_scenario(server: LiveKitServer, drop: Callable[[Video.Room], Awaitable[Any]], recover: float) -> None:
    """The bot (Twilio room) with peers ``stay`` (publishes a tone, stays) and ``leaver``
    (publishes a tone, leaves while the bot is disconnected). ``drop`` breaks the bot's
    connection; ``recover`` bounds the time until everything is back."""
    stay, leaver = Peer("stay"), Peer("leaver")
    bot: Video.Room | None = None
    try:
        await stay.connect(server)
        await leaver.connect(server)
        await stay.publish_tone(440, "stay-mic")
        await leaver.publish_tone(880, "leaver-mic")
        bot = await twilio_connect(server, "bot", ROOM)
        trace = EventLog(timeout=15.0)
        trace.listen(bot, *ROOM_EVENTS)
        mic = Video.LocalAudioTrack(name="bot-mic")
        chat = Video.LocalDataTrack(name="chat")
        async with bot_tone(mic, 660):
            await bot.localParticipant.publishTrack(mic)
            await bot.localParticipant.publishTrack(chat)
            await trace.wait("trackSubscribed", 2)
            p_stay = next(p for p in bot.participants.values() if p.identity == "stay")
            p_leaver = next(p for p in bot.participants.values() if p.identity == "leaver")
            stay_pub = next(iter(p_stay.tracks.values()))
            assert stay_pub is not None
            stay_track, stay_sid = stay_pub.track, stay_pub.trackSid
            assert isinstance(stay_track, Video.RemoteAudioTrack)
            frames = stay_track.frames(capacity=500)
            received: list[int] = [0]

            async def consume() -> None:
                async for _frame in frames:
                    received[0] += 1

            consumer = asyncio.create_task(consume())
            await wait_for(lambda: stay.remote_track("bot", "bot-mic") is not None, 10.0, "stay sees bot-mic")
            await wait_for(lambda: received[0] > 50, 10.0, "frames from stay")
            before = list(trace.events)
            mic_pub = next(p for p in bot.localParticipant.tracks.values() if p.trackName == "bot-mic")
            mic_sid = mic_pub.trackSid

            # --- the fault: the bot is cut off, and "leaver" leaves meanwhile
            await drop(bot)
            await trace.wait("reconnecting", 1, timeout=10.0)
            await leaver.close()
            await trace.wait("reconnected", 1, timeout=recover)
            # media from "stay" resumes on the same track object and the same frame stream
            mark = received[0]
            await wait_for(lambda: received[0] > mark + 100, recover, "frames from stay after the reconnect")
            assert not frames.closed and not consumer.done()
            # "leaver" is reported gone, once, after its track was unsubscribed
            await trace.wait("participantDisconnected", 1, timeout=rtc_session.REJOIN_GRACE + recover)
            await asyncio.sleep(0.5)
            after = trace.events[len(before):]
            names = [(n, getattr(a[-1], "identity", None) if a else None) for _lab, n, a in after]
            assert [n for n, _ in names if n in ("reconnecting", "reconnected")] == ["reconnecting", "reconnected"]
            assert [x for x in names if x[0] in ("participantConnected", "participantDisconnected")] == [
                ("participantDisconnected", "leaver")
            ], names
            assert [x for x in names if x[0] in ("trackUnsubscribed", "trackUnpublished", "trackSubscribed")] == [
                ("trackUnsubscribed", "leaver")
            ], names
            assert names.index(("trackUnsubscribed", "leaver")) < names.index(("participantDisconnected", "leaver"))
            # "stay" is the same object, with the same publication, track and SIDs
            assert bot.participants.get(p_stay.sid) is p_stay and p_leaver.sid not in bot.participants
            assert stay_pub.track is stay_track
            assert p_stay.tracks.get(stay_sid) is stay_pub
            assert bot.sid and bot.localParticipant.tracks[mic_sid] is mic_pub

            # --- every command reaches the remote
            await wait_for(lambda: stay.remote_track("bot", "bot-mic") is not None, recover, "stay sees bot-mic again")
            chat.send("after the storm")
            await wait_for(lambda: (b"after the storm", "chat") in stay.data, 10.0, "data at stay")
            mark_ev = len(stay.events)
            mic.disable()
            await wait_for(lambda: any(n == "track_muted" for n, _ in stay.events[mark_ev:]), 10.0, "mute at stay")
            mic.enable()
            await wait_for(lambda: any(n == "track_unmuted" for n, _ in stay.events[mark_ev:]), 10.0, "unmute at stay")
            assert bot.localParticipant.unpublishTrack(mic) is mic_pub
            await wait_for(lambda: stay.remote_track("bot", "bot-mic") is None, 10.0, "unpublish at stay")
            mic2 = Video.LocalAudioTrack(name="bot-mic-2")
            async with bot_tone(mic2, 550):
                pub2 = await asyncio.wait_for(bot.localParticipant.publishTrack(mic2), 20.0)
                await wait_for(lambda: stay.remote_track("bot", "bot-mic-2") is not None, 10.0, "publish at stay")
                assert bot.localParticipant.tracks[pub2.trackSid] is pub2
            consumer.cancel()
            await frames.aclose()
    finally:
        if bot is not None:
            bot.disconnect()
            await bot.wait_closed(10.0)
        await leaver.close()
        await stay.close()


@pytest.mark.parametrize("outage", [2.0, 8.0])
async def test_dev_server_killed_and_restarted(outage: float) -> None:
    server = ServerProcess(free_port(), "devkey", "secret")
    await server.start()

    async def kill_and_restart(bot: Video.Room) -> None:
        await server.kill()

        async def restart() -> None:
            await asyncio.sleep(outage)
            await server.start()

        restarting.append(asyncio.create_task(restart()))

    restarting: list[asyncio.Task[None]] = []
    try:
        await asyncio.wait_for(reconnect_scenario(server.livekit_server(), kill_and_restart, recover=outage + 25.0), 120.0)
    finally:
        for task in restarting:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 25.0)
        await server.kill()
    assert server.tracebacks == 0, "\n".join(server.tail)


# SIGNAL_RECONNECT: the SDK resumes its session; DISCONNECT_SIGNAL_ON_RESUME: the server drops the
# resume too, and the SDK falls back to a full reconnect (a new participant under the same identity).
RECONNECTS = ["SIGNAL_RECONNECT", "DISCONNECT_SIGNAL_ON_RESUME"]


@pytest.mark.parametrize("scenario", RECONNECTS)
async def test_signalling_drop(lk_server: LiveKitServer, scenario: str) -> None:
    async def drop(bot: Video.Room) -> None:
        session = bot._session
        assert isinstance(session, rtc_session.RtcSession)
        await session.simulate_scenario(scenario)

    await asyncio.wait_for(reconnect_scenario(lk_server, drop, recover=20.0), 90.0)


# --- the remote side of someone else's reconnect --------------------------------------------------
# A resume (SIGNAL_RECONNECT) is invisible to the others: same participant, no leave or join, so a
# Twilio watcher sees nothing at all. A full reconnect (the resume failed: DISCONNECT_SIGNAL_ON_RESUME)
# rejoins under the same identity and the server removes the old participant with
# DUPLICATE_IDENTITY; the others' core holds that leave (REJOIN_GRACE) and reconciles the rejoin: a
# Twilio watcher sees participantReconnecting / participantReconnected and nothing else.

PARTICIPANT_CHANGES = ("participantConnected", "participantDisconnected", "trackPublished", "trackUnpublished",
                       "trackSubscribed", "trackUnsubscribed")


class Listening:
    """The watcher's view of the bot's audio: its publication, track and one frame stream, counted."""

    def __init__(self, watcher: Video.Room, identity: str) -> None:
        self.participant = next(p for p in watcher.participants.values() if p.identity == identity)
        self.pub = next(iter(self.participant.audioTracks.values()))
        track = self.pub.track
        assert isinstance(track, Video.RemoteAudioTrack)
        self.track = track
        self.frames = track.frames(capacity=500)
        self.count = 0
        self.consumer = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for _frame in self.frames:
            self.count += 1

    async def more(self, n: int, timeout: float, what: str) -> None:
        mark = self.count
        await wait_for(lambda: self.count > mark + n, timeout, what)

    async def close(self) -> None:
        self.consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.consumer
        await self.frames.aclose()


@pytest.mark.parametrize("scenario", RECONNECTS)
async def test_watcher_keeps_a_reconnecting_participant(lk_server: LiveKitServer, scenario: str) -> None:
    watcher = await twilio_connect(lk_server, "watcher", "rejoin")
    bot = await twilio_connect(lk_server, "bot", "rejoin")
    trace = EventLog(timeout=15.0)
    trace.listen(watcher, *ROOM_EVENTS)
    trace.listen(bot, "reconnecting", "reconnected", label="bot")
    mic = Video.LocalAudioTrack(name="bot-mic")
    listening: Listening | None = None
    try:
        async with bot_tone(mic, 660):
            await bot.localParticipant.publishTrack(mic)
            await trace.wait("trackSubscribed")
            listening = Listening(watcher, "bot")
            p_bot, pub, track = listening.participant, listening.pub, listening.track
            trace.listen(p_bot, "reconnecting", "reconnected", label="p_bot")
            await listening.more(50, 10.0, "the bot's audio")
            mark = len(trace.events)

            session = bot._session
            assert isinstance(session, rtc_session.RtcSession)
            await session.simulate_scenario(scenario)
            await trace.wait("reconnected", label="bot", timeout=30.0)
            resumed = scenario == "SIGNAL_RECONNECT"
            if not resumed:
                await trace.wait("participantReconnected", timeout=15.0)
            # the bot's audio goes on: same participant, publication, track object and frame stream
            await listening.more(100, 15.0, "the bot's audio after its reconnect")
            assert not listening.frames.closed and not listening.consumer.done()
            assert watcher.participants.get(p_bot.sid) is p_bot and p_bot.state == "connected"
            assert p_bot.tracks.get(pub.trackSid) is pub and pub.track is track
            # a command after the reconnect lands on the same publication
            mic.disable()
            await trace.wait("trackDisabled", timeout=10.0)
            await asyncio.sleep(0.5)  # nothing else trails in
            after = [(lab, n, a) for lab, n, a in trace.events[mark:] if lab in ("room", "p_bot")]
            names = [(lab, n) for lab, n, _ in after]
            assert not [x for x in names if x[1] in PARTICIPANT_CHANGES], names
            if resumed:  # the same participant all along: nothing to report
                assert not [n for lab, n in names if "econnect" in n], names
            else:
                assert [n for lab, n in names if lab == "room" and "econnect" in n] == [
                    "participantReconnecting", "participantReconnected"
                ], names
                assert [n for lab, n in names if lab == "p_bot"] == ["reconnecting", "reconnected"], names
                assert [a[-1] for lab, n, a in after if lab == "room" and n == "participantReconnected"] == [p_bot]
            assert [a[0] for lab, n, a in after if n == "trackDisabled" and lab == "room"] == [pub]
    finally:
        if listening is not None:
            await listening.close()
        for room in (bot, watcher):
            room.disconnect()
            await room.wait_closed(10.0)


async def test_a_duplicate_that_never_shows_up_is_a_leave(lk_server: LiveKitServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's identity joins again, but hidden (the watcher never sees it): after REJOIN_GRACE
    the held leave is reported as it happened (DUPLICATE_IDENTITY, 53205), tracks first."""
    monkeypatch.setattr(rtc_session, "REJOIN_GRACE", 2.0)
    bot = Peer("bot")
    watcher = await twilio_connect(lk_server, "watcher", ROOM)
    trace = EventLog(timeout=15.0)
    trace.listen(watcher, *ROOM_EVENTS)
    listening: Listening | None = None
    duplicate: rtc.Room | None = None
    try:
        await bot.connect(lk_server)
        await bot.publish_tone(440, "bot-mic")
        await trace.wait("trackSubscribed")
        listening = Listening(watcher, "bot")
        await listening.more(50, 10.0, "the bot's audio")
        mark = len(trace.events)
        loop = asyncio.get_running_loop()
        start = loop.time()
        duplicate = await lk_server.connect("bot", ROOM, hidden=True)
        await trace.wait("participantReconnecting", timeout=10.0)
        assert "participantDisconnected" not in trace.names("room")
        (gone,) = await trace.wait("participantDisconnected", timeout=10.0)
        assert loop.time() - start >= 2.0
        assert gone[0] is listening.participant and listening.participant.state == "disconnected"
        await wait_for(lambda: listening is not None and listening.frames.closed, 5.0, "the frame stream ends")
        names = [n for _lab, n, _a in trace.events[mark:] if n in PARTICIPANT_CHANGES or "econnect" in n]
        assert names == ["participantReconnecting", "trackUnsubscribed", "participantDisconnected"], names
    finally:
        if listening is not None:
            await listening.close()
        if duplicate is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(duplicate.disconnect(), 5.0)
        await bot.close()
        watcher.disconnect()
        await watcher.wait_closed(10.0)
