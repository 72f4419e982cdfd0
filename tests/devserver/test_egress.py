"""Recording (Egress subset): files decoded with PyAV for duration, tone and gaps."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from livekit import api, rtc
from livekit.protocol import egress as egress_pb

from compat.devserver import DevServer, dynacast
from compat.devserver.recorder import Recording, VideoInput
from compat.devserver.testing import SAMPLE_RATE, LiveKitServer, dominant_frequency, free_port, sine
from tests.devserver.test_webhooks import Endpoint, endpoint  # noqa: F401 - fixture
from tests.media import publish_layered_video, publish_video
from tests.support import EventLog, wait_for

Status = egress_pb.EgressStatus


# ---- helpers --------------------------------------------------------------------------------------


def decode_audio(path: str) -> np.ndarray:
    """All audio of a file as mono float samples at 48 kHz."""
    chunks = []
    with av.open(path) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0)
    samples: np.ndarray = np.concatenate(chunks).astype(np.float64) / 32768.0
    return samples


def video_frames(path: str) -> list[Any]:
    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def windows_rms(samples: np.ndarray, window: float = 0.05) -> np.ndarray:
    n = int(SAMPLE_RATE * window)
    usable = len(samples) // n * n
    levels: np.ndarray = np.sqrt(np.mean(samples[:usable].reshape(-1, n) ** 2, axis=1))
    return levels


def silent_runs(samples: np.ndarray, window: float = 0.05, threshold: float = 0.01) -> list[tuple[float, float]]:
    """(start, length) in seconds of each run of silent windows."""
    quiet = windows_rms(samples, window) < threshold
    runs: list[tuple[float, float]] = []
    start: int | None = None
    for i, q in enumerate([*list(quiet), False]):
        if q and start is None:
            start = i
        elif not q and start is not None:
            runs.append((start * window, (i - start) * window))
            start = None
    return runs


class TonePublisher:
    """A microphone track fed with a sine tone in real time; `paused` stops feeding (no frames at all)."""

    def __init__(self, room: rtc.Room, freq: float, name: str = "mic") -> None:
        self.room = room
        self.freq = freq
        self.name = name
        self.paused = False
        self.publication: rtc.LocalTrackPublication | None = None
        self.track: rtc.LocalAudioTrack | None = None
        self._task: asyncio.Task[None] | None = None
        self._source = rtc.AudioSource(SAMPLE_RATE, 1)

    async def __aenter__(self) -> TonePublisher:
        self.track = rtc.LocalAudioTrack.create_audio_track(self.name, self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self.publication = await self.room.local_participant.publish_track(self.track, options)
        self._task = asyncio.create_task(self._feed())
        return self

    async def _feed(self) -> None:
        n = 0
        frame = 480
        start = time.monotonic()
        sent = 0
        while True:
            # Paced by the wall clock so the tone lasts exactly as long as it is fed.
            ahead = start + sent / SAMPLE_RATE - time.monotonic()
            if ahead > 0.05:
                await asyncio.sleep(ahead - 0.04)
                continue
            sent += frame
            if self.paused:
                continue
            data = sine(self.freq, n, frame)
            n += frame
            await self._source.capture_frame(rtc.AudioFrame(data.tobytes(), SAMPLE_RATE, 1, frame))

    async def __aexit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._source.aclose()


@pytest.fixture
async def recorder(tmp_path: Path, endpoint: Endpoint) -> AsyncIterator[LiveKitServer]:  # noqa: F811
    server = DevServer(
        port=0,
        recordings_dir=str(tmp_path),
        webhooks=[endpoint.url],
        empty_timeout=2.0,
        departure_timeout=1.0,
        ping_interval=1,
        ping_timeout=3,
    )
    await server.start()
    try:
        yield LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)
    finally:
        await server.stop()


@pytest.fixture
async def lkapi(recorder: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    async with recorder.api() as client:
        yield client


async def wait_status(lkapi: api.LiveKitAPI, egress_id: str, status: int, timeout: float = 20.0) -> egress_pb.EgressInfo:
    deadline = time.monotonic() + timeout
    while True:
        items = (await lkapi.egress.list_egress(api.ListEgressRequest(egress_id=egress_id))).items
        if items and items[0].status == status:
            return items[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"egress {egress_id} not {Status.Name(status)}: {list(items)}")
        await asyncio.sleep(0.1)


# ---- the recorder alone (no network): timing from frame timestamps and the clock -------------------


def audio_frame(freq: float, start: int, count: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(sine(freq, start, count).reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
    return frame


async def feed_recording(
    recording: Recording, seconds: float, *, drop: Callable[[float], bool], pts_jump: Callable[[float], bool]
) -> None:
    """20 ms frames in real time for `seconds`; `drop(t)` loses a frame (its pts still advances),
    `pts_jump(t)` means the sender sends nothing and its timestamps do not advance either (a paused source)."""
    audio_input = recording.add_audio("t")
    step = 960
    pts = 123_456  # arbitrary RTP start
    n = 0
    start = time.monotonic()
    k = 0
    while True:
        t = k * step / SAMPLE_RATE
        if t >= seconds:
            break
        delay = start + t + step / SAMPLE_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        k += 1
        if pts_jump(t):
            continue
        if not drop(t):
            audio_input.push(audio_frame(440, n, step, pts))
        pts += step
        n += step


@pytest.mark.parametrize("case", ["continuous", "packet_loss", "paused_sender"])
async def test_recording_keeps_wall_clock_time(tmp_path: Path, case: str) -> None:
    path = str(tmp_path / f"{case}.ogg")
    recording = Recording(path, audio=True, video=False)
    await recording.open()
    runner = asyncio.create_task(recording.run())
    gap = (1.0, 2.0)
    in_gap: Callable[[float], bool] = lambda t: gap[0] <= t < gap[1]  # noqa: E731
    never: Callable[[float], bool] = lambda t: False  # noqa: E731
    began = time.monotonic()
    await feed_recording(
        recording,
        3.0,
        drop=in_gap if case == "packet_loss" else never,
        pts_jump=in_gap if case == "paused_sender" else never,
    )
    recording.stop()
    wall = time.monotonic() - began
    await runner
    await recording.finish()
    assert not os.path.exists(path + ".part")
    samples = decode_audio(path)
    duration = len(samples) / SAMPLE_RATE
    assert abs(duration - wall) <= 0.02 * wall, (duration, wall)
    assert abs(dominant_frequency((samples * 32767).astype(np.int16)) - 440) < 10
    long_silences = [(s, length) for s, length in silent_runs(samples) if length >= 0.3]
    if case == "continuous":
        assert long_silences == []
    else:
        ((start, length),) = long_silences
        assert abs(start - gap[0]) < 0.15 and abs(length - (gap[1] - gap[0])) < 0.15, long_silences


async def test_a_removed_video_shows_until_the_timeline_reaches_its_removal(tmp_path: Path) -> None:
    """The mixer writes LATENCY_SECONDS behind the clock: a video input removed (its track gone, or
    the recording stopping) still shows up to the moment it was removed, then the canvas is empty."""
    path = str(tmp_path / "cam.webm")
    recording = Recording(path, audio=False, video=True)
    await recording.open()
    runner = asyncio.create_task(recording.run())
    cam = recording.add_video("cam", "PA_a")
    white = av.VideoFrame.from_ndarray(np.full((180, 320, 3), 255, np.uint8), format="rgb24")
    began = time.monotonic()
    while time.monotonic() - began < 1.0:
        cam.push(white)
        await asyncio.sleep(1 / 15)
    recording.remove_input("cam")
    removed = time.monotonic() - began
    await asyncio.sleep(1.0)
    recording.stop()
    await runner
    await recording.finish()
    lit = [float(frame.mean()) > 128 for frame in video_frames(path)]
    shown = lit.index(False) if False in lit else len(lit)
    assert all(lit[:shown]) and not any(lit[shown:]), lit
    assert abs(shown / 15 - removed) <= 2 / 15, (shown, removed)  # until the removal, to a frame or two
    assert len(lit) / 15 == pytest.approx(2.0, abs=0.25)


# ---- permissions and errors (no media) ---------------------------------------------------------------


EGRESS_CALLS: dict[str, Callable[[api.LiveKitAPI], Awaitable[Any]]] = {
    "StartRoomCompositeEgress": lambda c: c.egress.start_room_composite_egress(
        api.RoomCompositeEgressRequest(room_name="r", audio_only=True, file_outputs=[api.EncodedFileOutput()])
    ),
    "StartTrackEgress": lambda c: c.egress.start_track_egress(
        api.TrackEgressRequest(room_name="r", track_id="TR_x", file=api.DirectFileOutput(filepath="t.ogg"))
    ),
    "StartParticipantEgress": lambda c: c.egress.start_participant_egress(
        api.ParticipantEgressRequest(room_name="r", identity="a", file_outputs=[api.EncodedFileOutput()])
    ),
    "StopEgress": lambda c: c.egress.stop_egress(api.StopEgressRequest(egress_id="EG_x")),
    "ListEgress": lambda c: c.egress.list_egress(api.ListEgressRequest()),
}


@pytest.mark.parametrize("method", sorted(EGRESS_CALLS))
async def test_egress_methods_need_room_record(recorder: LiveKitServer, lkapi: api.LiveKitAPI, method: str) -> None:
    await lkapi.room.create_room(api.CreateRoomRequest(name="r"))
    call = EGRESS_CALLS[method]
    wrong: list[dict[str, Any]] = [{}, {"room_admin": True, "room": "r", "room_create": True, "room_list": True}]
    for grants in wrong:
        token = api.AccessToken(recorder.api_key, recorder.api_secret).with_grants(api.VideoGrants(**grants)).to_jwt()
        client = api.LiveKitAPI.with_token(token, recorder.url)
        try:
            with pytest.raises(api.TwirpError) as err:
                await call(client)
        finally:
            await client.aclose()
        assert (err.value.status, err.value.code, err.value.message) == (401, "unauthenticated", "permissions denied")
    # With roomRecord the call gets past authorization.
    try:
        await call(lkapi)
    except api.TwirpError as exc:
        assert exc.code != "unauthenticated"


async def test_egress_errors(recorder: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as err:
        await lkapi.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(room_name="nope", audio_only=True, file_outputs=[api.EncodedFileOutput()])
        )
    assert (err.value.status, err.value.code, err.value.message) == (404, "not_found", "requested room does not exist")
    with pytest.raises(api.TwirpError) as err:
        await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id="EG_unknown"))
    assert (err.value.status, err.value.code, err.value.message) == (404, "not_found", "egress does not exist")
    await lkapi.room.create_room(api.CreateRoomRequest(name="r"))
    with pytest.raises(api.TwirpError) as err:
        await lkapi.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(room_name="r", file_outputs=[api.EncodedFileOutput(filepath="../escape.mp4")])
        )
    assert err.value.code == "invalid_argument"
    with pytest.raises(api.TwirpError) as err:
        await lkapi.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(room_name="r", stream_outputs=[api.StreamOutput(urls=["rtmp://x"])])
        )
    assert err.value.code == "invalid_argument"
    failed = await lkapi.egress.start_track_egress(
        api.TrackEgressRequest(room_name="r", track_id="TR_missing", file=api.DirectFileOutput(filepath="t.ogg"))
    )
    assert failed.status == Status.EGRESS_FAILED and failed.error == "track not found"
    with pytest.raises(api.TwirpError) as err:
        await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=failed.egress_id))
    assert (err.value.status, err.value.code, err.value.message) == (
        412, "failed_precondition", "egress with status EGRESS_FAILED cannot be stopped")


async def test_empty_room_composite_records_silence_of_the_right_length(
    recorder: LiveKitServer, lkapi: api.LiveKitAPI, endpoint: Endpoint  # noqa: F811
) -> None:
    await lkapi.room.create_room(api.CreateRoomRequest(name="quiet"))
    info = await lkapi.egress.start_room_composite_egress(
        api.RoomCompositeEgressRequest(
            room_name="quiet", audio_only=True, file_outputs=[api.EncodedFileOutput(filepath="quiet/{room_name}")]
        )
    )
    began = time.monotonic()
    assert info.status == Status.EGRESS_STARTING and info.egress_id.startswith("EG_")
    await wait_status(lkapi, info.egress_id, Status.EGRESS_ACTIVE)
    assert recorder.embedded.rooms["quiet"].info.active_recording
    await asyncio.sleep(1.5)
    stopping = await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=info.egress_id))
    wall = time.monotonic() - began
    assert stopping.status == Status.EGRESS_ENDING
    done = await wait_status(lkapi, info.egress_id, Status.EGRESS_COMPLETE)
    assert not recorder.embedded.rooms["quiet"].info.active_recording
    (result,) = done.file_results
    assert result.filename.endswith("quiet/quiet.ogg") and os.path.getsize(result.filename) == result.size
    samples = decode_audio(result.filename)
    assert abs(len(samples) / SAMPLE_RATE - wall) < 0.2 and float(np.max(np.abs(samples))) < 0.01
    assert abs(result.duration / 1e9 - len(samples) / SAMPLE_RATE) < 0.05
    with pytest.raises(api.TwirpError) as err:
        await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=info.egress_id))
    assert err.value.code == "failed_precondition"
    events = await endpoint.wait("egress_ended")
    statuses = [(e.event, e.egress_info.status) for e in endpoint.events if e.event.startswith("egress")]
    assert statuses == [
        ("egress_started", Status.EGRESS_STARTING),
        ("egress_updated", Status.EGRESS_ACTIVE),
        ("egress_updated", Status.EGRESS_ENDING),
        ("egress_ended", Status.EGRESS_COMPLETE),
    ]
    assert events[0].egress_info.file_results[0].filename == result.filename


# ---- with real participants ---------------------------------------------------------------------------


@pytest.mark.media
async def test_track_egress_of_a_tone_has_its_duration_and_the_muted_gap(
    recorder: LiveKitServer, lkapi: api.LiveKitAPI
) -> None:
    a = await recorder.connect("a", "r")
    try:
        async with TonePublisher(a, 440) as tone:
            assert tone.publication is not None and tone.track is not None
            await wait_for(lambda: _track_ready(recorder, "r", "a"), 10.0, "media of a's track at the server")
            info = await lkapi.egress.start_track_egress(
                api.TrackEgressRequest(room_name="r", track_id=tone.publication.sid,
                                       file=api.DirectFileOutput(filepath="{track_id}"))
            )
            began = time.monotonic()
            marks: list[float] = []  # when each change was made: a loaded machine oversleeps
            await asyncio.sleep(1.5)
            tone.paused = True  # the sender sends nothing for a second
            marks.append(time.monotonic() - began)
            await asyncio.sleep(1.0)
            tone.paused = False
            marks.append(time.monotonic() - began)
            await asyncio.sleep(1.0)
            tone.track.mute()  # then muted for a second
            marks.append(time.monotonic() - began)
            await asyncio.sleep(1.0)
            tone.track.unmute()
            marks.append(time.monotonic() - began)
            await asyncio.sleep(1.5)
            await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=info.egress_id))
            wall = time.monotonic() - began
        done = await wait_status(lkapi, info.egress_id, Status.EGRESS_COMPLETE)
    finally:
        await a.disconnect()
    (result,) = done.file_results
    assert result.filename.endswith(f"{tone.publication.sid}.ogg")
    samples = decode_audio(result.filename)
    duration = len(samples) / SAMPLE_RATE
    assert abs(duration - wall) <= 0.02 * wall, (duration, wall)
    assert abs(dominant_frequency((samples * 32767).astype(np.int16)) - 440) < 10
    gaps = [(round(s, 2), round(n, 2)) for s, n in silent_runs(samples) if n >= 0.4]
    assert len(gaps) == 2, gaps
    # Where the recording is silent is where the sender was, give or take the audio the publisher
    # had queued when it stopped (it still plays out) and the egress RPC's own latency.
    for (at, length), start, end in zip(gaps, marks[0::2], marks[1::2], strict=True):
        assert abs(at - start) < 0.35 and abs(length - (end - start)) < 0.35, (gaps, marks)


def _track_ready(server: LiveKitServer, room: str, identity: str) -> bool:
    r = server.embedded.rooms.get(room)
    p = r.participants.get(identity) if r is not None else None
    return p is not None and any(t.forwarder is not None and t.forwarder.frames > 0 for t in p.tracks.values())


@pytest.mark.media
async def test_room_composite_audio_mixes_everyone_and_clients_see_recording(
    recorder: LiveKitServer, lkapi: api.LiveKitAPI
) -> None:
    a = await recorder.connect("a", "r")
    b = await recorder.connect("b", "r")
    log_b = EventLog()
    log_b.listen(b, "room_updated")
    try:
        async with TonePublisher(a, 440), TonePublisher(b, 1200):
            await wait_for(lambda: _track_ready(recorder, "r", "a") and _track_ready(recorder, "r", "b"), 10.0, "media")
            info = await lkapi.egress.start_room_composite_egress(
                api.RoomCompositeEgressRequest(room_name="r", audio_only=True, file_outputs=[api.EncodedFileOutput()])
            )
            await wait_for(lambda: b.is_recording, 10.0, "the client to see the recording")
            await asyncio.sleep(2.0)
            await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=info.egress_id))
            done = await wait_status(lkapi, info.egress_id, Status.EGRESS_COMPLETE)
            await wait_for(lambda: not b.is_recording, 10.0, "the client to see the recording end")
    finally:
        await a.disconnect()
        await b.disconnect()
    (result,) = done.file_results
    assert result.filename.endswith(".ogg")
    samples = decode_audio(result.filename)
    spectrum = np.abs(np.fft.rfft(samples[SAMPLE_RATE // 2 :]))
    freqs = np.fft.rfftfreq(len(samples) - SAMPLE_RATE // 2, 1 / SAMPLE_RATE)
    peaks = sorted(freqs[np.argsort(spectrum)[-40:]])
    assert any(abs(f - 440) < 10 for f in peaks) and any(abs(f - 1200) < 10 for f in peaks), peaks


@pytest.mark.media
async def test_room_composite_with_video_and_participant_egress(recorder: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    a = await recorder.connect("a", "r")
    try:
        async with TonePublisher(a, 440), publish_video(a, 320, 240):
            await wait_for(lambda: _track_ready(recorder, "r", "a"), 10.0, "media")
            await wait_for(
                lambda: sum(1 for t in recorder.embedded.rooms["r"].participants["a"].tracks.values()
                            if t.forwarder is not None) == 2, 10.0, "both tracks")
            grid = await lkapi.egress.start_room_composite_egress(
                api.RoomCompositeEgressRequest(room_name="r", layout="grid", file_outputs=[api.EncodedFileOutput()])
            )
            video_sid = next(p.sid for p in a.local_participant.track_publications.values()
                             if p.kind == rtc.TrackKind.KIND_VIDEO)
            video_track = await lkapi.egress.start_track_egress(
                api.TrackEgressRequest(room_name="r", track_id=video_sid, file=api.DirectFileOutput(filepath="cam"))
            )
            person = await lkapi.egress.start_participant_egress(
                api.ParticipantEgressRequest(room_name="r", identity="a",
                                             file_outputs=[api.EncodedFileOutput(filepath="person-{publisher_identity}")])
            )
            await asyncio.sleep(2.5)
            await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=grid.egress_id))
        # The participant egress ends when its participant leaves.
        await a.disconnect()
        person_done = await wait_status(lkapi, person.egress_id, Status.EGRESS_COMPLETE)
        grid_done = await wait_status(lkapi, grid.egress_id, Status.EGRESS_COMPLETE)
        track_done = await wait_status(lkapi, video_track.egress_id, Status.EGRESS_COMPLETE)
    finally:
        await a.disconnect()
    (track_file,) = track_done.file_results
    assert track_file.filename.endswith("cam.webm")
    frames = video_frames(track_file.filename)
    assert abs(len(frames) - track_file.duration / 1e9 * 15) <= 3 and len(frames) > 15
    # The recording ends on the last picture, not on black (its last tenths are written at the stop).
    assert frames[-1].mean() > 10, [round(float(f.mean())) for f in frames[-10:]]
    with av.open(track_file.filename) as container:
        assert not container.streams.audio
    for done in (grid_done, person_done):
        (result,) = done.file_results
        assert result.filename.endswith(".mp4")
        duration = result.duration / 1e9
        frames = video_frames(result.filename)
        assert abs(len(frames) - duration * 15) <= 3, (len(frames), duration)
        # The published picture (green channel 128) shows in the middle of the canvas.
        middle = frames[len(frames) // 2]
        h, w, _ = middle.shape
        assert abs(int(middle[h // 2, w // 2, 1]) - 128) < 30, middle[h // 2, w // 2]
        samples = decode_audio(result.filename)
        assert abs(len(samples) / SAMPLE_RATE - duration) < 0.1
        assert abs(dominant_frequency((samples * 32767).astype(np.int16)) - 440) < 10
    assert os.path.basename(person_done.file_results[0].filename) == "person-a.mp4"


@pytest.mark.media
async def test_track_egress_ends_when_its_participant_leaves(recorder: LiveKitServer, lkapi: api.LiveKitAPI) -> None:
    a = await recorder.connect("a", "r")
    async with TonePublisher(a, 440) as tone:
        assert tone.publication is not None
        await wait_for(lambda: _track_ready(recorder, "r", "a"), 10.0, "media")
        info = await lkapi.egress.start_track_egress(
            api.TrackEgressRequest(room_name="r", track_id=tone.publication.sid, file=api.DirectFileOutput())
        )
        await asyncio.sleep(1.0)
        await a.disconnect()
    done = await wait_status(lkapi, info.egress_id, Status.EGRESS_COMPLETE)
    samples = decode_audio(done.file_results[0].filename)
    assert len(samples) / SAMPLE_RATE > 0.8


@pytest.mark.media
async def test_stopping_the_server_mid_recording_leaves_a_complete_file(
    tmp_path: Path, endpoint: Endpoint  # noqa: F811
) -> None:
    server = DevServer(port=0, recordings_dir=str(tmp_path), webhooks=[endpoint.url])
    await server.start()
    lk = LiveKitServer(server.url, server.api_key, server.api_secret, embedded=server)
    a = await lk.connect("a", "r")
    lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    try:
        async with TonePublisher(a, 440):
            await wait_for(lambda: _track_ready(lk, "r", "a"), 10.0, "media")
            info = await lkapi.egress.start_room_composite_egress(
                api.RoomCompositeEgressRequest(room_name="r", audio_only=True,
                                               file_outputs=[api.EncodedFileOutput(filepath="shutdown")])
            )
            await asyncio.sleep(2.0)
            began_stop = time.monotonic()
            await server.stop()
            assert time.monotonic() - began_stop < 30
    finally:
        await lkapi.aclose()
        await a.disconnect()
    path = tmp_path / "shutdown.ogg"
    assert path.exists() and not (tmp_path / "shutdown.ogg.part").exists()
    samples = decode_audio(str(path))
    assert 1.8 < len(samples) / SAMPLE_RATE < 3.5
    assert abs(dominant_frequency((samples * 32767).astype(np.int16)) - 440) < 10
    ended = [e for e in endpoint.events if e.event == "egress_ended"]
    assert [e.egress_info.egress_id for e in ended] == [info.egress_id]
    assert ended[0].egress_info.status == Status.EGRESS_COMPLETE
    assert ended[0].egress_info.file_results[0].size == path.stat().st_size


@pytest.mark.media
async def test_sigterm_to_the_dev_server_process_finishes_the_recording(tmp_path: Path) -> None:
    import signal
    import sys

    port = free_port()
    with (tmp_path / "server.log").open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "compat.devserver", "--port", str(port), "--recordings-dir", str(tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=log_file,
        )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20.0)
        assert b"dev server on" in line, line
        lk = LiveKitServer(f"ws://127.0.0.1:{port}", "devkey", "secret")
        a = await lk.connect("a", "r")
        lkapi = api.LiveKitAPI(lk.url, lk.api_key, lk.api_secret)
        try:
            async with TonePublisher(a, 440):
                await asyncio.sleep(1.0)
                await lkapi.egress.start_room_composite_egress(
                    api.RoomCompositeEgressRequest(room_name="r", audio_only=True,
                                                   file_outputs=[api.EncodedFileOutput(filepath="term")])
                )
                await asyncio.sleep(2.0)
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), 30.0)
                assert code == 0
        finally:
            await lkapi.aclose()
            await a.disconnect()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log
    path = tmp_path / "term.ogg"
    assert path.exists() and not (tmp_path / "term.ogg.part").exists()
    samples = decode_audio(str(path))
    assert 1.8 < len(samples) / SAMPLE_RATE < 3.5
    assert abs(dominant_frequency((samples * 32767).astype(np.int16)) - 440) < 10


def test_compositor_grid_and_single_speaker() -> None:
    from compat.devserver.recorder import Compositor, VideoInput

    def solid(red: int) -> Any:
        image = np.zeros((120, 160, 3), np.uint8)
        image[:, :, 0] = red
        return av.VideoFrame.from_ndarray(image, format="rgb24")

    inputs = [VideoInput("t1", "PA_one"), VideoInput("t2", "PA_two")]
    inputs[0].push(solid(200))
    inputs[1].push(solid(60))
    grid = Compositor(640, 360, "grid").compose(inputs, None)
    assert abs(int(grid[180, 160, 0]) - 200) < 20 and abs(int(grid[180, 480, 0]) - 60) < 20
    speaker = Compositor(640, 360, "speaker").compose(inputs, "PA_two")
    assert abs(int(speaker[180, 320, 0]) - 60) < 20 and abs(int(speaker[180, 160, 0]) - 60) < 20
    empty = Compositor(640, 360, "grid").compose([VideoInput("t3", "PA_three")], None)
    assert int(empty.max()) == 0


@pytest.mark.media
async def test_a_dynacast_publisher_nobody_watches_is_recorded_in_full(
    recorder: LiveKitServer, lkapi: api.LiveKitAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With dynacast, a video nobody subscribes to is turned off after the initial wait; a track
    egress started then turns it back on (a recorder wants the best layer), so the recording is
    not empty, and the recorder ends on the top layer."""
    monkeypatch.setattr(dynacast, "INITIAL_WAIT", 0.3)
    a = await recorder.connect("a", "r", options=rtc.RoomOptions(dynacast=True))
    try:
        async with publish_layered_video(a, rtc.VideoCodec.VP8) as local:
            await wait_for(lambda: local.sid in recorder.embedded.rooms["r"].participants["a"].tracks, 10.0, "published")
            forwarder = recorder.embedded.rooms["r"].participants["a"].tracks[local.sid].forwarder
            assert forwarder is not None
            await wait_for(lambda: forwarder.dynacast is not None and forwarder.dynacast.committed == dynacast.OFF,
                           10.0, "every layer turned off")
            await asyncio.sleep(1.5)
            assert not [rid for rid in forwarder.layer_quality if not forwarder.layer_paused(rid)]
            info = await lkapi.egress.start_track_egress(
                api.TrackEgressRequest(room_name="r", track_id=local.sid, file=api.DirectFileOutput(filepath="cam"))
            )
            await wait_for(lambda: forwarder.dynacast.committed == dynacast.HIGH, 5.0, "HIGH: the recorder attached")
            # (libwebrtc's bandwidth estimate, down while nothing was sent, climbs back to the top layer)
            await wait_for(lambda: not forwarder.layer_paused("f"), 30.0, "the top layer back on")
            await wait_for(lambda: forwarder._sink_layer == "f", 10.0, "the recorder on the top layer")
            await asyncio.sleep(2.0)
        done = await stop_and_wait(lkapi, info)
    finally:
        await a.disconnect()
    # The publisher's bars, from the top layer (the file's canvas is 640x360 whatever the layer).
    assert_bars_recorded(done, seconds=2)


async def stop_and_wait(lkapi: api.LiveKitAPI, info: egress_pb.EgressInfo) -> egress_pb.EgressInfo:
    await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=info.egress_id))
    return await wait_status(lkapi, info.egress_id, Status.EGRESS_COMPLETE)


def assert_bars_recorded(done: egress_pb.EgressInfo, seconds: float) -> None:
    """A finished track egress's file holds ``seconds`` of 15 fps video showing the publisher's
    bars (tests.media.publish_layered_video) to its end, not black."""
    (result,) = done.file_results
    frames = video_frames(result.filename)
    assert len(frames) >= seconds * 15, len(frames)
    assert frames[-15].std() > 20 and frames[-1].std() > 20


@pytest.mark.media
@pytest.mark.parametrize("codec", [rtc.VideoCodec.VP9, rtc.VideoCodec.AV1], ids=["vp9", "av1"])
async def test_an_svc_track_is_recorded(
    recorder: LiveKitServer, lkapi: api.LiveKitAPI, codec: rtc.VideoCodec.ValueType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VP9 and AV1 (three spatial layers, L3T3_KEY) are forwarded as they come; a track egress
    rebuilds their bitstream and decodes it once, off the forwarding path (it was refused before:
    aiortc decodes neither)."""
    sizes: list[tuple[int, int]] = []
    push = VideoInput.push
    def record_size(self: VideoInput, frame: Any) -> None:
        sizes.append((frame.width, frame.height))
        push(self, frame)

    monkeypatch.setattr(VideoInput, "push", record_size)
    a = await recorder.connect("a", "r")
    try:
        async with publish_layered_video(a, codec) as local:
            await wait_for(lambda: local.sid in recorder.embedded.rooms["r"].participants["a"].tracks, 10.0, "published")
            info = await lkapi.egress.start_track_egress(
                api.TrackEgressRequest(room_name="r", track_id=local.sid, file=api.DirectFileOutput(filepath="cam"))
            )
            await asyncio.sleep(4.0)
        done = await stop_and_wait(lkapi, info)
    finally:
        await a.disconnect()
    assert_bars_recorded(done, seconds=3)
    # The top spatial layer the publisher sends (its bandwidth estimate starts it on two of three),
    # decoded on the base layer it depends on.
    assert max(sizes) >= (640, 360), sorted(set(sizes))
