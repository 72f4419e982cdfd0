"""The compat demo: two bots meet in one room on the embedded dev server, talk and exchange data.

    scripts/demo            (runs this inside a private network namespace)

Each bot publishes a tone of its own pitch, sends a data message, and prints what it heard:
the pitch of the other's audio and the messages it received.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import logging
import sys
import warnings

import numpy as np
from livekit import api, rtc

from compat.devserver import DevServer

SAMPLE_RATE = 48000
FRAME = 480


def token(server: DevServer, identity: str, room: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(minutes=10))
        .to_jwt()
    )


class Bot:
    def __init__(self, identity: str, pitch: float) -> None:
        self.identity = identity
        self.pitch = pitch
        self.room = rtc.Room()
        self.messages: list[str] = []
        self.heard: asyncio.Future[rtc.Track] = asyncio.get_running_loop().create_future()
        self.room.on("data_received", self._on_data)
        self.room.on("track_subscribed", self._on_track)
        self._tone: asyncio.Task[None] | None = None

    def _on_data(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant.identity if packet.participant else "server"
        self.messages.append(f"{sender}: {packet.data.decode()}")

    def _on_track(self, track: rtc.Track, publication: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and not self.heard.done():
            self.heard.set_result(track)

    async def join(self, url: str, jwt: str) -> None:
        await self.room.connect(url, jwt, rtc.RoomOptions(connect_timeout=10))
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track(f"{self.identity}-voice", source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._tone = asyncio.create_task(self._speak(source))

    async def _speak(self, source: rtc.AudioSource) -> None:
        n = 0
        while True:
            t = (np.arange(FRAME) + n) / SAMPLE_RATE
            n += FRAME
            samples = (0.3 * 32767 * np.sin(2 * np.pi * self.pitch * t)).astype(np.int16)
            await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME))

    async def listen(self, seconds: float) -> float:
        """The dominant frequency of what this bot hears from the other, over `seconds`."""
        track = await asyncio.wait_for(self.heard, 15)
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        chunks: list[np.ndarray] = []
        wanted = int(seconds * SAMPLE_RATE / FRAME)

        async def collect() -> None:
            async for event in stream:
                chunks.append(np.frombuffer(event.frame.data, dtype=np.int16))
                if len(chunks) >= wanted:
                    return

        try:
            await asyncio.wait_for(collect(), seconds + 10)
        finally:
            await stream.aclose()
        x = np.concatenate(chunks[len(chunks) // 4 :]).astype(np.float64)
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)[spectrum.argmax()])

    async def leave(self) -> None:
        if self._tone is not None:
            self._tone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tone
        await self.room.disconnect()


async def main(seconds: float) -> int:
    async with DevServer(port=0) as server:
        print(f"dev server: {server.url} (key {server.api_key})")
        alice, bob = Bot("alice", 440.0), Bot("bob", 660.0)
        await alice.join(server.url, token(server, "alice", "demo"))
        await bob.join(server.url, token(server, "bob", "demo"))
        print("alice and bob joined room 'demo'")
        await alice.room.local_participant.publish_data(b"hello from alice", reliable=True, topic="chat")
        await bob.room.local_participant.publish_data(b"hello from bob", reliable=True, topic="chat")
        heard_by_alice, heard_by_bob = await asyncio.gather(alice.listen(seconds), bob.listen(seconds))
        print(f"alice heard a {heard_by_alice:.0f} Hz tone (bob sends 660 Hz); messages: {alice.messages}")
        print(f"bob heard a {heard_by_bob:.0f} Hz tone (alice sends 440 Hz); messages: {bob.messages}")
        await alice.leave()
        await bob.leave()
        ok = abs(heard_by_alice - 660) < 20 and abs(heard_by_bob - 440) < 20 and alice.messages and bob.messages
        print("demo OK" if ok else "demo FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)  # the SDK logs its /rtc/v1 → /rtc fallback as a warning
    warnings.filterwarnings("ignore", message="The HMAC key is")  # the dev key "secret" is short on purpose
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="how long each bot listens")
    sys.exit(asyncio.run(main(parser.parse_args().seconds)))
