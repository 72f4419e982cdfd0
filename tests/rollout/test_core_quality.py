"""compat.core.quality reads livekit.rtc's stats messages: the selected candidate pair's
candidates say whether media went through TURN, the received audio's jitter and loss and the
pair's RTT give the MOS. Built from the real protobuf messages (a media test can only show the
no-relay case: the test namespace has no TURN server)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from livekit.rtc._proto import stats_pb2 as pb

from compat.core.quality import media_quality
from compat.rollout import audio_mos


def transport(selected: str) -> pb.RtcStats:
    return pb.RtcStats(transport=pb.RtcStats.Transport(rtc=pb.RtcStatsData(id="T1"),
                                                       transport=pb.TransportStats(selected_candidate_pair_id=selected)))


def pair(pid: str, local: str, remote: str, rtt: float = 0.0, nominated: bool = False) -> pb.RtcStats:
    stats = pb.CandidatePairStats(local_candidate_id=local, remote_candidate_id=remote, current_round_trip_time=rtt, nominated=nominated)
    return pb.RtcStats(candidate_pair=pb.RtcStats.CandidatePair(rtc=pb.RtcStatsData(id=pid), candidate_pair=stats))


def local(cid: str, kind: pb.IceCandidateType.ValueType) -> pb.RtcStats:
    return pb.RtcStats(local_candidate=pb.RtcStats.LocalCandidate(rtc=pb.RtcStatsData(id=cid),
                                                                  candidate=pb.IceCandidateStats(candidate_type=kind)))


def remote(cid: str, kind: pb.IceCandidateType.ValueType) -> pb.RtcStats:
    return pb.RtcStats(remote_candidate=pb.RtcStats.RemoteCandidate(rtc=pb.RtcStatsData(id=cid),
                                                                    candidate=pb.IceCandidateStats(candidate_type=kind)))


def inbound(kind: str, received: int, lost: int, jitter: float) -> pb.RtcStats:
    return pb.RtcStats(inbound_rtp=pb.RtcStats.InboundRtp(
        rtc=pb.RtcStatsData(id=f"in-{kind}"), stream=pb.RtpStreamStats(kind=kind),
        received=pb.ReceivedRtpStreamStats(packets_received=received, packets_lost=lost, jitter=jitter)))


def answer(publisher: list[pb.RtcStats], subscriber: list[pb.RtcStats]) -> Any:
    return SimpleNamespace(publisher_stats=publisher, subscriber_stats=subscriber)


HOST, RELAY = pb.IceCandidateType.HOST, pb.IceCandidateType.RELAY


def test_host_candidates_no_relay_and_the_mos_of_received_audio() -> None:
    sub = [transport("P1"), pair("P0", "L0", "R0", rtt=0.5), pair("P1", "L1", "R1", rtt=0.08), local("L0", RELAY),
           local("L1", HOST), remote("R1", HOST), inbound("audio", 990, 10, 0.012), inbound("video", 5000, 500, 0.2)]
    relay, mos = media_quality(answer([], sub))
    assert relay is False  # the relay candidate belongs to a pair that is not selected
    assert mos == pytest.approx(audio_mos(80, 12, 1.0))  # the selected pair's RTT; video is left out


def test_a_relay_candidate_on_the_selected_pair_is_turn() -> None:
    pub = [pair("P1", "L1", "R1", nominated=True), local("L1", RELAY), remote("R1", HOST)]  # no transport stat: the nominated pair
    sub = [transport("P2"), pair("P2", "L2", "R2"), local("L2", HOST), remote("R2", RELAY)]
    assert media_quality(answer(pub, sub)) == (True, None)  # no audio received: no MOS


def test_nothing_known_is_none() -> None:
    assert media_quality(answer([], [])) == (None, None)
    assert media_quality(answer([], [inbound("audio", 0, 0, 0.0)])) == (None, None)
