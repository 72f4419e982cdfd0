"""session.signal rules (Signal.js) and the signal wire format."""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compat import vonage as OT
from compat.vonage import signal as S


class FakeConnection(S.SignalTarget):
    connectionId = "c1"


class FakeSession(S.SignalTarget):
    sessionId = "s1"


def err(options: dict[str, Any] | None) -> tuple[str, int | None] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        e = S.validate_signal(options)
    return None if e is None else (e.name, e.code)


BAD = ("OT_INVALID_PARAMETER", 400)
TOO_LONG = ("OT_INVALID_PARAMETER", 413)


def test_constants() -> None:
    assert OT.SIGNAL_TOPIC == "compat.vonage.signal"
    assert OT.TOPIC_PREFIX == "compat.vonage."
    assert S.is_reserved_topic(OT.SIGNAL_TOPIC) and S.is_reserved_topic("compat.vonage.future")
    assert not S.is_reserved_topic("chat") and not S.is_reserved_topic("compat.twilio")
    assert (OT.MAX_SIGNAL_DATA_LENGTH, OT.MAX_SIGNAL_TYPE_LENGTH) == (8192, 128)


def test_empty_options_are_a_valid_broadcast() -> None:
    options: dict[str, Any] | None
    for options in (None, {}):
        req = S.parse_signal(options)
        assert req.valid and req.error is None
        assert (req.type, req.data, req.to, req.retryAfterReconnect) == (None, None, None, True)


# --- type ---


@pytest.mark.parametrize("type_", ["a", "chat", "A-Z.a_z~0-9", "x" * 128, "-", "~"])
def test_valid_types(type_: str) -> None:
    assert err({"type": type_}) is None


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        (None, BAD),
        ("", BAD),
        ("has space", BAD),
        ("slash/", BAD),
        ("colon:", BAD),
        ("é", BAD),
        ("chat\n", BAD),  # no trailing-newline loophole ($ in JavaScript is the end)
        ("x" * 129, TOO_LONG),
        ("é" * 129, TOO_LONG),  # length is checked before the characters
        ("😀" * 64, BAD),  # 128 UTF-16 units: not too long, but invalid
        ("😀" * 65, TOO_LONG),  # 130 UTF-16 units
        (5, BAD),
    ],
)
def test_invalid_types(type_: Any, expected: tuple[str, int]) -> None:
    assert err({"type": type_}) == expected


# --- data ---


def test_data_edge_lengths() -> None:
    assert err({"data": "x" * 8190}) is None  # "..." = 8192
    assert err({"data": "x" * 8191}) == TOO_LONG
    assert err({"data": ""}) is None


@pytest.mark.parametrize(
    ("data", "length"),
    [
        ('"', 4),
        ("\\", 4),
        ("\n", 4),
        ("\t\r\b\f", 10),
        ("\x00", 8),
        ("\x1f", 8),
        ("\x7f", 3),
        ("é", 3),
        ("😀", 4),
        ("\ud800", 8),  # a lone surrogate is escaped (well-formed JSON.stringify)
        ("\ud83d\ude00", 4),  # a surrogate pair held as two code points is one character
        ("\u2028", 3),
        ("/", 3),
    ],
)
def test_escapes_count(data: str, length: int) -> None:
    assert S.js_length(S.json_stringify(data)) == length


def test_escapes_count_at_the_limit() -> None:
    assert err({"data": "x" * 8188 + "\n"}) is None  # 2 + 8188 + 2 = 8192
    assert err({"data": "x" * 8189 + "\n"}) == TOO_LONG
    assert err({"data": "x" * 8184 + "\x01"}) is None  # 2 + 8184 + 6 = 8192
    assert err({"data": "x" * 8185 + "\x01"}) == TOO_LONG
    assert err({"data": "😀" * 4095}) is None  # 2 + 8190
    assert err({"data": "😀" * 4096}) == TOO_LONG


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (100.0, "100"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (1e16, "10000000000000000"),
        (math.nan, "null"),
        (math.inf, "null"),
        (2**53, "9007199254740992"),
        (2**53 + 1, "9007199254740992"),  # the nearest double, as in JavaScript
        (10**400, "null"),  # Infinity
        (True, "true"),
        (None, "null"),
        ([], "[]"),
        ({}, "{}"),
        ({"a": [1, "b", None, False]}, '{"a":[1,"b",null,false]}'),
        ((1, 2), "[1,2]"),
        ({1: "x", None: "y"}, '{"1":"x","null":"y"}'),  # keys become strings
        ({False: 1}, '{"false":1}'),
        ({1.5: 0}, '{"1.5":0}'),
    ],
)
def test_json_stringify_is_javascripts(value: Any, text: str) -> None:
    assert S.json_stringify(value) == text


def test_non_string_data_is_accepted_with_a_deprecation_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="compat.vonage.signal"), pytest.warns(DeprecationWarning, match="deprecated"):
        req = S.parse_signal({"data": {"a": 1}})
    assert req.valid and req.data == {"a": 1}
    assert S.NON_STRING_DATA_WARNING in caplog.text
    with pytest.warns(DeprecationWarning):
        assert S.parse_signal({"data": []}).valid  # an empty array is truthy in JavaScript
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for falsy in ("", 0, 0.0, False, "text"):  # falsy or string data: no warning
            assert S.parse_signal({"data": falsy}).valid


def test_non_string_data_length_counts_its_json() -> None:
    assert err({"data": ["x" * 8187]}) is None  # ["...."] = 8187 + 4 = 8191
    assert err({"data": {"k": "x" * 8184}}) is None  # {"k":"..."} = 8184 + 8 = 8192
    assert err({"data": {"k": "x" * 8185}}) == TOO_LONG
    assert err({"data": 12345}) is None


@pytest.mark.parametrize("data", [None, object(), {1, 2}, b"bytes", {"k": object()}, {(1, 2): "tuple key"}])
def test_null_or_non_json_data_is_400(data: Any) -> None:
    assert err({"data": data}) == BAD


def test_circular_data_is_400() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert err({"data": loop}) == BAD
    shared = ["x"]
    assert err({"data": [shared, shared]}) is None  # shared is not circular


# --- to ---


def test_to_a_connection_or_the_session() -> None:
    assert err({"to": FakeConnection()}) is None
    assert err({"to": FakeSession()}) is None
    assert S.parse_signal({"to": FakeConnection()}).to.connectionId == "c1"


@pytest.mark.parametrize("to", [None, "", 0, False, "connection-id", 7, {"id": "c1"}, object()])
def test_to_anything_else_is_400(to: Any) -> None:
    assert err({"to": to}) == BAD


def test_to_messages_follow_signal_js() -> None:
    assert "omit it entirely" in S.parse_signal({"to": None}).error.message  # type: ignore[union-attr]
    assert "The To field was invalid" in S.parse_signal({"to": "c1"}).error.message  # type: ignore[union-attr]


# --- retryAfterReconnect ---


@pytest.mark.parametrize("retry", [True, False])
def test_retry_after_reconnect_bool(retry: bool) -> None:
    req = S.parse_signal({"retryAfterReconnect": retry})
    assert req.valid and req.retryAfterReconnect is retry


@pytest.mark.parametrize("retry", [None, 1, 0, "true", []])
def test_retry_after_reconnect_other_is_400(retry: Any) -> None:
    assert err({"retryAfterReconnect": retry}) == BAD


# --- order and options ---


def test_first_error_wins_in_signal_js_order() -> None:
    # data before to before type before retryAfterReconnect
    all_bad = {"data": "x" * 9000, "to": "bad", "type": "bad type", "retryAfterReconnect": "no"}
    assert err(all_bad) == TOO_LONG
    assert err({**all_bad, "data": "ok"}) == BAD
    assert "To field" in S.parse_signal({**all_bad, "data": "ok"}).error.message  # type: ignore[union-attr]
    assert err({**all_bad, "data": "ok", "to": FakeConnection(), "type": "x" * 200}) == TOO_LONG
    req = S.parse_signal({**all_bad, "data": "ok", "to": FakeConnection(), "type": "ok"})
    assert req.error is not None and "retryAfterReconnect" in req.error.message
    assert (req.type, req.data, req.retryAfterReconnect) == ("ok", "ok", "no")  # fields kept, as Signal.js does


def test_options_not_a_dict_is_400() -> None:
    assert err(["type", "x"]) == BAD  # type: ignore[arg-type]


def test_unknown_options_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="compat.vonage.signal"):
        assert S.parse_signal({"type": "a", "retry_after_reconnect": False}).valid
    assert "retry_after_reconnect" in caplog.text


def test_event_type() -> None:
    assert S.signal_event_type("chat") == "signal:chat"
    assert S.signal_event_type("") == "signal"
    assert S.signal_event_type(None) == "signal"


# --- wire format ---


def test_encode_is_small_json() -> None:
    assert S.encode_signal("chat", "hi") == b'{"type":"chat","data":"hi"}'
    assert S.encode_signal() == b"{}"
    assert S.encode_signal(data="é") == '{"data":"é"}'.encode()
    assert json.loads(S.encode_signal("t", {"a": [1, None]})) == {"type": "t", "data": {"a": [1, None]}}
    assert json.loads(S.encode_signal("t", "\ud800")) == {"type": "t", "data": "\ud800"}  # lone surrogate: escaped, valid UTF-8


def test_decode_a_plain_livekit_participants_packet() -> None:
    packet = json.dumps({"type": "chat", "data": "hi", "extra": 1}).encode()
    assert S.decode_signal(packet) == S.SignalMessage(type="chat", data="hi")
    assert S.decode_signal(b"{}") == S.SignalMessage(type="", data=None)
    assert S.decode_signal('{"type":null,"data":3}') == S.SignalMessage(type="", data=3)
    assert S.decode_signal(memoryview(b'{"data":"x"}')) == S.SignalMessage(type="", data="x")


@pytest.mark.parametrize(
    "packet",
    [b"", b"not json", b"\xff\xfe", b"[1,2]", b'"text"', b"null", b'{"type":5}', b'{"type":["a"]}', b"[" * 100000, None, 12],
)
def test_decode_never_raises(packet: Any) -> None:
    assert S.decode_signal(packet) is None


type_strategy = st.text(alphabet="abcXYZ019-._~", min_size=1, max_size=128)
json_data = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)


@given(type_=type_strategy, data=st.text())
def test_round_trip_of_string_signals(type_: str, data: str) -> None:
    assert S.decode_signal(S.encode_signal(type_, data)) == S.SignalMessage(type=type_, data=data)


@given(data=json_data)
def test_round_trip_of_json_data(data: Any) -> None:
    decoded = S.decode_signal(S.encode_signal("t", data))
    assert decoded is not None and decoded.data == (data if data is not None else None)
    # st.text() draws no surrogates, so Python's compact JSON has JavaScript's length (in UTF-16 units)
    python_json = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert S.js_length(S.json_stringify(data)) == len(python_json.encode("utf-16-le")) // 2
