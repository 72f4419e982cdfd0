"""The compat demo: bots meet in one room on the embedded dev server, talk, exchange data, get recorded.

    scripts/demo            (runs this inside a private network namespace)

- a Twilio-API bot, written against ``compat.twilio_video`` exactly as with twilio-video.js, publishes
  a 440 Hz tone and a data track;
- a second bot on plain ``livekit.rtc`` (it becomes the Vonage-API bot once ``compat.vonage`` exists)
  publishes a 660 Hz tone and sends data back;
- the call is recorded through LiveKit's Egress API (``livekit.api``), the dev server writing an Ogg/Opus
  file of the mixed audio.

Each bot prints the pitch it heard and the messages it received; the demo prints where the recording is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from livekit import api, rtc

from compat import twilio_video as Video
from compat.devserver import DevServer

SAMPLE_RATE = 48000
FRAME = 480  # 10 ms
ROOM = "demo"


def token(server: DevServer, identity: str) -> str:
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(api.VideoGrants(room_join=True, room=ROOM))
        .with_ttl(datetime.timedelta(minutes=10))
        .to_jwt()
    )


def tone(pitch: float, start: int) -> np.ndarray:
    t = (np.arange(FRAME) + start) / SAMPLE_RATE
    return (0.3 * 32767 * np.sin(2 * np.pi * pitch * t)).astype(np.int16)


def pitch_of(chunks: list[np.ndarray]) -> float:
    x = np.concatenate(chunks[len(chunks) // 4 :]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)[spectrum.argmax()])


async def twilio_bot(
    server: DevServer, seconds: float, ready: asyncio.Event, done: asyncio.Event, other_done: asyncio.Event
) -> tuple[float, list[str]]:
    """What a Twilio Video bot looks like on compat: the names and events of twilio-video.js."""
    voice = Video.LocalAudioTrack(name="twilio-voice")
    chat = Video.LocalDataTrack(name="chat")
    room = await Video.connect(token(server, "twilio-bot"), {"name": ROOM, "url": server.url})
    messages: list[str] = []
    heard: asyncio.Future[Video.RemoteAudioTrack] = asyncio.get_running_loop().create_future()

    def on_track_subscribed(track: Any, publication: Any, participant: Video.RemoteParticipant) -> None:
        if isinstance(track, Video.RemoteAudioTrack) and not heard.done():
            heard.set_result(track)
        elif isinstance(track, Video.RemoteDataTrack):
            track.on("message", lambda data, _track: messages.append(f"{participant.identity}: {data}"))

    room.on("trackSubscribed", on_track_subscribed)
    await room.localParticipant.publishTrack(voice)
    await room.localParticipant.publishTrack(chat)
    ready.set()

    async def speak() -> None:
        n = 0
        while True:
            await voice.capture_frame(Video.AudioFrame(tone(440, n).tobytes(), SAMPLE_RATE, 1, FRAME))
            n += FRAME

    speaking = asyncio.create_task(speak())
    try:
        chat.send("hello from the Twilio bot")
        track = await asyncio.wait_for(heard, 15)
        chunks: list[np.ndarray] = []
        async with contextlib.aclosing(track.frames(sample_rate=SAMPLE_RATE)) as frames:
            async for frame in frames:
                chunks.append(np.frombuffer(frame.data, dtype=np.int16))
                if len(chunks) * FRAME >= seconds * SAMPLE_RATE:
                    break
        done.set()
        await asyncio.wait_for(other_done.wait(), 15)  # keep talking until the other bot has heard enough
        return pitch_of(chunks), messages
    finally:
        speaking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaking
        room.disconnect()
        await room.wait_closed()


async def rtc_bot(
    server: DevServer, seconds: float, done: asyncio.Event, other_done: asyncio.Event
) -> tuple[float, list[str]]:
    """The other side, on plain livekit.rtc."""
    room = rtc.Room()
    messages: list[str] = []
    heard: asyncio.Future[rtc.Track] = asyncio.get_running_loop().create_future()

    def on_data(packet: rtc.DataPacket) -> None:
        sender = packet.participant.identity if packet.participant else "server"
        messages.append(f"{sender} (topic {packet.topic}): {packet.data.decode()}")

    def on_track(track: rtc.Track, *_: Any) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and not heard.done():
            heard.set_result(track)

    room.on("data_received", on_data)
    room.on("track_subscribed", on_track)
    await room.connect(server.url, token(server, "livekit-bot"), rtc.RoomOptions(connect_timeout=10))
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    await room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("livekit-voice", source),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
    )

    async def speak() -> None:
        n = 0
        while True:
            await source.capture_frame(rtc.AudioFrame(tone(660, n).tobytes(), SAMPLE_RATE, 1, FRAME))
            n += FRAME

    speaking = asyncio.create_task(speak())
    stream: rtc.AudioStream | None = None
    try:
        # The Twilio bot's data track is named "chat": its messages carry that topic.
        await room.local_participant.publish_data(b"hello from the LiveKit bot", reliable=True, topic="chat")
        stream = rtc.AudioStream(await asyncio.wait_for(heard, 15), sample_rate=SAMPLE_RATE, num_channels=1)
        chunks: list[np.ndarray] = []
        async for event in stream:
            chunks.append(np.frombuffer(event.frame.data, dtype=np.int16))
            if len(chunks) * FRAME >= seconds * SAMPLE_RATE:
                break
        done.set()
        await asyncio.wait_for(other_done.wait(), 15)
        return pitch_of(chunks), messages
    finally:
        speaking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaking
        if stream is not None:
            await stream.aclose()
        await room.disconnect()


def tones_in(path: str) -> list[int]:
    """The two loudest pitches of a recording, rounded to 10 Hz."""
    import av

    with av.open(path) as container:
        samples = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])  # first channel
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    peaks: list[int] = []
    for index in np.argsort(spectrum)[::-1]:
        pitch = int(round(freqs[index] / 10) * 10)
        if all(abs(pitch - p) > 50 for p in peaks):
            peaks.append(pitch)
        if len(peaks) == 2:
            break
    return sorted(peaks)


async def record(lkapi: api.LiveKitAPI) -> str:
    info = await lkapi.egress.start_room_composite_egress(
        api.RoomCompositeEgressRequest(
            room_name=ROOM, audio_only=True, file_outputs=[api.EncodedFileOutput(filepath="{room_name}-{time}")]
        )
    )
    return info.egress_id


async def finish_recording(lkapi: api.LiveKitAPI, egress_id: str) -> Any:
    await lkapi.egress.stop_egress(api.StopEgressRequest(egress_id=egress_id))
    for _ in range(200):
        (info,) = (await lkapi.egress.list_egress(api.ListEgressRequest(egress_id=egress_id))).items
        if info.status in (api.EgressStatus.EGRESS_COMPLETE, api.EgressStatus.EGRESS_FAILED):
            return info
        await asyncio.sleep(0.05)
    raise TimeoutError("the recording did not finish within 10 s")


async def main(seconds: float, recordings: Path) -> int:
    async with DevServer(port=0, recordings_dir=str(recordings)) as server:
        print(f"dev server: {server.url} (key {server.api_key}); recordings in {recordings}/")
        lkapi = api.LiveKitAPI(server.http_url, server.api_key, server.api_secret)
        try:
            await lkapi.room.create_room(api.CreateRoomRequest(name=ROOM))
            egress_id = await record(lkapi)
            twilio_ready, twilio_done, rtc_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
            twilio = asyncio.create_task(twilio_bot(server, seconds, twilio_ready, twilio_done, rtc_done))
            await asyncio.wait_for(twilio_ready.wait(), 15)
            (twilio_heard, twilio_got), (rtc_heard, rtc_got) = await asyncio.gather(
                twilio, rtc_bot(server, seconds, rtc_done, twilio_done)
            )
            info = await finish_recording(lkapi, egress_id)
        finally:
            await lkapi.aclose()
    print(f"Twilio bot heard {twilio_heard:.0f} Hz (the LiveKit bot sends 660); messages: {twilio_got}")
    print(f"LiveKit bot heard {rtc_heard:.0f} Hz (the Twilio bot sends 440); messages: {rtc_got}")
    recorded = info.file_results[0] if info.file_results else None
    pitches: list[int] = []
    if recorded is not None:
        pitches = tones_in(recorded.filename)
        print(f"recording: {recorded.filename} ({recorded.duration / 1e9:.1f} s, {recorded.size} bytes; tones {pitches} Hz)")
    else:
        print(f"recording failed: {info.error}")
    ok = (
        abs(twilio_heard - 660) < 20
        and abs(rtc_heard - 440) < 20
        and bool(twilio_got)
        and bool(rtc_got)
        and recorded is not None
        and Path(recorded.filename).is_file()
        and pitches == [440, 660]
    )
    print("demo OK" if ok else "demo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="how long each bot listens")
    parser.add_argument("--recordings", type=Path, default=Path("recordings"), help="where the recording goes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the SDK logs its /rtc/v1 → /rtc fallback as a warning
    warnings.filterwarnings("ignore", message="The HMAC key is")  # the dev key "secret" is short on purpose
    sys.exit(asyncio.run(main(args.seconds, args.recordings.resolve())))
