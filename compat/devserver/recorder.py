"""Recording media to files on a wall-clock timeline.

Every input track is placed on the recording's timeline by its frames' timestamps (RTP time,
unwrapped), anchored to the wall clock at the first frame and re-anchored whenever the two drift
apart by more than `RESYNC_SECONDS` (a sender that stopped sending, a restarted stream). Gaps —
lost packets, DTX, a muted or paused sender — become silence of their real length, never a
shorter file. A mixer pulls the timeline a short latency behind the wall clock, sums the audio
inputs and composes the video inputs (grid or single speaker) at a fixed frame rate, and hands
the result to a writer thread that encodes it (PyAV). The writer writes to `<name>.part` and
renames the file only once it is complete, so a file under its final name is always playable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fractions
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter

log = logging.getLogger(__name__)

RATE = 48000
RESYNC_SECONDS = 0.3  # placement by timestamps may drift this far from the wall clock before re-anchoring
LATENCY_SECONDS = 0.4  # how far behind the wall clock the mixer writes (frames arriving later are dropped)
TICK_SECONDS = 0.1

Samples = npt.NDArray[np.float32]


def _mono_float(frame: Any) -> Samples:
    """An av.AudioFrame as mono float32 samples in -1..1."""
    data = frame.to_ndarray()
    fmt = frame.format.name
    channels = max(1, len(frame.layout.channels))
    if fmt.endswith("p"):  # planar: (channels, samples)
        data = data.reshape(channels, -1).astype(np.float32).mean(axis=0)
    else:  # packed: (1, samples * channels)
        data = data.reshape(-1, channels).astype(np.float32).mean(axis=1)
    if fmt.startswith("s16"):
        data = data / 32768.0
    elif fmt.startswith("s32"):
        data = data / 2147483648.0
    return np.ascontiguousarray(data, dtype=np.float32)


class AudioInput:
    """One audio track's samples, placed on the recording timeline (positions in samples)."""

    def __init__(self, clock: Callable[[], float], key: str) -> None:
        self.key = key
        self._clock = clock  # seconds since the recording's start
        self._chunks: deque[tuple[int, Samples]] = deque()
        self._end = 0  # end of what has been placed
        self._offset: int | None = None
        self._last_pts: int | None = None
        self._unwrapped = 0
        self._resampler: Any = None
        self.consumed = 0  # the mixer has taken everything before this
        self.frames = 0
        self.resyncs = 0

    def push(self, frame: Any) -> None:
        """Place one decoded frame (called from the track's forwarder on the loop)."""
        if frame.sample_rate != RATE:
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            frames = self._resampler.resample(frame)
            samples = np.concatenate([_mono_float(f) for f in frames]) if frames else np.zeros(0, np.float32)
        else:
            samples = _mono_float(frame)
        n = len(samples)
        if n == 0:
            return
        self.frames += 1
        wall = int(self._clock() * RATE) - n  # where the frame would start if it was captured just now
        pts = frame.pts
        if pts is None or frame.time_base is None:
            position = max(wall, self._end)
        else:
            ticks = round(pts * frame.time_base * RATE)
            if self._last_pts is None:
                self._unwrapped = ticks
            else:
                delta = ticks - self._last_pts
                wrap = round((1 << 32) * frame.time_base * RATE)  # RTP timestamps wrap at 2^32
                if delta < -wrap // 2:
                    delta += wrap
                self._unwrapped += delta
            self._last_pts = ticks
            if self._offset is None:
                self._offset = wall - self._unwrapped
            position = self._unwrapped + self._offset
            drift = wall - position
            if abs(drift) > RESYNC_SECONDS * RATE:
                # The sender's clock and ours disagree (it paused, restarted, or jumped): trust ours.
                self._offset += drift
                position = wall
                self.resyncs += 1
        self._place(position, samples)

    def _place(self, position: int, samples: Samples) -> None:
        floor = max(self._end, self.consumed)
        if position < floor:  # overlaps what is placed or already mixed: keep only the new part
            samples = samples[floor - position :]
            position = floor
        if len(samples) == 0:
            return
        self._chunks.append((position, samples))
        self._end = position + len(samples)

    def take(self, start: int, end: int) -> Samples:
        """Samples for [start, end) (silence where nothing was placed); earlier ones are forgotten."""
        out = np.zeros(end - start, np.float32)
        chunks = self._chunks
        while chunks:
            pos, data = chunks[0]
            stop = pos + len(data)
            if stop <= start:
                chunks.popleft()
                continue
            if pos >= end:
                break
            lo = max(pos, start)
            hi = min(stop, end)
            out[lo - start : hi - start] = data[lo - pos : hi - pos]
            if stop <= end:
                chunks.popleft()
            else:
                break
        self.consumed = end
        return out


class VideoInput:
    """One video track: only its latest frame matters (the compositor samples it at its frame rate)."""

    def __init__(self, key: str, owner: str) -> None:
        self.key = key
        self.owner = owner  # participant sid, for the single-speaker layout
        self.latest: Any = None
        self.frames = 0
        self.removed_at: float | None = None  # on the recording's timeline

    def push(self, frame: Any) -> None:
        self.latest = frame
        self.frames += 1


class MediaWriter:
    """Encodes into one container; every method runs on the recording's own writer thread."""

    def __init__(
        self,
        path: str,
        container_format: str,
        *,
        audio_codec: str | None,
        video_codec: str | None,
        width: int = 640,
        height: int = 360,
        fps: int = 15,
    ) -> None:
        self.path = path
        self.tmp_path = path + ".part"
        self.container_format = container_format
        self.audio_codec = audio_codec
        self.video_codec = video_codec
        self.width = width
        self.height = height
        self.fps = fps
        self._container: Any = None
        self._audio: Any = None
        self._video: Any = None
        self.audio_samples = 0
        self.video_frames = 0

    def open(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        container: Any = av.open(self.tmp_path, "w", format=self.container_format)
        try:
            if self.audio_codec is not None:
                audio: Any = container.add_stream(self.audio_codec, rate=RATE)
                audio.layout = "mono"
                if self.audio_codec == "libopus":
                    audio.format = "s16"
                self._audio = audio
            if self.video_codec is not None:
                video: Any = container.add_stream(self.video_codec, rate=self.fps)
                video.width = self.width
                video.height = self.height
                video.pix_fmt = "yuv420p"
                if self.video_codec == "libx264":
                    video.options = {"preset": "ultrafast", "tune": "zerolatency"}
                elif self.video_codec == "libvpx":
                    video.options = {"deadline": "realtime", "cpu-used": "8"}
                    video.bit_rate = 1_000_000
                self._video = video
        except Exception:
            container.close()
            raise
        self._container = container

    def write_audio(self, samples: Samples) -> None:
        if self._audio is None or len(samples) == 0:
            return
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.audio_samples
        frame.time_base = fractions.Fraction(1, RATE)
        self.audio_samples += pcm.shape[1]
        for packet in self._audio.encode(frame):
            self._container.mux(packet)

    def write_video(self, image: npt.NDArray[np.uint8]) -> None:
        if self._video is None:
            return
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.video_frames
        frame.time_base = fractions.Fraction(1, self.fps)
        self.video_frames += 1
        for packet in self._video.encode(frame):
            self._container.mux(packet)

    def finish(self) -> int:
        """Flush the encoders, close the container, move it to its final name; returns its size."""
        container = self._container
        if container is None:
            raise RuntimeError("writer was never opened")
        self._container = None
        try:
            for stream in (self._audio, self._video):
                if stream is not None:
                    for packet in stream.encode(None):
                        container.mux(packet)
        finally:
            container.close()
        os.replace(self.tmp_path, self.path)
        return os.path.getsize(self.path)

    def abort(self) -> None:
        container = self._container
        self._container = None
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - aborting: the file is removed whatever the muxer says
                pass
        try:
            os.remove(self.tmp_path)
        except OSError:
            pass

    @property
    def duration(self) -> float:
        if self._audio is not None or self.audio_codec is not None:
            return self.audio_samples / RATE
        return self.video_frames / self.fps


class Compositor:
    """Lays video inputs out on one canvas: a grid of all of them, or the loudest one alone."""

    def __init__(self, width: int, height: int, layout: str) -> None:
        self.width = width
        self.height = height
        self.layout = layout
        # Our own scaler: a frame's built-in one is shared by every thread that reformats that
        # frame (other recordings, aiortc's encoders), and swscale contexts are not thread-safe.
        self._reformatter = VideoReformatter()

    def compose(self, inputs: list[VideoInput], speaker: str | None) -> npt.NDArray[np.uint8]:
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        live = [v for v in inputs if v.latest is not None]
        if not live:
            return canvas
        if self.layout == "speaker" and len(live) > 1:
            chosen = [next((v for v in live if v.owner == speaker), live[0])]
        else:
            chosen = live
        cols = math.ceil(math.sqrt(len(chosen)))
        rows = math.ceil(len(chosen) / cols)
        cell_w = (self.width // cols) & ~1
        cell_h = (self.height // rows) & ~1
        for index, video in enumerate(chosen):
            row, col = divmod(index, cols)
            frame = video.latest
            # Fit inside the cell, keeping the aspect ratio.
            scale = min(cell_w / max(frame.width, 1), cell_h / max(frame.height, 1))
            w = max(2, int(frame.width * scale) & ~1)
            h = max(2, int(frame.height * scale) & ~1)
            image = self._reformatter.reformat(frame, width=w, height=h, format="rgb24").to_ndarray()
            x = col * cell_w + (cell_w - w) // 2
            y = row * cell_h + (cell_h - h) // 2
            canvas[y : y + h, x : x + w] = image[:h, :w]
        return canvas


class Recording:
    """Inputs come and go; `run()` mixes them onto the writer until `stop()`; `finish()` completes the file."""

    def __init__(
        self,
        path: str,
        *,
        audio: bool,
        video: bool,
        layout: str = "grid",
        width: int = 640,
        height: int = 360,
        fps: int = 15,
        speaker: Callable[[], str | None] | None = None,
    ) -> None:
        if not audio and not video:
            raise ValueError("a recording needs audio or video")
        container_format, audio_codec, video_codec = container_for(path, audio=audio, video=video)
        self.writer = MediaWriter(
            path, container_format, audio_codec=audio_codec, video_codec=video_codec, width=width, height=height, fps=fps
        )
        self.audio = audio
        self.video = video
        self.fps = fps
        self.compositor = Compositor(width, height, layout)
        self._speaker = speaker
        self.audio_inputs: dict[str, AudioInput] = {}
        self.video_inputs: dict[str, VideoInput] = {}
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._t0 = 0.0
        self._stop_at: float | None = None
        self._stopped = asyncio.Event()
        self._out_pos = 0
        self._video_frames = 0
        self.started_at = 0.0  # unix time of the timeline's start
        self.ended_at = 0.0

    # ---- clock and inputs ------------------------------------------------------------------------

    def elapsed(self) -> float:
        end = self._stop_at if self._stop_at is not None else time.monotonic()
        return max(0.0, end - self._t0)

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def add_audio(self, key: str) -> AudioInput:
        found = self.audio_inputs.get(key)
        if found is None:
            found = self.audio_inputs[key] = AudioInput(self._now, key)
            found.consumed = self._out_pos
        return found

    def add_video(self, key: str, owner: str) -> VideoInput:
        found = self.video_inputs.get(key)
        if found is None:
            found = self.video_inputs[key] = VideoInput(key, owner)
        found.removed_at = None
        return found

    def remove_input(self, key: str) -> None:
        # Audio already placed stays until mixed; the input then simply produces silence. Video
        # shows until the timeline, LATENCY_SECONDS behind, reaches the removal: a recording
        # stopped, or a track gone, does not end on black tenths of a second.
        found = self.video_inputs.get(key)
        if found is not None and found.removed_at is None:
            found.removed_at = self._now()

    # ---- running ---------------------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.writer.open)
        self._t0 = time.monotonic()
        self.started_at = time.time()

    async def run(self) -> None:
        """Mix and encode until stopped, then write up to the stop time."""
        try:
            while not self._stopped.is_set():
                try:
                    await asyncio.wait_for(self._stopped.wait(), TICK_SECONDS)
                except asyncio.TimeoutError:
                    pass
                if not self._stopped.is_set():
                    await self._advance(self._now() - LATENCY_SECONDS)
        finally:
            # What arrived before the stop is written; the timeline ends at the stop time exactly.
            await self._advance(self.elapsed())

    def stop(self) -> None:
        if self._stop_at is None:
            self._stop_at = time.monotonic()
            self.ended_at = time.time()
        self._stopped.set()

    async def _advance(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        if self.audio:
            end = int(until * RATE)
            if end > self._out_pos:
                mix = np.zeros(end - self._out_pos, np.float32)
                for audio_input in list(self.audio_inputs.values()):
                    mix += audio_input.take(self._out_pos, end)
                self._out_pos = end
                await loop.run_in_executor(self._executor, self.writer.write_audio, mix)
        if self.video:
            due = int(until * self.fps)
            speaker = self._speaker() if self._speaker is not None else None
            inputs = list(self.video_inputs.values())
            while self._video_frames < due:
                at = self._video_frames / self.fps
                self._video_frames += 1
                shown = [i for i in inputs if i.removed_at is None or i.removed_at > at]
                # Scaling and composing run on the writer thread too, off the event loop.
                await loop.run_in_executor(self._executor, self._compose_and_write, shown, speaker)
            for key, video_input in list(self.video_inputs.items()):
                if video_input.removed_at is not None and video_input.removed_at <= until:
                    del self.video_inputs[key]

    def _compose_and_write(self, inputs: list[VideoInput], speaker: str | None) -> None:
        self.writer.write_video(self.compositor.compose(inputs, speaker))

    async def finish(self) -> int:
        """Complete the file (after run() has returned); returns its size in bytes."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self.writer.finish)
        finally:
            self._executor.shutdown(wait=False)

    async def abort(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self.writer.abort)
        finally:
            self._executor.shutdown(wait=False)

    @property
    def duration(self) -> float:
        if self.audio:
            return self._out_pos / RATE
        return self._video_frames / self.fps


def container_for(path: str, *, audio: bool, video: bool) -> tuple[str, str | None, str | None]:
    """(container format, audio codec, video codec) for a file name."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".ogg":
        if video:
            raise ValueError("an .ogg file holds audio only")
        return "ogg", "libopus", None
    if ext == ".webm":
        return "webm", "libopus" if audio else None, "libvpx" if video else None
    if ext == ".mp3":
        if video:
            raise ValueError("an .mp3 file holds audio only")
        return "mp3", "libmp3lame", None
    if ext in (".mp4", ".m4a"):
        return "mp4", "aac" if audio else None, "libx264" if video else None
    raise ValueError(f"unsupported recording file type {ext!r} (use .ogg, .mp4, .webm or .mp3)")
