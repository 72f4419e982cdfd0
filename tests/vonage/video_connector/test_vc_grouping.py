"""The Video Connector groups a participant's tracks into streams by the OpenTok model's rule
(compat.vonage.grouping): a plain livekit.rtc remote with two microphones, a camera and a screen
share gets the same streams in both, and each stream's subscriber hears its own microphone only."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from compat.devserver.testing import SAMPLE_RATE, LiveKitServer, publish_tone
from compat.vonage import video_connector as vc
from tests.media import publish_video
from tests.support import wait_for
from tests.vonage.test_e2e import announced, close, ot_connect
from tests.vonage.video_connector.helpers import Calls, connect, vc_threads

pytestmark = pytest.mark.media

LOW, HIGH = 440.0, 1250.0


def level_at(samples: np.ndarray, freq: float) -> float:
    """The spectrum's peak magnitude within 2 bins of ``freq`` (48 kHz samples, Hann window)."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    at = round(freq * len(x) / SAMPLE_RATE)
    return float(spectrum[at - 2 : at + 3].max())


def one_tone(frames: list[tuple[Any, ...]], freq: float, other: float) -> bool:
    """The frames (after the first 20) carry ``freq`` and next to nothing of ``other``: not interleaved."""
    chunks = [np.frombuffer(a.sample_buffer, dtype=np.int16)[::a.number_of_channels] for _, a in frames[20:]]
    x = np.concatenate(chunks)
    return level_at(x, freq) > 20 * level_at(x, other)


async def test_two_microphones_a_camera_and_a_screen_share_are_grouped_as_the_opentok_model(lk_server: LiveKitServer) -> None:
    room = "vc-grouping"
    remote = await lk_server.connect("remote", room)
    psid = remote.local_participant.sid
    model = await ot_connect(lk_server, room, "model")  # both see the tracks published one by one, in order
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    assert connect(client, lk_server, room, "bot", calls)
    await calls.wait("on_connection_created_cb")
    try:
        async with contextlib.AsyncExitStack() as stack:
            low = await stack.enter_async_context(publish_tone(remote, LOW, name="mic-low"))
            await calls.wait("on_stream_received_cb")
            high = await stack.enter_async_context(publish_tone(remote, HIGH, name="mic-high"))
            await announced(lk_server, room, "remote", 2)
            await stack.enter_async_context(publish_video(remote, 160, 120, name="cam"))
            await announced(lk_server, room, "remote", 3)
            await stack.enter_async_context(publish_video(remote, 160, 120, name="screen", kind=rtc.TrackSource.SOURCE_SCREENSHARE))
            expected = {f"{psid}-camera", f"{psid}-{high.sid}", f"{psid}-screen"}  # camera + first mic, second mic, screen

            def model_ids() -> set[str]:
                return {s.streamId for s in model.streams if s.connection.connectionId == psid}

            await wait_for(lambda: model_ids() == expected, 10, f"the model's streams {expected}")
            camera = model.streams.get(f"{psid}-camera")
            assert camera is not None and camera.audio_track_sid == low.sid and camera.hasVideo

            await calls.wait("on_stream_received_cb", 3)
            await asyncio.sleep(0.5)
            streams = {s.id: s for _, s in calls.of("on_stream_received_cb")}
            assert set(streams) == model_ids()  # the OpenTok model's grouping, stream for stream
            assert len(calls.of("on_stream_received_cb")) == 3 and all(s.connection.id == psid for s in streams.values())

            for stream_id in (f"{psid}-camera", f"{psid}-{high.sid}"):
                assert client.subscribe(streams[stream_id], on_audio_data_cb=calls.cb(f"audio {stream_id}"))
            assert one_tone(await calls.wait(f"audio {psid}-camera", 80), LOW, HIGH)
            assert one_tone(await calls.wait(f"audio {psid}-{high.sid}", 80), HIGH, LOW)
        dropped = await calls.wait("on_stream_dropped_cb", 3)  # every track unpublished: every stream ends
        assert {s.id for _, s in dropped} == expected
    finally:
        await close(model)
        await remote.disconnect()
        await asyncio.to_thread(client.disconnect)
    assert vc_threads() == []
