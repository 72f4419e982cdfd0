"""A Vonage Video Connector echo bot on LiveKit: it plays back what it hears, audio and video.

Written as for ``vonage_video_connector`` (the reference §4.6 call protocol); only the two imports
differ (``compat.vonage.video_connector`` for ``vonage_video_connector``). Unmodified code can
keep its imports instead: call ``compat.vonage.video_connector.install()`` once at start-up.

It subscribes to every stream, takes the session's mixed audio (48 kHz mono, 10 ms frames) and
adds it straight back to its publisher (same format), and sends every received video frame
back too (YUV420P; frames of another size than the publisher's 640x480 are refused and logged).

Run it (a LiveKit server or the dev server: ``python -m compat.devserver``)::

    LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \\
        python -m examples.vonage_echo_bot --room demo --duration 60
"""

from __future__ import annotations

import argparse
import logging
import os
import threading

from compat.vonage import generate_token
from compat.vonage import video_connector as vonage_video_connector
from compat.vonage.video_connector.models import (
    AudioData,
    LoggingSettings,
    PublisherAudioSettings,
    PublisherSettings,
    Session,
    SessionAudioSettings,
    SessionAVSettings,
    SessionSettings,
    SessionVideoPublisherSettings,
    Stream,
    Subscriber,
    SubscriberSettings,
    VideoFrame,
    VideoResolution,
)

log = logging.getLogger("echo_bot")

AUDIO = SessionAudioSettings(sample_rate=48000, number_of_channels=1)
VIDEO = SessionVideoPublisherSettings(resolution=VideoResolution(width=640, height=480), fps=30, format="YUV420P")


class EchoBot:
    def __init__(self) -> None:
        self.client = vonage_video_connector.VonageVideoClient()
        self.ready = threading.Event()  # on_ready_for_audio_cb came: add_audio may start
        self.finished = threading.Event()

    def start(self, application_id: str, session_id: str, token: str) -> bool:
        return self.client.connect(
            application_id=application_id,
            session_id=session_id,
            token=token,
            session_settings=SessionSettings(
                av=SessionAVSettings(audio_publisher=AUDIO, audio_subscribers_mix=AUDIO, video_publisher=VIDEO),
                logging=LoggingSettings(level="INFO"),
            ),
            on_error_cb=self.on_error,
            on_connected_cb=self.on_connected,
            on_disconnected_cb=lambda session: self.finished.set(),
            on_stream_received_cb=self.on_stream_received,
            on_stream_dropped_cb=lambda session, stream: log.info("stream %s dropped", stream.id),
            on_audio_data_cb=self.on_audio,
            on_ready_for_audio_cb=lambda session: self.ready.set(),
        )

    def stop(self) -> None:
        self.client.unpublish()
        self.client.disconnect()

    def on_error(self, session: Session, description: str, code: int) -> None:
        log.error("session error %d: %s", code, description)
        self.finished.set()

    def on_connected(self, session: Session) -> None:
        log.info("connected to %s", session.id)
        stereo = AUDIO.number_of_channels == 2
        audio_settings = PublisherAudioSettings(enable_stereo_mode=stereo)
        self.client.publish(
            PublisherSettings(name="Echo", has_audio=True, has_video=True, audio_settings=audio_settings),
            on_stream_created_cb=lambda publisher: log.info("publishing as stream %s", publisher.stream.id),
        )

    def on_stream_received(self, session: Session, stream: Stream) -> None:
        log.info("stream %s received (connection %s): subscribing", stream.id, stream.connection.id)
        self.client.subscribe(stream, settings=SubscriberSettings(), on_render_frame_cb=self.on_frame)

    def on_audio(self, session: Session, audio_data: AudioData) -> None:
        if self.ready.is_set():
            self.client.add_audio(audio_data)

    def on_frame(self, subscriber: Subscriber, frame: VideoFrame) -> None:
        self.client.add_video(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--room", default="demo", help="session ID: a LiveKit room name")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to stay (0: until the session ends)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    key, secret = os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"]
    token = generate_token(key, secret, args.room, identity="echo-bot", name="Echo")
    bot = EchoBot()
    if bot.start(key, args.room, token):
        bot.finished.wait(args.duration or None)
    bot.stop()


if __name__ == "__main__":
    main()
