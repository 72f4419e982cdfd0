"""``compat rollout status``: the numbers per platform and stage, and LiveKit's gate verdicts."""

from __future__ import annotations

import json

import attrs

from .quality import Gates, Summary, verdict
from .stages import next_stage
from .store import Store


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def status(store: Store, gates: Gates) -> dict[str, object]:
    """The current stage, every summary, and for each LiveKit one its gate verdict."""
    baseline = store.legacy_baseline()
    rows = []
    for summary in store.summaries():
        row: dict[str, object] = attrs.asdict(summary)
        if summary.platform == "livekit":
            judged = verdict(summary, baseline, gates)
            row["gate"] = {"passed": judged.passed, "failures": list(judged.failures)}
        rows.append(row)
    stage = store.stage
    if next_stage(stage) is None:
        allowed, blocking = False, [f"{stage!r} is the last stage"]
    else:
        current = store.verdict(stage, gates)
        allowed, blocking = current.passed, list(current.failures)
    return {"stage": stage, "gates": attrs.asdict(gates), "advance_allowed": allowed, "blocking": blocking, "rows": rows}


def render_text(report: dict[str, object]) -> str:
    header = ("platform", "stage", "setups", "success", "p95 setup", "TURN relay", "mean MOS", "gate")
    lines = [header]
    rows = report["rows"]
    assert isinstance(rows, list)
    for row in rows:
        s = Summary(**{k: v for k, v in row.items() if k != "gate"})
        gate = row.get("gate")
        verdict_text = "-" if gate is None else ("pass" if gate["passed"] else "FAIL: " + "; ".join(gate["failures"]))
        lines.append((s.platform, s.stage, str(s.setups), _pct(s.success_rate), _num(s.p95_setup_s, " s"),
                      _pct(s.relay_rate), _num(s.mean_mos), verdict_text))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    table = ["  ".join([*(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)), line[-1]]).rstrip() for line in lines]
    blocking = report["blocking"]
    assert isinstance(blocking, list)
    tail = "advance: allowed" if report["advance_allowed"] else "advance: refused (" + "; ".join(blocking) + ")"
    return "\n".join([f"stage: {report['stage']}", *table, tail]) + "\n"


def render_json(report: dict[str, object]) -> str:
    return json.dumps(report, indent=2) + "\n"

__all__ = ["render_json", "render_text", "status"]
