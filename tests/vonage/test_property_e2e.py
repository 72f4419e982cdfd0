"""The stateful property test of tests/vonage/test_property.py, end to end: a handful of random
sequences of remote joins, publishes, mutes, signals, leaves (and kicks) made by real
``livekit.rtc`` participants on the dev server, then a local disconnect; the OpenTok Session's
event trace must equal what the reference model of §1.4 (tests/vonage/model.py) predicts.

Each step waits until the Session has recorded as many events as the model predicts (bounded),
so steps never overlap: a track is published unmuted and muted by a later step (published
muted, LiveKit announces it unmuted first), and a participant joins without tracks (tracks that
arrive within its join burst fold into it, so their split would depend on timing)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from livekit import api, rtc

from compat import vonage as OT
from compat.devserver import DevServer
from compat.devserver.testing import LiveKitServer
from tests.support import wait_for
from tests.vonage.helpers import SESSION_EVENTS, Recorder
from tests.vonage.model import Model
from tests.vonage.test_e2e import announced

pytestmark = pytest.mark.media

ROOM = "prop-e2e"
IDENTITIES = ("alice", "bob", "carol")
SOURCES = {
    "audio": {"microphone": rtc.TrackSource.SOURCE_MICROPHONE, "screen_share_audio": rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO},
    "video": {"camera": rtc.TrackSource.SOURCE_CAMERA, "screen_share": rtc.TrackSource.SOURCE_SCREENSHARE},
}
track_spec = st.sampled_from(("audio", "video")).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(sorted(SOURCES[k]))))
signal_types = st.sampled_from(("", "chat"))
signal_data = st.text(alphabet="abc xyz", max_size=6)
STEP_TIMEOUT = 10.0


class Remote:
    """A plain LiveKit participant and the tracks it published (SID -> local track)."""

    def __init__(self, room: rtc.Room) -> None:
        self.room = room
        self.tracks: dict[str, rtc.LocalTrack] = {}

    @property
    def sid(self) -> str:
        return self.room.local_participant.sid


class OpenTokEventsEndToEnd(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.model = Model()
        self.rec = Recorder()
        self.server: DevServer | None = None
        self.lk: LiveKitServer | None = None
        self.remotes: dict[str, Remote] = {}
        self.session: OT.Session | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 30))

    # --- the remote side, for real -------------------------------------------------------------

    async def _start_server(self) -> None:
        self.server = DevServer(host="127.0.0.1", port=0)
        await self.server.__aenter__()
        self.lk = LiveKitServer(self.server.url, self.server.api_key, self.server.api_secret, embedded=self.server)

    async def _join(self, identity: str) -> Remote:
        assert self.lk is not None
        room = rtc.Room()
        await room.connect(self.lk.url, self.lk.token(identity, ROOM), rtc.RoomOptions(auto_subscribe=False))
        remote = self.remotes[identity] = Remote(room)
        return remote

    async def _publish(self, remote: Remote, kind: str, source: str) -> str:
        track: rtc.LocalTrack
        if kind == "audio":
            track = rtc.LocalAudioTrack.create_audio_track(f"a-{source}", rtc.AudioSource(48000, 1))
        else:
            track = rtc.LocalVideoTrack.create_video_track(f"v-{source}", rtc.VideoSource(64, 48))
        pub = await remote.room.local_participant.publish_track(track, rtc.TrackPublishOptions(source=SOURCES[kind][source]))
        remote.tracks[pub.sid] = track
        if kind == "video":  # LiveKit announces the source's size with the track
            self.model.dimensions[pub.sid] = {"width": 64, "height": 48}
        return pub.sid

    async def _settle(self) -> None:
        """Until the Session recorded what the model predicts so far (then the invariant compares)."""
        await wait_for(lambda: len(self.rec.events) >= len(self.model.events), STEP_TIMEOUT,
                       f"{self.model.events[len(self.rec.events):]} (recorded {self.rec.events})")
        await asyncio.sleep(0.02)

    def _signal_body(self, type_: str, payload: str) -> bytes:
        return json.dumps({"type": type_, "data": payload} if type_ else {"data": payload}).encode()

    # --- rules --------------------------------------------------------------------------------

    @initialize(initial=st.lists(st.tuples(st.sampled_from(IDENTITIES), st.lists(track_spec, max_size=3)),
                                 max_size=2, unique_by=lambda x: x[0]))
    def connect(self, initial: list[tuple[str, list[tuple[str, str]]]]) -> None:
        async def go() -> None:
            await self._start_server()
            assert self.lk is not None
            plan = []
            for identity, specs in initial:
                remote = await self._join(identity)
                tracks = [(await self._publish(remote, k, s), k, s, False) for k, s in specs]
                plan.append((identity, remote.sid, tracks))
            for identity, _, tracks in plan:  # the connect snapshot must have them all
                await announced(self.lk, ROOM, identity, len(tracks))
            session = self.session = OT.Session(self.lk.api_key, ROOM, {"url": self.lk.url})
            self.rec.listen(session, SESSION_EVENTS, "session")
            session.on("signal:chat", self.rec._record("session"))
            expected = Model()
            expected.connect(plan)
            await session.connect(OT.generate_token(self.lk.api_key, self.lk.api_secret, ROOM, identity="me"))
            await wait_for(lambda: len(self.rec.events) >= len(expected.events), STEP_TIMEOUT, "the connect burst")
            # Connections present at connect come in join order, which LiveKit keeps to the second
            # only (ties in SID order): the model takes the order the Session reported. A
            # participant's tracks come by SID (core: tracks_of), so the model predicts those.
            seen = [summary[0] for _, type_, summary in self.rec.events if type_ == "connectionCreated"]
            for _, _, tracks in plan:
                tracks.sort()
            plan.sort(key=lambda entry: _rank(seen, entry[1]))
            self.model.connect(plan)
            await self._settle()

        self.run(go())

    def absent(self) -> list[str]:
        return [i for i in IDENTITIES if i not in self.remotes]

    @precondition(lambda self: len(self.remotes) < len(IDENTITIES))
    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        identity = data.draw(st.sampled_from(self.absent()))

        async def go() -> None:
            remote = await self._join(identity)
            self.model.join(identity, remote.sid, [])
            await self._settle()

        self.run(go())

    @precondition(lambda self: bool(self.remotes) and len(self.model.tracks()) < 5)
    @rule(data=st.data(), spec=track_spec)
    def publish(self, data: st.DataObject, spec: tuple[str, str]) -> None:
        identity = data.draw(st.sampled_from(sorted(self.remotes)))
        kind, source = spec

        async def go() -> None:
            tsid = await self._publish(self.remotes[identity], kind, source)
            self.model.publish(identity, tsid, kind, source, False)
            await self._settle()

        self.run(go())

    @precondition(lambda self: bool(self.model.tracks()))
    @rule(data=st.data())
    def unpublish(self, data: st.DataObject) -> None:
        identity, tsid = data.draw(st.sampled_from(self.model.tracks()))

        async def go() -> None:
            remote = self.remotes[identity]
            await remote.room.local_participant.unpublish_track(tsid)
            remote.tracks.pop(tsid)
            self.model.unpublish(identity, tsid)
            await self._settle()

        self.run(go())

    @precondition(lambda self: bool(self.model.tracks()))
    @rule(data=st.data())
    def toggle_mute(self, data: st.DataObject) -> None:
        identity, tsid = data.draw(st.sampled_from(self.model.tracks()))

        async def go() -> None:
            muted = not self.model.muted(identity, tsid)
            track = self.remotes[identity].tracks[tsid]
            track.mute() if muted else track.unmute()
            self.model.mute(identity, tsid, muted)
            await self._settle()

        self.run(go())

    @rule(data=st.data(), type_=signal_types, payload=signal_data)
    def remote_signal(self, data: st.DataObject, type_: str, payload: str) -> None:
        sender = data.draw(st.sampled_from([None, *sorted(self.remotes)]))

        async def go() -> None:
            body = self._signal_body(type_, payload)
            if sender is None:  # a server signal: RoomService SendData
                assert self.lk is not None
                async with self.lk.api() as lkapi:
                    await lkapi.room.send_data(api.SendDataRequest(
                        room=ROOM, data=body, kind=api.DataPacket.Kind.RELIABLE, topic=OT.SIGNAL_TOPIC))
            else:
                await self.remotes[sender].room.local_participant.publish_data(body, reliable=True, topic=OT.SIGNAL_TOPIC)
            self.model.signal(sender, type_, payload)
            await self._settle()

        self.run(go())

    @rule(type_=signal_types, payload=signal_data)
    def own_broadcast(self, type_: str, payload: str) -> None:
        async def go() -> None:
            assert self.session is not None
            await self.session.signal({"type": type_, "data": payload} if type_ else {"data": payload})
            self.model.signal("me", type_, payload)
            await self._settle()

        self.run(go())

    @precondition(lambda self: bool(self.remotes))
    @rule(data=st.data())
    def other_data(self, data: st.DataObject) -> None:
        sender = data.draw(st.sampled_from(sorted(self.remotes)))

        async def go() -> None:  # not a signal: no event (the next steps' traces would show one)
            await self.remotes[sender].room.local_participant.publish_data(b"{}", reliable=True, topic="chat")
            await asyncio.sleep(0.1)

        self.run(go())

    @precondition(lambda self: bool(self.remotes))
    @rule(data=st.data(), kicked=st.booleans())
    def leave(self, data: st.DataObject, kicked: bool) -> None:
        identity = data.draw(st.sampled_from(sorted(self.remotes)))

        async def go() -> None:
            remote = self.remotes.pop(identity)
            if kicked:  # RoomService RemoveParticipant: LiveKit's PARTICIPANT_REMOVED
                assert self.lk is not None
                async with self.lk.api() as lkapi:
                    await lkapi.room.remove_participant(api.RoomParticipantIdentity(room=ROOM, identity=identity))
            await remote.room.disconnect()
            self.model.leave(identity, "participant_removed" if kicked else "client_initiated")
            await self._settle()

        self.run(go())

    @invariant()
    def trace_matches(self) -> None:
        if self.session is None or self.session.connection is None:
            return
        me = self.session.connection.connectionId
        assert [_as_model(e, me) for e in self.rec.events] == self.model.events

    def teardown(self) -> None:
        async def close() -> None:
            session = self.session
            if session is not None and session.isConnected():
                me = session.connection.connectionId if session.connection is not None else ""
                self.model.disconnect()
                await asyncio.wait_for(session.disconnect(), 10)
                assert [_as_model(e, me) for e in self.rec.events] == self.model.events
                core = session._session
                assert core is not None
                await core.wait_closed()
                assert core.open_resources() == 0
                assert not {t for t in session._tasks if not t.done()}

        async def release() -> None:  # also after a failed step: nothing may outlive the example
            if self.session is not None and self.session.isConnected():
                await asyncio.wait_for(self.session.disconnect(), 10)
            for remote in self.remotes.values():
                await asyncio.wait_for(remote.room.disconnect(), 10)
            if self.server is not None:
                await self.server.__aexit__(None, None, None)

        try:
            self.run(close())
        finally:
            try:
                self.run(release())
            finally:
                self.loop.close()


def _rank(seen: list[str], key: str) -> int:
    """Where ``key`` first appears in ``seen``."""
    return seen.index(key) if key in seen else len(seen)


def _as_model(event: tuple[str, str, Any], me: str) -> tuple[str, str, Any]:
    """Our own connection ID as the model names it ("PA_me")."""
    label, type_, summary = event
    if isinstance(summary, tuple):
        summary = tuple("PA_me" if v == me else v for v in summary)
    return label, type_, summary


OpenTokEventsEndToEnd.TestCase.settings = settings(
    max_examples=5, stateful_step_count=8, deadline=None, derandomize=False, database=None,
    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck),
)
TestOpenTokEventsEndToEnd = OpenTokEventsEndToEnd.TestCase
