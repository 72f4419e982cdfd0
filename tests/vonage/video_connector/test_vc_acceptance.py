"""Acceptance: an unmodified bot written for ``vonage_video_connector`` (tone_bot.py, by the
§4.6 call protocol) runs on compat after install(), against the dev server, with a real
``livekit.rtc`` remote: audio and video both ways."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer, dominant_frequency, publish_tone, read_audio
from compat.vonage import video_connector as vc
from tests.media import first_video_frame, publish_video
from tests.support import wait_for
from tests.vonage.video_connector.helpers import vc_threads

pytestmark = pytest.mark.media

REMOTE_HZ = 440.0
BOT_HZ = 660.0


def frequency(samples: np.ndarray[Any, Any], rate: int) -> float:
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(spectrum.argmax())])


def load_bot() -> Any:
    sys.modules.pop("tests.vonage.video_connector.tone_bot", None)
    return importlib.import_module("tests.vonage.video_connector.tone_bot")


async def test_unmodified_bot_audio_and_video_both_ways(lk_server: LiveKitServer) -> None:
    vc.install(url=lk_server.url)
    bot_module = load_bot()
    room = "vc-acceptance"
    remote = await lk_server.connect("remote", room)
    bot = bot_module.ToneBot(BOT_HZ)
    try:
        async with publish_tone(remote, REMOTE_HZ), publish_video(remote, 320, 240, fps=15):
            assert bot.start("app", room, lk_server.token("bot", room))
            await wait_for(bot.subscribed.is_set, 15, "the bot subscribed to the remote's stream")
            await wait_for(bot.ready.is_set, 15, "on_ready_for_audio_cb")
            await _bot_hears_remote(bot)
            await _remote_hears_and_sees_bot(remote)
            await wait_for(lambda: len(bot.frame_sizes) >= 5, 15, "the bot's on_render_frame_cb")
            assert set(bot.frame_sizes[-3:]) == {(320, 240, "YUV420P", 320 * 240 * 3 // 2)}
            assert bot.errors == []
    finally:
        assert await asyncio.to_thread(bot.stop) is True
        await remote.disconnect()
    assert vc_threads() == []


async def _bot_hears_remote(bot: Any) -> None:
    await wait_for(lambda: len(bot.heard) >= 150, 15, "1.5 s of mixed audio")
    start = len(bot.heard)
    await asyncio.sleep(3.0)
    window = bot.heard[start:]
    span = window[-1][0] - window[0][0]
    rate = (len(window) - 1) / span
    assert 90 <= rate <= 110, f"{rate:.1f} mixed frames a second (10 ms frames: 100)"
    assert {len(samples) for _, samples in window} == {160}  # 10 ms at 16 kHz mono
    samples = np.concatenate([s for _, s in window])
    assert abs(frequency(samples, 16000) - REMOTE_HZ) < 5


async def _remote_hears_and_sees_bot(remote: rtc.Room) -> None:
    await wait_for(lambda: len(_bot_tracks(remote)) == 2, 15, "the bot's audio and video at the remote")
    audio, video = sorted(_bot_tracks(remote), key=lambda t: t.kind)
    samples = await read_audio(audio, 200, timeout=15)
    assert abs(dominant_frequency(samples) - BOT_HZ) < 5
    deadline = time.monotonic() + 15
    frame = await first_video_frame(video, timeout=15)
    while (frame.width, frame.height) != (320, 240) and time.monotonic() < deadline:
        frame = await first_video_frame(video, timeout=15)  # the encoder may start small
    assert (frame.width, frame.height) == (320, 240)


def _bot_tracks(remote: rtc.Room) -> list[rtc.Track]:
    bot = remote.remote_participants.get("bot")
    if bot is None:
        return []
    return [p.track for p in bot.track_publications.values() if p.track is not None]
