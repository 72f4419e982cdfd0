"""The Video Connector receiving bot for bench.vc_overhead, alone in its process (so /proc CPU is its own).

    python -m bench._vc_bot {subscriber|mix} URL KEY SECRET ROOM TRACKS

Written as a Video Connector bot is: synchronous calls, callbacks on the client's worker thread.
It subscribes to every stream from ``on_stream_received_cb`` and reads the audio on
subscriber  each subscriber's ``on_audio_data_cb`` (10 ms per stream, 48 kHz mono), or on
mix         the session's ``on_audio_data_cb`` (the mix of every stream: 10 ms frames, one stream's worth)
touching every frame's PCM. It publishes nothing (the raw bot publishes nothing either).

The same line protocol as bench._bot ({"hello": mode} at start), without ``connect``:
  stay      connect and read; answer when TRACKS streams delivered (or after 15 s) -> {"connect_s", "ready"}
  mark      the counters -> {"t", "frames", "per_track", "dropped"}; ``dropped``: media callbacks
            the worker dropped (slower than real time) plus frames the client's frame streams dropped
  quit/EOF  disconnect and exit
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from compat.vonage import generate_token
from compat.vonage.video_connector import VonageVideoClient
from compat.vonage.video_connector.models import (
    AudioData,
    Session,
    SessionAudioSettings,
    SessionAVSettings,
    SessionSettings,
    Stream,
    Subscriber,
)

MIX = SessionAudioSettings(sample_rate=48000, number_of_channels=1)  # as the raw bot's AudioStream


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Receiver:
    def __init__(self, mode: str, url: str) -> None:
        self.mode = mode
        self.client = VonageVideoClient(url=url)
        self.frames: dict[str, int] = {}  # per stream id (subscriber mode) or "mix"
        self.subscribed = 0
        self.touched = 0
        self._lock = threading.Lock()

    def connect(self, room: str, token: str) -> bool:
        mixed = self.on_mixed if self.mode == "mix" else None
        return self.client.connect(
            application_id="bench", session_id=room, token=token,
            session_settings=SessionSettings(av=SessionAVSettings(audio_subscribers_mix=MIX)),
            on_stream_received_cb=self.on_stream_received, on_audio_data_cb=mixed,
        )

    def on_stream_received(self, session: Session, stream: Stream) -> None:
        per_stream = self.on_stream_audio if self.mode == "subscriber" else None
        if self.client.subscribe(stream, on_audio_data_cb=per_stream, on_connected_cb=self.on_subscribed):
            self.frames.setdefault(stream.id if per_stream else "mix", 0)

    def on_subscribed(self, subscriber: Subscriber) -> None:
        with self._lock:
            self.subscribed += 1

    def on_stream_audio(self, subscriber: Subscriber, audio_data: AudioData) -> None:
        self.touched += audio_data.sample_buffer[0] & 1  # read the PCM
        self.frames[subscriber.stream.id] += 1

    def on_mixed(self, session: Session, audio_data: AudioData) -> None:
        self.touched += audio_data.sample_buffer[0] & 1
        self.frames["mix"] += 1

    def started(self) -> int:
        if self.mode == "mix":
            return self.subscribed if self.frames.get("mix") else 0
        return sum(1 for v in self.frames.values() if v)

    def dropped(self) -> int:
        """Drops inside the client (private state: this is a bench, not an API)."""
        rt: Any = getattr(self.client, "_rt", None)
        if rt is None:
            return 0
        in_streams = sum(stream.dropped for sub in list(rt.incoming.values()) for stream, _task in list(sub.frames.values()))
        return int(rt.worker.dropped_media + in_streams)


def stay(bot: Receiver, key: str, secret: str, room: str, tracks: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    if not bot.connect(room, generate_token(key, secret, room, identity=f"vc-{bot.mode}-bot")):
        return {"error": "connect() refused"}
    deadline = time.monotonic() + 15.0
    while bot.started() < tracks and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"connect_s": time.perf_counter() - t0, "ready": bot.started()}


def serve(mode: str, url: str, key: str, secret: str, room: str, tracks: int) -> None:
    bot = Receiver(mode, url)
    say({"hello": mode})
    for raw_line in sys.stdin:
        line = raw_line.strip()
        if not line or line == "quit":
            break
        try:
            if line == "stay":
                say(stay(bot, key, secret, room, tracks))
            elif line == "mark":
                say({"t": time.monotonic(), "frames": sum(bot.frames.values()), "per_track": sorted(bot.frames.values()),
                     "dropped": bot.dropped()})
            else:
                say({"error": f"unknown command {line!r}"})
        except Exception as exc:
            say({"error": f"{line}: {type(exc).__name__}: {exc}"})
    bot.client.disconnect()


def main() -> None:
    logging.getLogger("livekit").setLevel(logging.ERROR)
    logging.getLogger("compat").setLevel(logging.ERROR)
    mode, url, key, secret, room, tracks = sys.argv[1:7]
    try:
        serve(mode, url, key, secret, room, int(tracks))
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(0)  # as bench._bot: a bench child must never hang in interpreter teardown


if __name__ == "__main__":
    main()
