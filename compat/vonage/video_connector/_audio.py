"""Audio paths: outgoing (``add_audio`` → buffer → 10 ms frames in real time) and the incoming mix.

All sample work is numpy on whole chunks; nothing loops over samples in Python.
"""

from __future__ import annotations

import collections
import threading

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float32]

FRAME_MS = 10


def frame_samples(sample_rate: int) -> int:
    """Samples per channel in one 10 ms frame (441 at 44.1 kHz)."""
    return sample_rate * FRAME_MS // 1000


def to_channels(x: Floats, channels: int) -> Floats:
    """(n, c) → (n, channels): mono is duplicated, stereo averaged."""
    if x.shape[1] == channels:
        return x
    if channels == 1:
        return np.asarray(x.mean(axis=1, keepdims=True), dtype=np.float32)
    return np.repeat(x, channels, axis=1)


class Resampler:
    """Streaming linear-interpolation resampler: keeps the last input sample and the fractional
    position across chunks, so chunk boundaries leave no clicks and the pitch is exact. No
    anti-alias filter: downsampling folds content above the new Nyquist back (see docs/parity.md)."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._step = src_rate / dst_rate
        self._t = 0.0  # position of the next output sample, in input samples from _prev (index 0)
        self._prev: Floats | None = None

    def process(self, x: Floats) -> Floats:
        """x: (n, c) float32 at src_rate → (m, c) float32 at dst_rate."""
        if self.src_rate == self.dst_rate or len(x) == 0:
            return x
        buf = x if self._prev is None else np.concatenate((self._prev, x))
        last = len(buf) - 1
        count = int(np.floor((last - self._t) / self._step)) + 1 if last >= self._t else 0
        pos = self._t + self._step * np.arange(count)
        i = np.floor(pos).astype(np.int64)
        frac = (pos - i).astype(np.float32)[:, None]
        out = buf[i] * (1.0 - frac) + buf[np.minimum(i + 1, last)] * frac
        self._t = self._t + self._step * count - last
        self._prev = buf[-1:]
        return np.asarray(out, dtype=np.float32)


class OutgoingAudio:
    """``add_audio``'s buffer: chunks of any length and allowed rate in, converted to the
    publisher's rate and channels, out as whole 10 ms frames. Thread-safe: producers call
    :meth:`push` from any thread, the loop's pacer calls :meth:`pop_frame`."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.frame = frame_samples(sample_rate)
        self._lock = threading.Lock()
        self._chunks: collections.deque[Samples] = collections.deque()  # (n, channels) int16
        self._queued = 0  # samples per channel
        self._resamplers: dict[int, Resampler] = {}
        self.generation = 0  # bumped by clear(): a drain is reported once per generation

    def push(self, samples: Samples, sample_rate: int, channels: int) -> None:
        """Interleaved int16 ``samples`` (copied) at ``sample_rate``/``channels``."""
        x = samples.reshape(-1, channels).astype(np.float32)
        x = to_channels(x, self.channels)
        with self._lock:
            resampler = self._resamplers.get(sample_rate)
            if resampler is None:
                resampler = self._resamplers[sample_rate] = Resampler(sample_rate, self.sample_rate)
            y = resampler.process(x)
            chunk = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
            if len(chunk):
                self._chunks.append(chunk)
                self._queued += len(chunk)

    def pop_frame(self, pad: bool) -> Samples | None:
        """One 10 ms frame (interleaved), or None when less than a frame is queued; with ``pad``
        a partial last frame is completed with silence (the producer stopped)."""
        with self._lock:
            if self._queued == 0 or (self._queued < self.frame and not pad):
                return None
            out = np.zeros((self.frame, self.channels), dtype=np.int16)
            filled = 0
            while filled < self.frame and self._chunks:
                chunk = self._chunks[0]
                take = min(len(chunk), self.frame - filled)
                out[filled : filled + take] = chunk[:take]
                filled += take
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
            self._queued -= filled
            return out.reshape(-1)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._queued = 0
            self.generation += 1
            for resampler in self._resamplers.values():
                resampler._prev = None
                resampler._t = 0.0

    @property
    def has_frame(self) -> bool:
        """At least one whole 10 ms frame is queued."""
        return self._queued >= self.frame

    @property
    def queued_seconds(self) -> float:
        return self._queued / self.sample_rate


class Mixer:
    """The session's mix of every subscribed stream: frames arrive per stream (10 ms, already in
    the mix format); a mixed frame is emitted as soon as every live stream has one queued, or when
    a stream lags more than ``LAG`` frames (it counts as silence then), so one stream passes
    straight through and a stalled stream cannot stall the others."""

    LAG = 5

    def __init__(self, frame_len: int) -> None:
        self.frame_len = frame_len  # interleaved samples in one frame
        self._queues: dict[str, collections.deque[Samples]] = {}

    def add_stream(self, key: str) -> None:
        self._queues.setdefault(key, collections.deque(maxlen=50))

    def remove_stream(self, key: str) -> None:
        self._queues.pop(key, None)

    def put(self, key: str, frame: Samples) -> list[Samples]:
        """Queue one frame of stream ``key``; the mixed frames now ready, in order."""
        queue = self._queues.get(key)
        if queue is None or len(frame) != self.frame_len:
            return []
        queue.append(frame)
        out = []
        while self._queues and (
            all(self._queues.values()) or max(len(q) for q in self._queues.values()) > self.LAG
        ):
            out.append(self._mix_one())
        return out

    def _mix_one(self) -> Samples:
        frames = [q.popleft() for q in self._queues.values() if q]
        if len(frames) == 1:
            only: Samples = frames[0]
            return only
        total = np.sum(np.stack(frames).astype(np.int32), axis=0)
        mixed: Samples = np.clip(total, -32768, 32767).astype(np.int16)
        return mixed
