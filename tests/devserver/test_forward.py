"""Encoded forwarding (relay "forward", the default): what subscribers get, keyframes, E2EE, and relay "decode"."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit import api, rtc

from compat.devserver import DevServer, aiortc_internals, fanout, media, session
from compat.devserver.media import RelayTrack, TrackForwarder
from compat.devserver.testing import LiveKitServer, dominant_frequency, publish_tone, read_audio
from tests.media import first_video_frame, start_video
from tests.support import EventLog, wait_for

SHARED_KEY = b"forwarded-frames-stay-sealed"


def _forwarder(server: LiveKitServer, identity: str, kind: str) -> TrackForwarder:
    participant = server.embedded.rooms["r"].participants[identity]
    found = [t.forwarder for t in participant.tracks.values() if t.kind == kind and t.forwarder is not None]
    assert len(found) == 1
    forwarder: TrackForwarder = found[0]
    return forwarder


async def _received_codec(track: rtc.Track, timeout: float = 10.0) -> str:
    """The MIME type the subscriber's WebRTC stack is actually decoding (from its inbound-rtp stats)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        stats = await track.get_stats()
        codec_ids = {s.inbound_rtp.stream.codec_id for s in stats if s.WhichOneof("stats") == "inbound_rtp"}
        mimes = [s.codec.codec.mime_type for s in stats if s.WhichOneof("stats") == "codec" and s.codec.rtc.id in codec_ids]
        if mimes:
            return mimes[0]
        if loop.time() > deadline:
            raise AssertionError(f"no inbound codec in the subscriber's stats within {timeout}s")
        await asyncio.sleep(0.2)


async def _packets_received(receiver: Any) -> int:
    stats = await receiver.getStats()
    return sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")


@contextlib.asynccontextmanager
async def _forwarded_tone(server: LiveKitServer, hz: float) -> AsyncIterator[rtc.Track]:
    """"a" publishes a tone in room "r"; yields the track "b" subscribed to; both leave after."""
    a = await server.connect("a", "r")
    b = await server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    try:
        async with publish_tone(a, hz):
            ((track, _, _),) = await log.wait("track_subscribed")
            yield track
    finally:
        await a.disconnect()
        await b.disconnect()


# ---- media through the forwarder -------------------------------------------------------------------------


@pytest.mark.media
@pytest.mark.parametrize(
    ("codec", "mime"),
    [(rtc.VideoCodec.VP8, "video/VP8"), (rtc.VideoCodec.H264, "video/H264"), (rtc.VideoCodec.VP9, "video/VP9"),
     (rtc.VideoCodec.AV1, "video/AV1")],
)
async def test_video_is_forwarded_in_the_publishers_codec(dev_server: LiveKitServer, codec: rtc.VideoCodec.ValueType, mime: str) -> None:
    a = await dev_server.connect("a", "r")
    b = await dev_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    _, feeder = await start_video(a, codec)
    try:
        ((track, publication, _),) = await log.wait("track_subscribed")
        frame = await first_video_frame(track)
        assert (frame.width, frame.height) == (320, 240)
        assert publication.mime_type == mime
        assert (await _received_codec(track)).lower() == mime.lower()
        assert _forwarder(dev_server, "a", "video").encoded
    finally:
        feeder.cancel()
        await a.disconnect()
        await b.disconnect()


@pytest.mark.media
@pytest.mark.parametrize("native", [True, False], ids=["native fan-out", "written in Python"])
async def test_opus_is_forwarded_with_its_pitch(dev_server: LiveKitServer, native: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if native and not fanout.available():
        pytest.skip("the native fan-out is not available here (COMPAT_DEVSERVER_NATIVE=0)")
    if not native:  # as where the C extension could not be built
        monkeypatch.setattr(media, "native_fanout_available", lambda: False)
    async with _forwarded_tone(dev_server, 523) as track:
        assert abs(dominant_frequency(await read_audio(track, 100)) - 523) < 15
        assert (await _received_codec(track)).lower() == "audio/opus"
        forwarder = _forwarder(dev_server, "a", "audio")
        assert forwarder.encoded
        assert (forwarder._fanout is not None) == native
        # Natively, a thread reads the publisher's socket; the receiver's statistics (its RTCP
        # receiver reports to the publisher) still count every packet.
        assert (forwarder._socket is not None and not forwarder._socket.closed) == native
        assert forwarder.receiver is not None
        counted, frames = await _packets_received(forwarder.receiver), forwarder.frames
        await wait_for(lambda: forwarder.frames > frames + 100, what="2 s more of audio")
        assert await _packets_received(forwarder.receiver) >= counted + 50
        # Active-speaker levels come from the RTP audio-level header extension: nothing decodes this audio.
        assert forwarder.current_level(forwarder.level_at) > 0.1


async def _reported(track: rtc.Track) -> tuple[int, int]:
    """(reports_sent, packets_sent) of the subscriber's remote-outbound-rtp: the sender reports it got."""
    for stat in await track.get_stats():
        if stat.WhichOneof("stats") == "remote_outbound_rtp":
            return stat.remote_outbound_rtp.remote_outbound.reports_sent, stat.remote_outbound_rtp.sent.packets_sent
    return 0, 0


@pytest.mark.media
async def test_a_subscriber_gets_sender_reports_of_forwarded_audio(dev_server: LiveKitServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "SENDER_REPORT_EVERY", 0.5)  # livekit-server's 5 s, shortened for the test
    async with _forwarded_tone(dev_server, 440) as track:
        await read_audio(track, 50)
        seen = [await _reported(track)]
        for _ in range(50):  # 10 s
            if seen[-1][0] >= 4:
                break
            await asyncio.sleep(0.2)
            seen.append(await _reported(track))
        # The reports go on (natively forwarded audio's counts reach them) and say what was sent.
        reported = [s for s in seen if s[0] > 0]
        assert reported and reported[-1][0] >= 4, seen
        assert reported[-1][1] > reported[0][1] > 0, seen


@pytest.mark.media
async def test_recording_takes_forwarded_audio_through_python_and_back(dev_server: LiveKitServer) -> None:
    if not fanout.available():
        pytest.skip("the native fan-out is not available here (COMPAT_DEVSERVER_NATIVE=0)")
    async with _forwarded_tone(dev_server, 440) as track:
        forwarder = _forwarder(dev_server, "a", "audio")
        await wait_for(lambda: forwarder._socket is not None, what="the publisher's socket read natively")
        # A recorder needs decoded frames: the audio leaves the thread for aiortc's receive path...
        frames: list[Any] = []
        forwarder.add_sink(frames.append)
        assert forwarder._socket is None
        await wait_for(lambda: len(frames) >= 50, what="1 s of decoded audio for the recorder")
        assert abs(dominant_frequency(await read_audio(track, 50)) - 440) < 15  # the subscriber hears on
        # ... and goes back to it when recording stops.
        forwarder.remove_sink(frames.append)
        await wait_for(lambda: forwarder._socket is not None, what="native again")
        assert abs(dominant_frequency(await read_audio(track, 50)) - 440) < 15


@contextlib.asynccontextmanager
async def _video_for_three_seconds(server: LiveKitServer) -> AsyncIterator[TrackForwarder]:
    """`a` publishes video in room `r` until the block ends; yields its forwarder once its first keyframe is 3 s old."""
    a = await server.connect("a", "r")
    _, feeder = await start_video(a)
    try:
        await wait_for(lambda: bool(server.embedded.rooms["r"].participants["a"].tracks), what="track live")
        forwarder = _forwarder(server, "a", "video")
        await wait_for(lambda: forwarder.frames > 45, what="3 s of video (its first keyframe long gone)")
        yield forwarder
    finally:
        feeder.cancel()
        await a.disconnect()


async def _late_subscribers_first_frame(server: LiveKitServer) -> rtc.VideoFrame:
    late = rtc.Room()
    log = EventLog()
    log.listen(late, "track_subscribed")
    await server.connect("late", "r", room_object=late)
    try:
        ((track, _, _),) = await log.wait("track_subscribed")
        return await first_video_frame(track)
    finally:
        await late.disconnect()


@pytest.mark.media
async def test_a_late_subscriber_gets_a_picture(dev_server: LiveKitServer) -> None:
    async with _video_for_three_seconds(dev_server) as forwarder:
        frame = await _late_subscribers_first_frame(dev_server)
        assert (frame.width, frame.height) == (320, 240)
        assert forwarder.keyframe_requests >= 1  # asked for on subscribe


@pytest.mark.media
async def test_a_late_subscriber_gets_a_picture_when_its_keyframe_request_is_lost(
        dev_server: LiveKitServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PLI sent on subscribe never reaches the publisher: the subscriber, waiting for a keyframe,
    asks again (as livekit-server's keyFrameRequester does) instead of waiting forever."""
    async with _video_for_three_seconds(dev_server) as forwarder:
        lost: list[int] = []
        real = aiortc_internals.request_keyframe

        def lose_the_first(receiver: Any) -> Any:
            if not lost:
                lost.append(forwarder.keyframe_requests)
                return asyncio.sleep(0)  # asked, but nothing is sent
            return real(receiver)

        monkeypatch.setattr(media, "request_keyframe", lose_the_first)
        frame = await _late_subscribers_first_frame(dev_server)
        assert (frame.width, frame.height) == (320, 240)
        assert lost and forwarder.keyframe_requests >= 2  # the lost one, then one that arrived


# ---- end-to-end encryption ---------------------------------------------------------------------------------


def _e2ee(key: bytes) -> rtc.RoomOptions:
    options = rtc.E2EEOptions()
    options.key_provider_options.shared_key = key
    options.key_provider_options.failure_tolerance = 3  # report DECRYPTION_FAILED instead of retrying forever
    return rtc.RoomOptions(encryption=options)


@pytest.mark.media
async def test_encrypted_video_reaches_a_subscriber_with_the_key_and_not_one_without(dev_server: LiveKitServer) -> None:
    publisher = await dev_server.connect("a", "r", options=_e2ee(SHARED_KEY))
    rooms = {"good": rtc.Room(), "wrong": rtc.Room()}
    states: dict[str, list[int]] = {"good": [], "wrong": []}
    logs = {label: EventLog() for label in rooms}
    for label, room in rooms.items():
        logs[label].listen(room, "track_subscribed")
        room.on("e2ee_state_changed", lambda p, state, label=label: states[label].append(state))
    await dev_server.connect("good", "r", room_object=rooms["good"], options=_e2ee(SHARED_KEY))
    await dev_server.connect("wrong", "r", room_object=rooms["wrong"], options=_e2ee(b"not-the-key"))
    publication, feeder = await start_video(publisher)
    try:
        assert publication.encryption_type == rtc.EncryptionType.GCM
        ((good_track, good_pub, _),) = await logs["good"].wait("track_subscribed")
        assert good_pub.encryption_type == rtc.EncryptionType.GCM
        frame = await first_video_frame(good_track)
        assert (frame.width, frame.height) == (320, 240)
        await wait_for(lambda: rtc.EncryptionState.OK in states["good"], what=f"good key decrypts (saw {states['good']})")

        ((wrong_track, _, _),) = await logs["wrong"].wait("track_subscribed")
        await wait_for(
            lambda: rtc.EncryptionState.DECRYPTION_FAILED in states["wrong"],
            what=f"wrong key fails to decrypt (saw {states['wrong']})",
        )
        assert rtc.EncryptionState.OK not in states["wrong"]
        with pytest.raises(TimeoutError):
            await first_video_frame(wrong_track, timeout=2.0)
    finally:
        feeder.cancel()
        for room in (publisher, *rooms.values()):
            await room.disconnect()


@pytest.mark.media
async def test_egress_refuses_an_encrypted_track(tmp_path: Any) -> None:
    async with DevServer(host="127.0.0.1", port=0, recordings_dir=str(tmp_path)) as server:
        lk = LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)
        publisher = await lk.connect("a", "r", options=_e2ee(SHARED_KEY))
        publication, feeder = await start_video(publisher)
        try:
            await wait_for(lambda: bool(server.rooms["r"].participants["a"].tracks), what="track live")
            async with lk.api() as client:
                with pytest.raises(api.TwirpError) as err:
                    await client.egress.start_track_egress(
                        api.TrackEgressRequest(
                            room_name="r", track_id=publication.sid, file=api.DirectFileOutput(filepath="t.webm")
                        )
                    )
            assert (err.value.code, err.value.status) == ("failed_precondition", 412)
            assert "end-to-end encrypted" in err.value.message
        finally:
            feeder.cancel()
            await publisher.disconnect()


# ---- relay "decode" (the old path, kept for comparison) -----------------------------------------------------


@pytest.mark.media
async def test_decode_relay_still_carries_video_and_audio(decode_server: LiveKitServer) -> None:
    a = await decode_server.connect("a", "r")
    b = await decode_server.connect("b", "r")
    log = EventLog()
    log.listen(b, "track_subscribed")
    _, feeder = await start_video(a, rtc.VideoCodec.H264)
    try:
        async with publish_tone(a, 440):
            subscribed = await log.wait("track_subscribed", 2)
            tracks = {track.kind: track for track, _, _ in subscribed}
            frame = await first_video_frame(tracks[rtc.TrackKind.KIND_VIDEO])
            assert (frame.width, frame.height) == (320, 240)
            assert abs(dominant_frequency(await read_audio(tracks[rtc.TrackKind.KIND_AUDIO], 60)) - 440) < 15
            # Re-encoded by aiortc, which prefers VP8: the H.264 publisher's subscriber decodes VP8.
            assert (await _received_codec(tracks[rtc.TrackKind.KIND_VIDEO])).lower() == "video/vp8"
            assert not _forwarder(decode_server, "a", "video").encoded
    finally:
        feeder.cancel()
        await a.disconnect()
        await b.disconnect()


def test_relay_mode_is_checked_and_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DevServer(port=0).relay == "forward"
    monkeypatch.setenv("COMPAT_DEVSERVER_RELAY", "decode")
    assert DevServer(port=0).relay == "decode"
    assert DevServer(port=0, relay="forward").relay == "forward"
    with pytest.raises(ValueError, match="relay must be one of"):
        DevServer(port=0, relay="transcode")


# ---- a subscriber's queue of encoded frames ----------------------------------------------------------------


class _KeyframeCounter:
    """Stands in for a forwarding TrackForwarder: counts the keyframe requests a relay makes."""

    encoded = True

    def __init__(self) -> None:
        self.requests = 0

    def request_keyframe(self) -> None:
        self.requests += 1

    def remove(self, relay: RelayTrack) -> None:
        pass


def _queued(relay: RelayTrack) -> list[Any]:
    return list(relay._queue._queue)  # type: ignore[attr-defined]  # the test reads what recv() would return


async def test_a_video_relay_starts_at_a_keyframe_and_restarts_at_one_after_a_drop() -> None:
    """Every frame it cannot use while it waits asks for a keyframe again (the forwarder throttles
    the PLIs): a lost request must not leave the subscriber without a picture."""
    counter = _KeyframeCounter()
    relay = RelayTrack("video", counter, maxsize=3)  # type: ignore[arg-type]
    relay.put_encoded("delta0", False)  # type: ignore[arg-type]
    assert _queued(relay) == [] and counter.requests == 1  # undecodable before a keyframe: asked again
    for name, key in (("key1", True), ("delta2", False), ("delta3", False)):
        relay.put_encoded(name, key)  # type: ignore[arg-type]
    assert _queued(relay) == ["key1", "delta2", "delta3"] and counter.requests == 1
    relay.put_encoded("delta4", False)  # type: ignore[arg-type]  # full: the subscriber fell behind
    assert _queued(relay) == [] and counter.requests == 2
    relay.put_encoded("delta5", False)  # type: ignore[arg-type]
    assert _queued(relay) == [] and counter.requests == 3
    relay.put_encoded("key6", True)  # type: ignore[arg-type]
    relay.put_encoded("delta7", False)  # type: ignore[arg-type]
    assert _queued(relay) == ["key6", "delta7"] and counter.requests == 3
    relay.stop()


async def test_an_audio_relay_drops_its_oldest_frame_without_asking_for_keyframes() -> None:
    counter = _KeyframeCounter()
    relay = RelayTrack("audio", counter, maxsize=2)  # type: ignore[arg-type]
    for n in range(4):
        relay.put_encoded(f"opus{n}", True)  # type: ignore[arg-type]
    assert _queued(relay) == ["opus2", "opus3"] and counter.requests == 0
    relay.stop()


async def test_keyframe_requests_are_limited_to_one_per_interval_and_none_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()

    async def pli() -> None:
        sent.append(loop.time())

    monkeypatch.setattr("compat.devserver.media.request_keyframe", lambda receiver: pli())

    class Source:
        kind = "video"

        async def recv(self) -> None:
            await asyncio.Event().wait()

        def stop(self) -> None:
            pass

    forwarder = TrackForwarder(Source(), "a/cam", receiver=object(), mime_type="video/VP8")  # type: ignore[arg-type]
    forwarder._task = loop.create_task(Source().recv())  # started, without hooking a real receiver
    try:
        for _ in range(5):
            forwarder.request_keyframe()
        await wait_for(lambda: len(sent) == 1, what="the first PLI at once")
        await wait_for(lambda: len(sent) == 2, 2.0, "one more PLI for the asks within the interval")
        await asyncio.sleep(0.5)
        assert len(sent) == 2 and forwarder.keyframe_requests == 2
        assert sent[1] - sent[0] >= 0.3 - 0.01
    finally:
        forwarder._task.cancel()
