"""A token never crosses platforms: with a rollout store configured, compat's server drop-ins
refuse to mint for a session assigned to legacy, and both client models refuse to join one, each
with the vendor's code and a message naming the platform. Sessions on LiveKit go through, and a
setup that fails (here: an unreachable server) is recorded with the vendor's code."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from livekit import api

import compat.rollout as R
from compat import twilio_video as Video
from compat import vonage as OT
from compat.twilio_video.errors import AccessTokenInvalidError, RoomNotFoundError, SignalingConnectionError
from compat.twilio_video.jwt.access_token import AccessToken
from compat.twilio_video.jwt.access_token.grants import VideoGrant
from compat.vonage import video_connector as vc
from compat.vonage.errors import LegacyPlatformError, OTError
from compat.vonage.server import Client, SessionPlatformError
from compat.vonage.server.video import TokenOptions
from compat.vonage.server.video import Video as VonageVideo
from compat.vonage.server.video_errors import SessionPlatformError as VideoSessionPlatformError
from tests.vonage.video_connector.helpers import SESSION_CALLBACKS, Calls

KEY, SECRET = "APIkey123", "secret-secret-secret-secret-secret"
UNREACHABLE = "ws://127.0.0.1:9"


def lk_token(room: str, identity: str = "bot") -> str:
    grant = api.VideoGrants(room_join=True, room=room)
    token = api.AccessToken(KEY, SECRET).with_identity(identity).with_grants(grant)
    return token.with_ttl(datetime.timedelta(minutes=10)).to_jwt()


def twilio_token(room: str) -> str:
    token = AccessToken("AC" + "0" * 32, KEY, SECRET, identity="alice")
    token.add_grant(VideoGrant(room=room))
    return token.to_jwt()


@pytest.fixture
def rooms(configured: R.Store) -> R.Store:
    """'old-visit' on legacy, 'new-visit' on LiveKit."""
    assert configured.assign("old-visit", user="patient") == "legacy"
    assert configured.assign("new-visit", user="dr", internal=True) == "livekit"
    return configured


# --- server drop-ins ----------------------------------------------------------------------------


def test_twilio_access_token_for_a_legacy_room_is_refused_with_20101(rooms: R.Store) -> None:
    with pytest.raises(AccessTokenInvalidError) as caught:
        twilio_token("old-visit")
    assert caught.value.code == 20101
    assert "room 'old-visit' is on platform 'legacy'" in caught.value.message
    assert twilio_token("new-visit").count(".") == 2
    assert twilio_token("unassigned-visit").count(".") == 2  # not assigned: the rollout has no say


def test_opentok_and_vonage_video_tokens_for_a_legacy_session_are_refused_with_1004(rooms: R.Store) -> None:
    with pytest.raises(LegacyPlatformError) as caught:
        OT.generate_token(KEY, SECRET, "old-visit")
    assert (caught.value.name, caught.value.code) == ("OT_AUTHENTICATION_ERROR", 1004)
    assert "session of room 'old-visit' is on platform 'legacy'" in caught.value.message
    with pytest.raises(SessionPlatformError, match="on platform 'legacy'") as opentok:
        Client(KEY, SECRET, api_url=UNREACHABLE).generate_token("old-visit")
    assert opentok.value.code == 1004
    with pytest.raises(VideoSessionPlatformError, match="on platform 'legacy'") as video:
        VonageVideo(KEY, SECRET, "http://127.0.0.1:9").generate_client_token(TokenOptions(session_id="old-visit"))
    assert video.value.code == 1004
    minted = OT.mint_session_id(KEY, "new-visit")
    assert OT.generate_token(KEY, SECRET, minted).count(".") == 2
    assert Client(KEY, SECRET, api_url=UNREACHABLE).generate_token("new-visit").count(".") == 2


def test_nothing_is_refused_without_a_store() -> None:
    assert R.configured_store() is None
    assert twilio_token("old-visit").count(".") == 2
    assert OT.generate_token(KEY, SECRET, "old-visit").count(".") == 2


# --- client models ------------------------------------------------------------------------------


async def test_twilio_connect_refuses_a_legacy_room_with_53106(rooms: R.Store) -> None:
    with pytest.raises(RoomNotFoundError) as caught:
        await Video.connect(lk_token("old-visit"), {"url": UNREACHABLE, "connectTimeout": 2})
    assert caught.value.code == 53106
    assert "room 'old-visit' is on platform 'legacy'" in caught.value.message
    assert rooms.summaries() == []  # refused before any setup: nothing recorded


async def test_twilio_connect_records_a_failed_setup_with_its_code(rooms: R.Store) -> None:
    with pytest.raises(SignalingConnectionError):
        await Video.connect(lk_token("new-visit"), {"url": UNREACHABLE, "connectTimeout": 2})
    (summary,) = rooms.summaries()
    assert (summary.platform, summary.stage, summary.setups, summary.connected) == ("livekit", "internal", 1, 0)
    assert _failure_codes(rooms) == [53000]


async def test_opentok_session_connect_refuses_a_legacy_session_with_1005(rooms: R.Store) -> None:
    session = OT.initSession(KEY, "old-visit")
    with pytest.raises(OTError) as caught:
        await session.connect(lk_token("old-visit"), url=UNREACHABLE)
    assert (caught.value.name, caught.value.code) == ("OT_INVALID_SESSION_ID", 1005)
    assert "session of room 'old-visit' is on platform 'legacy'" in caught.value.message
    assert session.currentState == "disconnected"
    errors: list[OTError | None] = []
    await OT.initSession(KEY, "old-visit").connect(lk_token("old-visit"), errors.append, url=UNREACHABLE)
    assert [e.code if e else None for e in errors] == [1005]  # a completion handler gets it instead
    assert rooms.summaries() == []


async def test_opentok_session_connect_records_a_failed_setup_with_its_code(rooms: R.Store) -> None:
    session = OT.initSession(KEY, "new-visit", {"connectTimeout": 2})
    with pytest.raises(OTError) as caught:
        await session.connect(lk_token("new-visit"), url=UNREACHABLE)
    assert _failure_codes(rooms) == [caught.value.code] and caught.value.code == 1006


async def test_video_connector_refuses_a_legacy_session_with_1005(rooms: R.Store) -> None:
    client = vc.VonageVideoClient(url=UNREACHABLE)
    calls = Calls()
    callbacks: dict[str, Any] = {name: calls.cb(name) for name in SESSION_CALLBACKS}
    assert client.connect(application_id="app", session_id="old-visit", token=lk_token("old-visit"), **callbacks)
    ((session, description, code),) = await calls.wait("on_error_cb")
    assert session.id == "old-visit" and code == 1005
    assert "session of room 'old-visit' is on platform 'legacy'" in description
    assert "on_connected_cb" not in calls.names() and "on_disconnected_cb" not in calls.names()
    assert rooms.summaries() == []
    client.disconnect()


def _failure_codes(store: R.Store) -> list[int]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with store._transaction() as tx:
            tx.execute("SELECT failure_code FROM rollout_records WHERE failure_code IS NOT NULL")
            codes = [row[0] for row in tx.fetchall()]
        if codes:
            return codes
        time.sleep(0.05)
    return []
