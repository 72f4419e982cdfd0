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


def fit(width: int, height: int, preferred: VideoResolution | None) -> tuple[int, int]:
    """The delivered size of a ``width`` x ``height`` frame for a subscriber preferring
    ``preferred``: scaled down to fit inside it, aspect kept, even sides; never scaled up
    (OpenTok's preferred resolution picks a smaller layer, never a larger picture)."""
    if preferred is None or (width <= preferred.width and height <= preferred.height):
        return width, height
    scale = min(preferred.width / width, preferred.height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _plane(plane: Any, width: int, height: int) -> Any:
    """Nearest-neighbour resize of one 2-D plane (numpy; no loop per pixel)."""
    rows = np.arange(height) * plane.shape[0] // height
    cols = np.arange(width) * plane.shape[1] // width
    return plane[rows[:, None], cols]


def scale(frame: LkFrame, width: int, height: int) -> LkFrame:
    """``frame`` as an I420 frame of ``width`` x ``height`` (nearest neighbour)."""
    i420 = frame if frame.type == VideoBufferType.I420 else frame.convert(VideoBufferType.I420)
    w, h = i420.width, i420.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    data = np.frombuffer(i420.data, dtype=np.uint8)
    y = data[: w * h].reshape(h, w)
    u = data[w * h : w * h + cw * ch].reshape(ch, cw)
    v = data[w * h + cw * ch : w * h + 2 * cw * ch].reshape(ch, cw)
    ocw, och = (width + 1) // 2, (height + 1) // 2
    planes = (_plane(y, width, height), _plane(u, ocw, och), _plane(v, ocw, och))
    return LkFrame(width, height, VideoBufferType.I420, b"".join(p.tobytes() for p in planes))


def from_livekit(frame: LkFrame, fmt: VideoFormat, preferred: VideoResolution | None = None) -> VideoFrame:
    """A received LiveKit frame (any buffer type) as a tightly packed Video Connector frame,
    scaled down to fit ``preferred`` (:func:`fit`)."""
    size = fit(frame.width, frame.height, preferred)
    if size != (frame.width, frame.height):
        frame = scale(frame, *size)
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
