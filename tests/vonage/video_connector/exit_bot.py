"""A small Video Connector bot, used to check that a process using compat.vonage.video_connector
exits cleanly (run by exit_runner.py, which reuses tests/core/exit_runner.py).

As a Video Connector bot is written: connect, publish on ``on_connected_cb``, subscribe on
``on_stream_received_cb``, ``add_audio`` a tone from a thread of its own once
``on_ready_for_audio_cb`` came, hear the remote peer (the runner's Twilio-API peer, 660 Hz) on the
subscriber's ``on_audio_data_cb``, ``disconnect()`` and return from ``main``: no ``os._exit``,
nothing special at the end. The process's exit status must be 0. ``--leave-open`` returns without
disconnecting (the client's daemon threads are left to interpreter exit). Server and credentials
come from ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET``.

    python -m tests.vonage.video_connector.exit_bot --room R --identity bot [--frames 50] [--leave-open]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

from compat.vonage import generate_token
from compat.vonage.video_connector import VonageVideoClient
from compat.vonage.video_connector.models import (
    AudioData,
    PublisherSettings,
    Session,
    SessionAudioSettings,
    SessionAVSettings,
    SessionSettings,
    Stream,
    Subscriber,
)

SAMPLE_RATE = 48000
CHUNK = 960  # 20 ms


class ExitBot:
    def __init__(self, url: str, frames: int) -> None:
        self.client = VonageVideoClient(url=url)
        self.frames = frames
        self.heard = 0
        self.ready = threading.Event()  # on_ready_for_audio_cb: our tone is published
        self.done = threading.Event()  # heard enough, or an error
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._speaker = threading.Thread(target=self.speak, name="exit-bot-speaker", daemon=True)

    def start(self, room: str, token: str) -> bool:
        audio = SessionAudioSettings(sample_rate=SAMPLE_RATE, number_of_channels=1)
        return self.client.connect(
            application_id="exit-bot", session_id=room, token=token,
            session_settings=SessionSettings(av=SessionAVSettings(audio_publisher=audio, audio_subscribers_mix=audio)),
            on_error_cb=self.on_error,
            on_connected_cb=lambda session: self.client.publish(PublisherSettings(name="exit-bot", has_video=False)),
            on_stream_received_cb=self.on_stream_received,
            on_ready_for_audio_cb=self.on_ready_for_audio,
        )

    def on_error(self, session: Session, description: str, code: int) -> None:
        self.errors.append(f"{code}: {description}")
        self.done.set()

    def on_stream_received(self, session: Session, stream: Stream) -> None:
        self.client.subscribe(stream, on_audio_data_cb=self.on_audio)

    def on_ready_for_audio(self, session: Session) -> None:
        self.ready.set()
        self._speaker.start()

    def on_audio(self, subscriber: Subscriber, audio_data: AudioData) -> None:
        self.heard += 1
        if self.heard >= self.frames:
            self.done.set()

    def speak(self) -> None:
        """A 440 Hz tone, about 60 ms ahead of real time."""
        n, start = 0, time.monotonic()
        while not self._stop.is_set():
            t = (np.arange(CHUNK) + n) / SAMPLE_RATE
            samples = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
            self.client.add_audio(AudioData(
                sample_buffer=memoryview(samples.tobytes()).cast("h"), sample_rate=SAMPLE_RATE,
                number_of_channels=1, number_of_frames=CHUNK,
            ))
            n += CHUNK
            self._stop.wait(max(0.0, start + n / SAMPLE_RATE - 0.06 - time.monotonic()))

    def finish(self, leave_open: bool) -> None:
        self._stop.set()
        if self._speaker.is_alive():
            self._speaker.join(2)
        if not leave_open:
            self.client.disconnect()  # waits, bounded, for the teardown and the client's threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--room", required=True)
    parser.add_argument("--identity", default="vc-exit-bot")
    parser.add_argument("--frames", type=int, default=50, help="remote 10 ms audio frames to hear")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--leave-open", action="store_true")
    args = parser.parse_args(argv)
    token = generate_token(os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"], args.room, identity=args.identity)
    bot = ExitBot(os.environ["LIVEKIT_URL"], args.frames)
    started = bot.start(args.room, token)
    heard = started and bot.done.wait(args.timeout) and not bot.errors
    ok = heard and bot.ready.is_set()
    bot.finish(args.leave_open)
    print(f"{args.identity}: published {bot.ready.is_set()}, heard {bot.heard} remote frames, errors {bot.errors}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
