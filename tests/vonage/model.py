"""A small reference model of the OpenTok event order (§1.4 of the reference), independent of
compat.vonage: it predicts the Session event trace, as ``(label, type, summary)`` tuples in the
form :class:`tests.vonage.helpers.Recorder` records, from what the remote side does."""

from __future__ import annotations

from typing import Any

import attrs

SCREEN = ("screen_share", "screen_share_audio")
REASONS = {None: "clientDisconnected", "client_initiated": "clientDisconnected", "participant_removed": "forceDisconnected"}


@attrs.define
class MStream:
    sid: str
    slot: str
    audio: str | None = None
    video: str | None = None
    props: dict[str, Any] = attrs.Factory(lambda: {"hasAudio": False, "hasVideo": False, "videoType": None, "videoDimensions": None})


@attrs.define
class MParticipant:
    sid: str
    streams: dict[str, MStream] = attrs.Factory(dict)  # slot -> stream, in creation order
    muted: dict[str, bool] = attrs.Factory(dict)
    home: dict[str, str] = attrs.Factory(dict)  # track sid -> slot


class Model:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.participants: dict[str, MParticipant] = {}
        self.connected = False
        self.dimensions: dict[str, dict[str, int]] = {}  # video track SID -> its size, when LiveKit announces one

    def _emit(self, type_: str, summary: Any) -> None:
        self.events.append(("session", type_, summary))

    # --- what the remote side does ---------------------------------------------------------

    def connect(self, initial: list[tuple[str, str, list[tuple[str, str, str, bool]]]]) -> None:
        self.connected = True
        self._emit("sessionConnected", None)
        self._emit("connectionCreated", ("PA_me", None))
        for identity, psid, _ in initial:
            self.participants[identity] = MParticipant(psid)
            self._emit("connectionCreated", (psid, None))
        for identity, _, tracks in initial:
            self._add_tracks(identity, tracks)

    def join(self, identity: str, psid: str, tracks: list[tuple[str, str, str, bool]]) -> None:
        self.participants[identity] = MParticipant(psid)
        self._emit("connectionCreated", (psid, None))
        self._add_tracks(identity, tracks)

    def _add_tracks(self, identity: str, tracks: list[tuple[str, str, str, bool]]) -> None:
        created = []
        for tsid, kind, source, muted in tracks:
            stream, new = self._place(identity, tsid, kind, source, muted)
            self._recompute(identity, stream)
            if new:
                created.append(stream)
        for stream in created:
            self._emit("streamCreated", (stream.sid, None))

    def _place(self, identity: str, tsid: str, kind: str, source: str, muted: bool) -> tuple[MStream, bool]:
        p = self.participants[identity]
        slot = "screen" if source in SCREEN else "camera"
        stream = p.streams.get(slot)
        if stream is not None and getattr(stream, kind) is not None:
            slot, stream = tsid, None
        new = stream is None
        if stream is None:
            stream = MStream(f"{p.sid}-{slot}", slot)
            p.streams[slot] = stream
        setattr(stream, kind, tsid)
        p.muted[tsid] = muted
        p.home[tsid] = slot
        return stream, new

    def _recompute(self, identity: str, stream: MStream) -> list[tuple[str, Any, Any]]:
        p = self.participants[identity]
        new = {
            "hasAudio": stream.audio is not None and not p.muted[stream.audio],
            "hasVideo": stream.video is not None and not p.muted[stream.video],
            "videoType": None if stream.video is None else (stream.slot if stream.slot in ("camera", "screen") else "custom"),
            "videoDimensions": None if stream.video is None else self.dimensions.get(stream.video),
        }
        order = ("hasAudio", "hasVideo", "videoType", "videoDimensions")
        changes = [(k, stream.props[k], new[k]) for k in order if stream.props[k] != new[k]]
        stream.props = new
        return changes

    def _changed(self, stream: MStream, changes: list[tuple[str, Any, Any]]) -> None:
        for prop, old, new in changes:
            self._emit("streamPropertyChanged", (stream.sid, prop, old, new))

    def publish(self, identity: str, tsid: str, kind: str, source: str, muted: bool) -> None:
        stream, new = self._place(identity, tsid, kind, source, muted)
        changes = self._recompute(identity, stream)
        if new:
            self._emit("streamCreated", (stream.sid, None))
        else:
            self._changed(stream, changes)

    def unpublish(self, identity: str, tsid: str) -> None:
        p = self.participants[identity]
        slot = p.home.pop(tsid)
        stream = p.streams[slot]
        if stream.audio == tsid:
            stream.audio = None
        else:
            stream.video = None
        del p.muted[tsid]
        changes = self._recompute(identity, stream)
        if stream.audio is None and stream.video is None:
            del p.streams[slot]
            self._emit("streamDestroyed", (stream.sid, "clientDisconnected"))
        else:
            self._changed(stream, changes)

    def mute(self, identity: str, tsid: str, muted: bool) -> None:
        p = self.participants[identity]
        p.muted[tsid] = muted
        stream = p.streams[p.home[tsid]]
        self._changed(stream, self._recompute(identity, stream))

    def signal(self, sender: str | None, type_: str, data: str) -> None:
        from_ = None if sender is None else ("PA_me" if sender == "me" else self.participants[sender].sid)
        name = f"signal:{type_}" if type_ else "signal"
        self._emit(name, (data, from_))
        if type_:
            self._emit(name, (data, from_))

    def leave(self, identity: str, cause: str | None) -> None:
        p = self.participants.pop(identity)
        reason = REASONS.get(cause, "networkDisconnected")
        for stream in p.streams.values():
            self._emit("streamDestroyed", (stream.sid, reason))
        self._emit("connectionDestroyed", (p.sid, reason))

    def disconnect(self) -> None:
        self.connected = False
        self._emit("sessionDisconnected", "clientDisconnected")

    # --- queries for the state machine ---------------------------------------------------------

    def tracks(self) -> list[tuple[str, str]]:
        return [(i, t) for i, p in self.participants.items() for t in p.home]

    def muted(self, identity: str, tsid: str) -> bool:
        return self.participants[identity].muted[tsid]
