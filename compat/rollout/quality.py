"""Audio MOS by a simplified ITU-T G.107 E-model, and the quality gates (pure functions).

E-model (G.107 (06/2015)), reduced to what a receiver's WebRTC stats give:

* R = Ro - Is - Id - Ie,eff + A with the default Ro - Is = 93.2 and A = 0 (G.107 §7.1, Table 3);
* Id from the one-way mouth-to-ear delay Ta, here RTT/2 + a jitter buffer of 2 x jitter + 20 ms
  of packetisation: Id = 0.024 Ta + 0.11 (Ta - 177.3) for Ta > 177.3 ms (the widely used
  simplification of §7.4, Idte and Idle at their defaults);
* Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl) (§7.5) with random loss (BurstR = 1) and the
  G.113 Appendix I values of G.711 with packet-loss concealment (Ie = 0, Bpl = 25.1): Opus has no
  G.113 entry, and G.711+PLC is the conservative choice monitoring tools make;
* MOS = 1 + 0.035 R + R (R - 60)(100 - R) 7e-6 for 0 < R < 100 (Annex B, B-4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

R_DEFAULT = 93.2  # Ro - Is with every G.107 default
IE_G711_PLC = 0.0
BPL_G711_PLC = 25.1
PACKETISATION_MS = 20.0


def mos_from_r(r: float) -> float:
    """G.107 Annex B: the MOS (conversational quality, estimated) of a rating factor R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def delay_impairment(one_way_ms: float) -> float:
    """Id for a one-way delay in ms (0.024 d, plus 0.11 (d - 177.3) beyond 177.3 ms)."""
    d = max(0.0, one_way_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def loss_impairment(loss_percent: float, *, ie: float = IE_G711_PLC, bpl: float = BPL_G711_PLC) -> float:
    """Ie,eff for random packet loss ``loss_percent`` (0-100)."""
    ppl = min(100.0, max(0.0, loss_percent))
    return ie + (95 - ie) * ppl / (ppl + bpl)


def audio_mos(rtt_ms: float, jitter_ms: float, loss_percent: float) -> float:
    """The E-model MOS of received audio from its round-trip time, jitter and loss (module docstring)."""
    for name, value in (("rtt_ms", rtt_ms), ("jitter_ms", jitter_ms), ("loss_percent", loss_percent)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    one_way = rtt_ms / 2 + 2 * jitter_ms + PACKETISATION_MS
    return mos_from_r(R_DEFAULT - delay_impairment(one_way) - loss_impairment(loss_percent))


# --- gates --------------------------------------------------------------------------------------


@attrs.frozen
class Gates:
    """The thresholds a stage must meet before :func:`compat.rollout.advance` moves on."""

    min_success_rate: float = 0.985
    max_mos_drop: float = 0.05  # LiveKit's mean MOS at least 95 % of legacy's
    max_relay_rate: float = 0.30
    max_p95_setup_s: float = 3.0
    min_sessions: int = 1  # fewer LiveKit setups at the stage than this: nothing to judge, the gate fails


@attrs.frozen
class Summary:
    """One platform's numbers at one stage."""

    platform: str
    stage: str
    setups: int
    connected: int
    success_rate: float | None
    p95_setup_s: float | None
    relay_rate: float | None
    mean_mos: float | None


@attrs.frozen
class Verdict:
    passed: bool
    failures: tuple[str, ...]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0-100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(platform: str, stage: str, rows: Sequence[tuple[float | None, int | None, bool | None, float | None]]) -> Summary:
    """Rows of (setup latency s or None, failure code or None, TURN relay or None, MOS or None);
    a row with neither latency nor failure is a setup still in progress and is left out."""
    done = [r for r in rows if r[0] is not None or r[1] is not None]
    latencies = [r[0] for r in done if r[0] is not None and r[1] is None]
    relays = [bool(r[2]) for r in done if r[2] is not None]
    moses = [r[3] for r in done if r[3] is not None]
    return Summary(
        platform=platform, stage=stage, setups=len(done), connected=len(latencies),
        success_rate=len(latencies) / len(done) if done else None,
        p95_setup_s=percentile(latencies, 95),
        relay_rate=sum(relays) / len(relays) if relays else None,
        mean_mos=sum(moses) / len(moses) if moses else None,
    )


def verdict(livekit: Summary, legacy: Summary | None, gates: Gates) -> Verdict:
    """LiveKit's numbers at a stage against the gates (legacy is the MOS baseline)."""
    if livekit.setups < gates.min_sessions:
        return Verdict(False, (f"only {livekit.setups} LiveKit setups recorded (at least {gates.min_sessions} needed)",))
    failures = []
    if livekit.success_rate is not None and livekit.success_rate < gates.min_success_rate:
        failures.append(f"setup success {livekit.success_rate:.1%} < {gates.min_success_rate:.1%}")
    if livekit.p95_setup_s is not None and livekit.p95_setup_s > gates.max_p95_setup_s:
        failures.append(f"p95 setup {livekit.p95_setup_s:.2f} s > {gates.max_p95_setup_s:.2f} s")
    if livekit.relay_rate is not None and livekit.relay_rate > gates.max_relay_rate:
        failures.append(f"TURN relay {livekit.relay_rate:.1%} > {gates.max_relay_rate:.1%}")
    failures.extend(_mos_failures(livekit, legacy, gates))
    return Verdict(not failures, tuple(failures))


def _mos_failures(livekit: Summary, legacy: Summary | None, gates: Gates) -> list[str]:
    if livekit.mean_mos is None:
        return ["no LiveKit MOS recorded"]
    if legacy is None or legacy.mean_mos is None:
        return ["no legacy MOS to compare with: record legacy sessions (compat.rollout.record)"]
    floor = legacy.mean_mos * (1 - gates.max_mos_drop)
    if livekit.mean_mos < floor:
        return [f"mean MOS {livekit.mean_mos:.2f} < {floor:.2f} ({gates.max_mos_drop:.0%} below legacy {legacy.mean_mos:.2f})"]
    return []

__all__ = [
    "Gates", "Summary", "Verdict", "audio_mos", "delay_impairment", "loss_impairment", "mos_from_r", "percentile",
    "summarize", "verdict",
]
