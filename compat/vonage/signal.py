"""``session.signal`` rules (OpenTok.js ``RaptorSession/raptor/Signal.js``) and the signal wire format.

Validation
----------
:func:`parse_signal` mirrors the ``Signal`` object of OpenTok.js: it checks the options in the
order ``data``, ``to``, ``type``, ``retryAfterReconnect`` and keeps the first error, an
:class:`~compat.vonage.OTError` with the code OpenTok.js gives it (400 and 413 are
``OT_INVALID_PARAMETER``):

* ``data`` present and None (JavaScript null/undefined) -> 400; not JSON-serialisable -> 400;
  ``JSON.stringify(data).length > 8192`` -> 413. The length is JavaScript's: UTF-16 code units of
  the JSON text, quotes and escapes included, so a plain string holds at most 8190 characters and
  each ``"``, ``\\``, newline or tab costs two, each other control character six.
  Non-string data is accepted with the OpenTok.js deprecation warning.
* ``to`` present: falsy (None, "", 0, False) -> 400; not a Connection or the Session -> 400.
* ``type`` present: None -> 400; longer than 128 (UTF-16 units) -> 413; empty or not made of
  ``[A-Za-z0-9-._~]`` -> 400.
* ``retryAfterReconnect`` present and not exactly True/False -> 400.

Wire format
-----------
A signal travels as one reliable LiveKit data packet on the topic :data:`SIGNAL_TOPIC`
(``"compat.vonage.signal"``). Every topic under :data:`TOPIC_PREFIX` (``"compat.vonage."``) is
reserved for this package, so the core never surfaces such packets as anything else (such as a
Twilio data track), and the Twilio side's packets never reach a Vonage session as signals.

The payload is UTF-8 JSON, an object with two optional members, as OpenTok's own signal message::

    {"type": "chat", "data": "hello"}

``type`` is a string (absent: a signal without type, dispatched only as ``signal``); ``data`` is
the signal's data, a string in all non-deprecated use, serialised as ``JSON.stringify`` does.
Unknown members are ignored. Recipients: a broadcast goes to every participant (the sender's own
copy is delivered locally, as OpenTok echoes broadcasts); ``to`` becomes the packet's
``destination_identities``. Any LiveKit participant can take part, e.g. from livekit-client::

    room.localParticipant.publishData(
        new TextEncoder().encode(JSON.stringify({type: "chat", data: "hi"})),
        {reliable: true, topic: "compat.vonage.signal"})

and reads signals by parsing the packets on that topic. :func:`decode_signal` never raises: a
packet that is not such an object (bad UTF-8, bad JSON, ``type`` not a string) gives None.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import re
import warnings
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .errors import OTError, signal_error

logger = logging.getLogger(__name__)

TOPIC_PREFIX: Final = "compat.vonage."
"""Every LiveKit data topic starting with this is reserved for compat.vonage."""

SIGNAL_TOPIC: Final = TOPIC_PREFIX + "signal"
"""The LiveKit data topic that carries OpenTok signals."""

MAX_SIGNAL_DATA_LENGTH: Final = 8192
MAX_SIGNAL_TYPE_LENGTH: Final = 128

SIGNAL_OPTIONS: Final = ("type", "data", "to", "retryAfterReconnect")

NON_STRING_DATA_WARNING: Final = "Signaling of anything other than Strings is deprecated. Please update the data property to be a string."

_TYPE_RE: Final = re.compile(r"[a-zA-Z0-9\-._~]+")


def is_reserved_topic(topic: str) -> bool:
    """Whether a LiveKit data topic belongs to compat.vonage (and must not surface elsewhere)."""
    return topic.startswith(TOPIC_PREFIX)


class SignalTarget(abc.ABC):  # noqa: B024 - a marker: Connection and Session subclass it
    """What ``to`` may be: a ``Connection`` or the ``Session`` (``instanceof Connection || _tag === sessionTag``)."""


# --- JSON.stringify, faithfully -----------------------------------------------------------------

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(s: str) -> str:
    """``QuoteJSONString``: escape ``"``, ``\\`` and controls; lone surrogates as ``\\udxxx`` (ES2019)."""
    out = ['"']
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        o = ord(c)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif o < 0x20:
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDBFF and i + 1 < n and 0xDC00 <= ord(s[i + 1]) <= 0xDFFF:
            # a surrogate pair held as two code points: one astral character in JavaScript
            out.append(chr(0x10000 + ((o - 0xD800) << 10) + (ord(s[i + 1]) - 0xDC00)))
            i += 1
        elif 0xD800 <= o <= 0xDFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
        i += 1
    out.append('"')
    return "".join(out)


def _number(x: float) -> str:
    """``Number::toString`` for JSON: shortest round-trip digits, JavaScript's exponent rules."""
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + (int(exp) if exp else 0)  # value = 0.digits * 10**n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        e = n - 1
        body = (digits if k == 1 else digits[0] + "." + digits[1:]) + ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + body


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return json_stringify(key)
    if key is None:
        return "null"
    raise TypeError(f"a key of type {type(key).__name__} has no JSON form")


def _stringify(value: Any, stack: set[int]) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 2**53:
            return str(value)
        try:
            return _number(float(value))
        except OverflowError:
            return "null"  # JavaScript: Infinity
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (list, tuple, dict)):
        if id(value) in stack:
            raise ValueError("Converting circular structure to JSON")
        stack.add(id(value))
        try:
            if isinstance(value, dict):
                items = (_quote(_key(k)) + ":" + _stringify(v, stack) for k, v in value.items())
                return "{" + ",".join(items) + "}"
            return "[" + ",".join(_stringify(v, stack) for v in value) + "]"
        finally:
            stack.discard(id(value))
    raise TypeError(f"a value of type {type(value).__name__} has no JSON form")


def json_stringify(value: Any) -> str:
    """JavaScript's ``JSON.stringify(value)`` for str, int, float, bool, None, list, tuple and dict.

    No spaces; strings escaped as ECMAScript does (non-ASCII kept, lone surrogates escaped);
    numbers as ``Number::toString`` (``1e21``, ``1e-7``, ``NaN`` -> ``null``); ints of 2**53 and
    more become the nearest double, as a JavaScript number would.

    :raises TypeError: a value (or dict key) of another type.
    :raises ValueError: a circular structure.
    """
    return _stringify(value, set())


def js_length(s: str) -> int:
    """JavaScript's ``s.length``: UTF-16 code units (a character beyond U+FFFF counts 2)."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


# --- validation (Signal.js) ---------------------------------------------------------------------


def _validate_data(data: Any) -> OTError | None:
    if data is None:
        return signal_error(400, "The signal data was null or undefined. Either set it to a String value or omit it")
    try:
        length = js_length(json_stringify(data))
    except (TypeError, ValueError, RecursionError):
        return signal_error(400, "The data field was not valid JSON")
    if length > MAX_SIGNAL_DATA_LENGTH:
        return signal_error(
            413,
            f"The data field was too long, the maximum size of it is {MAX_SIGNAL_DATA_LENGTH} characters "
            f"(JSON.stringify(data).length is {length}: quotes and escapes count)",
        )
    return None


def _validate_to(to: Any) -> OTError | None:
    if isinstance(to, SignalTarget):
        return None
    if to is None or to is False or (isinstance(to, (str, int, float)) and not to):
        return signal_error(400, "The signal to field was invalid. Either set it to a OT.Connection, OT.Session, or omit it entirely")
    return signal_error(400, f"The To field was invalid: a {type(to).__name__} is neither a Connection nor the Session")


def _validate_type(type_: Any) -> OTError | None:
    if type_ is None:
        return signal_error(400, "The signal type was null or undefined. Either set it to a String value or omit it")
    if not isinstance(type_, str):
        return signal_error(400, f"The signal type was invalid: it must be a string, not a {type(type_).__name__}")
    if js_length(type_) > MAX_SIGNAL_TYPE_LENGTH:
        return signal_error(413, f"The signal type was too long, the maximum length of it is {MAX_SIGNAL_TYPE_LENGTH} characters")
    if not _TYPE_RE.fullmatch(type_):
        return signal_error(400, "The signal type was invalid, it can only contain letters, numbers, '-', '_', and '~'.")
    return None


def _validate_retry(retry: Any) -> OTError | None:
    if retry is True or retry is False:
        return None
    return signal_error(400, "The signal retryAfterReconnect was not true or false. Either set it to a Boolean value or omit it")


def _js_truthy(value: Any) -> bool:
    if value is None or value is False or (isinstance(value, str) and not value):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True  # objects and arrays, even empty, are truthy in JavaScript


@attrs.frozen
class SignalRequest:
    """A checked ``session.signal(options)``: the ``Signal`` object of OpenTok.js.

    ``type`` and ``data`` are None when omitted (present-and-None is an error). ``to`` is None
    for a broadcast. ``error`` is the first validation error, or None when ``valid``.
    """

    type: Any = None
    data: Any = None
    to: Any = None
    retryAfterReconnect: Any = True
    error: OTError | None = None

    @property
    def valid(self) -> bool:
        return self.error is None


def parse_signal(options: Mapping[str, Any] | None, *, stacklevel: int = 2) -> SignalRequest:
    """Check ``session.signal(options)`` as OpenTok.js does; never raises for bad options.

    ``options`` is the dict of ``type``, ``data``, ``to``, ``retryAfterReconnect`` (all optional;
    None means ``{}``). A key present with the value None is JavaScript's null. Truthy non-string
    ``data`` emits the OpenTok.js deprecation warning (a ``DeprecationWarning``, and a logged
    warning as OpenTok.js logs one); ``stacklevel`` points the warning at the caller.
    """
    if options is None:
        return SignalRequest()
    if not isinstance(options, Mapping):
        return SignalRequest(error=signal_error(400, f"The signal options must be a dict, not a {type(options).__name__}"))
    unknown = [k for k in options if k not in SIGNAL_OPTIONS]
    if unknown:
        logger.warning("session.signal ignores %s: the options are %s", unknown, ", ".join(SIGNAL_OPTIONS))
    error: OTError | None = None
    if "data" in options:
        error = _validate_data(options["data"])
    if "to" in options and error is None:
        error = _validate_to(options["to"])
    if "type" in options and error is None:
        error = _validate_type(options["type"])
    if "retryAfterReconnect" in options and error is None:
        error = _validate_retry(options["retryAfterReconnect"])
    data = options.get("data")
    if _js_truthy(data) and not isinstance(data, str):
        logger.warning(NON_STRING_DATA_WARNING)
        warnings.warn(NON_STRING_DATA_WARNING, DeprecationWarning, stacklevel=stacklevel + 1)
    return SignalRequest(
        type=options.get("type"),
        data=data,
        to=options.get("to"),
        retryAfterReconnect=options.get("retryAfterReconnect", True),
        error=error,
    )


def validate_signal(options: Mapping[str, Any] | None) -> OTError | None:
    """The error ``session.signal(options)`` fails with, or None when the options are valid."""
    return parse_signal(options, stacklevel=3).error


def signal_event_type(type_: str | None) -> str:
    """The event name a received signal is dispatched under besides ``signal``: ``"signal:<type>"``.

    Also ``SignalEvent.type`` (even inside a plain ``signal`` handler); ``"signal"`` when untyped.
    """
    return f"signal:{type_}" if type_ else "signal"


# --- wire format ---------------------------------------------------------------------------------


@attrs.frozen
class SignalMessage:
    """A decoded signal packet: ``type`` ("" when absent) and ``data`` (None when absent)."""

    type: str
    data: Any


def encode_signal(type_: str | None = None, data: Any = None) -> bytes:
    """The payload of a signal packet: UTF-8 JSON ``{"type": ..., "data": ...}``, None members omitted.

    :raises TypeError: data that has no JSON form (validate with :func:`parse_signal` first).
    """
    members = []
    if type_ is not None:
        members.append('"type":' + json_stringify(type_))
    if data is not None:
        members.append('"data":' + json_stringify(data))
    return ("{" + ",".join(members) + "}").encode("utf-8")


def decode_signal(payload: bytes | bytearray | memoryview | str) -> SignalMessage | None:
    """Read a signal packet; None (never an exception) for anything that is not one."""
    try:
        text = payload if isinstance(payload, str) else bytes(payload).decode("utf-8")
        obj = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    type_ = obj.get("type")
    if type_ is None:
        type_ = ""
    if not isinstance(type_, str):
        return None
    return SignalMessage(type=type_, data=obj.get("data"))


__all__ = [
    "MAX_SIGNAL_DATA_LENGTH",
    "MAX_SIGNAL_TYPE_LENGTH",
    "NON_STRING_DATA_WARNING",
    "SIGNAL_OPTIONS",
    "SIGNAL_TOPIC",
    "TOPIC_PREFIX",
    "SignalMessage",
    "SignalRequest",
    "SignalTarget",
    "decode_signal",
    "encode_signal",
    "is_reserved_topic",
    "js_length",
    "json_stringify",
    "parse_signal",
    "signal_event_type",
    "validate_signal",
]
