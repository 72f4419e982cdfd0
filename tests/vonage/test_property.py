"""Stateful property test: random remote joins, publishes, mutes, signals and leaves, fed as
scripted facts at the core boundary, then a local disconnect; the Session's event trace must
equal what the reference model of §1.4 (tests/vonage/model.py) predicts: names, the identities
the events carry, reasons and order."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from compat import core as C
from compat import vonage as OT
from compat.vonage.session import connect_session
from tests.vonage.helpers import KEY, ROOM, SESSION_EVENTS, Recorder, snapshot, token
from tests.vonage.model import Model

IDENTITIES = ("alice", "bob", "carol", "dave")
SOURCES = {"audio": ("microphone", "screen_share_audio", "unknown"), "video": ("camera", "screen_share", "unknown")}
CAUSES = (None, "client_initiated", "participant_removed", "signal_close", "connection_timeout")
track_spec = st.sampled_from(("audio", "video")).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(SOURCES[k]), st.booleans()))
track_specs = st.lists(track_spec, max_size=3)
signal_types = st.sampled_from(("", "chat", "a.b~c-d_e"))
signal_data = st.text(max_size=8)


class OpenTokEvents(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.sids = itertools.count(1)
        self.model = Model()
        self.rec = Recorder()
        self.core: C.ScriptedSession | None = None
        self.session: OT.Session | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def spin(self) -> None:
        async def hop() -> None:
            for _ in range(3):
                await asyncio.sleep(0)

        self.run(hop())

    def feed(self, *facts: C.Fact) -> None:
        assert self.core is not None
        self.core.feed(*facts)

    def tracks(self, specs: list[tuple[str, str, bool]]) -> list[tuple[str, str, str, bool]]:
        return [(f"TR_{next(self.sids)}", kind, source, muted) for kind, source, muted in specs]

    @staticmethod
    def infos(tracks: list[tuple[str, str, str, bool]]) -> tuple[C.TrackInfo, ...]:
        return tuple(C.TrackInfo(t, f"n{t}", k, muted=m, source=s) for t, k, s, m in tracks)  # type: ignore[arg-type]

    def absent(self) -> list[str]:
        return [i for i in IDENTITIES if i not in self.model.participants]

    # --- rules ------------------------------------------------------------------------------

    @initialize(initial=st.lists(st.tuples(st.sampled_from(IDENTITIES), track_specs), max_size=3, unique_by=lambda x: x[0]))
    def connect(self, initial: list[tuple[str, list[tuple[str, str, bool]]]]) -> None:
        plan = [(identity, f"PA_{identity}{next(self.sids)}", self.tracks(specs)) for identity, specs in initial]
        states = tuple(C.ParticipantState(C.ParticipantInfo(psid, i), self.infos(t)) for i, psid, t in plan)
        self.core = C.ScriptedSession(snapshot(*states))
        self.session = OT.Session(KEY, ROOM)
        self.rec.listen(self.session, SESSION_EVENTS, "session")
        self.session.on("signal:chat signal:a.b~c-d_e", self.rec._record("session"))
        self.model.connect(plan)
        self.run(connect_session(self.session, self.core, token()))

    @precondition(lambda self: len(self.model.participants) < len(IDENTITIES))
    @rule(data=st.data(), specs=track_specs)
    def join(self, data: st.DataObject, specs: list[tuple[str, str, bool]]) -> None:
        identity = data.draw(st.sampled_from(self.absent()))
        psid, tracks = f"PA_{identity}{next(self.sids)}", self.tracks(specs)
        self.model.join(identity, psid, tracks)
        self.feed(C.ParticipantJoined(C.ParticipantInfo(psid, identity), self.infos(tracks)))

    @precondition(lambda self: bool(self.model.participants))
    @rule(data=st.data(), spec=track_spec)
    def publish(self, data: st.DataObject, spec: tuple[str, str, bool]) -> None:
        identity = data.draw(st.sampled_from(sorted(self.model.participants)))
        ((tsid, kind, source, muted),) = self.tracks([spec])
        self.model.publish(identity, tsid, kind, source, muted)
        self.feed(C.TrackPublished(identity, self.infos([(tsid, kind, source, muted)])[0]))

    @precondition(lambda self: bool(self.model.tracks()))
    @rule(data=st.data())
    def unpublish(self, data: st.DataObject) -> None:
        identity, tsid = data.draw(st.sampled_from(self.model.tracks()))
        self.model.unpublish(identity, tsid)
        self.feed(C.TrackUnpublished(identity, tsid))

    @precondition(lambda self: bool(self.model.tracks()))
    @rule(data=st.data())
    def toggle_mute(self, data: st.DataObject) -> None:
        identity, tsid = data.draw(st.sampled_from(self.model.tracks()))
        muted = not self.model.muted(identity, tsid)
        self.model.mute(identity, tsid, muted)
        self.feed(C.TrackMuted(identity, tsid) if muted else C.TrackUnmuted(identity, tsid))

    @rule(data=st.data(), type_=signal_types, payload=signal_data)
    def remote_signal(self, data: st.DataObject, type_: str, payload: str) -> None:
        sender = data.draw(st.sampled_from([None, *sorted(self.model.participants)]))
        self.model.signal(sender, type_, payload)
        body = json.dumps({"type": type_, "data": payload} if type_ else {"data": payload}).encode()
        self.feed(C.DataReceived(sender, body, OT.SIGNAL_TOPIC))

    @rule(type_=signal_types, payload=signal_data)
    def own_broadcast(self, type_: str, payload: str) -> None:
        assert self.session is not None
        options = {"type": type_, "data": payload} if type_ else {"data": payload}
        self.run(self.session.signal(options))
        self.spin()
        self.model.signal("me", type_, payload)

    @rule(topic=st.sampled_from(("chat", "compat.twilio.x", "compat.vonage.future")))
    def other_data(self, topic: str) -> None:
        self.feed(C.DataReceived(None, b"{}", topic))

    @precondition(lambda self: bool(self.model.participants))
    @rule(data=st.data(), cause=st.sampled_from(CAUSES))
    def leave(self, data: st.DataObject, cause: str | None) -> None:
        identity = data.draw(st.sampled_from(sorted(self.model.participants)))
        self.model.leave(identity, cause)
        self.feed(C.ParticipantLeft(identity, None if cause is None else C.DisconnectCause(cause)))

    @invariant()
    def trace_matches(self) -> None:
        if self.session is None:
            return
        assert self.rec.events == self.model.events
        assert self.session.streams.length() == sum(len(p.streams) for p in self.model.participants.values())

    def teardown(self) -> None:
        try:
            if self.session is not None and self.session.isConnected():
                session = self.session

                async def leave() -> None:
                    await asyncio.wait_for(session.disconnect(), 5)

                self.model.disconnect()
                self.run(leave())
                assert self.rec.events == self.model.events
                assert self.core is not None and self.core.open_resources() == 0
        finally:
            self.loop.close()


OpenTokEvents.TestCase.settings = settings(
    max_examples=300, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestOpenTokEvents = OpenTokEvents.TestCase
