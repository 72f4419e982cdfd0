"""Video frames between the Video Connector's formats and LiveKit's.

The original's format names are libyuv's (little-endian words), LiveKit's name the bytes in
memory: ``ARGB32`` is LiveKit's ``BGRA``; ``RGB24`` is B, G, R in memory, which LiveKit has not
(its ``RGB24`` is R, G, B), so those bytes are reversed per pixel with numpy. ``YUV420P`` is
LiveKit's ``I420``. LiveKit converts natively between I420 and the RGB formats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compat.core.media import VideoBufferType
from compat.core.media import VideoFrame as LkFrame

from .models import VideoFormat, VideoFrame, VideoResolution


def frame_size(fmt: VideoFormat, width: int, height: int) -> int:
    """Bytes in a tightly packed frame."""
    if fmt == "YUV420P":
        return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    return width * height * (3 if fmt == "RGB24" else 4)


def _swap_rgb(data: Any, width: int, height: int) -> bytes:
    """R,G,B ↔ B,G,R per pixel."""
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height * 3).reshape(-1, 3)
    return pixels[:, ::-1].tobytes()


def to_livekit(frame: VideoFrame) -> LkFrame:
    """A Video Connector frame as a LiveKit frame (the buffer is copied: the caller may reuse it)."""
    w, h = frame.resolution.width, frame.resolution.height
    data = frame.frame_buffer[: frame_size(frame.format, w, h)]
    if frame.format == "YUV420P":
        return LkFrame(w, h, VideoBufferType.I420, bytes(data))
    if frame.format == "ARGB32":
        return LkFrame(w, h, VideoBufferType.BGRA, bytes(data))
    return LkFrame(w, h, VideoBufferType.RGB24, _swap_rgb(data, w, h)).convert(VideoBufferType.I420)


def from_livekit(frame: LkFrame, fmt: VideoFormat) -> VideoFrame:
    """A received LiveKit frame (any buffer type) as a tightly packed Video Connector frame."""
    w, h = frame.width, frame.height
    if fmt == "YUV420P":
        lk = frame if frame.type == VideoBufferType.I420 else frame.convert(VideoBufferType.I420)
        data = bytes(lk.data)
    elif fmt == "ARGB32":
        data = bytes(frame.convert(VideoBufferType.BGRA).data)
    else:
        i420 = frame if frame.type == VideoBufferType.I420 else frame.convert(VideoBufferType.I420)
        data = _swap_rgb(i420.convert(VideoBufferType.RGB24).data, w, h)
    return VideoFrame(frame_buffer=memoryview(data), resolution=VideoResolution(width=w, height=h), format=fmt)
