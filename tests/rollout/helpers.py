"""Shared by the rollout tests: moving a store to a stage the only way there is (advance, with
gates met by good records), and the worker of the concurrency tests."""

from __future__ import annotations

import multiprocessing
import random
from typing import Any

import compat.rollout as R

EASY = R.Gates(min_sessions=1)


def advance_to(store: R.Store, stage: str) -> None:
    """Advance ``store`` to ``stage`` by recording a good LiveKit and legacy session at each stage."""
    while store.stage != stage:
        current = store.stage
        store.record(f"good-{current}", vendor="test", platform="livekit", setup_s=0.4, turn_relay=False, mos=4.3)
        store.record(f"legacy-{current}", vendor="test", platform="legacy", setup_s=0.9, turn_relay=False, mos=4.3)
        store.advance(EASY)


def assign_worker(url: str, keys: list[str], worker: int, barrier: Any, results: Any) -> None:
    """Assign every key (in this worker's own order); half the workers call every user new, so
    they would decide differently: only the store's atomic insert can make them agree.

    The workers go in step, one key each per step: without that, one worker could take the
    store's lock and assign every key before the others started (seen on a loaded CI machine),
    and the race would have had one answer only. In step, each key goes to whichever worker
    reaches it first in its own order, half of them of each kind."""
    store = R.open_store(url)
    order = list(keys)
    random.Random(worker).shuffle(order)
    got: dict[str, str] = {}
    for key in order:
        barrier.wait(timeout=60)
        got[key] = store.assign(key, user=f"user-{key}", is_new_user=worker % 2 == 0)
    store.close()
    results.put((worker, got))


def assign_concurrently(url: str, keys: list[str], workers: int = 8) -> list[dict[str, str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=assign_worker, args=(url, keys, w, barrier, results)) for w in range(workers)]
    for p in procs:
        p.start()
    try:
        outcome = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [got for _, got in sorted(outcome, key=lambda item: item[0])]
