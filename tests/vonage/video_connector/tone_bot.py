"""A bot written for the real Vonage Video Connector (``pip install vonage-video-connector``), by
the call protocol of reference §4.6: it is imported unmodified by the acceptance test, which only
runs ``compat.vonage.video_connector.install()`` first.

It publishes a tone (40 ms chunks at 24 kHz, mono) and a moving YUV420P picture, subscribes to
every stream it receives, and keeps what it hears (the session's mixed audio) and the sizes of
the frames it sees.
"""

import threading
import time

import numpy as np
import vonage_video_connector
from vonage_video_connector.models import (
    AudioData,
    LoggingSettings,
    PublisherAudioSettings,
    PublisherSettings,
    SessionAudioSettings,
    SessionAVSettings,
    SessionSettings,
    SessionVideoPublisherSettings,
    SubscriberSettings,
    VideoFrame,
    VideoResolution,
)

OUT_RATE = 24000
MIX_RATE = 16000
WIDTH, HEIGHT, FPS = 320, 240, 15
CHUNK_MS = 40


class ToneBot:
    def __init__(self, tone_hz):
        self.tone_hz = tone_hz
        self.client = vonage_video_connector.VonageVideoClient()
        self.heard = []  # (monotonic time, int16 samples) of each mixed frame
        self.frame_sizes = []  # (width, height, format, len(buffer)) of each rendered frame
        self.subscribed = threading.Event()
        self.ready = threading.Event()
        self.errors = []
        self._stop = threading.Event()
        self._producers = []

    def start(self, application_id, session_id, token):
        settings = SessionSettings(
            av=SessionAVSettings(
                audio_publisher=SessionAudioSettings(sample_rate=OUT_RATE, number_of_channels=1),
                audio_subscribers_mix=SessionAudioSettings(sample_rate=MIX_RATE, number_of_channels=1),
                video_publisher=SessionVideoPublisherSettings(
                    resolution=VideoResolution(width=WIDTH, height=HEIGHT), fps=FPS, format="YUV420P"
                ),
            ),
            logging=LoggingSettings(level="warn"),
        )
        return self.client.connect(
            application_id=application_id,
            session_id=session_id,
            token=token,
            session_settings=settings,
            on_error_cb=self.on_error,
            on_connected_cb=self.on_connected,
            on_stream_received_cb=self.on_stream_received,
            on_audio_data_cb=self.on_audio,
            on_ready_for_audio_cb=self.on_ready_for_audio,
        )

    def stop(self):
        self._stop.set()
        for producer in self._producers:
            producer.join(2)
        self.client.unpublish()
        return self.client.disconnect()

    # --- callbacks (on the connector's thread) ---

    def on_error(self, session, description, code):
        self.errors.append((description, code))

    def on_connected(self, session):
        self.client.publish(
            PublisherSettings(
                name="ToneBot",
                has_audio=True,
                has_video=True,
                audio_settings=PublisherAudioSettings(enable_stereo_mode=False, enable_opus_dtx=False),
            )
        )
        self._spawn(self._produce_video)

    def on_stream_received(self, session, stream):
        self.client.subscribe(stream, settings=SubscriberSettings(), on_render_frame_cb=self.on_frame)
        self.subscribed.set()

    def on_audio(self, session, audio_data):
        self.heard.append((time.monotonic(), np.frombuffer(audio_data.sample_buffer.tobytes(), dtype=np.int16)))

    def on_frame(self, subscriber, frame):
        self.frame_sizes.append((frame.resolution.width, frame.resolution.height, frame.format, len(frame.frame_buffer)))

    def on_ready_for_audio(self, session):
        self.ready.set()
        self._spawn(self._produce_audio)

    # --- producers ---

    def _spawn(self, target):
        thread = threading.Thread(target=target, daemon=True)
        self._producers.append(thread)
        thread.start()

    def _produce_audio(self):
        n = 0
        chunk = OUT_RATE * CHUNK_MS // 1000
        start = time.monotonic()
        while not self._stop.is_set():
            t = (np.arange(chunk) + n) / OUT_RATE
            samples = (0.3 * 32767 * np.sin(2 * np.pi * self.tone_hz * t)).astype(np.int16)
            self.client.add_audio(
                AudioData(
                    sample_buffer=memoryview(samples.tobytes()).cast("h"),
                    sample_rate=OUT_RATE,
                    number_of_channels=1,
                    number_of_frames=chunk,
                )
            )
            n += chunk
            time.sleep(max(0.0, start + n / OUT_RATE - 0.1 - time.monotonic()))  # keep ~100 ms queued

    def _produce_video(self):
        y_size, c_size = WIDTH * HEIGHT, (WIDTH // 2) * (HEIGHT // 2)
        i = 0
        while not self._stop.is_set():
            buf = np.empty(y_size + 2 * c_size, dtype=np.uint8)
            buf[:y_size] = (i * 4) % 256
            buf[y_size:] = 128
            self.client.add_video(
                VideoFrame(frame_buffer=memoryview(buf.tobytes()), resolution=VideoResolution(width=WIDTH, height=HEIGHT))
            )
            i += 1
            time.sleep(1 / FPS)
