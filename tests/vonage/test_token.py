"""generate_token and inspect_token: LiveKit tokens carry the OpenTok data and role; old-platform tokens fail fast with 1004.

The old-platform tokens are built here as §5.2 of the reference describes them (the opentok and
vonage packages are not dependencies).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from livekit import api

from compat import vonage as OT
from compat.vonage import token as T

KEY, SECRET = "APIlivekit", "livekit-secret-livekit-secret-32b"
OLD_KEY, OLD_SECRET = "47102584", "0123456789abcdef0123456789abcdef01234567"
OLD_SESSION = "2_" + base64.urlsafe_b64encode(b"1~47102584~~1612345678901~qWe1rT~MlY~P~").decode().rstrip("=")


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_iss": False})
    return claims


def auth_error(token: Any, session_id: str = "room-1", **kw: Any) -> OT.OTError:
    with pytest.raises(OT.OTError) as info:
        T.inspect_token(token, session_id, **kw)
    assert (info.value.name, info.value.code) == ("OT_AUTHENTICATION_ERROR", 1004)
    return info.value


# --- generate_token ---


def test_generate_token_is_a_livekit_token_for_the_sessions_room() -> None:
    sid = OT.mint_session_id(KEY, "clinic-42")
    token = OT.generate_token(KEY, SECRET, sid, data="userId=7", initial_layout_class_list=["focus", "big"], identity="dr-who")
    claims = decode(token)
    assert claims["iss"] == KEY and claims["sub"] == "dr-who"
    assert claims["video"]["room"] == "clinic-42" and claims["video"]["roomJoin"] is True
    meta = json.loads(claims["metadata"])
    assert meta == {"compat.vonage": {"v": 1, "role": "publisher", "data": "userId=7", "initialLayoutClassList": ["focus", "big"]}}
    assert abs(claims["exp"] - (time.time() + 24 * 3600)) < 5  # opentok's default: 24 h
    # the LiveKit SDK's own verifier accepts it
    verified = api.TokenVerifier(KEY, SECRET).verify(token)
    assert verified.video is not None and verified.video.room == "clinic-42"


def test_generate_token_plain_room_name_and_defaults() -> None:
    token = OT.generate_token(KEY, SECRET, "room-1")
    claims = decode(token)
    assert claims["video"]["room"] == "room-1"
    uuid.UUID(claims["sub"])  # default identity: a UUID, like an OpenTok connection id
    assert T.parse_metadata(claims["metadata"]) == T.ConnectionMetadata(data=None, role="publisher")


@pytest.mark.parametrize("role", ["subscriber", "publisher", "publisheronly", "moderator"])
def test_generate_then_inspect_round_trip(role: str) -> None:
    token = OT.generate_token(KEY, SECRET, "room-1", role=role, data="d" * 1000, name="Dr Who")
    info = OT.inspect_token(token, "room-1")
    assert (info.role, info.capabilities, info.data, info.name, info.room, info.api_key) == (
        role,
        OT.Capabilities.fromPermissions(T_PERMS[role]),
        "d" * 1000,
        "Dr Who",
        "room-1",
        KEY,
    )


T_PERMS = {
    "subscriber": ["subscribe"],
    "publisher": ["publish", "subscribe"],
    "publisheronly": ["publish"],
    "moderator": ["publish", "subscribe", "forceunpublish", "forcedisconnect", "forcemute"],
}


def test_expire_time_forms() -> None:
    at = int(time.time()) + 3600
    assert abs(decode(OT.generate_token(KEY, SECRET, "r", expire_time=at))["exp"] - at) <= 1
    as_datetime = datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
    assert abs(decode(OT.generate_token(KEY, SECRET, "r", expire_time=as_datetime))["exp"] - at) <= 1
    assert abs(decode(OT.generate_token(KEY, SECRET, "r", expire_time=float(at)))["exp"] - at) <= 1


def test_user_metadata_is_kept() -> None:
    token = OT.generate_token(KEY, SECRET, "r", data="x", metadata={"avatar": "a.png", "n": 1})
    meta = json.loads(decode(token)["metadata"])
    assert meta["avatar"] == "a.png" and meta["n"] == 1 and meta["compat.vonage"]["data"] == "x"


class FakeRole:
    value = "moderator"


def test_role_enums_are_accepted() -> None:
    assert OT.inspect_token(OT.generate_token(KEY, SECRET, "r", role=FakeRole()), "r").role == "moderator"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"role": "admin"}, "not a valid role"),
        ({"data": "x" * 1001}, "less than 1000 characters"),
        ({"data": 5}, "data must be a string"),
        ({"expire_time": time.time() - 60}, "not in the future"),
        ({"expire_time": time.time() + 31 * 24 * 3600}, "not in the next 30 days"),
        ({"expire_time": "soon"}, "invalid expire time"),
        ({"initial_layout_class_list": ["a" * 600, "b" * 600]}, "initial_layout_class_list must be less than 1000"),
        ({"initial_layout_class_list": ["a", 3]}, "must be strings"),
        ({"identity": ""}, "identity"),
        ({"metadata": {"compat.vonage": 1}}, "reserved"),
        ({"api_key": ""}, "LiveKit API key"),
        ({"api_secret": ""}, "LiveKit API secret"),
    ],
)
def test_generate_token_refuses_bad_arguments(kwargs: dict[str, Any], words: str) -> None:
    args = {"api_key": KEY, "api_secret": SECRET, "session_id": "r", **kwargs}
    with pytest.raises(OT.OTError) as info:
        OT.generate_token(**args)
    assert (info.value.name, info.value.code) == ("OT_INVALID_PARAMETER", 1011)
    assert words in info.value.message
    assert info.value.message.startswith("Cannot generate token") or words in ("not a valid role",)


def test_generate_token_for_another_keys_session_or_an_opentok_session() -> None:
    with pytest.raises(OT.OTError) as info:
        OT.generate_token(KEY, SECRET, OT.mint_session_id("OtherKey", "r"))
    assert info.value.code == 1011 and "does not belong to the api_key" in info.value.message
    with pytest.raises(OT.OTError) as info:
        OT.generate_token(KEY, SECRET, OLD_SESSION)
    assert (info.value.name, info.value.code) == ("OT_INVALID_SESSION_ID", 1005)


def test_layout_list_as_a_space_joined_string() -> None:
    token = OT.generate_token(KEY, SECRET, "r", initial_layout_class_list="focus big")
    assert OT.inspect_token(token, "r").initialLayoutClassList == ("focus", "big")


# --- old-platform tokens fail fast with 1004 ---


def legacy_t1_token(role: str = "publisher") -> str:
    now = int(time.time())
    payload = urllib.parse.urlencode(
        {
            "session_id": OLD_SESSION,
            "create_time": now,
            "expire_time": now + 86400,
            "role": role,
            "nonce": 123456,
            "initial_layout_class_list": "",
            "connection_data": "name=Bob",
        }
    )
    sig = hmac.new(OLD_SECRET.encode(), payload.encode(), hashlib.sha1).hexdigest()
    return "T1==" + base64.b64encode(f"partner_id={OLD_KEY}&sig={sig}:{payload}".encode()).decode()


def opentok_jwt() -> str:
    now = int(time.time())
    claims = {
        "iss": OLD_KEY,
        "ist": "project",
        "iat": now,
        "exp": now + 86400,
        "scope": "session.connect",
        "session_id": OLD_SESSION,
        "role": "publisher",
        "nonce": 0.123,
        "connection_data": "name=Bob",
        "initial_layout_class_list": "focus",
    }
    return jwt.encode(claims, OLD_SECRET, algorithm="HS256", headers={"typ": "JWT"})


def vonage_jwt() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    now = int(time.time())
    claims = {
        "application_id": "8d7d2ef2-19ab-4c9b-9f0e-01c1bd5a2b14",
        "session_id": OLD_SESSION,
        "role": "publisher",
        "scope": "session.connect",
        "subject": "video",
        "acl": {"paths": {"/session/**": {}}},
        "iat": now,
        "exp": now + 900,
        "jti": str(uuid.uuid4()),
        "initial_layout_class_list": ["focus"],
    }
    return jwt.encode(claims, pem, algorithm="RS256", headers={"typ": "JWT"})


def twilio_token() -> str:
    now = int(time.time())
    claims = {
        "jti": f"SK123-{now}",
        "iss": "SK123",
        "sub": "AC123",
        "exp": now + 3600,
        "grants": {"identity": "alice", "video": {"room": "room-1"}},
    }
    return jwt.encode(claims, "twilio-secret-twilio-secret-32by", algorithm="HS256", headers={"cty": "twilio-fpa;v=1"})


def test_legacy_t1_token() -> None:
    e = auth_error(legacy_t1_token(role="moderator"))
    assert "legacy OpenTok token (T1==" in e.message
    assert f"API key {OLD_KEY}, role moderator" in e.message
    assert "generate_token" in e.message and "LiveKit" in e.message


def test_opentok_jwt() -> None:
    e = auth_error(opentok_jwt())
    assert "OpenTok JWT (HS256, API key 47102584)" in e.message
    assert "generate_token" in e.message


def test_vonage_jwt_as_str_and_as_bytes() -> None:
    token = vonage_jwt()
    for form in (token, token.encode()):  # vonage-video's generate_client_token returns bytes
        e = auth_error(form)
        assert "Vonage Video JWT (RS256, application_id 8d7d2ef2-19ab-4c9b-9f0e-01c1bd5a2b14)" in e.message
        assert "generate_token" in e.message


def test_twilio_token() -> None:
    e = auth_error(twilio_token())
    assert "Twilio Video access token" in e.message and "generate_token" in e.message


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (None, "undefined or not a string"),
        ("", "undefined or not a string"),
        (42, "not a string"),
        ("hello", "not a JWT"),
        ("a.b", "not a JWT"),
        ("a.b.c", "cannot be decoded"),
        ("!!!.???.x", "cannot be decoded"),
        (base64.urlsafe_b64encode(b"[1]").decode() + "." + base64.urlsafe_b64encode(b"{}").decode() + ".s", "JSON objects"),
        (jwt.encode({"iss": KEY, "sub": "me"}, "k" * 64, algorithm="HS512"), "HS512"),
        (jwt.encode({"sub": "me", "video": {"roomJoin": True, "room": "room-1"}}, SECRET), "no issuer"),
        (jwt.encode({"iss": KEY, "video": {"roomJoin": True, "room": "room-1"}}, SECRET), "no identity"),
        (jwt.encode({"iss": KEY, "sub": "me", "video": {"room": "room-1"}}, SECRET), "roomJoin"),
        (jwt.encode({"iss": KEY, "sub": "me", "video": {"roomJoin": True}}, SECRET), "roomJoin and a room"),
        (jwt.encode({"iss": KEY, "sub": "me", "video": {"roomJoin": True, "room": "room-1"}}, SECRET), "no expiry"),
    ],
)
def test_garbage_and_incomplete_tokens(token: Any, words: str) -> None:
    e = auth_error(token)
    assert words in e.message


def livekit_token(room: str = "room-1", key: str = KEY, ttl: float = 600, **grants: Any) -> str:
    at = api.AccessToken(key, SECRET).with_identity("me").with_grants(api.VideoGrants(room_join=True, room=room, **grants))
    return at.with_ttl(datetime.timedelta(seconds=ttl)).to_jwt()


def test_token_for_another_room_says_which() -> None:
    e = auth_error(livekit_token(room="room-2"), "room-1")
    assert "'room-2'" in e.message and "'room-1'" in e.message
    sid = OT.mint_session_id(KEY, "room-1")
    e = auth_error(livekit_token(room="room-2"), sid)
    assert "'room-2'" in e.message and sid in e.message


def test_token_from_another_api_key_than_the_session_id() -> None:
    sid = OT.mint_session_id("OtherKey", "room-1")
    e = auth_error(livekit_token(), sid)
    assert "OtherKey" in e.message and KEY in e.message


def test_expired_and_not_yet_valid() -> None:
    token = livekit_token(ttl=60)
    assert auth_error(token, now=time.time() + 3600).message.startswith("This LiveKit token expired at")
    assert OT.inspect_token(token, "room-1", now=time.time() + 65).room == "room-1"  # within the leeway
    assert "not valid before" in auth_error(token, now=time.time() - 3600).message


def test_session_id_errors_come_first() -> None:
    with pytest.raises(OT.OTError) as info:
        OT.inspect_token(livekit_token(), OLD_SESSION)
    assert info.value.code == 1005


def test_plain_livekit_token_without_our_metadata() -> None:
    plain = (
        api.AccessToken(KEY, SECRET)
        .with_identity("bot")
        .with_metadata('{"avatar":"x"}')
        .with_grants(api.VideoGrants(room_join=True, room="room-1", can_subscribe=False, can_publish_data=False))
        .to_jwt()
    )
    info = OT.inspect_token(plain, "room-1")
    assert (info.identity, info.role, info.data, info.metadata) == ("bot", "publisheronly", '{"avatar":"x"}', '{"avatar":"x"}')
    assert info.capabilities.subscribe == 0
    assert OT.inspect_token(livekit_token(room_admin=True), "room-1").role == "moderator"


def test_grants_not_metadata_decide_the_role() -> None:
    token = (
        api.AccessToken(KEY, SECRET)
        .with_identity("me")
        .with_metadata(T.build_metadata("d", "moderator"))
        .with_grants(api.VideoGrants(room_join=True, room="room-1", can_publish=False))
        .to_jwt()
    )
    info = OT.inspect_token(token, "room-1")
    assert (info.role, info.data) == ("subscriber", "d")


def test_oversized_connection_data_in_our_metadata() -> None:
    token = api.AccessToken(KEY, SECRET).with_identity("me").with_metadata(T.build_metadata("x" * 1001))
    token = token.with_grants(api.VideoGrants(room_join=True, room="room-1"))
    assert "1001 characters" in auth_error(token.to_jwt()).message


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, T.ConnectionMetadata()),
        ("", T.ConnectionMetadata()),
        ("plain text", T.ConnectionMetadata(data="plain text")),
        ('{"a":1}', T.ConnectionMetadata(data='{"a":1}')),
        ("[1]", T.ConnectionMetadata(data="[1]")),
        ('{"compat.vonage":{"data":"d","role":"moderator"}}', T.ConnectionMetadata(data="d", role="moderator")),
        (
            '{"compat.vonage":{"data":5,"role":"king","initialLayoutClassList":["a",1]}}',
            T.ConnectionMetadata(initialLayoutClassList=("a",)),
        ),
        ('{"compat.vonage":"not an object"}', T.ConnectionMetadata(data='{"compat.vonage":"not an object"}')),
    ],
)
def test_parse_metadata_never_raises(metadata: str | None, expected: T.ConnectionMetadata) -> None:
    assert T.parse_metadata(metadata) == expected
