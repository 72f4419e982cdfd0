"""The compat demo: bots meet in one room on the embedded dev server, talk, exchange data, get recorded.

    scripts/demo            (runs this inside a private network namespace)

- a Twilio-API bot, written against ``compat.twilio_video`` exactly as with twilio-video.js, publishes
  a 440 Hz tone and a data track;
- a Vonage-API bot, written in the style of the Vonage Video Connector (``compat.vonage.video_connector``,
  a drop-in for ``vonage_video_connector``: synchronous calls, callbacks on a worker thread), publishes
  on ``on_connected_cb``, subscribes on ``on_stream_received_cb``, ``add_audio``s a 660 Hz tone after
  ``on_ready_for_audio_cb``, hears the mix on ``on_audio_data_cb`` and sends an OpenTok signal;
- the call is recorded through LiveKit's Egress API (``livekit.api``), the dev server writing an Ogg/Opus
  file of the mixed audio.

Each bot prints the pitch it heard and the messages it received; the demo prints where the recording is.

Audio crosses vendors both ways. Messages do not, by design: each bot sends its own vendor's kind
(a Twilio data-track message, an OpenTok signal) and the demo shows what each side can read. A
Twilio data track is not a signal (the connector reads only signals), and signals travel on a
topic reserved for the Vonage models (``compat.vonage.signal``), which the Twilio model ignores.
The Vonage bot reads its own broadcast, which OpenTok echoes to its sender.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import logging
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from livekit import api

from compat import twilio_video as Video
from compat.devserver import DevServer
from compat.vonage import generate_token
from compat.vonage import video_connector as vonage_video_connector
from compat.vonage.video_connector.models import (
    AudioData,
    Connection,
    PublisherSettings,
    Session,
    SessionAudioSettings,
    SessionAVSettings,
    SessionSettings,
)

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


def tone(pitch: float, start: int, count: int = FRAME) -> np.ndarray:
    t = (np.arange(count) + start) / SAMPLE_RATE
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


class VonageBot:
    """What a Vonage Video Connector bot looks like on compat: ``VonageVideoClient``, synchronous
    calls, every outcome on a callback (on the client's worker thread), media pushed by a thread
    of our own, as with ``vonage_video_connector``."""

    def __init__(self, url: str, seconds: float) -> None:
        self.client = vonage_video_connector.VonageVideoClient(url=url)
        self.seconds = seconds
        self.chunks: list[np.ndarray] = []  # the session's mixed audio: what the bot hears
        self.signals: list[str] = []
        self.errors: list[str] = []
        self.heard_enough = threading.Event()
        self._stop = threading.Event()
        self._speaker: threading.Thread | None = None

    def start(self, token: str) -> bool:
        audio = SessionAudioSettings(sample_rate=SAMPLE_RATE, number_of_channels=1)
        return self.client.connect(
            application_id="demo",  # accepted, unused: the token names the LiveKit key
            session_id=ROOM,
            token=token,
            session_settings=SessionSettings(av=SessionAVSettings(audio_publisher=audio, audio_subscribers_mix=audio)),
            on_error_cb=lambda session, description, code: self.errors.append(f"{code}: {description}"),
            on_connected_cb=self.on_connected,
            on_stream_received_cb=lambda session, stream: self.client.subscribe(stream),
            on_ready_for_audio_cb=self.on_ready_for_audio,
            on_audio_data_cb=self.on_audio_data,
            on_signal_cb=self.on_signal,
        )

    def on_connected(self, session: Session) -> None:
        self.client.publish(PublisherSettings(name="vonage-voice", has_audio=True, has_video=False))
        # A broadcast OpenTok signal: compat clients on the OpenTok model or the connector read
        # it; OpenTok echoes a broadcast to its sender, so this bot reads it too.
        self.client.send_signal(type="chat", data="hello from the Vonage bot")

    def on_ready_for_audio(self, session: Session) -> None:
        self._speaker = threading.Thread(target=self.speak, name="vonage-bot-speaker", daemon=True)
        self._speaker.start()

    def on_audio_data(self, session: Session, audio_data: AudioData) -> None:
        self.chunks.append(np.frombuffer(bytes(audio_data.sample_buffer), dtype=np.int16))
        if len(self.chunks) * FRAME >= self.seconds * SAMPLE_RATE:
            self.heard_enough.set()

    def on_signal(self, session: Session, type: str, data: str, connection: Connection | None) -> None:
        own = self.client.get_connection()
        sender = "itself" if connection is not None and own is not None and connection.id == own.id else connection
        self.signals.append(f"{type}: {data} (from {sender})")

    def speak(self) -> None:
        """add_audio 40 ms chunks, keeping about 100 ms queued ahead of real time."""
        chunk, n, start = 4 * FRAME, 0, time.monotonic()
        while not self._stop.is_set():
            samples = tone(660, n, chunk)
            self.client.add_audio(AudioData(
                sample_buffer=memoryview(samples.tobytes()).cast("h"), sample_rate=SAMPLE_RATE,
                number_of_channels=1, number_of_frames=chunk,
            ))
            n += chunk
            self._stop.wait(max(0.0, start + n / SAMPLE_RATE - 0.1 - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._speaker is not None:
            self._speaker.join(2)
        self.client.unpublish()
        self.client.disconnect()  # from a plain thread: waits (bounded) for the client's threads

    def pitch(self) -> float:
        return pitch_of(self.chunks) if self.chunks else 0.0


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


async def run_bots(server: DevServer, seconds: float) -> tuple[tuple[float, list[str]], VonageBot]:
    """Both bots in the room until each has heard ``seconds`` of the other."""
    twilio_ready, twilio_done, vonage_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    twilio = asyncio.create_task(twilio_bot(server, seconds, twilio_ready, twilio_done, vonage_done))
    await asyncio.wait_for(twilio_ready.wait(), 15)
    vonage = VonageBot(server.url, seconds)
    try:
        if not vonage.start(generate_token(server.api_key, server.api_secret, ROOM, identity="vonage-bot", name="Vonage bot")):
            vonage.errors.append("connect() refused")
        if not await asyncio.to_thread(vonage.heard_enough.wait, 20):  # a blocking wait: off the loop
            vonage.errors.append("heard too little within 20 s")
        vonage_done.set()
        result = await twilio  # the Twilio bot returns once it has heard enough too
        return result, vonage
    finally:
        if not twilio.done():
            twilio.cancel()
        await asyncio.to_thread(vonage.stop)


def report(twilio_heard: float, twilio_got: list[str], vonage: VonageBot) -> bool:
    """Print what each bot heard and read; True when it is what the two vendors' models promise."""
    vonage_heard = vonage.pitch()
    print(f"Twilio bot heard {twilio_heard:.0f} Hz (the Vonage bot sends 660); data-track messages: {twilio_got}")
    print(f"Vonage bot heard {vonage_heard:.0f} Hz (the Twilio bot sends 440); signals: {vonage.signals}")
    print("  across vendors: audio crosses both ways; messages do not. The Twilio bot's data track (topic 'chat')")
    print("  is not an OpenTok signal and the connector reads only signals; the Vonage bot's signal travels on the")
    print("  reserved topic compat.vonage.signal, which the Twilio model ignores (docs/parity.md, Signals).")
    if vonage.errors:
        print(f"Vonage bot errors: {vonage.errors}")
    return (
        abs(twilio_heard - 660) < 20
        and abs(vonage_heard - 440) < 20
        and twilio_got == []
        and vonage.signals == ["chat: hello from the Vonage bot (from itself)"]
        and not vonage.errors
    )


async def main(seconds: float, recordings: Path) -> int:
    async with DevServer(port=0, recordings_dir=str(recordings)) as server:
        print(f"dev server: {server.url} (key {server.api_key}); recordings in {recordings}/")
        lkapi = api.LiveKitAPI(server.http_url, server.api_key, server.api_secret)
        try:
            await lkapi.room.create_room(api.CreateRoomRequest(name=ROOM))
            egress_id = await record(lkapi)
            (twilio_heard, twilio_got), vonage = await run_bots(server, seconds)
            info = await finish_recording(lkapi, egress_id)
        finally:
            await lkapi.aclose()
    ok = report(twilio_heard, twilio_got, vonage)
    recorded = info.file_results[0] if info.file_results else None
    pitches: list[int] = []
    if recorded is not None:
        pitches = tones_in(recorded.filename)
        print(f"recording: {recorded.filename} ({recorded.duration / 1e9:.1f} s, {recorded.size} bytes; tones {pitches} Hz)")
    else:
        print(f"recording failed: {info.error}")
    ok = ok and recorded is not None and Path(recorded.filename).is_file() and pitches == [440, 660]
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
