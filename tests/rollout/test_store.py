"""The store, against SQLite and a real PostgreSQL: stickiness across stage changes, end,
the internal allowlist, advance behind the gates, and 8 processes assigning the same sessions."""

from __future__ import annotations

import pytest

import compat.rollout as R
from tests.rollout.helpers import EASY, advance_to, assign_concurrently


def test_a_new_store_starts_at_the_first_stage(store: R.Store) -> None:
    assert store.stage == "internal"
    assert store.assign("s1", user="patient-1") == "legacy"
    assert store.assign("s2", user="dr-who", internal=True) == "livekit"
    store.add_internal("dr-house")
    assert store.assign("s3", user="dr-house") == "livekit"
    assert store.assign("s4", user="new-patient", is_new_user=True) == "legacy"


def test_sessions_stay_on_their_platform_across_stage_changes(store: R.Store) -> None:
    users = [f"patient-{i}" for i in range(400)]
    before = {u: store.assign(f"visit-{u}", user=u) for u in users}
    assert set(before.values()) == {"legacy"}
    advance_to(store, "100%")
    # Every live session drains on its platform; new ones follow the stage.
    assert {u: store.assign(f"visit-{u}", user=u) for u in users} == before
    assert store.assign("visit-new", user="patient-x") == "livekit"
    assert store.platform_of("visit-patient-0") == "legacy"


def test_an_ended_session_is_assigned_again_by_the_stage(store: R.Store) -> None:
    assert store.assign("visit-1", user="p") == "legacy"
    advance_to(store, "100%")
    assert store.assign("visit-1", user="p") == "legacy"
    store.end("visit-1")
    assert store.platform_of("visit-1") is None
    assert store.assign("visit-1", user="p") == "livekit"
    store.end("visit-unknown")  # ending an unknown session is harmless


def test_a_stage_in_between_takes_its_share(store: R.Store) -> None:
    advance_to(store, "25%")
    got = [store.assign(f"visit-{i}", user=f"p{i}") for i in range(2000)]
    assert 0.22 < got.count("livekit") / len(got) < 0.28


def test_advance_is_refused_while_a_gate_fails(store: R.Store) -> None:
    with pytest.raises(R.GateFailed, match="only 0 LiveKit setups recorded") as caught:
        store.advance()
    assert caught.value.stage == "internal"
    store.record("lk-1", vendor="twilio", platform="livekit", setup_s=0.5, turn_relay=False, mos=4.3)
    store.record("lk-2", vendor="twilio", platform="livekit", failure_code=53000)
    store.record("old-1", vendor="twilio", platform="legacy", setup_s=1.0, turn_relay=False, mos=4.3)
    with pytest.raises(R.GateFailed, match=r"setup success 50.0% < 98.5%"):
        store.advance()
    assert store.stage == "internal"
    assert store.advance(R.Gates(min_success_rate=0.5)) == "new-users"
    assert store.stage == "new-users"


def test_records_take_the_sessions_assignment(store: R.Store) -> None:
    assert store.assign("visit", internal=True) == "livekit"
    advance_to(store, "new-users")
    rid = store.begin_setup("visit", "twilio")
    store.setup_done(rid, setup_s=0.25)
    store.add_reconnect(rid)
    store.finish(rid, turn_relay=True, mos=4.1)
    (mine,) = [s for s in store.summaries() if s.platform == "livekit" and s.stage == "internal" and s.relay_rate == 0.5]
    assert mine.setups == 2 and mine.mean_mos == pytest.approx((4.3 + 4.1) / 2)
    with pytest.raises(ValueError, match="exactly one of"):
        store.setup_done(rid, setup_s=1.0, failure_code=53000)
    with pytest.raises(R.RolloutError, match="no quality record 999"):
        store.finish(999)


def test_at_the_last_stage_advance_says_so(store: R.Store) -> None:
    advance_to(store, "100%")
    with pytest.raises(R.RolloutError, match="'100%' is the last one"):
        store.advance(EASY)


def test_rollback_undoes_a_stage_at_once_and_live_sessions_drain(store: R.Store) -> None:
    advance_to(store, "100%")
    assert store.assign("visit-live", user="p-live") == "livekit"
    # No gate: a bad stage is undone even while LiveKit's numbers fail every gate.
    store.record("bad", vendor="test", platform="livekit", failure_code=53000)
    assert store.rollback() == "50%" and store.stage == "50%"
    assert store.rollback(to="internal") == "internal"
    assert store.assign("visit-live", user="p-live") == "livekit"  # in progress: stays until it ends
    assert store.assign("visit-next", user="p-live") == "legacy"  # new: the earlier stage's rule
    store.end("visit-live")
    assert store.assign("visit-live", user="p-live") == "legacy"
    with pytest.raises(R.RolloutError, match="'internal' is the first one"):
        store.rollback()
    advance_to(store, "5%")
    with pytest.raises(R.RolloutError, match="'25%' is not before the current stage '5%'"):
        store.rollback(to="25%")
    with pytest.raises(R.RolloutError, match="'5%' is not before"):
        store.rollback(to="5%")
    with pytest.raises(ValueError, match="unknown rollout stage '7%'"):
        store.rollback(to="7%")
    assert store.stage == "5%"


def test_bad_keys_and_locations() -> None:
    with pytest.raises(R.RolloutError, match="unsupported rollout store 'mysql'"):
        R.open_store("mysql://x/y")
    with pytest.raises(R.RolloutError, match="no rollout store"):
        R.assign("x")


def test_the_configured_store_and_the_environment(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(R.ENV_VAR, store_url)
    try:
        assert R.assign("env-visit", internal=True) == "livekit"
        assert R.configured_store() is R.configured_store()
        R.end("env-visit")
        assert R.record("env-legacy", vendor="opentok", setup_s=1.0, mos=4.2) > 0
    finally:
        R.configure(None)  # closes the store the environment named
    other = R.open_store(store_url)
    assert other.platform_of("env-visit") is None and other.stage == "internal"
    other.close()


def test_eight_processes_assigning_the_same_sessions_agree(store: R.Store, store_url: str) -> None:
    advance_to(store, "new-users")  # workers disagree on is_new_user: half would say livekit, half legacy
    keys = [f"visit-{i}" for i in range(150)]
    outcomes = assign_concurrently(store_url, keys)
    assert len(outcomes) == 8
    assert all(o == outcomes[0] for o in outcomes)
    assert outcomes[0] == {k: store.platform_of(k) for k in keys}
    assert set(outcomes[0].values()) == {"legacy", "livekit"}  # the race really had two answers to settle
