"""Network quality types. LiveKit reports four quality buckets; they map to Twilio's
0-5 levels as documented in docs/parity.md (``LEVELS``). Per-media stats and their
details (bandwidth, latency, loss) have no LiveKit source and are always None."""

from __future__ import annotations

import attrs

from compat.core import Quality

LEVELS: dict[Quality, int] = {
    Quality.EXCELLENT: 5,
    Quality.GOOD: 3,
    Quality.POOR: 1,
    Quality.LOST: 0,
}


@attrs.frozen
class NetworkQualityMediaStats:
    send: int
    recv: int
    sendStats: None = None
    recvStats: None = None


@attrs.frozen
class NetworkQualityStats:
    """``level``; ``audio``/``video`` are None (LiveKit has no per-media quality)."""

    level: int
    audio: NetworkQualityMediaStats | None = None
    video: NetworkQualityMediaStats | None = None

__all__ = ["LEVELS", "NetworkQualityMediaStats", "NetworkQualityStats"]
