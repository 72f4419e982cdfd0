"""Bad inputs raise as opentok raises them, before anything reaches LiveKit (the URL here answers nothing)."""

from __future__ import annotations

import time

import pytest

from compat.vonage import inspect_token, mint_session_id
from compat.vonage.server import (
    ArchiveError,
    ArchiveModes,
    Client,
    ForceDisconnectError,
    MediaModes,
    OpenTokException,
    OutputModes,
    Roles,
    SignalingError,
)

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-0123"
SID = mint_session_id(KEY, "visit-1")


@pytest.fixture
def client() -> Client:
    return Client(KEY, SECRET, api_url="ws://127.0.0.1:9", timeout=2)


def test_tokens_carry_role_and_data(client: Client) -> None:
    info = inspect_token(client.generate_token(SID, role=Roles.moderator, data="user=7"), session_id=SID)
    assert (info.role, info.data, info.room) == ("moderator", "user=7", "visit-1")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "publisher"}, "publisher is not a valid role"),
    ({"data": "x" * 1001}, "data must be less than 1000 characters"),
    ({"expire_time": int(time.time()) - 10}, "expire_time is not in the future"),
    ({"expire_time": int(time.time()) + 31 * 86400}, "expire_time is not in the next 30 days"),
    ({"initial_layout_class_list": ["x" * 1001]}, "initial_layout_class_list must be less than 1000 characters"),
])
def test_generate_token_refuses_like_opentok(client: Client, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(OpenTokException, match=message):
        client.generate_token(SID, **kwargs)  # type: ignore[arg-type]


def test_a_session_id_of_another_key_is_refused(client: Client) -> None:
    with pytest.raises(OpenTokException, match="does not belong to the api_key"):
        client.generate_token(mint_session_id("otherkey", "visit-1"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"media_mode": "routed"}, "not a valid media mode"),
    ({"archive_mode": ArchiveModes.always}, "must also have the routed media mode"),
    ({"archive_name": "x"}, "archive_name with archive mode: manual"),
    ({"location": "not-an-ip"}, "valid IPv4 address"),
    ({"media_mode": MediaModes.routed, "archive_mode": ArchiveModes.always}, "not supported"),
])
def test_create_session_refuses_like_opentok(client: Client, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(OpenTokException, match=message):
        client.create_session(**kwargs)  # type: ignore[arg-type]


def test_signals_over_the_limits_raise_signaling_error(client: Client) -> None:
    with pytest.raises(SignalingError, match="8 kB"):
        client.send_signal(SID, {"type": "chat", "data": "x" * 8200})
    with pytest.raises(SignalingError, match="is invalid"):
        client.send_signal(SID, {"type": "bad type!", "data": "x"})


def test_archive_and_disconnect_inputs(client: Client) -> None:
    with pytest.raises(OpenTokException, match="quantization_parameter must be between 15 and 40"):
        client.start_archive(SID, quantization_parameter=50)
    with pytest.raises(ArchiveError, match="individual"):
        client.start_archive(SID, output_mode=OutputModes.individual)
    with pytest.raises(ForceDisconnectError, match="invalid"):
        client.force_disconnect(SID, "")


def test_without_a_livekit_server_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEKIT_URL", raising=False)
    with pytest.raises(OpenTokException, match="LIVEKIT_URL"):
        Client(KEY, SECRET)


async def test_blocking_calls_refuse_inside_an_event_loop(client: Client) -> None:
    with pytest.raises(RuntimeError, match="send_signal_async"):
        client.send_signal(SID, {"data": "x"})
