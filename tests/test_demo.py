"""The README's demo command works: both bots hear each other, exchange data, and the call is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples import demo


@pytest.mark.media
async def test_demo_runs_and_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await demo.main(1.0, tmp_path) == 0
    out = capsys.readouterr().out
    assert "demo OK" in out
    (recording,) = tmp_path.glob("demo-*.ogg")
    assert f"recording: {recording}" in out
    assert demo.tones_in(str(recording)) == [440, 660]
