"""The bench's reports: a ratio is only comparable when both relays did the work; video delivery is skew-free."""

from __future__ import annotations

import threading

from bench.devserver import (
    LoadResult,
    RtpCount,
    client_threads,
    frames_expected,
    frames_sent_at,
    per_stream_comparison,
    udp_receive_drops,
)


def _load(relay: str, cpu_pct: float, received_pct: float | None) -> LoadResult:
    return LoadResult(
        relay=relay, participants=32, publishers=4, relayed_streams=124, setup_s=1.0, subscribed_ok=True,
        window_s=10.0, server_cpu_pct=cpu_pct, server_busiest_thread=None, server_busiest_thread_pct=None,
        server_rss_mb=None, server_threads=1, server_top_threads=[], published_packets_pct=100.0,
        audio_read=False, clients_cpu_pct=100.0, frames_received_pct=None, frames_silent=0,
        packets_received_pct=received_pct, packets_lost=0, subscribers=[], errors=[], server_system_cpu_pct=1.0,
    )


def _row(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("32/4 pub"))


def test_both_relays_delivering_give_a_plain_ratio() -> None:
    lines = per_stream_comparison([_load("forward", 12.4, 100.0), _load("decode", 62.0, 99.0)])
    assert "5.0x" in _row(lines).split() and "*" not in _row(lines)
    assert not any("not comparable" in line for line in lines)


def test_a_relay_that_delivered_half_its_packets_is_marked_not_comparable() -> None:
    lines = per_stream_comparison([_load("forward", 12.4, 100.0), _load("decode", 43.1, 48.5)])
    assert "3.5x*" in _row(lines).split()
    assert any(line.startswith("* not comparable") for line in lines)


def test_stats_that_timed_out_are_not_taken_for_full_delivery() -> None:
    lines = per_stream_comparison([_load("forward", 12.4, None), _load("decode", 62.0, 100.0)])
    assert "5.0x*" in _row(lines).split()


def test_client_priority_spares_the_main_thread_that_starts_the_servers() -> None:
    """--client-nice lowers the SDK's threads, not the main thread: the servers it starts inherit its level."""
    done = threading.Event()
    helper = threading.Thread(target=done.wait, args=(5,))
    helper.start()
    try:
        tids = client_threads()
        assert helper.native_id in tids
        assert threading.main_thread().native_id not in tids
    finally:
        done.set()
        helper.join()


def test_video_delivery_counts_what_the_publisher_sent_between_the_subscribers_reads() -> None:
    """Subscriber stats read 0.5 s after the publisher's (both reads) are full delivery, not 105 %;
    and a publisher whose rate changed mid-window is counted at its rate around each read."""
    sent_a = (RtpCount(100.0, 0), RtpCount(101.0, 15))  # 15 fps around the first read
    sent_b = (RtpCount(110.0, 120), RtpCount(111.0, 130))  # 10 fps around the second
    received = (RtpCount(100.5, 7), RtpCount(110.5, 132))
    assert frames_expected(sent_a, sent_b, received) == 125.0 - 7.5


def test_video_delivery_with_one_publisher_read_uses_it() -> None:
    one = (RtpCount(5.0, 10), RtpCount(5.0, 10))
    assert frames_sent_at(*one, 7.0) == 10.0


def test_udp_receive_buffer_drops_are_read_from_snmp() -> None:
    snmp = (
        "Icmp: InMsgs InErrors\nIcmp: 3 0\n"
        "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n"
        "Udp: 41016 2 17 41016 15 0 0 0 0\n"
        "UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdpLite: 0 0 0 0 9 0\n"
    )
    assert udp_receive_drops(snmp) == 15
