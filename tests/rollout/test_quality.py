"""The E-model MOS against G.107's known values, and the gate arithmetic."""

from __future__ import annotations

import pytest

from compat.rollout import Gates, audio_mos
from compat.rollout.quality import delay_impairment, loss_impairment, mos_from_r, percentile, summarize, verdict


@pytest.mark.parametrize(("r", "mos"), [(50, 2.58), (60, 3.10), (70, 3.60), (80, 4.02), (90, 4.34), (93.2, 4.41)])
def test_mos_from_r_matches_g107_annex_b(r: float, mos: float) -> None:
    """G.107 Annex B (Figure B.1): R 50 -> 2.58, 70 -> 3.60, 80 -> 4.02, 90 -> 4.34; the default R 93.2 -> 4.41."""
    assert mos_from_r(r) == pytest.approx(mos, abs=0.005)


def test_mos_from_r_is_clamped() -> None:
    assert mos_from_r(-5) == 1.0 and mos_from_r(0) == 1.0
    assert mos_from_r(100) == 4.5 and mos_from_r(120) == 4.5


def test_delay_impairment() -> None:
    assert delay_impairment(0) == 0
    assert delay_impairment(100) == pytest.approx(2.4)
    assert delay_impairment(177.3) == pytest.approx(4.2552)
    assert delay_impairment(400) == pytest.approx(0.024 * 400 + 0.11 * 222.7)


def test_loss_impairment_g711_plc() -> None:
    assert loss_impairment(0) == 0
    assert loss_impairment(1) == pytest.approx(95 * 1 / 26.1)  # Bpl 25.1 (G.113 Appendix I, G.711 + PLC)
    assert loss_impairment(5) == pytest.approx(95 * 5 / 30.1)


def test_audio_mos_known_points() -> None:
    # A clean LAN: 20 ms packetisation only -> Id 0.48 -> R 92.72.
    assert audio_mos(0, 0, 0) == pytest.approx(mos_from_r(93.2 - 0.48))
    # RTT 100 ms, jitter 10 ms, 1 % loss: one-way 50 + 20 + 20 = 90 ms.
    expected = mos_from_r(93.2 - 0.024 * 90 - 95 / 26.1)
    assert audio_mos(100, 10, 1) == pytest.approx(expected)
    assert 4.1 < expected < 4.3
    # A long satellite-like path with heavy loss is poor.
    assert audio_mos(600, 30, 10) < 2.6
    assert audio_mos(0, 0, 0) > audio_mos(200, 0, 0) > audio_mos(200, 20, 0) > audio_mos(200, 20, 2)


@pytest.mark.parametrize("bad", [(-1, 0, 0), (0, float("nan"), 0), (0, 0, float("inf"))])
def test_audio_mos_refuses_bad_input(bad: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        audio_mos(*bad)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([1.0, 2.0, 10.0], 95) == 10.0


def test_summary_and_verdict() -> None:
    rows = [(0.5, None, False, 4.3)] * 97 + [(None, 53000, None, None)] * 2 + [(4.0, None, True, 4.2)] + [(None, None, None, None)]
    s = summarize("livekit", "5%", rows)
    assert (s.setups, s.connected) == (100, 98)  # the row without an outcome is a setup in progress
    assert s.success_rate == pytest.approx(0.98) and s.p95_setup_s == 0.5
    assert s.relay_rate == pytest.approx(1 / 98) and s.mean_mos == pytest.approx((97 * 4.3 + 4.2) / 98)
    legacy = summarize("legacy", "all", [(1.0, None, None, 4.4)])
    v = verdict(s, legacy, Gates())
    assert not v.passed and v.failures == ("setup success 98.0% < 98.5%",)
    assert verdict(s, legacy, Gates(min_success_rate=0.98)).passed
    assert verdict(s, summarize("legacy", "all", [(1.0, None, None, 4.6)]), Gates(min_success_rate=0.9)).failures == (
        "mean MOS 4.30 < 4.37 (5% below legacy 4.60)",)
    assert verdict(s, None, Gates(min_success_rate=0.9)).failures[0].startswith("no legacy MOS to compare with")
    slow = summarize("livekit", "5%", [(3.5, None, True, 4.4)])
    assert verdict(slow, legacy, Gates()).failures == ("p95 setup 3.50 s > 3.00 s", "TURN relay 100.0% > 30.0%")
    assert verdict(summarize("livekit", "5%", []), legacy, Gates()).failures == ("only 0 LiveKit setups recorded (at least 1 needed)",)
