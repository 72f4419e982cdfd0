"""Publisher and Subscriber against a ScriptedSession (§1.3 publish/subscribe, §1.6, §1.7, §1.4.7-8)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from compat import core as C
from compat import vonage as OT
from compat.core.media import AudioSource, VideoSource
from tests.vonage.helpers import PUBLISHER_EVENTS, SUBSCRIBER_EVENTS, Recorder, connected, info, snapshot, track
from tests.vonage.test_session import ALICE, subscribe


async def test_publish_order_stream_created_then_handler() -> None:
    session, core = await connected()
    rec, order = Recorder(), list[Any]()
    publisher = OT.initPublisher(None, {"name": "bot", "videoSource": VideoSource(320, 240)})
    rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
    publisher.on("streamCreated", lambda e: order.append("streamCreated"))
    result = await session.publish(publisher, lambda err: order.append(("handler", err)))
    assert result is publisher
    assert order == ["streamCreated", ("handler", None)]
    assert publisher.stream is not None and publisher.streamId == "PA_me-camera"
    assert publisher.stream.hasAudio and publisher.stream.hasVideo and publisher.stream.videoType == "camera"
    assert publisher.stream.connection is session.connection
    kinds = [(args[0], args[2].source) for name, args in core.calls if name == "publish_media"]
    assert kinds == [("audio", "microphone"), ("video", "camera")]
    assert session.getPublisherForStream(publisher.stream) is publisher
    assert session.streams.length() == 0  # own streams are not the Session's


async def test_screen_publisher_and_audio_only() -> None:
    session, _core = await connected()
    screen = await session.publish({"audioSource": None, "videoSource": VideoSource(640, 360, is_screencast=True)})
    assert screen is not None and screen.streamId == "PA_me-screen" and screen.stream is not None
    assert screen.stream.videoType == "screen" and not screen.stream.hasAudio
    audio = await session.publish({"name": "voice"})
    assert audio is not None and audio.stream is not None and audio.stream.videoType is None and audio.stream.hasAudio
    with pytest.raises(OT.OTError) as second:
        await session.publish({"name": "again"})
    assert second.value.name == "OT_INVALID_PARAMETER" and second.value.code == 1500


async def test_publish_errors() -> None:
    session = OT.Session("devkey", "room")
    errors: list[Any] = []
    assert await session.publish(None, errors.append) is None
    assert (errors[0].name, errors[0].code) == ("OT_NOT_CONNECTED", 1010)
    sub_session, _ = await connected(role="subscriber")
    with pytest.raises(OT.OTError) as denied:
        await sub_session.publish()
    assert (denied.value.name, denied.value.code) == ("OT_PERMISSION_DENIED", 1500)
    failing, _ = await connected(publish_error="boom")
    with pytest.raises(OT.OTError) as failed:
        await failing.publish()
    assert failed.value.name == "OT_STREAM_CREATE_FAILED"


def test_init_publisher_properties() -> None:
    with pytest.raises(OT.OTError) as dev:
        OT.initPublisher(None, {"audioSource": "default-mic-id"})
    assert dev.value.code == 1011
    with pytest.raises(OT.OTError):
        OT.initPublisher({"audioSource": None, "videoSource": False})
    p = OT.initPublisher({"insertMode": "append", "name": "n"})
    assert isinstance(p.audio_source, AudioSource) and p.video_source is None and p.name == "n"


async def test_unpublish_reason_and_default_destroy() -> None:
    session, core = await connected()
    rec = Recorder()
    publisher = await session.publish({"name": "bot"})
    assert publisher is not None
    rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
    session.unpublish(publisher)
    session.unpublish(publisher)  # once per stream
    assert rec.events == [("publisher", "streamDestroyed", ("PA_me-camera", "unpublished")), ("publisher", "destroyed", None)]
    await asyncio.sleep(0)
    assert [n for n, _ in core.calls].count("unpublish") == 1


async def test_unpublish_prevent_default_keeps_publisher_for_republish() -> None:
    session, _ = await connected()
    publisher = await session.publish({"name": "bot"})
    assert publisher is not None
    publisher.on("streamDestroyed", lambda e: e.preventDefault())
    session.unpublish(publisher)
    assert publisher._state == "initialized"
    assert await session.publish(publisher) is publisher


async def test_destroy_unpublishes_with_reset() -> None:
    session, _ = await connected()
    rec = Recorder()
    publisher = await session.publish({"name": "bot"})
    assert publisher is not None
    rec.listen(publisher, PUBLISHER_EVENTS, "publisher")
    publisher.destroy()
    assert rec.events == [("publisher", "streamDestroyed", ("PA_me-camera", "reset")), ("publisher", "destroyed", None)]


async def test_publish_audio_video_toggles_mute_tracks() -> None:
    session, core = await connected()
    publisher = await session.publish({"videoSource": VideoSource(16, 16), "publishVideo": False})
    assert publisher is not None and publisher.stream is not None
    assert not publisher.stream.hasVideo
    publisher.publishAudio(False)
    assert not publisher.stream.hasAudio
    mutes = [args for name, args in core.calls if name == "set_muted"]
    assert [m[1] for m in mutes] == [True, True]


async def test_subscribe_and_unsubscribe() -> None:
    session, core = await connected(snapshot(ALICE))
    rec = Recorder()
    sub = await subscribe(session, core, "PA_alice-camera")
    rec.listen(sub, SUBSCRIBER_EVENTS, "subscriber")
    assert [a for n, a in core.calls if n == "set_subscribed"] == [("TR_am", True), ("TR_av", True)]
    assert session.getSubscribersForStream(sub.stream) == [sub]
    sub.subscribeToVideo(False)
    assert rec.events == [("subscriber", "videoDisabled", "subscribeToVideo")]
    session.unsubscribe(sub)
    assert rec.events[-1] == ("subscriber", "destroyed", "Unsubscribe")
    assert [a for n, a in core.calls if n == "set_subscribed"][-2:] == [("TR_av", False), ("TR_am", False)]
    assert session.getSubscribersForStream(sub.stream) == []


async def test_two_subscribers_share_tracks() -> None:
    session, core = await connected(snapshot(ALICE))
    a = await subscribe(session, core, "PA_alice-camera")
    b = await subscribe(session, core, "PA_alice-camera", subscribeToVideo=False)
    session.unsubscribe(a)
    calls = [x for n, x in core.calls if n == "set_subscribed"]
    assert calls == [("TR_am", True), ("TR_av", True), ("TR_av", False)]
    assert b.stream.audio_track_sid == "TR_am"


async def test_subscribe_errors() -> None:
    session, core = await connected(snapshot(ALICE))
    errors: list[Any] = []
    assert await session.subscribe(None, None, None, errors.append) is None
    assert (errors[0].name, errors[0].code) == ("OT_INVALID_PARAMETER", 1501)
    stream = session.streams.get("PA_alice-camera")
    assert stream is not None
    only, _ = await connected(snapshot(ALICE), role="publisheronly")
    other = only.streams.get("PA_alice-camera")
    with pytest.raises(OT.OTError) as denied:
        await only.subscribe(other)
    assert (denied.value.name, denied.value.code) == ("OT_PERMISSION_DENIED", 1501)
    task = asyncio.ensure_future(session.subscribe(stream))
    await asyncio.sleep(0)
    core.feed(C.TrackSubscriptionFailed("alice", "TR_am", "no"))
    with pytest.raises(OT.OTError) as failed:
        await task
    assert failed.value.name == "OT_UNABLE_TO_SUBSCRIBE"
    assert session.getSubscribersForStream(stream) == []
    await session.disconnect()
    with pytest.raises(OT.OTError) as nc:
        await session.subscribe(stream)
    assert (nc.value.name, nc.value.code) == ("OT_NOT_CONNECTED", 1501)


async def test_subscribe_fails_when_stream_goes_while_waiting() -> None:
    session, core = await connected(snapshot(ALICE))
    stream = session.streams.get("PA_alice-camera")
    task = asyncio.ensure_future(session.subscribe(stream))
    await asyncio.sleep(0)
    core.feed(C.ParticipantLeft("alice"))
    with pytest.raises(OT.OTError) as gone:
        await task
    assert gone.value.name == "OT_STREAM_DESTROYED"


async def test_stream_destroyed_destroys_subscribers_unless_prevented() -> None:
    session, core = await connected(snapshot(ALICE))
    sub = await subscribe(session, core, "PA_alice-camera")
    reasons: list[str] = []
    sub.on("destroyed", lambda e: reasons.append(e.reason))
    core.feed(C.ParticipantLeft("alice", C.DisconnectCause.SIGNAL_CLOSE))
    assert reasons == ["networkDisconnected"]
    session2, core2 = await connected(snapshot(ALICE))
    sub2 = await subscribe(session2, core2, "PA_alice-camera")
    session2.on("streamDestroyed", lambda e: e.preventDefault())
    core2.feed(C.ParticipantLeft("alice"))
    assert not sub2._destroyed


async def test_publisher_mute_reaches_subscriber_video_events() -> None:
    session, core = await connected(snapshot(ALICE))
    sub = await subscribe(session, core, "PA_alice-camera")
    seen: list[tuple[str, str]] = []
    sub.on("videoDisabled videoEnabled", lambda e: seen.append((e.type, e.reason)))
    core.feed(C.TrackMuted("alice", "TR_av"), C.TrackUnmuted("alice", "TR_av"))
    assert seen == [("videoDisabled", "publishVideo"), ("videoEnabled", "publishVideo")]


async def test_track_published_later_is_subscribed_for_existing_subscribers() -> None:
    state = C.ParticipantState(info("dan"), (track("TR_dm", "audio", "microphone"),))
    session, core = await connected(snapshot(state))
    await subscribe(session, core, "PA_dan-camera")
    core.feed(C.TrackPublished("dan", track("TR_dv", "video", "camera")))
    assert ("set_subscribed", ("TR_dv", True)) in core.calls


async def test_audio_frames_bounded_and_closed_with_subscriber() -> None:
    session, core = await connected(snapshot(ALICE))
    sub = await subscribe(session, core, "PA_alice-camera")
    frames = sub.audio_frames(capacity=2)
    for i in range(5):
        core.push_frame("TR_am", i)
    assert frames.dropped == 3
    assert [await frames.__anext__(), await frames.__anext__()] == [3, 4]
    video = sub.video_frames()
    assert core.open_resources() == 2
    session.unsubscribe(sub)
    assert frames.closed and video.closed and core.open_resources() == 0
    with pytest.raises(OT.OTError):
        sub.audio_frames()


async def test_audio_frames_need_audio() -> None:
    scr = C.ParticipantState(info("eve"), (track("TR_ev", "video", "screen_share"),))
    session, core = await connected(snapshot(scr))
    sub = await subscribe(session, core, "PA_eve-screen")
    with pytest.raises(OT.OTError) as none:
        sub.audio_frames()
    assert none.value.name == "OT_NOT_FOUND"
