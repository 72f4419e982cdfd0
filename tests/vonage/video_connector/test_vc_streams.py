"""Streams against the dev server with a real livekit.rtc remote: one Stream per participant
(camera and microphone), subscribing with a Stream the caller built, per-subscriber audio in the
mix format, RGB frames, unsubscribe, stream dropped."""

from __future__ import annotations

import asyncio
from datetime import datetime

import numpy as np
import pytest

from compat.devserver.testing import LiveKitServer, publish_tone
from compat.vonage import video_connector as vc
from compat.vonage.video_connector.models import (
    Connection,
    SessionAVSettings,
    SessionSettings,
    SessionVideoPublisherSettings,
    Stream,
    SubscriberSettings,
    VideoResolution,
)
from tests.media import publish_video
from tests.vonage.video_connector.helpers import Calls, connect, vc_threads

pytestmark = pytest.mark.media


async def test_one_stream_per_participant_and_a_stream_built_by_the_caller(lk_server: LiveKitServer) -> None:
    room = "vc-streams"
    remote = await lk_server.connect("remote", room)
    client = vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    rgb = SessionVideoPublisherSettings(resolution=VideoResolution(width=160, height=120), format="RGB24")
    async with publish_tone(remote, 440), publish_video(remote, 160, 120, fps=15):
        assert connect(client, lk_server, room, "bot", calls, session_settings=SessionSettings(av=SessionAVSettings(video_publisher=rgb)))
        ((_, stream),) = await calls.wait("on_stream_received_cb")
        await asyncio.sleep(0.5)
        assert len(calls.of("on_stream_received_cb")) == 1  # camera and microphone: one Stream
        assert stream.connection.id == remote.local_participant.sid
        mine = Stream(id=stream.id, connection=Connection(id="", creation_time=datetime.min))
        assert not client.subscribe(Stream(id="PA_nope-camera", connection=mine.connection))
        assert client.subscribe(
            mine, settings=SubscriberSettings(), on_connected_cb=calls.cb("sub_connected"),
            on_disconnected_cb=calls.cb("sub_disconnected"), on_audio_data_cb=calls.cb("sub_audio"),
            on_render_frame_cb=calls.cb("sub_frame"),
        )
        assert not client.subscribe(mine)  # already subscribed
        ((subscriber,),) = await calls.wait("sub_connected")
        assert subscriber.stream == stream  # the received Stream, found by id
        audio = await calls.wait("sub_audio", 20)
        assert {(a.sample_rate, a.number_of_channels, a.number_of_frames) for _, a in audio} == {(48000, 2, 480)}
        frames = await calls.wait("sub_frame", 3)
        _, frame = frames[-1]
        shape = (frame.format, frame.resolution.width, frame.resolution.height, len(frame.frame_buffer))
        assert shape == ("RGB24", 160, 120, 160 * 120 * 3)
        # the remote's picture is R = i*8, G = 128, B = 0: in memory B, G, R
        pixels = np.frombuffer(frame.frame_buffer, dtype=np.uint8).reshape(-1, 3)
        assert abs(int(np.median(pixels[:, 1])) - 128) < 12 and np.median(pixels[:, 0]) < 24
        assert client.unsubscribe(mine) and not client.unsubscribe(mine)
        await calls.wait("sub_disconnected")
    ((_, dropped),) = await calls.wait("on_stream_dropped_cb")
    assert dropped.id == stream.id
    await remote.disconnect()
    ((_, gone),) = await calls.wait("on_connection_dropped_cb")
    assert gone.id == stream.connection.id
    await asyncio.to_thread(client.disconnect)
    assert vc_threads() == []
