"""Stateful property test: random remote activity fed as scripted facts at the core boundary;
the application-visible Twilio event trace must equal the reference model of section 3.6."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from compat import core as C
from compat import twilio_video as Video
from compat.twilio_video.connect import connect_session
from tests.twilio.model import Model, Recorder

IDENTITIES = ("alice", "bob", "carol", "dave")
TOPICS = ("chat", "cursor")
KINDS = ("audio", "video")
payloads = st.one_of(st.text(max_size=12).map(lambda s: s.encode()), st.just(b"\xff\x00binary"))
track_specs = st.lists(st.tuples(st.sampled_from(KINDS), st.booleans()), max_size=3)


class TwilioEvents(RuleBasedStateMachine):
    AUTO_SUBSCRIBE = True

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.sids = itertools.count(1)
        self.model = Model(dominant_speaker=True, auto_subscribe=self.AUTO_SUBSCRIBE)
        self.rec = Recorder()
        self.session: C.ScriptedSession | None = None
        self.room: Video.Room | None = None
        self.closed = False

    # --- plumbing --------------------------------------------------------------------

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def spin(self, n: int = 5) -> None:
        async def hop() -> None:
            for _ in range(n):
                await asyncio.sleep(0)

        self.run(hop())

    def feed(self, *facts: C.Fact) -> None:
        """Deliver facts synchronously, as the core does; deferred events wait for spin()."""
        assert self.session is not None
        self.session.feed(*facts)

    def next_sid(self, prefix: str) -> str:
        return f"{prefix}_{next(self.sids)}"

    def tracks(self, specs: list[tuple[str, bool]]) -> list[tuple[str, str, str, bool]]:
        out = []
        for kind, muted in specs:
            sid = self.next_sid("TR")
            out.append((sid, f"{kind}-{sid}", kind, muted))
        return out

    def present(self) -> list[str]:
        return [p.identity for p in self.model.participants.values()]

    def pubs(self, media_only: bool = True) -> list[tuple[str, str]]:
        return [
            (p.identity, sid)
            for p in self.model.participants.values()
            for sid, pub in p.pubs.items()
            if not media_only or pub.kind != "data"
        ]

    # --- rules ------------------------------------------------------------------------

    @initialize(initial=st.lists(st.tuples(st.sampled_from(IDENTITIES), track_specs), max_size=3, unique_by=lambda x: x[0]))
    def connect(self, initial: list[tuple[str, list[tuple[str, bool]]]]) -> None:
        states = []
        for identity, specs in initial:
            psid = self.next_sid("PA")
            tracks = self.tracks(specs)
            self.model.initial(psid, identity, tracks)
            states.append(
                C.ParticipantState(
                    C.ParticipantInfo(psid, identity),
                    tuple(C.TrackInfo(t, n, k, m) for t, n, k, m in tracks),  # type: ignore[arg-type]
                )
            )
        snap = C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), tuple(states))
        self.session = C.ScriptedSession(snap)

        async def go() -> Video.Room:
            assert self.session is not None
            return await connect_session(
                self.session,
                {
                    "dominantSpeaker": True,
                    "automaticSubscription": self.AUTO_SUBSCRIBE,
                    "networkQuality": {"local": 1, "remote": 1},
                },
            )

        self.room = self.run(go())
        self.rec.attach_room(self.room)
        for p in self.room.participants.values():
            self.rec.attach_participant(p)
        assert [p.sid for p in self.room.participants.values()] == list(self.model.participants)
        self.spin()

    @precondition(lambda self: len(self.model.participants) < len(IDENTITIES))
    @rule(data=st.data(), specs=track_specs)
    def join(self, data: st.DataObject, specs: list[tuple[str, bool]]) -> None:
        identity = data.draw(st.sampled_from([i for i in IDENTITIES if i not in self.present()]))
        psid = self.next_sid("PA")
        tracks = self.tracks(specs)
        self.model.join(psid, identity, tracks)
        self.feed(C.ParticipantJoined(C.ParticipantInfo(psid, identity), tuple(C.TrackInfo(t, n, k, m) for t, n, k, m in tracks)))  # type: ignore[arg-type]

    @precondition(lambda self: bool(self.model.participants))
    @rule(data=st.data(), kind=st.sampled_from(KINDS), muted=st.booleans())
    def publish(self, data: st.DataObject, kind: str, muted: bool) -> None:
        identity = data.draw(st.sampled_from(self.present()))
        ((sid, name, kind, muted),) = self.tracks([(kind, muted)])
        self.model.publish(identity, sid, name, kind, muted)
        self.feed(C.TrackPublished(identity, C.TrackInfo(sid, name, kind, muted)))  # type: ignore[arg-type]

    @precondition(lambda self: self.AUTO_SUBSCRIBE and bool(self.pubs()))
    @rule(data=st.data())
    def subscribe(self, data: st.DataObject) -> None:
        identity, sid = data.draw(st.sampled_from(self.pubs()))
        self.model.subscribe(identity, sid)
        self.feed(C.TrackSubscribed(identity, sid))

    @precondition(lambda self: bool(self.pubs()))
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        identity, sid = data.draw(st.sampled_from(self.pubs()))
        self.model.unsubscribe(identity, sid)
        self.feed(C.TrackUnsubscribed(identity, sid))

    @precondition(lambda self: bool(self.pubs()))
    @rule(data=st.data(), explicit=st.booleans())
    def unpublish(self, data: st.DataObject, explicit: bool) -> None:
        identity, sid = data.draw(st.sampled_from(self.pubs()))
        p = self.model.by_identity(identity)
        assert p is not None
        if explicit and p.pubs[sid].subscribed:
            self.feed(C.TrackUnsubscribed(identity, sid))
        self.model.unpublish(identity, sid)
        self.feed(C.TrackUnpublished(identity, sid))

    @precondition(lambda self: bool(self.pubs()))
    @rule(data=st.data(), muted=st.booleans())
    def mute(self, data: st.DataObject, muted: bool) -> None:
        identity, sid = data.draw(st.sampled_from(self.pubs()))
        self.model.set_enabled(identity, sid, not muted)
        self.feed(C.TrackMuted(identity, sid) if muted else C.TrackUnmuted(identity, sid))

    @precondition(lambda self: bool(self.pubs()))
    @rule(data=st.data())
    def first_frame(self, data: st.DataObject) -> None:
        identity, sid = data.draw(st.sampled_from(self.pubs()))
        p = self.model.by_identity(identity)
        assert p is not None
        self.model.started(identity, sid)
        w, h = (640, 480) if p.pubs[sid].kind == "video" else (None, None)
        self.feed(C.TrackStarted(identity, sid, w, h))

    @precondition(lambda self: bool(self.model.participants))
    @rule(data=st.data(), topic=st.sampled_from(TOPICS), payload=payloads)
    def message(self, data: st.DataObject, topic: str, payload: bytes) -> None:
        identity = data.draw(st.sampled_from(self.present()))
        self.model.data(identity, topic, payload)
        self.feed(C.DataReceived(identity, payload, topic, True))

    @rule(data=st.data())
    def speakers(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from([*self.present(), "me"]), max_size=2, unique=True))
        self.model.speakers(ids)
        self.feed(C.ActiveSpeakersChanged(tuple(ids)))

    @precondition(lambda self: bool(self.model.participants))
    @rule(data=st.data(), explicit=st.booleans())
    def leave(self, data: st.DataObject, explicit: bool) -> None:
        identity = data.draw(st.sampled_from(self.present()))
        p = self.model.by_identity(identity)
        assert p is not None
        if explicit:  # the core reports unsubscriptions before the leave (LiveKit's order)
            for sid, pub in p.pubs.items():
                if pub.subscribed:
                    self.feed(C.TrackUnsubscribed(identity, sid))
        self.model.leave(identity)
        self.feed(C.ParticipantLeft(identity))

    @rule(data=st.data(), quality=st.sampled_from(["excellent", "good", "poor", "lost"]))
    def network_quality(self, data: st.DataObject, quality: str) -> None:
        identity = data.draw(st.sampled_from([*self.present(), "me"]))
        self.model.quality(identity, quality)
        self.feed(C.ConnectionQualityChanged(identity, C.Quality[quality.upper()], identity == "me"))

    @rule()
    def reconnect_cycle(self) -> None:
        self.model.reconnecting()
        self.feed(C.Reconnecting())
        self.check_sync_then_deferred()
        self.model.reconnected()
        self.feed(C.Reconnected())
        self.check_sync_then_deferred()

    def check_sync_then_deferred(self) -> None:
        assert self.rec.events == self.model.events, "synchronous part differs"
        self.spin()
        self.model.events.extend(self.model.deferred)
        self.model.deferred.clear()
        assert self.rec.events == self.model.events, "deferred part differs"

    # --- checks -------------------------------------------------------------------------

    @invariant()
    def trace_matches(self) -> None:
        if self.room is None:
            return
        assert not self.rec.identity_errors, self.rec.identity_errors
        assert self.rec.events == self.model.events
        assert [p.sid for p in self.room.participants.values()] == list(self.model.participants)
        for p in self.room.participants.values():
            mp = self.model.participants[p.sid]
            assert list(p.tracks) == list(mp.pubs)
            for sid, pub in p.tracks.items():
                assert pub.isSubscribed == mp.pubs[sid].subscribed
                assert pub.isTrackEnabled == mp.pubs[sid].enabled
        for mp in self.model.left:  # a participant that left keeps its publications, unsubscribed
            gone = self.rec.participants[mp.sid]
            assert gone.state == "disconnected"
            assert list(gone.tracks) == list(mp.pubs)
            assert not any(pub.isSubscribed for pub in gone.tracks.values())

    def teardown(self) -> None:
        try:
            if self.room is not None:
                room = self.room
                kept = {mp.sid: list(mp.pubs) for mp in self.model.left}
                self.model.disconnect()
                assert room.disconnect() is room
                # everything was emitted synchronously, before disconnect() returned
                assert not self.rec.identity_errors, self.rec.identity_errors
                assert self.rec.events == self.model.events
                assert room.state == "disconnected"
                assert all(p.state == "connected" for p in room.participants.values())
                assert self.session is not None and self.session.disconnected
                assert self.session.open_resources() == 0
                for sid, pubs in kept.items():
                    assert list(self.rec.participants[sid].tracks) == pubs
                assert not room.localParticipant.tracks
                self.spin()
                assert self.rec.events == self.model.events  # nothing after disconnected
        finally:
            self.loop.close()


TwilioEvents.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_twilio_event_order = TwilioEvents.TestCase


class TwilioEventsManualSubscription(TwilioEvents):
    """automaticSubscription: false: nothing is subscribed, data tracks are only published."""

    AUTO_SUBSCRIBE = False


TwilioEventsManualSubscription.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_twilio_event_order_without_subscription = TwilioEventsManualSubscription.TestCase
