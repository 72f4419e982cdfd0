"""examples/vonage_echo_bot.py against the dev server: a real livekit.rtc remote hears its own
tone and sees its own picture size come back."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from compat.devserver.testing import LiveKitServer, dominant_frequency, publish_tone, read_audio
from compat.vonage import video_connector as vc
from examples.vonage_echo_bot import EchoBot
from tests.media import first_video_frame, publish_video
from tests.support import wait_for
from tests.vonage.video_connector.helpers import vc_threads

pytestmark = pytest.mark.media


async def test_echo_bot_plays_back_audio_and_video(lk_server: LiveKitServer) -> None:
    vc.install(url=lk_server.url)
    room = "vc-echo"
    remote = await lk_server.connect("remote", room)
    bot = EchoBot()
    try:
        async with publish_tone(remote, 520), publish_video(remote, 640, 480, fps=15):
            assert bot.start("app", room, lk_server.token("echo-bot", room))
            await wait_for(lambda: len(_tracks(remote)) == 2, 20, "the echo bot's audio and video")
            audio, video = sorted(_tracks(remote), key=lambda t: t.kind)
            samples = await read_audio(audio, 200, timeout=20, skip=100)
            assert abs(dominant_frequency(samples) - 520) < 5
            frame = await first_video_frame(video, timeout=20)
            assert (frame.width, frame.height) == (640, 480)
    finally:
        await asyncio.to_thread(bot.stop)
        await remote.disconnect()
    assert vc_threads() == []


def _tracks(remote: rtc.Room) -> list[rtc.Track]:
    bot = remote.remote_participants.get("echo-bot")
    return [p.track for p in bot.track_publications.values() if p.track is not None] if bot else []
