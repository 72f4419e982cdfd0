"""Who is in the session, as the Video Connector sees it: one Connection per remote participant,
and its tracks grouped into Streams by the OpenTok model's rule (:mod:`compat.vonage.grouping`):
camera and first microphone in ``<participant SID>-camera``, screen share in ``-screen``, a
second camera or microphone in a stream of its own, ``<participant SID>-<track SID>``.

Participants are kept by :class:`compat.core.roster.Roster`, so a join of an identity still
present first ends the old participant (its streams and connection are dropped), as both models.
A stream is offered (``on_stream_received_cb``) once one of its tracks is subscribed.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping

import attrs

from compat.core import ParticipantInfo, TrackInfo
from compat.core.roster import Roster as Participants
from compat.vonage.grouping import Grouping
from compat.vonage.stream import stream_id_for as model_stream_id
from compat.vonage.token import parse_metadata

from .models import Connection, Stream

logger = logging.getLogger(__name__)


def stream_id_for(participant_sid: str) -> str:
    """A participant's camera Stream ID (the one our own publisher has), as the OpenTok model's."""
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
    sid: str
    connection: Connection


@attrs.define
class Feed:
    """One Stream of a peer: the model, its subscribed tracks, whether it was offered."""

    identity: str
    stream: Stream
    subscribed: set[str] = attrs.field(factory=set)
    announced: bool = False  # on_stream_received_cb was posted


def _sid(p: Peer) -> str:
    return p.sid


def _identity(p: Peer) -> str:
    return p.identity


def _present(p: Peer) -> bool:
    return False  # a peer leaves the roster when it leaves


def _no_tracks(p: Peer) -> Mapping[str, Feed]:
    return {}


class Roster:
    """Written on the client's loop thread; read under the client's lock from any thread."""

    def __init__(self) -> None:
        self.participants: Participants[Peer, Feed] = Participants(sid=_sid, identity=_identity, gone=_present, tracks=_no_tracks)
        self.grouping = Grouping()
        self.feeds: dict[str, Feed] = {}  # stream id -> feed, while its stream has tracks

    def peer(self, identity: str | None) -> Peer | None:
        return self.participants.get(identity)

    def replaces(self, identity: str) -> Peer | None:
        """A present peer a newcomer with ``identity`` replaces: end it (:meth:`remove`) first."""
        return self.participants.replaces(identity)

    def add(self, info: ParticipantInfo, tracks: tuple[TrackInfo, ...] = ()) -> Peer:
        peer = Peer(info.identity, info.sid, connection_for(info))
        self.participants.add(peer)
        for track in tracks:
            self.add_track(info.identity, track)
        return peer

    def add_track(self, identity: str, track: TrackInfo) -> None:
        peer = self.peer(identity)
        if peer is None or track.kind == "data":
            return
        placed = self.grouping.place(peer.sid, track)
        if placed.created:
            self.feeds[placed.stream_id] = Feed(identity, Stream(id=placed.stream_id, connection=peer.connection))

    def remove(self, identity: str) -> tuple[Peer, list[Feed]] | None:
        """A peer left: it, and its feeds (whose tracks vanish with it)."""
        peer = self.peer(identity)
        if peer is None:
            return None
        self.participants.remove(peer)
        ids = self.grouping.drop(peer.sid)
        return peer, [feed for feed in (self.feeds.pop(i, None) for i in ids) if feed is not None]

    def subscribed(self, track_sid: str) -> Feed | None:
        """A track became subscribed: its feed (announce its Stream if not yet), else None."""
        feed = self.find_track(track_sid)
        if feed is not None:
            feed.subscribed.add(track_sid)
        return feed

    def gone(self, track_sid: str, unpublished: bool) -> tuple[Feed, bool] | None:
        """A track was unsubscribed (or unpublished): its feed, and whether its offered Stream
        has no subscribed media left (dropped)."""
        feed = self.find_track(track_sid)
        if feed is None:
            return None
        feed.subscribed.discard(track_sid)
        if unpublished:
            removal = self.grouping.remove(track_sid)
            if removal is not None and removal.emptied:
                self.feeds.pop(removal.stream_id, None)
        return feed, feed.announced and not feed.subscribed

    def kind_of(self, track_sid: str) -> str | None:
        return self.grouping.kind_of(track_sid)

    def find_stream(self, stream_id: str) -> Feed | None:
        """An offered Stream that still has subscribed media."""
        feed = self.feeds.get(stream_id)
        return feed if feed is not None and feed.subscribed else None

    def find_track(self, track_sid: str) -> Feed | None:
        """The feed whose Stream carries track ``track_sid``."""
        return self.feeds.get(self.grouping.stream_of(track_sid) or "")

    def camera_feed(self, identity: str) -> Feed | None:
        """A peer's camera Stream (a caption naming no track is the participant's)."""
        peer = self.peer(identity)
        return self.feeds.get(stream_id_for(peer.sid)) if peer is not None else None

    def find_connection(self, connection_id: str) -> Peer | None:
        return self.participants.by_sid.get(connection_id)
