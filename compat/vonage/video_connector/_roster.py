"""Who is in the session, as the Video Connector sees it: one Connection per remote participant,
one Stream per participant grouping its camera and microphone.

This is the minimal piece of the OpenTok model (compat.vonage, in progress on another branch)
that the Video Connector needs; it reads core facts only and is replaced by the model's
Connection/Stream tables once those land (docs/parity.md).
"""

from __future__ import annotations

import datetime
import logging

import attrs

from compat.core import ParticipantInfo, TrackInfo
from compat.vonage.stream import stream_id_for as model_stream_id
from compat.vonage.token import parse_metadata

from .models import Connection, Stream

logger = logging.getLogger(__name__)

STREAM_SOURCES = frozenset({"camera", "microphone", "unknown"})
"""Track sources that belong to a participant's Stream; a screen share is not part of it."""


def stream_id_for(participant_sid: str) -> str:
    """A participant's Stream ID: the OpenTok model's ID of its camera stream, so both models
    (and signals or logs that carry it) agree."""
    return model_stream_id(participant_sid, "camera")


def connection_for(info: ParticipantInfo) -> Connection:
    joined = getattr(info, "joined_at_ms", 0.0) or 0.0
    when = (
        datetime.datetime.fromtimestamp(joined / 1000, datetime.timezone.utc)
        if joined
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return Connection(id=info.sid, creation_time=when, data=parse_metadata(info.metadata).data or "")


@attrs.define
class Peer:
    identity: str
    connection: Connection
    stream: Stream
    kinds: dict[str, str] = attrs.field(factory=dict)  # track sid -> "audio" | "video" (stream tracks only)
    subscribed: set[str] = attrs.field(factory=set)
    announced: bool = False  # on_stream_received_cb was posted


class Roster:
    """Written on the client's loop thread; read under the client's lock from any thread."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        self.streams: dict[str, str] = {}  # stream id -> identity

    def add(self, info: ParticipantInfo, tracks: tuple[TrackInfo, ...] = ()) -> Peer:
        connection = connection_for(info)
        peer = Peer(info.identity, connection, Stream(id=stream_id_for(info.sid), connection=connection))
        self.peers[info.identity] = peer
        for track in tracks:
            self.add_track(info.identity, track)
        return peer

    def add_track(self, identity: str, track: TrackInfo) -> None:
        peer = self.peers.get(identity)
        if peer is None or track.kind == "data":
            return
        if track.source not in STREAM_SOURCES:
            logger.info("track %s of %s (%s) is not part of its Stream: not offered", track.sid, identity, track.source)
            return
        peer.kinds[track.sid] = track.kind

    def remove(self, identity: str) -> Peer | None:
        peer = self.peers.pop(identity, None)
        if peer is not None:
            self.streams.pop(peer.stream.id, None)
        return peer

    def subscribed(self, identity: str, track_sid: str) -> Peer | None:
        """A stream track became subscribed: its peer (announce its Stream if not yet), else None."""
        peer = self.peers.get(identity)
        if peer is None or track_sid not in peer.kinds:
            return None
        peer.subscribed.add(track_sid)
        self.streams[peer.stream.id] = identity
        return peer

    def gone(self, identity: str, track_sid: str, unpublished: bool) -> Peer | None:
        """A stream track was unsubscribed (or unpublished): its peer when the Stream has no media left."""
        peer = self.peers.get(identity)
        if peer is None:
            return None
        peer.subscribed.discard(track_sid)
        if unpublished:
            peer.kinds.pop(track_sid, None)
        if peer.subscribed or not peer.announced:
            return None
        self.streams.pop(peer.stream.id, None)
        return peer

    def find_stream(self, stream_id: str) -> Peer | None:
        identity = self.streams.get(stream_id)
        return self.peers.get(identity) if identity is not None else None

    def find_track(self, track_sid: str) -> Peer | None:
        """The peer whose Stream carries track ``track_sid``."""
        return next((p for p in self.peers.values() if track_sid in p.kinds), None)

    def find_connection(self, connection_id: str) -> Peer | None:
        return next((p for p in self.peers.values() if p.connection.id == connection_id), None)
