"""The recording bot example end to end: one complete WAV per remote audio track."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from compat.devserver.testing import LiveKitServer, dominant_frequency, publish_tone
from examples.twilio_recording_bot import run_bot
from tests.support import wait_for

pytestmark = pytest.mark.media


async def test_recording_bot_writes_one_wav_per_track(lk_server: LiveKitServer, tmp_path: Path) -> None:
    alice = await lk_server.connect("alice", "rb")
    bob = await lk_server.connect("bob", "rb")
    stop = asyncio.Event()
    try:
        async with publish_tone(alice, 440):
            bot = asyncio.create_task(
                run_bot(lk_server.token("bot", "rb", hidden=True), tmp_path, url=lk_server.url, stop=stop)
            )
            async with publish_tone(bob, 880):
                await wait_for(lambda: len(list(tmp_path.glob(".*.part"))) == 2, 15, "two recordings in progress")
                await asyncio.sleep(2.0)
                await bob.disconnect()
            # bob left: his file is complete while alice still records
            await wait_for(lambda: len(list(tmp_path.glob("bob-*.wav"))) == 1, 10, "bob's file finished")
            assert len(list(tmp_path.glob(".alice-*.part"))) == 1
            await asyncio.sleep(0.5)
            stop.set()
            files = await asyncio.wait_for(bot, 15)
    finally:
        await alice.disconnect()
        await bob.disconnect()
    assert sorted(f.name.split("-")[0] for f in files) == ["alice", "bob"]
    assert not list(tmp_path.glob(".*.part"))
    for path, freq in ((next(tmp_path.glob("alice-*.wav")), 440), (next(tmp_path.glob("bob-*.wav")), 880)):
        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 48000)
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        assert len(samples) > 48000  # more than a second
        assert abs(dominant_frequency(samples[48000 // 2 :]) - freq) < 15
