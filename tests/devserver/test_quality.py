"""Connection quality updates follow livekit-server's Room.connectionQualityWorker: sent only when an
active participant is new or changed quality; each gets its own and its publishers' qualities."""

from __future__ import annotations

from collections.abc import Mapping

from livekit.protocol import models, rtc

from compat.devserver.room import Participant, PublishedTrack, Room
from tests.devserver.conftest import add_participant

ACTIVE = models.ParticipantInfo.State.ACTIVE
EXCELLENT, GOOD = models.ConnectionQuality.EXCELLENT, models.ConnectionQuality.GOOD


class Link:
    """A participant's connection as the model sees it: what it was sent, what it subscribes to."""

    def __init__(self) -> None:
        self.sent: list[rtc.SignalResponse] = []
        self.subscribed: dict[str, object] = {}
        self.quality = EXCELLENT

    @property
    def subscriptions(self) -> Mapping[str, object]:
        return self.subscribed

    def send(self, response: rtc.SignalResponse) -> None:
        self.sent.append(response)

    def connection_quality(self, now: float) -> models.ConnectionQuality:
        return self.quality

    def reported(self) -> list[list[tuple[str, models.ConnectionQuality]]]:
        """(participant sid, quality) of each ConnectionQualityUpdate received, and forget them."""
        updates = [[(u.participant_sid, u.quality) for u in r.connection_quality.updates]
                   for r in self.sent if r.WhichOneof("message") == "connection_quality"]
        self.sent.clear()
        return updates


def join(room: Room, identity: str, *, active: bool = True) -> tuple[Participant, Link]:
    link = Link()
    participant = add_participant(room, identity, link)
    if active:
        participant.info.state = ACTIVE
    return participant, link


def publish(participant: Participant, sid: str) -> None:
    participant.tracks[sid] = PublishedTrack(models.TrackInfo(sid=sid, type=models.TrackType.AUDIO), cid=sid)


async def test_each_hears_itself_and_whom_it_subscribes_to(room: Room) -> None:
    a, a_link = join(room, "a")
    b, b_link = join(room, "b")
    c, c_link = join(room, "c")
    _, joining = join(room, "d", active=False)
    publish(a, "TR_a")
    publish(b, "TR_b")
    b_link.subscribed["TR_a"] = object()
    c_link.subscribed.update({"TR_a": object(), "TR_b": object()})
    room._update_quality(0.0)
    assert a_link.reported() == [[(a.sid, EXCELLENT)]]
    assert b_link.reported() == [[(b.sid, EXCELLENT), (a.sid, EXCELLENT)]]
    assert c_link.reported() == [[(c.sid, EXCELLENT), *sorted([(a.sid, EXCELLENT), (b.sid, EXCELLENT)])]]
    assert joining.reported() == []  # not active yet: neither told nor reported


async def test_sent_only_when_someone_is_new_or_changed(room: Room) -> None:
    a, a_link = join(room, "a")
    b, b_link = join(room, "b")
    publish(a, "TR_a")
    b_link.subscribed["TR_a"] = object()
    room._update_quality(0.0)
    a_link.reported(), b_link.reported()
    room._update_quality(2.0)
    assert a_link.reported() == [] and b_link.reported() == []  # nothing changed: nothing sent
    a_link.quality = GOOD
    room._update_quality(4.0)
    assert a_link.reported() == [[(a.sid, GOOD)]]
    assert b_link.reported() == [[(b.sid, EXCELLENT), (a.sid, GOOD)]]
    c, c_link = join(room, "c")
    room._update_quality(6.0)  # a newcomer: everyone is told again
    assert c_link.reported() == [[(c.sid, EXCELLENT)]]
    assert b_link.reported() == [[(b.sid, EXCELLENT), (a.sid, GOOD)]]
