"""Which OpenTok stream each LiveKit track belongs to: the grouping rule of :mod:`.stream`, as one
pure piece shared by the OpenTok model (``Session``) and the Video Connector's roster.

Per participant: a track goes to the stream of its slot (:func:`~.stream.slot_of`, "camera" or
"screen") unless that stream already holds a track of its kind; then it forms a stream of its own,
slot = its track SID. A stream ends when its last track is removed; its slot is then free again.
Mute and dimensions never move a track, so they are not inputs here. Stream IDs are
:func:`~.stream.stream_id_for` of the participant SID and the slot.
"""

from __future__ import annotations

import attrs

from compat.core import TrackInfo

from .stream import Slot, slot_of, stream_id_for

__all__ = ["Grouping", "Placement", "Removal"]


@attrs.frozen
class Placement:
    """Where :meth:`Grouping.place` put a track; ``created``: its stream is new."""

    stream_id: str
    slot: Slot
    created: bool


@attrs.frozen
class Removal:
    """What :meth:`Grouping.remove` took a track from; ``emptied``: the stream has ended."""

    stream_id: str
    participant_sid: str
    emptied: bool


@attrs.define
class _Group:
    stream_id: str
    participant_sid: str
    tracks: dict[str, str] = attrs.field(factory=dict)  # "audio" | "video" -> track SID


def _media(kind: str) -> str:
    """A stream has one audio and one video place; any other kind takes the video one (as
    ``Stream._add_track``)."""
    return "audio" if kind == "audio" else "video"


class Grouping:
    """Every remote participant's streams, keyed by participant SID."""

    def __init__(self) -> None:
        self._slots: dict[str, dict[Slot, _Group]] = {}  # participant SID -> slot -> group, in creation order
        self._home: dict[str, _Group] = {}  # track SID -> its group
        self._kind: dict[str, str] = {}  # track SID -> kind

    def place(self, participant_sid: str, track: TrackInfo) -> Placement:
        """Put ``track`` into its stream, creating the stream when needed."""
        slots = self._slots.setdefault(participant_sid, {})
        slot: Slot = slot_of(track)
        group = slots.get(slot)
        kind = _media(track.kind)
        if group is not None and kind in group.tracks:
            slot, group = track.sid, None
        created = group is None
        if group is None:
            group = slots[slot] = _Group(stream_id_for(participant_sid, slot), participant_sid)
        group.tracks[kind] = track.sid
        self._home[track.sid] = group
        self._kind[track.sid] = track.kind
        return Placement(group.stream_id, slot, created)

    def remove(self, track_sid: str) -> Removal | None:
        """Take a track out of its stream (None when unknown); an emptied stream frees its slot."""
        group = self._home.pop(track_sid, None)
        kind = self._kind.pop(track_sid, None)
        if group is None:
            return None
        if kind is not None and group.tracks.get(_media(kind)) == track_sid:
            del group.tracks[_media(kind)]
        if group.tracks:
            return Removal(group.stream_id, group.participant_sid, False)
        slots = self._slots.get(group.participant_sid, {})
        slots.pop(next((k for k, g in slots.items() if g is group), ""), None)
        return Removal(group.stream_id, group.participant_sid, True)

    def drop(self, participant_sid: str) -> list[str]:
        """Forget a participant that left: its stream IDs, in creation order."""
        groups = list(self._slots.pop(participant_sid, {}).values())
        for group in groups:
            for sid in group.tracks.values():
                self._home.pop(sid, None)
                self._kind.pop(sid, None)
        return [g.stream_id for g in groups]

    def stream_of(self, track_sid: str) -> str | None:
        """The stream ID holding ``track_sid``."""
        group = self._home.get(track_sid)
        return group.stream_id if group is not None else None

    def kind_of(self, track_sid: str) -> str | None:
        return self._kind.get(track_sid)

    def tracks(self, stream_id: str) -> dict[str, str]:
        """A stream's tracks, track SID -> kind (empty when the stream is unknown)."""
        return {sid: kind for sid, kind in self._kind.items() if self.stream_of(sid) == stream_id}
