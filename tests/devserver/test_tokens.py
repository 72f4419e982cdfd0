"""Every kind of bad token is refused at the handshake, with a reason the SDK shows."""

from __future__ import annotations

import datetime
import time

import aiohttp
import jwt
import pytest
from livekit import api, rtc

from compat.devserver.testing import LiveKitServer


def _claims(server: LiveKitServer, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": server.api_key,
        "sub": "someone",
        "nbf": now - 5,
        "exp": now + 600,
        "video": {"roomJoin": True, "room": "r"},
    }
    claims.update(overrides)
    return claims


def _bad_tokens(server: LiveKitServer) -> dict[str, tuple[str, int, str]]:
    """name → (token, expected HTTP status, text the reason must contain)."""
    now = int(time.time())

    def sign(claims: dict[str, object], secret: str = server.api_secret) -> str:
        return jwt.encode(claims, secret, algorithm="HS256")

    return {
        "expired": (sign(_claims(server, exp=now - 3600, nbf=now - 7200)), 401, "expired"),
        "not yet valid": (sign(_claims(server, nbf=now + 3600, exp=now + 7200)), 401, "not valid yet"),
        "wrong signature": (sign(_claims(server), "not-the-secret"), 401, "signature"),
        "unknown key": (sign(_claims(server, iss="nokey")), 401, "invalid API key"),
        "no roomJoin": (sign(_claims(server, video={"room": "r", "canPublish": True})), 401, "roomJoin"),
        "no room": (sign(_claims(server, video={"roomJoin": True})), 401, "no room"),
        "garbage": ("not.a.jwt", 401, "malformed"),
    }


@pytest.mark.parametrize(
    "case", ["expired", "not yet valid", "wrong signature", "unknown key", "no roomJoin", "no room", "garbage"]
)
async def test_bad_token_is_refused_with_reason_in_connect_error(dev_server: LiveKitServer, case: str) -> None:
    token, status, reason = _bad_tokens(dev_server)[case]
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError) as info:
        await room.connect(dev_server.url, token, rtc.RoomOptions(connect_timeout=5))
    assert str(status) in info.value.message
    assert reason in info.value.message


@pytest.mark.parametrize(
    "case", ["expired", "not yet valid", "wrong signature", "unknown key", "no roomJoin", "no room", "garbage"]
)
async def test_validate_endpoint_explains_bad_tokens(dev_server: LiveKitServer, case: str) -> None:
    token, status, reason = _bad_tokens(dev_server)[case]
    async with aiohttp.ClientSession() as http:
        async with http.get(
            dev_server.http_url() + "/rtc/validate", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == status
            assert reason in await response.text()
            assert response.headers["Access-Control-Allow-Origin"]


async def test_token_for_another_room_is_refused(dev_server: LiveKitServer) -> None:
    token = dev_server.token("someone", "room-a")
    async with aiohttp.ClientSession() as http:
        url = dev_server.http_url() + "/rtc/validate?room=room-b"
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 401
            assert "room-a" in await response.text()
        url = dev_server.http_url() + "/rtc/validate?room=room-a"
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200


async def test_single_pc_path_is_404_so_clients_fall_back(dev_server: LiveKitServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(dev_server.http_url() + "/rtc/v1") as response:
            assert response.status == 404
        async with http.options(
            dev_server.http_url() + "/rtc/v1/validate", headers={"Origin": "http://page.test"}
        ) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "http://page.test"


def test_livekit_api_tokens_verify(dev_server: LiveKitServer) -> None:
    from compat.devserver.auth import check_join, verify

    token = (
        api.AccessToken(dev_server.api_key, dev_server.api_secret)
        .with_identity("x")
        .with_grants(api.VideoGrants(room_join=True, room="r", can_publish_sources=["microphone"], hidden=True))
        .with_ttl(datetime.timedelta(minutes=1))
        .to_jwt()
    )
    claims = verify(token, {dev_server.api_key: dev_server.api_secret})
    assert check_join(claims, None) == "r"
    assert claims.video.hidden and claims.video.can_publish
    assert len(claims.video.can_publish_sources) == 1
