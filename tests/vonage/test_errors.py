"""OTError, the OT_* names, ExceptionCodes, getErrorTitleByCode and every per-method error (name + code)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

from compat import vonage as OT
from compat.vonage import errors as E


def test_the_74_names_of_errors_js_in_order() -> None:
    assert len(E.ERROR_NAMES) == 74 == len(set(E.ERROR_NAMES))
    assert E.ERROR_NAMES[0] == "OT_AUTHENTICATION_ERROR"
    assert E.ERROR_NAMES[-1] == "OT_INVALID_ENCRYPTION_SECRET"
    assert all(n.startswith("OT_") for n in E.ERROR_NAMES)
    assert "OT_HTTP_ERROR" not in E.ERROR_NAMES  # cited in the docs, absent from Errors.js
    for name in E.ERROR_NAMES:
        assert getattr(E, name) == name
        assert E.Errors[name[3:]] == name
    assert set(E.ERROR_NAMES) <= set(E.__all__)


def test_exception_codes_is_ot_exception_codes() -> None:
    codes = {member.name: int(member) for member in OT.ExceptionCodes}
    assert len(codes) == 35
    assert codes["NOT_CONNECTED"] == 1010
    assert codes["AUTHENTICATION_ERROR"] == int(OT.ExceptionCodes["AUTHENTICATION_ERROR"]) == 1004
    assert codes["UNABLE_TO_FORCE_MUTE"] == 1540
    assert codes["JS_EXCEPTION"] == 2000
    assert codes["ANVIL_CONNECT_FAILED"] == 3007
    assert codes["UNABLE_TO_ACCESS_MEDIA_ENGINE"] == 5001
    code: int = OT.ExceptionCodes.NOT_CONNECTED
    assert code == 1010  # members are ints


@pytest.mark.parametrize(
    ("code", "title"),
    [
        (1006, "Connect Failed"),
        ("1006", "Connect Failed"),
        (1004, "Authentication error"),
        (1540, "Unable to Force Mute"),
        (1600, "createOffer, createAnswer, setLocalDescription, setRemoteDescription"),
        (4001, "WebSocket Network Disconnected"),
        (1535, None),  # documented for the exception event, but absent from the title map
        (413, None),
        (9999, None),
        ("abc", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_get_error_title_by_code(code: int | str | None, title: str | None) -> None:
    assert OT.getErrorTitleByCode(code) == title


def test_ot_error_fields_str_and_pickle() -> None:
    err = OT.OTError("OT_NOT_CONNECTED", "not connected", OT.ExceptionCodes.NOT_CONNECTED)
    assert isinstance(err, Exception)
    assert OT.Error is OT.OTError
    assert (err.name, err.code, err.message) == ("OT_NOT_CONNECTED", 1010, "not connected")
    assert type(err.code) is int
    assert err.title == "Not Connected"
    assert err.toString() == "OT_NOT_CONNECTED: not connected"
    assert str(err) == "OT_NOT_CONNECTED (1010): not connected"
    assert "OT_NOT_CONNECTED" in repr(err)
    again = pickle.loads(pickle.dumps(err))
    assert again == err and (again.name, again.code, again.message) == (err.name, err.code, err.message)
    assert str(OT.OTError("OT_NOT_FOUND", "gone")) == "OT_NOT_FOUND: gone"
    with pytest.raises(ValueError, match="invalid error name"):
        OT.OTError("NOT_AN_OT_NAME", "x")


Builder = Callable[[], E.OTError]

CASES: list[tuple[str, Builder, str, int | None]] = [
    # Session.connect
    ("connect: no API key", E.connect_missing_api_key, "OT_AUTHENTICATION_ERROR", 1004),
    ("connect: bad session id", lambda: E.connect_invalid_session_id("x"), "OT_INVALID_SESSION_ID", 1005),
    ("connect: bad token", lambda: E.connect_authentication_error("x"), "OT_AUTHENTICATION_ERROR", 1004),
    ("connect: failed", lambda: E.connect_failed("x"), "OT_CONNECT_FAILED", 1006),
    ("connect: full", lambda: E.connect_connection_limit_exceeded("x"), "OT_CONNECTION_LIMIT_EXCEEDED", 1027),
    # Session.publish
    ("publish: not connected", E.publish_not_connected, "OT_NOT_CONNECTED", 1010),
    ("publish: no right", E.publish_permission_denied, "OT_PERMISSION_DENIED", 1500),
    ("publish: bad argument", lambda: E.publish_invalid_parameter("x"), "OT_INVALID_PARAMETER", 1500),
    # Session.subscribe
    ("subscribe: not connected", E.subscribe_not_connected, "OT_NOT_CONNECTED", 1501),
    ("subscribe: bad stream", lambda: E.subscribe_invalid_parameter("x"), "OT_INVALID_PARAMETER", 1501),
    ("subscribe: publisheronly", E.subscribe_permission_denied, "OT_PERMISSION_DENIED", 1501),
    # Session.forceDisconnect
    ("forceDisconnect: not connected", E.force_disconnect_not_connected, "OT_NOT_CONNECTED", 1010),
    ("forceDisconnect: no id", E.force_disconnect_invalid_parameter, "OT_INVALID_PARAMETER", 1011),
    ("forceDisconnect: not moderator", E.force_disconnect_permission_denied, "OT_PERMISSION_DENIED", 1520),
    # Session.forceUnpublish
    ("forceUnpublish: no stream", E.force_unpublish_invalid_parameter, "OT_INVALID_PARAMETER", 1011),
    ("forceUnpublish: not connected", E.force_unpublish_not_connected, "OT_NOT_CONNECTED", 1010),
    ("forceUnpublish: not moderator", E.force_unpublish_permission_denied, "OT_PERMISSION_DENIED", 1530),
    ("forceUnpublish: invalid stream", E.force_unpublish_invalid_stream, "OT_NOT_FOUND", 1535),
    ("forceUnpublish: server", E.force_unpublish_unexpected, "OT_UNEXPECTED_SERVER_RESPONSE", 2001),
    # forceMuteStream / forceMuteAll / disableForceMute
    ("forceMute: not connected", E.force_mute_not_connected, "OT_NOT_CONNECTED", 1010),
    ("forceMute: not moderator", E.force_mute_permission_denied, "OT_PERMISSION_DENIED", 1540),
    ("forceMute: bad stream", E.force_mute_invalid_parameter, "OT_INVALID_PARAMETER", 1011),
    ("forceMute: unknown stream", E.force_mute_not_found, "OT_NOT_FOUND", None),
    ("forceMute: server", E.force_mute_unexpected, "OT_UNEXPECTED_SERVER_RESPONSE", 2001),
    # Session.signal
    ("signal: not connected", E.signal_not_connected, "OT_NOT_CONNECTED", 500),
    ("signal: publisheronly", E.signal_permission_denied, "OT_PERMISSION_DENIED", 403),
    ("signal: no such connection", lambda: E.signal_connection_not_found("c1"), "OT_NOT_FOUND", 404),
    ("signal: rate limit", E.signal_rate_limit_exceeded, "OT_RATE_LIMIT_EXCEEDED", 429),
    ("signal: transport", E.signal_unexpected, "OT_UNEXPECTED_SERVER_RESPONSE", 2001),
    # any method
    ("any: bad argument", lambda: E.invalid_parameter("x"), "OT_INVALID_PARAMETER", 1011),
]


@pytest.mark.parametrize(("what", "build", "name", "code"), CASES, ids=[c[0] for c in CASES])
def test_per_method_errors(what: str, build: Builder, name: str, code: int | None) -> None:
    err = build()
    assert isinstance(err, OT.OTError)
    assert (err.name, err.code) == (name, code)
    assert err.message


def test_permission_messages_say_which_role_is_needed() -> None:
    assert "`publisher`" in E.publish_permission_denied().message
    for build in (E.force_disconnect_permission_denied, E.force_unpublish_permission_denied, E.force_mute_permission_denied):
        assert "`moderator`" in build().message
    assert "publisheronly" in E.signal_permission_denied().message


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (400, "OT_INVALID_PARAMETER"),
        (413, "OT_INVALID_PARAMETER"),
        (404, "OT_NOT_FOUND"),
        (429, "OT_RATE_LIMIT_EXCEEDED"),
        (403, "OT_PERMISSION_DENIED"),
        (500, "OT_NOT_CONNECTED"),
        (2001, "OT_UNEXPECTED_SERVER_RESPONSE"),
    ],
)
def test_signal_error_codes_map_to_names(code: int, name: str) -> None:
    err = E.signal_error(code, "m")
    assert (err.name, err.code, err.message) == (name, code, "m")


def test_signal_error_refuses_other_codes() -> None:
    with pytest.raises(ValueError, match=r"not a Session\.signal error code"):
        E.signal_error(1010, "m")
