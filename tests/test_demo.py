"""The README's demo command works: the Twilio-API bot and the Vonage Video Connector bot hear each
other, each reads the messages its vendor's model can read, and the call is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples import demo
from tests.vonage.video_connector.helpers import vc_threads


@pytest.mark.media
async def test_demo_runs_and_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await demo.main(1.0, tmp_path) == 0
    out = capsys.readouterr().out
    assert "demo OK" in out
    assert "Twilio bot heard 6" in out and "data-track messages: []" in out
    assert "Vonage bot heard 4" in out and "signals: ['chat: hello from the Vonage bot (from itself)']" in out
    (recording,) = tmp_path.glob("demo-*.ogg")
    assert f"recording: {recording}" in out
    assert demo.tones_in(str(recording)) == [440, 660]
    assert vc_threads() == []  # the Vonage bot's disconnect() joined its client's threads
