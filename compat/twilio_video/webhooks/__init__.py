"""Twilio status callbacks from LiveKit webhooks, through the shared persisted outbox (:mod:`compat._server.translator`).

Point the LiveKit server's webhook at this app (``POST /livekit``). Each webhook is verified with
``livekit.api.WebhookReceiver``, translated into Twilio's form-encoded status callbacks
(``translate.py``), committed to the SQLite outbox with a per-room ``SequenceNumber``, and only then
acknowledged with HTTP 200 (a failed commit answers 500, so LiveKit sends it again; a re-sent event
adds nothing). A delivery task POSTs each callback to the room's ``StatusCallback`` (set through
``rooms.create(status_callback=...)``, kept in the LiveKit room's metadata) or the default URL,
signed with ``X-Twilio-Signature`` for ``auth_token`` (what ``twilio.request_validator.RequestValidator``
checks), one at a time per room, in order; rooms don't wait for each other. A failing endpoint is
retried with capped exponential backoff for ``give_up_after`` seconds (default a day); a callback
refused for good (4xx other than 408/429) or past that is moved to the ``dead`` table with a WARNING.

Run it: ``python -m compat.twilio_video.webhooks --db outbox.sqlite --port 8090 --auth-token …``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from livekit.protocol import webhook as webhook_pb

from compat._server.outbox import Row
from compat._server.translator import DeliverySettings, WebhookTranslator

from .translate import Callback, Defaults, RoomInfo, TrackInfo, translate

__all__ = ["DeliverySettings", "StatusCallbackTranslator", "TwilioCallbacks", "twilio_signature"]

log = logging.getLogger(__name__)


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL followed by each parameter's
    name and value, in name order."""
    text = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


class TwilioCallbacks:
    """The Twilio vendor of the shared translator: status callbacks, signed for ``auth_token``."""

    name = "twilio"

    def __init__(self, auth_token: str, *, default_callback: str | None = None, account_sid: str = "") -> None:
        if not auth_token:
            raise ValueError("auth_token is required: it signs X-Twilio-Signature (your receivers validate with it)")
        self.auth_token = auth_token
        self.defaults = Defaults(default_callback, account_sid)
        self._no_url: set[str] = set()

    def translate(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None, tracks: dict[str, TrackInfo]) -> list[Callback]:
        return translate(event, room, tracks, self.defaults)

    def headers(self, url: str, row: Row) -> dict[str, str]:
        return {"X-Twilio-Signature": twilio_signature(self.auth_token, url, {} if row.method == "GET" else row.params)}

    def explain(self, event: webhook_pb.WebhookEvent, room: RoomInfo | None) -> None:
        if room is not None and not self.defaults.callback_url and room.name not in self._no_url:
            self._no_url.add(room.name)
            log.warning("room %r has no StatusCallback and no default callback URL is set: its events send nothing", room.name)
        else:
            log.debug("LiveKit %s has no Twilio status callback", event.event)


class StatusCallbackTranslator(WebhookTranslator):
    """The translator serving Twilio status callbacks only (``.app``, ``start()``, ``close()``)."""

    def __init__(
        self,
        db_path: str,
        api_key: str,
        api_secret: str,
        auth_token: str,
        *,
        default_callback: str | None = None,
        account_sid: str = "",
        delivery: DeliverySettings | None = None,
    ) -> None:
        twilio = TwilioCallbacks(auth_token, default_callback=default_callback, account_sid=account_sid or api_key)
        super().__init__(db_path, api_key, api_secret, [twilio], delivery=delivery)
        self.auth_token = auth_token
        self.defaults = twilio.defaults
