"""The staged sequence and its cohort rules (pure: no store, no clock).

Cohorts are cumulative, as telehealth teams stage a migration: a stage keeps every cohort of the
stages before it on LiveKit and adds its own. Internal users (the allowlist, or ``internal=True``)
come first, then new users only, then a share of everyone by a stable hash.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

Platform = Literal["legacy", "livekit"]

STAGES: Final = ("internal", "new-users", "5%", "25%", "50%", "100%")
"""The stages in order; a new store starts at the first."""

_PERCENT: Final = {"internal": 0, "new-users": 0, "5%": 5, "25%": 25, "50%": 50, "100%": 100}
_BUCKETS: Final = 10_000


def check_stage(stage: str) -> str:
    if stage not in _PERCENT:
        raise ValueError(f"unknown rollout stage {stage!r}: one of {', '.join(STAGES)}")
    return stage


def next_stage(stage: str) -> str | None:
    """The stage after ``stage`` (None after the last)."""
    i = STAGES.index(check_stage(stage))
    return STAGES[i + 1] if i + 1 < len(STAGES) else None


def previous_stage(stage: str) -> str | None:
    """The stage before ``stage`` (None before the first)."""
    i = STAGES.index(check_stage(stage))
    return STAGES[i - 1] if i > 0 else None


def bucket(key: str) -> int:
    """A stable bucket in [0, 10000): the same in every process and on every host (not hash())."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS


def cohort_platform(stage: str, session_key: str, *, user: str | None, is_new_user: bool, internal: bool) -> Platform:
    """The platform a session starts on at ``stage``. The percentage hashes the user when there
    is one (a user's sessions land together, so a patient does not flip between platforms), else
    the session key."""
    check_stage(stage)
    if internal:
        return "livekit"
    if stage != "internal" and is_new_user:
        return "livekit"
    share = _PERCENT[stage] * _BUCKETS // 100
    return "livekit" if bucket(user if user is not None else session_key) < share else "legacy"

__all__ = ["STAGES", "Platform", "bucket", "check_stage", "cohort_platform", "next_stage", "previous_stage"]
