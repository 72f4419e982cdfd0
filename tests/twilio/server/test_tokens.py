"""compat's AccessToken/VideoGrant against twilio-python's: same constructor, attributes, times and
errors; the token is a LiveKit token that livekit-api verifies and that joins a room."""

from __future__ import annotations

import time
import warnings
from typing import Any

import jwt
import pytest
from livekit import api
from twilio.jwt.access_token import AccessToken as TwilioAccessToken
from twilio.jwt.access_token.grants import ChatGrant as TwilioChatGrant
from twilio.jwt.access_token.grants import VideoGrant as TwilioVideoGrant

from compat import twilio_video as Video
from compat.devserver.testing import LiveKitServer
from compat.twilio_video.jwt.access_token import AccessToken, IgnoredGrantWarning
from compat.twilio_video.jwt.access_token.grants import ChatGrant, SyncGrant, VideoGrant

ACCOUNT = "AC" + "a" * 32
KEY = "devkey"
SECRET = "secret-secret-secret-secret-secret"


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"ttl": 600},
        {"nbf": None},
        {"nbf": 1_700_000_000, "valid_until": 1_700_003_600},
        {"valid_until": int(time.time()) + 100},
        {"region": "us1", "identity": "alice"},
    ],
)
def test_times_and_attributes_match_twilio_python(kwargs: dict[str, Any]) -> None:
    ours = AccessToken(ACCOUNT, KEY, SECRET, **kwargs)
    theirs = TwilioAccessToken(ACCOUNT, KEY, SECRET, **kwargs)
    for name in ("account_sid", "signing_key_sid", "identity", "region", "grants", "secret_key", "issuer",
                 "subject", "algorithm", "ttl", "valid_until"):
        assert getattr(ours, name) == getattr(theirs, name), name
    mine, twilio = claims(ours.to_jwt()), claims(theirs.to_jwt())
    assert mine["iss"] == twilio["iss"] == KEY
    for claim in ("exp", "nbf"):
        assert abs(mine.get(claim, 0) - twilio.get(claim, 0)) <= 1, claim
    assert ("nbf" in mine) == ("nbf" in twilio)
    assert mine["jti"].startswith(KEY + "-")
    assert abs(claims(ours.to_jwt(ttl=120))["exp"] - claims(theirs.to_jwt(ttl=120))["exp"]) <= 1


def test_the_token_is_a_livekit_token() -> None:
    token = AccessToken(ACCOUNT, KEY, SECRET, identity="alice", grants=[VideoGrant(room="visit-1")]).to_jwt()
    verified = api.TokenVerifier(KEY, SECRET).verify(token)
    assert verified.identity == "alice"
    assert verified.video is not None
    assert verified.video.room_join is True and verified.video.room == "visit-1"
    assert claims(token)["twilio"] == {"account_sid": ACCOUNT}
    assert "cty" not in jwt.get_unverified_header(token)


def test_errors_match_twilio_python() -> None:
    for cls in (AccessToken, TwilioAccessToken):
        with pytest.raises(ValueError, match=r"^Grants must be instances of AccessTokenGrant\."):
            cls(ACCOUNT, KEY, SECRET, grants=["video"])  # type: ignore[list-item]
        with pytest.raises(ValueError, match=r"^Grant must be an instance of AccessTokenGrant\."):
            cls(ACCOUNT, KEY, SECRET).add_grant(object())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^JWT does not have a signing key configured\."):
            cls(ACCOUNT, KEY, "").to_jwt()


def test_a_twilio_python_grant_is_refused_with_what_to_import() -> None:
    with pytest.raises(ValueError, match=r"import it from compat\.twilio_video\.jwt\.access_token\.grants"):
        AccessToken(ACCOUNT, KEY, SECRET, grants=[TwilioVideoGrant(room="r")])
    with pytest.raises(ValueError, match="ChatGrant is twilio-python's"):
        AccessToken(ACCOUNT, KEY, SECRET).add_grant(TwilioChatGrant())


def test_other_grants_are_accepted_and_ignored_with_a_warning() -> None:
    token = AccessToken(ACCOUNT, KEY, SECRET, identity="bob")
    with pytest.warns(IgnoredGrantWarning, match="ChatGrant"):
        token.add_grant(ChatGrant(service_sid="IS1"))
    with pytest.warns(IgnoredGrantWarning, match="SyncGrant"):
        token.add_grant(SyncGrant())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        token.add_grant(VideoGrant(room="r"))
    payload = claims(token.to_jwt())
    assert payload["video"] == {"roomJoin": True, "room": "r", "canUpdateOwnMetadata": True}
    assert "chat" not in payload and "data_sync" not in payload
    assert len(token.grants) == 3 and str(token.grants[2]) == "<VideoGrant {'room': 'r'}>"


def test_over_long_lifetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="20104"):
        AccessToken(ACCOUNT, KEY, SECRET, ttl=86401).to_jwt()
    with pytest.raises(ValueError, match="24 hours"):
        AccessToken(ACCOUNT, KEY, SECRET).to_jwt(ttl=2 * 86400)
    now = int(time.time())
    with pytest.raises(ValueError, match="more than Twilio's maximum"):
        AccessToken(ACCOUNT, KEY, SECRET, nbf=now, valid_until=now + 86401).to_jwt()
    AccessToken(ACCOUNT, KEY, SECRET, ttl=86400).to_jwt()  # exactly 24 h is fine


async def test_an_expired_token_is_refused_at_connect_like_twilio() -> None:
    now = int(time.time())
    token = AccessToken(ACCOUNT, KEY, SECRET, identity="a", grants=[VideoGrant("r")], nbf=now - 7200,
                        valid_until=now - 3600).to_jwt()
    with pytest.raises(Video.AccessTokenExpiredError) as info:
        await Video.connect(token, {"url": "ws://127.0.0.1:9", "name": "r"})
    assert info.value.code == 20104


@pytest.mark.media
async def test_a_minted_token_joins_a_room_through_compat(lk_server: LiveKitServer) -> None:
    grant = VideoGrant(room="token-room")
    token = AccessToken(ACCOUNT, lk_server.api_key, lk_server.api_secret, identity="carol", grants=[grant])
    room = await Video.connect(token.to_jwt(), {"url": lk_server.url, "name": "token-room"})
    try:
        assert room.name == "token-room"
        assert room.localParticipant.identity == "carol"
        assert room.state == "connected"
    finally:
        room.disconnect()
        await room.wait_closed()
