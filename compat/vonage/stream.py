"""``Stream``: one publisher's media (OpenTok.js ``ot/stream.js``), grouped from LiveKit tracks.

OpenTok bundles a publisher's audio and video into one Stream; LiveKit has separate tracks. The
grouping rule, per participant:

* the **camera** stream holds its camera (or unknown-source) video and its microphone (or
  unknown-source) audio; an audio-only publisher is a camera stream with ``videoType`` None;
* the **screen** stream holds its screen-share video and screen-share audio;
* a track whose slot is already taken by a track of the same kind forms a stream of its own.

The rule is applied in one place, :class:`compat.vonage.grouping.Grouping`, shared by the OpenTok
``Session`` and the Video Connector.

The stream ID is derived from LiveKit IDs: ``"<participant SID>-camera"``, ``"<participant
SID>-screen"``, or ``"<participant SID>-<track SID>"`` for a stream of its own. Every client
computes the same ID, and it survives reconnects (the core keeps SIDs stable); unlike OpenTok, a
participant that unpublishes and publishes again gets the same ID back.

Properties derived from the tracks: ``hasAudio`` (an audio track, not muted), ``hasVideo`` (a
video track, not muted), ``videoType`` (``"camera"``, ``"screen"``, ``"custom"`` for a stream of
its own, None without video), ``videoDimensions`` (``{"width", "height"}`` when known, else None),
``name`` (the first track's name: a compat Publisher names its tracks after itself). Changes are
reported in that order as ``(property, old, new)`` for ``streamPropertyChanged``.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from compat.core import TrackInfo

from .connection import Connection

Slot = str  # "camera", "screen", or a track SID
Change = tuple[str, Any, Any]
PROPERTIES = ("hasAudio", "hasVideo", "videoType", "videoDimensions")

_SCREEN_SOURCES = frozenset({"screen_share", "screen_share_audio"})


def slot_of(track: TrackInfo) -> Literal["camera", "screen"]:
    """The stream a track belongs to by its LiveKit source."""
    return "screen" if track.source in _SCREEN_SOURCES else "camera"


def stream_id_for(participant_sid: str, slot: Slot) -> str:
    """The stream ID of a participant's slot (see the module docstring)."""
    return f"{participant_sid}-{slot}"


class Stream:
    """``OT.Stream``: ``streamId``/``id``, ``connection``, ``creationTime``, ``name``, ``hasAudio``,
    ``hasVideo``, ``hasCaptions`` (always False), ``videoType``, ``videoDimensions``, ``frameRate``
    (None: LiveKit does not announce it), ``initials`` ("")."""

    def __init__(self, streamId: str, connection: Connection, slot: Slot, name: str) -> None:
        self.streamId = streamId
        self.id = streamId
        self.connection = connection
        self.creationTime = time.time() * 1000.0
        self.name = name
        self.hasAudio = False
        self.hasVideo = False
        self.hasCaptions = False
        self.videoType: str | None = None
        self.videoDimensions: dict[str, int] | None = None
        self.frameRate: float | None = None
        self.initials = ""
        self._slot = slot
        self._audio: TrackInfo | None = None
        self._video: TrackInfo | None = None
        self._muted: dict[str, bool] = {}
        self._dims: tuple[int, int] | None = None

    # --- tracks ---------------------------------------------------------------------------

    @property
    def audio_track_sid(self) -> str | None:
        """Addition: the SID of the LiveKit audio track in this stream."""
        return self._audio.sid if self._audio is not None else None

    @property
    def video_track_sid(self) -> str | None:
        """Addition: the SID of the LiveKit video track in this stream."""
        return self._video.sid if self._video is not None else None

    def _track_sids(self) -> list[str]:
        return [t.sid for t in (self._audio, self._video) if t is not None]

    def _add_track(self, track: TrackInfo) -> list[Change]:
        if track.kind == "audio":
            self._audio = track
        else:
            self._video = track
            if track.width and track.height:
                self._dims = (track.width, track.height)
        self._muted[track.sid] = track.muted
        return self._recompute()

    def _remove_track(self, sid: str) -> list[Change]:
        if self._audio is not None and self._audio.sid == sid:
            self._audio = None
        elif self._video is not None and self._video.sid == sid:
            self._video = None
            self._dims = None
        self._muted.pop(sid, None)
        return self._recompute()

    def _set_muted(self, sid: str, muted: bool) -> list[Change]:
        if sid in self._muted:
            self._muted[sid] = muted
        return self._recompute()

    def _set_dimensions(self, sid: str, width: int, height: int) -> list[Change]:
        if self._video is not None and self._video.sid == sid and width and height:
            self._dims = (width, height)
        return self._recompute()

    def _recompute(self) -> list[Change]:
        audio, video = self._audio, self._video
        new = {
            "hasAudio": audio is not None and not self._muted.get(audio.sid, False),
            "hasVideo": video is not None and not self._muted.get(video.sid, False),
            "videoType": None if video is None else (self._slot if self._slot in ("camera", "screen") else "custom"),
            "videoDimensions": None if video is None or self._dims is None else {"width": self._dims[0], "height": self._dims[1]},
        }
        changes: list[Change] = []
        for prop in PROPERTIES:
            old = getattr(self, prop)
            if old != new[prop]:
                setattr(self, prop, new[prop])
                changes.append((prop, old, new[prop]))
        return changes

    def __repr__(self) -> str:
        return f"Stream({self.streamId!r}, hasAudio={self.hasAudio}, hasVideo={self.hasVideo}, videoType={self.videoType!r})"


__all__ = ["PROPERTIES", "Change", "Slot", "Stream", "slot_of", "stream_id_for"]
