"""Reliable data keeps livekit-server's sequence rule (ParticipantImpl.handleReceivedDataMessage):
a packet numbered at or below the sender's last is a resend after a resume and is not relayed again,
and a resumed client is told the last number taken (ReconnectResponse.last_message_seq), so it
resends only what followed."""

from __future__ import annotations

from livekit.protocol import models

from compat.devserver.room import Participant, Room
from tests.devserver.conftest import add_participant


class Link:
    """What the model hands a participant's connection: here, only data."""

    def __init__(self) -> None:
        self.data: list[tuple[bytes, bool]] = []

    def deliver_data(self, payload: bytes, reliable: bool) -> None:
        self.data.append((payload, reliable))

    def payloads(self) -> list[bytes]:
        out = []
        for raw, _ in self.data:
            packet = models.DataPacket()
            packet.ParseFromString(raw)
            out.append(packet.user.payload)
        return out


def join(room: Room, identity: str) -> tuple[Participant, Link]:
    link = Link()
    return add_participant(room, identity, link), link


def packet(payload: bytes, sequence: int) -> bytes:
    return models.DataPacket(user=models.UserPacket(payload=payload), sequence=sequence).SerializeToString()


async def test_a_reliable_resend_is_relayed_once(room: Room) -> None:
    alice, _ = join(room, "alice")
    _, bob = join(room, "bob")
    for payload, sequence in [(b"one", 1), (b"two", 2), (b"two", 2), (b"one", 1), (b"three", 3)]:
        room.relay_data(alice, packet(payload, sequence), reliable=True)
    assert bob.payloads() == [b"one", b"two", b"three"]
    assert alice.last_reliable_seq == 3


async def test_unnumbered_and_lossy_packets_are_always_relayed(room: Room) -> None:
    alice, _ = join(room, "alice")
    _, bob = join(room, "bob")
    room.relay_data(alice, packet(b"numbered", 5), reliable=True)
    room.relay_data(alice, packet(b"unnumbered", 0), reliable=True)
    room.relay_data(alice, packet(b"lossy", 2), reliable=False)  # lossy packets are not numbered by the rule
    assert bob.payloads() == [b"numbered", b"unnumbered", b"lossy"]
    assert alice.last_reliable_seq == 5


async def test_each_sender_is_numbered_on_its_own(room: Room) -> None:
    alice, _ = join(room, "alice")
    bob, _ = join(room, "bob")
    _, carol = join(room, "carol")
    room.relay_data(alice, packet(b"a1", 1), reliable=True)
    room.relay_data(bob, packet(b"b1", 1), reliable=True)
    assert carol.payloads() == [b"a1", b"b1"]
    assert (alice.last_reliable_seq, bob.last_reliable_seq) == (1, 1)
