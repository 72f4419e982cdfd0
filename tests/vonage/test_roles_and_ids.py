"""Roles <-> Capabilities <-> LiveKit grants, and session IDs <-> LiveKit rooms."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit import api

from compat import vonage as OT
from compat.vonage import capabilities as C
from compat.vonage import sessionid as SID

# --- roles and capabilities ---


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("subscriber", (0, 1, 0, 0, 0)),
        ("publisher", (1, 1, 0, 0, 0)),
        ("publisheronly", (1, 0, 0, 0, 0)),
        ("moderator", (1, 1, 1, 1, 1)),
    ],
)
def test_capabilities_of_each_role(role: str, expected: tuple[int, ...]) -> None:
    caps = C.capabilities_for_role(role)
    assert (caps.publish, caps.subscribe, caps.forceUnpublish, caps.forceDisconnect, caps.forceMute) == expected
    assert caps.supportsWebRTC == 1 and caps.supportsE2ee == 0
    assert caps.permittedTo("publish") is bool(expected[0])
    assert caps.permittedTo("forceMute") is bool(expected[4])


def test_permitted_to_mirrors_has_own_property() -> None:
    caps = C.capabilities_for_role("moderator")
    assert caps.permittedTo("supportsWebRTC")
    assert not caps.permittedTo("permittedTo")
    assert not caps.permittedTo("signal")
    assert not caps.permittedTo("__class__")


def test_no_capabilities_before_connect() -> None:
    assert OT.NO_CAPABILITIES == OT.Capabilities()
    assert not any(OT.NO_CAPABILITIES.permittedTo(a) for a in ("publish", "subscribe", "forceMute"))


def test_from_permissions_reads_server_strings() -> None:
    caps = OT.Capabilities.fromPermissions(["publish", "forcemute", "unknown"])
    assert (caps.publish, caps.subscribe, caps.forceMute) == (1, 0, 1)


def test_signal_right() -> None:
    assert [C.role_can_signal(r) for r in OT.ROLES] == [True, True, False, True]


class FakeRoles:
    """Stands in for opentok.Roles / vonage TokenRole: an enum with a string value."""

    def __init__(self, value: str) -> None:
        self.value = value


def test_normalize_role_accepts_enums_and_refuses_others() -> None:
    assert C.normalize_role(FakeRoles("publisheronly")) == "publisheronly"
    for bad in ("admin", "Publisher", None, 1, FakeRoles("owner")):
        with pytest.raises(OT.OTError) as info:
            C.normalize_role(bad)
        assert (info.value.name, info.value.code) == ("OT_INVALID_PARAMETER", 1011)
        assert "subscriber, publisher, publisheronly, moderator" in info.value.message


def test_grants_of_each_role() -> None:
    sub = C.grants_for_role("subscriber", "r")
    assert (sub.room_join, sub.room, sub.can_publish, sub.can_subscribe, sub.can_publish_data, sub.room_admin) == (
        True,
        "r",
        False,
        True,
        True,
        None,
    )
    pub = C.grants_for_role("publisher", "r")
    assert (pub.can_publish, pub.can_subscribe, pub.can_publish_data, pub.room_admin) == (True, True, True, None)
    only = C.grants_for_role("publisheronly", "r")
    assert (only.can_publish, only.can_subscribe, only.can_publish_data, only.room_admin) == (True, False, False, None)
    mod = C.grants_for_role("moderator", "r")
    assert (mod.can_publish, mod.can_subscribe, mod.can_publish_data, mod.room_admin) == (True, True, True, True)


@pytest.mark.parametrize("role", ["subscriber", "publisher", "publisheronly", "moderator"])
def test_roles_grants_round_trip(role: str) -> None:
    grants = C.grants_for_role(role, "room")
    assert C.role_for_grants(grants) == role
    token = api.AccessToken("key", "secret").with_identity("me").with_grants(grants).to_jwt()
    claim = jwt.decode(token, options={"verify_signature": False})["video"]  # camelCase, as in the JWT
    assert C.role_for_grants(claim) == role
    assert C.capabilities_for_grants(claim) == C.capabilities_for_role(role)


@pytest.mark.parametrize(
    ("claim", "role"),
    [
        ({"roomJoin": True, "room": "r"}, "publisher"),  # LiveKit defaults: publish and subscribe
        ({"roomJoin": True, "room": "r", "canPublish": False, "canSubscribe": False}, "subscriber"),
        ({"roomJoin": True, "room": "r", "roomAdmin": True, "canPublish": False}, "moderator"),
        ({"room_join": True, "can_subscribe": False}, "publisheronly"),
    ],
)
def test_role_of_plain_livekit_grants(claim: dict[str, Any], role: str) -> None:
    assert C.role_for_grants(claim) == role


# --- session ids ---


def opentok_style_id(prefix: str, record: str) -> str:
    return prefix + base64.urlsafe_b64encode(record.encode()).decode().rstrip("=")


def test_mint_looks_like_opentok_and_round_trips() -> None:
    sid = OT.mint_session_id("APIkey123", "clinic-42")
    assert sid.startswith("2_") and "=" not in sid
    assert set(sid[2:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert OT.room_for_session_id(sid) == "clinic-42"
    info = OT.parse_session_id(sid)
    assert (info.room, info.api_key, info.minted) == ("clinic-42", "APIkey123", True)
    assert OT.mint_session_id("APIkey123", "clinic-42") == sid  # deterministic


@pytest.mark.parametrize("room", ["clinic-42", "1_lobby", "2_x", "a~b~c", "salle d'attente é", "MX4xMjM"])
def test_plain_room_names_pass_through(room: str) -> None:
    info = OT.parse_session_id(room)
    assert (info.room, info.api_key, info.minted) == (room, None, False)


@pytest.mark.parametrize(
    "session_id",
    [
        opentok_style_id("1_", "1~123456~~1600000000000~Ab12Cd~MlY~~"),
        opentok_style_id("2_", "1~47102584~~1612345678901~qWe1rT~MlY~P~"),
        opentok_style_id("2_", "2~8d7d2ef2-19ab-4c9b-9f0e-01c1bd5a2b14~~1700000000000~x~"),
    ],
)
def test_opentok_and_vonage_ids_are_refused_with_1005(session_id: str) -> None:
    with pytest.raises(OT.OTError) as info:
        OT.room_for_session_id(session_id)
    assert (info.value.name, info.value.code) == ("OT_INVALID_SESSION_ID", 1005)
    assert "OpenTok/Vonage" in info.value.message
    assert "mint_session_id" in info.value.message and "room name" in info.value.message


@pytest.mark.parametrize(
    ("session_id", "words"),
    [
        (None, "undefined"),
        ("", "undefined"),
        (42, "not a string"),
        (["a"], "not a string"),
        (opentok_style_id("2_", "compat~9~key~room"), "unknown version"),
        (opentok_style_id("2_", "compat~1~key"), "damaged"),
        (opentok_style_id("2_", "compat~1~~room"), "damaged"),
    ],
)
def test_bad_session_ids_are_1005(session_id: Any, words: str) -> None:
    with pytest.raises(OT.OTError) as info:
        OT.parse_session_id(session_id)
    assert (info.value.name, info.value.code) == ("OT_INVALID_SESSION_ID", 1005)
    assert words in info.value.message


@pytest.mark.parametrize(("api_key", "room"), [("", "r"), ("a~b", "r"), ("k", ""), (None, "r"), ("k", "x" * 200)])
def test_mint_refuses_bad_arguments(api_key: Any, room: Any) -> None:
    with pytest.raises(OT.OTError) as info:
        OT.mint_session_id(api_key, room)
    assert (info.value.name, info.value.code) == ("OT_INVALID_PARAMETER", 1011)


api_keys = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="~"), min_size=1, max_size=20)
rooms = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)


@given(api_key=api_keys, room=rooms)
def test_session_id_round_trip(api_key: str, room: str) -> None:
    sid = OT.mint_session_id(api_key, room)
    assert len(sid) <= SID.MAX_SESSION_ID_LENGTH
    info = OT.parse_session_id(sid)
    assert (info.room, info.api_key) == (room, api_key)


@given(room=rooms)
def test_any_plain_name_names_itself_or_is_refused_as_foreign(room: str) -> None:
    try:
        info = OT.parse_session_id(room)
    except OT.OTError as e:  # only names shaped like an OpenTok ID can be refused
        assert e.code == 1005 and room[:2] in ("1_", "2_")
    else:
        assert info.room == room
