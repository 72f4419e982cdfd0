"""Dynacast: telling a publisher which layers of its video anyone watches.

livekit-server (pkg/rtc/dynacast: ``dynacastQualityVideo``, ``dynacastManagerVideo``) keeps, per
published video track, the highest quality any subscriber wants and sends the publisher a
``SubscribedQualityUpdate`` when it changes; a client with dynacast on (``RoomOptions.dynacast``)
then stops encoding the layers above it, or all of them when nobody watches. As there:

- the first update goes out as soon as a subscriber's wish is known, or ``INITIAL_WAIT`` seconds
  after the track was set up if none came (then "nobody watches": every layer off);
- a change that raises a layer (or turns the video back on) goes out at once; one that only
  lowers waits ``PAUSE_DELAY`` seconds (livekit-server's ``dynacast_pause_delay``), and then
  sends whatever is wanted by then;
- ``force_update`` (the track was unmuted) sends the current wish at once.

One difference: a lowering undone within the delay sends nothing; livekit-server sends the same
quality again when its delay ends.

One codec per track: the dev server does not do multi-codec simulcast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from livekit.protocol.models import VideoQuality

__all__ = ["HIGH", "INITIAL_WAIT", "LOW", "MEDIUM", "OFF", "PAUSE_DELAY", "Dynacast"]

# LOW < MEDIUM < HIGH; OFF (the largest number) is not a quality but "nothing".
LOW, MEDIUM, HIGH, OFF = VideoQuality.LOW, VideoQuality.MEDIUM, VideoQuality.HIGH, VideoQuality.OFF

INITIAL_WAIT = 10.0  # s: dynacastqualityvideo.go initialQualityUpdateWait
PAUSE_DELAY = 5.0  # s: livekit-server's default room.dynacast_pause_delay


def _raises(committed: int, wanted: int) -> bool:
    if committed == OFF:
        return wanted != OFF
    return wanted != OFF and wanted > committed


class Dynacast:
    """One published video track's subscribed quality, sent to its publisher through ``notify``."""

    def __init__(self, notify: Callable[[int], None]) -> None:
        self._notify = notify
        self._wanted: int = OFF
        self._known = False  # a wish was reported, or the initial wait ended
        self._committed: int | None = None  # what the publisher was last told
        self._initial: asyncio.TimerHandle | None = None
        self._pause: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def committed(self) -> int | None:
        """The quality the publisher was last told (None before the first update)."""
        return self._committed

    def start(self) -> None:
        """The track is set up: without a subscriber's wish, nobody watches after INITIAL_WAIT."""
        self._initial = asyncio.get_running_loop().call_later(INITIAL_WAIT, self._initial_wait_over)

    def set_wanted(self, quality: int) -> None:
        """The highest quality any subscriber wants now (OFF: nobody)."""
        if self.closed or (self._known and quality == self._wanted):
            return
        self._known = True
        self._wanted = quality
        self._update(force=False)

    def force_update(self) -> None:
        """Send the current wish now, whatever was sent before (LiveKit: on unmute)."""
        if self._known:
            self._update(force=True)

    def close(self) -> None:
        self.closed = True
        for timer in (self._initial, self._pause):
            if timer is not None:
                timer.cancel()
        self._initial = self._pause = None

    def _initial_wait_over(self) -> None:
        self._initial = None
        self._known = True
        self._update(force=False)

    def _update(self, *, force: bool) -> None:
        if self.closed:
            return
        committed, wanted = self._committed, self._wanted
        if not force:
            if committed == wanted:
                self._cancel_pause()  # a lowering undone within the delay (LiveKit would resend the same)
                return
            if committed is not None and not _raises(committed, wanted) and PAUSE_DELAY > 0:
                if self._pause is None:  # the first lowering starts the delay; later ones wait for it
                    self._pause = asyncio.get_running_loop().call_later(PAUSE_DELAY, self._pause_over)
                return
        self._cancel_pause()
        self._committed = wanted
        self._notify(wanted)

    def _cancel_pause(self) -> None:
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None

    def _pause_over(self) -> None:
        self._pause = None
        self._update(force=True)
