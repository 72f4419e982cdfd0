"""What a subscriber asks for: live captions from LiveKit transcriptions (an addition) only when
``subscribe_to_captions`` is set; the preferred resolution and framerate of
``SubscriberVideoSettings``; the subscriber's ``on_error_cb`` when a track is lost or a
subscription fails."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from compat import core as C
from compat import vonage as OT
from compat.devserver.testing import LiveKitServer, publish_tone
from compat.vonage import video_connector as vc
from compat.vonage.video_connector.models import (
    CaptionsData,
    SessionAVSettings,
    SessionSettings,
    SessionVideoPublisherSettings,
    SubscriberSettings,
    SubscriberVideoSettings,
    VideoResolution,
)
from tests.media import publish_video
from tests.vonage.video_connector.helpers import Calls, connect, vc_threads

pytestmark = pytest.mark.media

TRANSCRIPTION = "lk.transcription"
RGB = SessionSettings(av=SessionAVSettings(video_publisher=SessionVideoPublisherSettings(resolution=VideoResolution(), format="RGB24")))


def _subscriber(calls: Calls, prefix: str) -> dict[str, Any]:
    names = ("on_connected_cb", "on_error_cb", "on_render_frame_cb", "on_caption_text_cb", "on_disconnected_cb")
    return {name: calls.cb(f"{prefix} {name}") for name in names}


async def test_captions_only_when_asked_and_the_preferred_video(lk_server: LiveKitServer) -> None:
    room = "vc-sub-settings"
    remote = await lk_server.connect("remote", room)
    wants, plain = vc.VonageVideoClient(url=lk_server.url), vc.VonageVideoClient(url=lk_server.url)
    calls = Calls()
    try:
        async with publish_tone(remote, 440) as mic, publish_video(remote, 160, 120, fps=15):
            assert connect(wants, lk_server, room, "wants", calls, session_settings=RGB)
            assert connect(plain, lk_server, room, "plain", calls, session_settings=RGB)
            streams = await calls.wait("on_stream_received_cb", 2)
            assert len({args[1].id for args in streams}) == 1  # one Stream id, found by either client
            stream = streams[0][1]
            preferred = SubscriberVideoSettings(preferred_resolution=VideoResolution(width=80, height=60), preferred_framerate=5)
            assert wants.subscribe(
                stream, settings=SubscriberSettings(subscribe_to_captions=True, video_settings=preferred), **_subscriber(calls, "wants")
            )
            assert plain.subscribe(stream, settings=SubscriberSettings(), **_subscriber(calls, "plain"))
            await calls.wait("wants on_connected_cb")
            await calls.wait("plain on_connected_cb")

            # captions: an lk.transcription text stream for the stream's microphone
            lp = remote.local_participant
            named = {"lk.transcribed_track_id": mic.sid, "lk.segment_id": "SG_1"}
            await lp.send_text("hel", topic=TRANSCRIPTION, attributes={**named, "lk.transcription_final": "false"})
            await lp.send_text("hello there", topic=TRANSCRIPTION, attributes={**named, "lk.transcription_final": "true"})
            captions = await calls.wait("wants on_caption_text_cb", 2)
            assert [args[0].stream.id for args in captions] == [stream.id] * 2
            assert [args[1] for args in captions] == [
                CaptionsData(text="hel", is_final=False), CaptionsData(text="hello there", is_final=True),
            ]

            # video: plain gets the published 160x120 at ~15 fps, wants 80x60 at <= 5 fps
            start = len(calls.of("wants on_render_frame_cb")), len(calls.of("plain on_render_frame_cb"))
            await asyncio.sleep(3.0)
            wanted = calls.of("wants on_render_frame_cb")[start[0]:]
            plain_frames = calls.of("plain on_render_frame_cb")[start[1]:]
            assert 9 <= len(wanted) <= 17, len(wanted)  # 5 fps over 3 s
            assert len(plain_frames) >= 30, len(plain_frames)
            small = wanted[-1][1]
            assert (small.resolution.width, small.resolution.height, len(small.frame_buffer)) == (80, 60, 80 * 60 * 3)
            pixels = np.frombuffer(small.frame_buffer, dtype=np.uint8).reshape(-1, 3)
            assert abs(int(np.median(pixels[:, 1])) - 128) < 12  # the remote's picture, scaled
            assert (plain_frames[-1][1].resolution.width, plain_frames[-1][1].resolution.height) == (160, 120)

        await remote.disconnect()
        await calls.wait("on_connection_dropped_cb", 2)
        assert not calls.of("plain on_caption_text_cb")  # subscribe_to_captions=False
        assert not calls.of("plain on_error_cb") and not calls.of("wants on_error_cb")  # unpublished, then left: no error
    finally:
        await asyncio.to_thread(wants.disconnect)
        await asyncio.to_thread(plain.disconnect)
    assert vc_threads() == []


async def test_subscriber_error_callback_on_a_failed_subscription_and_a_lost_track(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subscriber's on_error_cb on a scripted core session (neither case can be caused on
    demand with livekit.rtc and the dev server): a failed subscription (LiveKit's
    track_subscription_failed) reaches the subscriber of that stream, and nobody without one;
    then a lost track."""
    alice = C.ParticipantState(
        C.ParticipantInfo("PA_alice", "alice", joined_at_ms=1000.0),
        (C.TrackInfo("TR_a", "mic", "audio", source="microphone"), C.TrackInfo("TR_v", "cam", "video", source="camera")),
    )
    bob = C.ParticipantState(C.ParticipantInfo("PA_bob", "bob"), (C.TrackInfo("TR_b", "mic", "audio", source="microphone"),))
    core = C.ScriptedSession(C.RoomSnapshot("RM_1", "room", C.ParticipantInfo("PA_me", "me"), (alice, bob)))

    async def open_scripted(url: str, token: str, **kwargs: Any) -> C.ScriptedSession:
        return core

    monkeypatch.setattr(C, "open_session", open_scripted)
    client = vc.VonageVideoClient(url="ws://scripted")
    calls = Calls()
    token = OT.generate_token("devkey", "secret-secret-secret-secret-secret", "room", identity="me")
    cbs: dict[str, Any] = {name: calls.cb(name) for name in ("on_connected_cb", "on_stream_received_cb", "on_error_cb")}
    assert client.connect("app", "room", token, **cbs)
    await calls.wait("on_connected_cb")
    rt = client._rt
    assert rt is not None

    def feed(*facts: C.Fact) -> None:
        assert rt is not None
        rt.loop_thread.call(core.feed, *facts)

    feed(C.TrackSubscribed("alice", "TR_a"), C.TrackSubscribed("bob", "TR_b"))
    streams = {args[1].connection.id: args[1] for args in await calls.wait("on_stream_received_cb", 2)}
    assert client.subscribe(streams["PA_alice"], **_subscriber(calls, "sub"))
    await calls.wait("sub on_connected_cb")
    feed(C.TrackSubscriptionFailed("alice", "TR_v", "no route"), C.TrackSubscriptionFailed("bob", "TR_b", "no route"))
    ((subscriber, description, code),) = await calls.wait("sub on_error_cb")
    assert subscriber.stream == streams["PA_alice"] and code == 1600 and "video" in description and "no route" in description
    await asyncio.sleep(0.3)
    assert len(calls.of("sub on_error_cb")) == 1 and not calls.of("on_error_cb")  # bob's stream has no subscriber

    # a track unsubscribed while still published is lost (LiveKit: the publisher revoked our
    # permission); one unsubscribed with its unpublish, or with its participant leaving, is not
    feed(C.TrackSubscribed("alice", "TR_v"))  # a retry succeeded: the Stream has both tracks
    await asyncio.sleep(0.2)
    feed(C.TrackUnsubscribed("alice", "TR_a"))
    ((subscriber, description, code),) = (await calls.wait("sub on_error_cb", 2))[1:]
    assert subscriber.stream == streams["PA_alice"] and code == 1600 and "audio" in description
    feed(C.TrackSubscribed("alice", "TR_a"))
    await asyncio.sleep(0.2)
    feed(C.TrackUnsubscribed("alice", "TR_v"), C.TrackUnpublished("alice", "TR_v"))
    feed(C.TrackUnsubscribed("alice", "TR_a"), C.ParticipantLeft("alice"))
    await calls.wait("sub on_disconnected_cb")
    await asyncio.sleep(0.3)
    assert len(calls.of("sub on_error_cb")) == 2
    await asyncio.to_thread(client.disconnect)
    assert vc_threads() == []
