"""Helpers for the OpenTok model tests: a Session on a ScriptedSession, and an event recorder."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from compat import core as C
from compat import vonage as OT
from compat.vonage.session import connect_session

KEY, SECRET, ROOM = "devkey", "secret-secret-secret-secret-secret", "room"

SESSION_EVENTS = (
    "sessionConnected",
    "sessionDisconnected",
    "sessionReconnecting",
    "sessionReconnected",
    "connectionCreated",
    "connectionDestroyed",
    "streamCreated",
    "streamDestroyed",
    "streamPropertyChanged",
    "signal",
    "archiveStarted",
    "archiveStopped",
    "muteForced",
)
PUBLISHER_EVENTS = ("streamCreated", "streamDestroyed", "destroyed", "muteForced")
SUBSCRIBER_EVENTS = ("destroyed", "videoDisabled", "videoEnabled", "connected", "disconnected")


def token(role: str = "publisher", identity: str = "me", data: str | None = None) -> str:
    return OT.generate_token(KEY, SECRET, ROOM, role=role, data=data, identity=identity)


def info(identity: str, sid: str | None = None, role: str | None = None, data: str | None = None) -> C.ParticipantInfo:
    meta = "" if role is None else json.dumps({"compat.vonage": {"v": 1, "role": role, "data": data}})
    return C.ParticipantInfo(sid or f"PA_{identity}", identity, metadata=meta, joined_at_ms=1000.0)


def track(sid: str, kind: str, source: str = "unknown", muted: bool = False, name: str = "") -> C.TrackInfo:
    return C.TrackInfo(sid, name or f"{kind}-{sid}", kind, muted=muted, source=source)  # type: ignore[arg-type]


def snapshot(*participants: C.ParticipantState, recording: bool = False) -> C.RoomSnapshot:
    return C.RoomSnapshot("RM_1", ROOM, C.ParticipantInfo("PA_me", "me", joined_at_ms=500.0), participants, is_recording=recording)


async def connected(
    snap: C.RoomSnapshot | None = None,
    role: str = "publisher",
    before: Any = None,
    **scripted: Any,
) -> tuple[OT.Session, C.ScriptedSession]:
    """A compat.vonage Session connected on a ScriptedSession; ``before(session)`` runs before connect."""
    core = C.ScriptedSession(snap or snapshot(), **scripted)
    session = OT.Session(KEY, ROOM)
    if before is not None:
        before(session)
    await connect_session(session, core, token(role))
    return session, core


class Recorder:
    """Records ``(label, type, summary)`` of every event of the objects it listens to."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.raw: list[tuple[str, OT.Event]] = []

    def listen(self, target: Any, names: tuple[str, ...], label: str) -> None:
        for name in names:
            target.on(name, self._record(label))

    def _record(self, label: str) -> Any:
        def record(event: OT.Event) -> None:
            self.raw.append((label, event))
            self.events.append((label, event.type, summary(event)))

        return record

    def names(self, label: str | None = None) -> list[str]:
        return [t for lab, t, _ in self.events if label is None or lab == label]


def summary(event: OT.Event) -> Any:
    """The identities an event carries, as comparable values."""
    if isinstance(event, OT.ConnectionEvent):
        return (event.connection.connectionId, event.reason)
    if isinstance(event, OT.StreamEvent):
        return (event.stream.streamId, event.reason)
    if isinstance(event, OT.StreamPropertyChangedEvent):
        return (event.stream.streamId, event.changedProperty, event.oldValue, event.newValue)
    if isinstance(event, OT.SignalEvent):
        sender = event.from_
        return (event.data, sender.connectionId if sender is not None else None)
    if isinstance(event, OT.SessionDisconnectEvent):
        return event.reason
    if isinstance(event, OT.MuteForcedEvent):
        return event.active
    if isinstance(event, OT.ArchiveEvent):
        return event.id
    return getattr(event, "reason", None)


async def spin(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)
