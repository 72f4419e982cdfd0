"""Quality records and gates end to end: Twilio and Video Connector clients join rooms of the dev
server where a real livekit.rtc remote speaks, others fail their setup (a token signed with the
wrong secret, an unreachable server); the back end records legacy sessions; ``compat rollout
status`` reports exactly the recorded numbers and ``compat rollout advance`` is refused while a
gate fails."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import pytest
from livekit import api

import compat.rollout as R
from compat import twilio_video as Video
from compat.__main__ import main
from compat.core import rtc_session
from compat.devserver.testing import LiveKitServer, publish_tone
from compat.rollout.quality import percentile
from compat.rollout.store import SQLiteStore
from compat.vonage import video_connector as vc
from tests.support import EventLog, wait_for
from tests.twilio.helpers import close, twilio_connect
from tests.vonage.video_connector.helpers import Calls, connect

pytestmark = pytest.mark.media

ROWS = "SELECT vendor, setup_s, failure_code, turn_relay, reconnects, mos FROM rollout_records WHERE platform = 'livekit' ORDER BY id"


def rows(store: R.Store) -> list[tuple[Any, ...]]:
    with store._transaction() as tx:
        tx.execute(ROWS)
        return [tuple(r) for r in tx.fetchall()]


async def hear_then_leave(room: Video.Room, *, reconnect: bool = False) -> None:
    """Stay until the remote's audio arrives and flows for a while (the MOS needs received audio)."""
    await wait_for(lambda: any(p.audioTracks and all(t.isSubscribed for t in p.audioTracks.values())
                               for p in room.participants.values()), 10, "the remote's audio subscribed")
    if reconnect:
        log = EventLog(timeout=30)
        log.listen(room, "reconnecting", "reconnected")
        session = room._session
        assert isinstance(session, rtc_session.RtcSession)
        await session.simulate_scenario("SIGNAL_RECONNECT")
        await log.wait("reconnected")
    await asyncio.sleep(1.5)
    await close(room)


async def test_recorded_sessions_are_what_status_reports_and_a_failing_gate_blocks_advance(
    lk_server: LiveKitServer, configured: R.Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store = configured
    assert isinstance(store, SQLiteStore)
    remote = await lk_server.connect("doctor", "visit-1")
    async with publish_tone(remote, 440):
        for i in range(3):
            await hear_then_leave(await twilio_connect(lk_server, f"patient-{i}", "visit-1"), reconnect=i == 0)
        calls = Calls()
        client = vc.VonageVideoClient(url=lk_server.url)
        assert connect(client, lk_server, "visit-1", "vc-bot", calls)
        await calls.wait("on_stream_received_cb")
        await asyncio.sleep(1.5)
        assert await asyncio.to_thread(client.disconnect)
    await remote.disconnect()

    # Two failed setups: a token signed with the wrong secret, and a server that is not there.
    forged = api.AccessToken(lk_server.api_key, "not-the-secret-not-the-secret-xx").with_identity("mallory")
    forged_jwt = forged.with_grants(api.VideoGrants(room_join=True, room="visit-2")).with_ttl(datetime.timedelta(minutes=5)).to_jwt()
    with pytest.raises(Video.TwilioError) as bad_token:
        await Video.connect(forged_jwt, {"url": lk_server.url})
    with pytest.raises(Video.TwilioError) as unreachable:
        await Video.connect(lk_server.token("p", "visit-3"), {"url": "ws://127.0.0.1:9", "connectTimeout": 2})
    assert (bad_token.value.code, unreachable.value.code) == (20107, 53000)

    # The back end records its legacy sessions through the same API.
    for i in range(4):
        R.record(f"legacy-{i}", vendor="twilio", setup_s=1.0 + i / 10, turn_relay=i == 0, mos=4.3)

    await wait_for(lambda: len(rows(store)) == 6 and all(r[1] is None or r[5] is not None for r in rows(store)), 10, "6 records")
    recorded = rows(store)
    assert [r[0] for r in recorded] == ["twilio"] * 3 + ["vonage-video-connector", "twilio", "twilio"]
    connected, failed = recorded[:4], recorded[4:]
    assert [r[2] for r in failed] == [20107, 53000] and all(r[1] is None for r in failed)
    assert all(0 < r[1] < 3 and r[2] is None for r in connected)
    assert [r[3] for r in connected] == [0, 0, 0, 0]  # host candidates in the namespace: no TURN
    assert [r[4] for r in connected] == [1, 0, 0, 0]  # the first one lived through one reconnect episode
    assert all(3.5 < r[5] <= 4.5 for r in connected), [r[5] for r in connected]  # a clean local path: every client heard the tone

    assert main(["rollout", "status", "--store", store.path, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stage"] == "internal" and report["advance_allowed"] is False
    by_platform = {row["platform"]: row for row in report["rows"]}
    lk, old = by_platform["livekit"], by_platform["legacy"]
    assert (lk["stage"], lk["setups"], lk["connected"]) == ("internal", 6, 4)
    assert lk["success_rate"] == pytest.approx(4 / 6)
    assert lk["p95_setup_s"] == pytest.approx(percentile([r[1] for r in connected], 95))
    assert lk["relay_rate"] == 0.0
    assert lk["mean_mos"] == pytest.approx(sum(r[5] for r in connected) / 4)
    assert lk["gate"] == {"passed": False, "failures": ["setup success 66.7% < 98.5%"]}
    assert (old["setups"], old["relay_rate"], old["mean_mos"]) == (4, 0.25, pytest.approx(4.3))
    assert old["p95_setup_s"] == pytest.approx(1.3)

    assert main(["rollout", "status", "--store", store.path]) == 0
    text = capsys.readouterr().out
    assert "livekit   internal  6       66.7%" in text and "FAIL: setup success 66.7% < 98.5%" in text
    assert "advance: refused (setup success 66.7% < 98.5%)" in text

    assert main(["rollout", "advance", "--store", store.path]) == 1
    assert "advance refused" in capsys.readouterr().err and store.stage == "internal"
    # The gates are configurable: with a lower success bar the same numbers pass.
    assert main(["rollout", "advance", "--store", store.path, "--min-success", "0.6"]) == 0
    assert capsys.readouterr().out == "stage: new-users\n" and store.stage == "new-users"
