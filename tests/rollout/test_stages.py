"""The cohort rules of the staged sequence (pure, no store)."""

from __future__ import annotations

import pytest

from compat.rollout import STAGES
from compat.rollout.stages import bucket, cohort_platform, next_stage


def test_the_sequence_is_the_staged_one() -> None:
    assert STAGES == ("internal", "new-users", "5%", "25%", "50%", "100%")
    assert [next_stage(s) for s in STAGES] == [*STAGES[1:], None]
    with pytest.raises(ValueError, match="unknown rollout stage 'beta'"):
        next_stage("beta")


def test_internal_users_only_at_the_first_stage() -> None:
    assert cohort_platform("internal", "s1", user="u", is_new_user=False, internal=True) == "livekit"
    assert cohort_platform("internal", "s1", user="u", is_new_user=True, internal=False) == "legacy"
    assert all(cohort_platform("internal", f"s{i}", user=f"u{i}", is_new_user=False, internal=False) == "legacy" for i in range(500))


def test_new_users_join_at_the_second_stage_and_stay_later() -> None:
    for stage in STAGES[1:]:
        assert cohort_platform(stage, "s", user="u", is_new_user=True, internal=False) == "livekit"
        assert cohort_platform(stage, "s", user="u", is_new_user=False, internal=True) == "livekit"
    assert all(cohort_platform("new-users", f"s{i}", user=f"u{i}", is_new_user=False, internal=False) == "legacy" for i in range(500))


@pytest.mark.parametrize(("stage", "share"), [("5%", 0.05), ("25%", 0.25), ("50%", 0.50), ("100%", 1.0)])
def test_percentage_by_a_stable_hash(stage: str, share: float) -> None:
    n = 20_000
    on = sum(cohort_platform(stage, f"session-{i}", user=None, is_new_user=False, internal=False) == "livekit" for i in range(n))
    assert abs(on / n - share) < 0.01


def test_cohorts_are_cumulative_per_user() -> None:
    """Whoever is on LiveKit at a stage stays on it at every later stage (same bucket, larger share)."""
    users = [f"user-{i}" for i in range(2000)]
    previous: set[str] = set()
    for stage in STAGES[2:]:
        now = {u for u in users if cohort_platform(stage, "any", user=u, is_new_user=False, internal=False) == "livekit"}
        assert previous <= now
        previous = now


def test_the_user_not_the_session_decides_the_percentage() -> None:
    user = next(f"u{i}" for i in range(1000) if bucket(f"u{i}") < 500)  # in the 5 % share
    assert all(cohort_platform("5%", f"s{i}", user=user, is_new_user=False, internal=False) == "livekit" for i in range(50))


def test_bucket_is_stable_across_processes_and_releases() -> None:
    """A literal, not a recomputation: any change of the hash (which would move live users) fails here."""
    assert bucket("appointment-42") == 3662
