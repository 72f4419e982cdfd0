"""``twilio.rest`` for Programmable Video, on LiveKit (RoomService and Egress through ``livekit-api``).

Port a back end by changing its imports::

    from compat.twilio_video.rest import Client, TwilioRestException   # twilio.rest, twilio.base.exceptions

    client = Client(livekit_api_key, livekit_api_secret, account_sid, livekit_url="wss://…")
    room = client.video.v1.rooms.create(unique_name="visit-42", status_callback="https://…/status")
    client.video.v1.rooms(room.sid).participants("alice").update(status="disconnected")

Calls are synchronous like twilio-python's, each with an ``*_async`` twin for async code (a
synchronous call from inside a running event loop raises RuntimeError naming the twin). Failures
raise :class:`TwilioRestException` with Twilio's status and code (20404 not found, 53112 bad
status, 53113 room exists, …). SIDs are Twilio-shaped and derived from LiveKit ids
(:mod:`compat.twilio_video.rest.sids`). docs/parity.md lists what is supported and what differs.
"""

from __future__ import annotations

from .client import Client
from .exceptions import TwilioException, TwilioRestException

__all__ = ["Client", "TwilioException", "TwilioRestException"]
