"""Error classes, error mapping, option validation, token checks, data size limit."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from compat import core as C
from compat import twilio_video as Video
from compat.twilio_video import errors as E
from compat.twilio_video.errormapping import connect_error, disconnect_error
from compat.twilio_video.localparticipant import check_track_name
from compat.twilio_video.options import ConnectOptions
from compat.twilio_video.token import TWILIO_TOKEN_MESSAGE, inspect_token


def jwt(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def enc(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{enc(header)}.{enc(payload)}.c2ln"


def lk_payload(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": "APIkey",
        "sub": "bot",
        "nbf": now,
        "exp": now + 600,
        "video": {"roomJoin": True, "room": "r"},
    }
    payload.update(over)
    return payload


HS = {"alg": "HS256", "typ": "JWT"}


# --- error classes ---------------------------------------------------------------------


def test_there_are_55_coded_errors_with_the_reference_codes() -> None:
    assert len(E.ERRORS_BY_CODE) == 55
    assert {20101, 20107, 53000, 53006, 53118, 53124, 53125, 53205, 53304, 53407, 53501} <= set(E.ERRORS_BY_CODE)
    for code, cls in E.ERRORS_BY_CODE.items():
        err = cls()
        assert err.code == code and cls.CODE == code
        assert err.name == "TwilioError"
        assert isinstance(err, Video.TwilioError)
        assert str(err) == f"TwilioError {code}: {err.message}"
        assert getattr(Video, cls.__name__) is cls
        assert cls.__name__ in Video.__all__


def test_create_twilio_error() -> None:
    err = E.createTwilioError(53205, "kicked")
    assert isinstance(err, E.ParticipantDuplicateIdentityError) and err.message == "kicked"
    unknown = E.createTwilioError(12345, "odd")
    assert type(unknown) is E.TwilioError and unknown.code == 12345


# --- mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "status", "code"),
    [
        ("engine: signal failure: client error: 401 Unauthorized - token is expired", 401, 20104),
        ("401 Unauthorized - token not valid yet", 401, 20105),
        ("401 Unauthorized - signature is invalid", 401, 20107),
        ("401 Unauthorized - unknown API key", 401, 20103),
        ("401 Unauthorized - no permission to join room", 401, 20106),
        ("401 Unauthorized - garbage", 401, 20101),
        ("403 Forbidden - room is full", 403, 53105),
        ("could not connect: connection refused", None, 53000),
        ("500 Internal Server Error", 500, 53104),
    ],
)
def test_connect_failures_map_to_twilio_codes(message: str, status: int | None, code: int) -> None:
    assert connect_error(C.ConnectFailure(message, status)).code == code


def test_connect_timeout_is_a_signaling_error() -> None:
    assert connect_error(C.ConnectFailure("timed out", None, timed_out=True)).code == 53000


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (C.DisconnectCause.CLIENT_INITIATED, None),
        (C.DisconnectCause.PARTICIPANT_REMOVED, None),
        (C.DisconnectCause.DUPLICATE_IDENTITY, 53205),
        (C.DisconnectCause.ROOM_DELETED, 53118),
        (C.DisconnectCause.ROOM_CLOSED, 53118),
        (C.DisconnectCause.SIGNAL_CLOSE, 53001),
        (C.DisconnectCause.CONNECTION_TIMEOUT, 53001),
        (C.DisconnectCause.MEDIA_FAILURE, 53405),
        (C.DisconnectCause.SERVER_SHUTDOWN, 53000),
        (C.DisconnectCause.JOIN_FAILURE, 53000),
        (C.DisconnectCause.UNKNOWN, None),
    ],
)
def test_disconnect_causes_map_to_twilio_codes(cause: C.DisconnectCause, code: int | None) -> None:
    err = disconnect_error(cause)
    assert (err.code if err is not None else None) == code


def test_unknown_cause_after_reconnecting_is_signaling_loss() -> None:
    err = disconnect_error(C.DisconnectCause.UNKNOWN, was_reconnecting=True)
    assert err is not None and err.code == 53001


# --- tokens ----------------------------------------------------------------------------


def test_twilio_token_fails_fast_with_instructions() -> None:
    twilio = jwt(
        {"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"},
        {"iss": "SKxx", "sub": "ACxx", "grants": {"identity": "bot", "video": {"room": "r"}}, "exp": time.time() + 60},
    )
    with pytest.raises(E.AccessTokenInvalidError) as info:
        inspect_token(twilio)
    assert info.value.code == 20101
    assert "LiveKit access token" in info.value.message and "AccessToken" in info.value.message
    assert info.value.message == TWILIO_TOKEN_MESSAGE


async def test_connect_rejects_twilio_token_before_any_network() -> None:
    twilio = jwt({"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"}, {"iss": "SK", "sub": "AC"})
    with pytest.raises(E.AccessTokenInvalidError):
        await Video.connect(twilio, url="ws://127.0.0.1:9")


@pytest.mark.parametrize(
    ("token", "cls"),
    [
        ("not-a-jwt", E.AccessTokenInvalidError),
        ("a.b.c", E.AccessTokenInvalidError),
        (jwt({"alg": "none"}, lk_payload()), E.AccessTokenHeaderInvalidError),
        (jwt(HS, lk_payload(iss=None)), E.AccessTokenIssuerInvalidError),
        (jwt(HS, lk_payload(sub="")), E.AccessTokenIssuerInvalidError),
        (jwt(HS, lk_payload(exp=int(time.time()) - 3600)), E.AccessTokenExpiredError),
        (jwt(HS, lk_payload(nbf=int(time.time()) + 3600)), E.AccessTokenNotYetValidError),
        (jwt(HS, lk_payload(video={"room": "r"})), E.AccessTokenGrantsInvalidError),
        (jwt(HS, lk_payload(video={"roomJoin": True})), E.AccessTokenGrantsInvalidError),
    ],
)
def test_token_problems_get_their_code(token: str, cls: type[E.TwilioError]) -> None:
    with pytest.raises(cls):
        inspect_token(token)


def test_token_room_must_match_name() -> None:
    token = jwt(HS, lk_payload())
    assert inspect_token(token, "r").room == "r"
    with pytest.raises(E.AccessTokenGrantsInvalidError):
        inspect_token(token, "other")


async def test_token_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="token must be a string"):
        await Video.connect(123)  # type: ignore[arg-type]


# --- options ---------------------------------------------------------------------------


def test_connect_options_defaults_and_parsing() -> None:
    o = ConnectOptions.parse({"name": "r", "dominantSpeaker": True, "networkQuality": {"local": 2, "remote": 1}})
    assert o.name == "r" and o.dominantSpeaker and o.automaticSubscription
    assert o.networkQuality == Video.NetworkQualityConfiguration(2, 1)
    assert ConnectOptions.parse({"networkQuality": True}).networkQuality == Video.NetworkQualityConfiguration(1, 0)
    assert ConnectOptions.parse({"networkQuality": {"local": 7}}).networkQuality == Video.NetworkQualityConfiguration(1, 0)
    assert ConnectOptions.parse({"preferredAudioCodecs": ["opus"]}).preferredAudioCodecs == (Video.AudioCodecSettings("opus", True),)
    assert ConnectOptions.parse({"preferredVideoCodecs": [{"codec": "VP8", "simulcast": True}]}).preferredVideoCodecs == (
        Video.VideoCodecSettings("VP8", True),
    )
    assert ConnectOptions.parse({"maxAudioBitrate": 0}).maxAudioBitrate is None
    ignored = ConnectOptions.parse({"audio": True, "video": False, "logLevel": "debug", "region": "de1"})
    assert set(ignored.ignored) == {"logLevel"} and ignored.region == "de1"
    assert ignored.audio is True and ignored.video is False  # connect() makes bot-fed tracks from them
    with pytest.raises(TypeError, match=r"options\.audio"):
        ConnectOptions.parse({"audio": "yes"})
    # lib/connect.js refuses only a truthy maxVideoBitrate with preferredVideoCodecs 'auto'
    for no_cap in (0, None):
        assert ConnectOptions.parse({"maxVideoBitrate": no_cap, "preferredVideoCodecs": "auto"}).maxVideoBitrate is None


@pytest.mark.parametrize(
    ("options", "exc", "match"),
    [
        ("x", TypeError, "options must be an object"),
        ({"nmae": "r"}, TypeError, "unknown ConnectOptions"),
        ({"name": 5}, TypeError, "options.name must be a string"),
        ({"automaticSubscription": "yes"}, TypeError, "must be a boolean"),
        ({"tracks": ["mic"]}, TypeError, "options.tracks must be an Array"),
        ({"maxVideoBitrate": "fast"}, TypeError, "must be a number"),
        ({"maxVideoBitrate": 1000, "preferredVideoCodecs": "auto"}, TypeError, "not compatible"),
        ({"preferredVideoCodecs": ["AV9"]}, Video.RangeError, "must be one of"),
        ({"preferredAudioCodecs": [{"codec": "mp3"}]}, Video.RangeError, "must be one of"),
        ({"networkQuality": "high"}, TypeError, "networkQuality"),
    ],
)
def test_bad_connect_options(options: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        ConnectOptions.parse(options)


async def test_connect_validates_options_and_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    token = jwt(HS, lk_payload())
    with pytest.raises(TypeError, match="unknown ConnectOptions"):
        await Video.connect(token, {"bogus": 1})
    with pytest.raises(TypeError, match="options must be an object"):
        await Video.connect(token, "r")
    monkeypatch.delenv("LIVEKIT_URL", raising=False)
    with pytest.raises(TypeError, match="LIVEKIT_URL"):
        await Video.connect(token, name="r")


async def test_connect_refused_maps_to_53000() -> None:
    token = jwt(HS, lk_payload())
    with pytest.raises(E.SignalingConnectionError):
        await Video.connect(token, url="ws://127.0.0.1:9", connectTimeout=8)


# --- tracks ----------------------------------------------------------------------------


def test_track_name_rules() -> None:
    assert check_track_name("mic", set()) is None
    assert isinstance(check_track_name("", set()), E.TrackNameInvalidError)
    assert isinstance(check_track_name("x" * 129, set()), E.TrackNameTooLongError)
    assert check_track_name("x" * 128, set()) is None
    assert isinstance(check_track_name("a\nb", set()), E.TrackNameCharsInvalidError)
    assert isinstance(check_track_name("mic", {"mic"}), E.TrackNameIsDuplicatedError)


def test_local_track_construction() -> None:
    audio = Video.LocalAudioTrack()
    assert audio.name == audio.id and audio.kind == "audio" and audio.isEnabled
    assert Video.LocalAudioTrack(options={"name": "mic"}).name == "mic"
    assert Video.LocalVideoTrack(name="cam", width=320, height=240).dimensions == {"width": 320, "height": 240}
    with pytest.raises(TypeError):
        Video.LocalAudioTrack(name=5)  # type: ignore[arg-type]
    lossy = Video.LocalDataTrack({"maxRetransmits": 0, "name": "cursor"})
    assert not lossy.reliable and lossy.name == "cursor"
    assert Video.LocalDataTrack().reliable


def test_enable_disable_stop_events() -> None:
    track = Video.LocalAudioTrack(name="mic")
    seen: list[str] = []
    for name in ("enabled", "disabled", "stopped"):
        track.on(name, lambda t, name=name: seen.append(name))
    track.enable()  # no change, no event
    track.disable()
    track.disable()
    track.enable(True)
    track.stop()
    track.stop()
    assert seen == ["disabled", "enabled", "stopped"]
    with pytest.raises(TypeError):
        track.enable("yes")  # type: ignore[arg-type]


def test_data_size_limit_is_16_kib() -> None:
    track = Video.LocalDataTrack(name="chat")
    sent: list[tuple[bytes, str, bool]] = []

    class Sink:
        def send_data(self, payload: bytes, *, topic: str, reliable: bool) -> None:
            sent.append((payload, topic, reliable))

    track.send("dropped: not published")  # silently nothing, like the original
    track._sessions.append(Sink())  # type: ignore[arg-type]
    track.send(b"x" * 16384)
    track.send("é" * 8192)  # 16384 bytes in UTF-8
    with pytest.raises(Video.RangeError):
        track.send(b"x" * 16385)
    with pytest.raises(Video.RangeError):
        track.send("é" * 8193)
    with pytest.raises(TypeError):
        track.send(123)  # type: ignore[arg-type]
    assert [(len(p), t, r) for p, t, r in sent] == [(16384, "chat", True), (16384, "chat", True)]
