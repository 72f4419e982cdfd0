"""What every REST resource shares: the LiveKit connection, the sync/async bridge, errors, times.

Synchronous calls run the ``livekit-api`` coroutine on one private event-loop thread (started on
first use, a daemon), bounded by the client's ``timeout``. Called from inside a running event loop
they would block it, so they refuse with a RuntimeError naming the ``*_async`` variant.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import aiohttp
from livekit import api

from compat._server import run_sync

from .exceptions import TwilioRestException

T = TypeVar("T")

BASE_URL = "https://video.twilio.com/v1"
"""Resource ``url`` fields keep Twilio's shape (code parses SIDs out of them); nothing serves them."""

def utc(seconds: float | None) -> datetime.datetime | None:
    if not seconds:
        return None
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


def now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.timezone.utc)


def not_found(uri: str, method: str, verb: str = "fetch") -> TwilioRestException:
    return TwilioRestException(
        404, uri, f"Unable to {verb} record: The requested resource {uri} was not found", 20404, method
    )


def bad_request(uri: str, method: str, verb: str, message: str, code: int | None) -> TwilioRestException:
    return TwilioRestException(400, uri, f"Unable to {verb} record: {message}", code, method)


def twilio_meta(metadata: str) -> dict[str, Any]:
    """The Twilio settings compat keeps in a LiveKit room's metadata (``{"twilio": {...}}``)."""
    try:
        data = json.loads(metadata) if metadata else {}
    except ValueError:
        return {}
    meta = data.get("twilio") if isinstance(data, dict) else None
    return meta if isinstance(meta, dict) else {}


class Api:
    """The client's connection to LiveKit and what it remembers (rooms it ended, rules it set)."""

    def __init__(self, url: str, api_key: str, api_secret: str, account_sid: str, timeout: float) -> None:
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret
        self.account_sid = account_sid
        self.timeout = timeout
        self.ended_rooms: dict[str, Any] = {}  # LiveKit room sid -> EndedRoom (rooms.py)
        self.left: dict[str, Any] = {}  # LiveKit participant sid -> EndedParticipant
        self.subscribe_rules: dict[str, tuple[list[dict[str, Any]], datetime.datetime]] = {}
        self.compositions: dict[str, dict[str, Any]] = {}  # egress id -> the create() arguments

    @contextlib.asynccontextmanager
    async def livekit(self, method: str, uri: str) -> AsyncIterator[api.LiveKitAPI]:
        """A livekit-api client for one operation; its failures raised as TwilioRestException."""
        client = api.LiveKitAPI(self.url, self.api_key, self.api_secret, timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            yield client
        except api.TwirpError as exc:
            raise self._translate(exc, method, uri) from exc
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise TwilioRestException(
                503, uri, f"cannot reach the LiveKit server at {self.url} ({exc!r}); check livekit_url / LIVEKIT_URL",
                None, method,
            ) from exc
        finally:
            await client.aclose()

    def _translate(self, exc: api.TwirpError, method: str, uri: str) -> TwilioRestException:
        if exc.code == "not_found":
            return not_found(uri, method)
        if exc.code in ("unauthenticated", "permission_denied") or exc.status == 401:
            return TwilioRestException(
                401, uri, f"Authenticate: the LiveKit server refused the API key/secret ({exc.message}); "
                "Client(username=<LiveKit API key>, password=<LiveKit API secret>)", 20003, method,
            )
        return TwilioRestException(exc.status, uri, f"LiveKit {exc.code}: {exc.message}", None, method)

    async def bounded(self, coro: Coroutine[Any, Any, T], method: str, uri: str) -> T:
        try:
            return await asyncio.wait_for(coro, self.timeout)
        except asyncio.TimeoutError:
            raise TwilioRestException(
                504, uri, f"the LiveKit server at {self.url} did not answer within {self.timeout:g}s", None, method
            ) from None

    def run(self, coro: Coroutine[Any, Any, T], name: str, method: str, uri: str) -> T:
        """Run ``coro`` to completion from synchronous code (see the module docstring)."""
        def late(limit: float) -> TwilioRestException:
            return TwilioRestException(504, uri, f"{name}() did not finish within {limit:g}s", None, method)

        return run_sync(coro, name, self.timeout + 5.0, late, lambda c: self.bounded(c, method, uri))


class Resource:
    """A REST instance: the public fields are the class's annotations, set from a dict."""

    def __init__(self, api_: Api, fields: dict[str, Any]) -> None:
        self._api = api_
        for name in _field_names(type(self)):
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        sid = getattr(self, "sid", None) or getattr(self, "room_sid", None)
        return f"<Twilio.Video.V1.{type(self).__name__} sid={sid}>"


def _field_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        names.extend(n for n in vars(klass).get("__annotations__", {}) if not n.startswith("_"))
    return names


def parse_rules(rules: Any, uri: str, verb: str) -> list[dict[str, Any]]:
    """Subscribe or recording rules (a list, or its JSON) checked as Twilio describes them."""
    if isinstance(rules, str):
        try:
            rules = json.loads(rules)
        except ValueError:
            raise bad_request(uri, "POST", verb, "Rules must be a JSON array of rule objects", RULES_CODE) from None
    if isinstance(rules, dict) and "rules" in rules:
        rules = rules["rules"]
    if not isinstance(rules, list):
        raise bad_request(uri, "POST", verb, "Rules must be an array of rule objects", RULES_CODE)
    return [_check_rule(rule, uri, verb) for rule in rules]


_FILTERS = {"all", "kind", "publisher", "track"}
RULES_CODE: int | None = None  # Twilio's code for malformed rules is not documented where we could read it


def _check_rule(rule: Any, uri: str, verb: str) -> dict[str, Any]:
    if not isinstance(rule, dict) or rule.get("type") not in ("include", "exclude"):
        raise bad_request(uri, "POST", verb, f"each rule needs type 'include' or 'exclude': {rule!r}", RULES_CODE)
    unknown = set(rule) - _FILTERS - {"type", "priority"}
    if unknown or not set(rule) & _FILTERS:
        raise bad_request(uri, "POST", verb, f"a rule filters on all, kind, publisher or track: {rule!r}", RULES_CODE)
    if "kind" in rule and rule["kind"] not in ("audio", "video", "data"):
        raise bad_request(uri, "POST", verb, f"kind must be audio, video or data: {rule!r}", RULES_CODE)
    return dict(rule)


def matches(rule: dict[str, Any], publisher: tuple[str, str], track: tuple[str, str, str]) -> bool:
    """Whether a rule's filters all match a track: publisher = (identity, PA sid); track = (name, MT sid, kind)."""
    if rule.get("all") is True:
        return True
    checks = {"kind": (track[2],), "publisher": publisher, "track": track[:2]}
    return all(rule[key] in values for key, values in checks.items() if key in rule)


def included(rules: list[dict[str, Any]], publisher: tuple[str, str], track: tuple[str, str, str]) -> bool:
    """Twilio's reading: a track is in when an include rule matches it and no exclude rule does."""
    hits = [rule["type"] for rule in rules if matches(rule, publisher, track)]
    return "include" in hits and "exclude" not in hits
