"""Data-packet topics and participant-attribute keys reserved for the vendor models.

Both vendor models can share a room (a Twilio bot and an OpenTok bot), and both carry their
own traffic as LiveKit data packets: a Vonage signal must never surface as a Twilio data
track, nor the reverse. Every topic a vendor model uses for itself starts with
``RESERVED_PREFIX`` followed by the vendor's name (``compat.vonage.signal``); a model
ignores reserved topics that are not its own. A user's Twilio data track named, say,
``chat`` has the plain topic ``chat``.

The same prefix reserves LiveKit participant-attribute keys: a vendor model announces
state of its own there (``compat.twilio.dataTracks``: the Twilio data tracks a participant
publishes), and leaves every other key to the application.
"""

from __future__ import annotations

RESERVED_PREFIX = "compat."

__all__ = ["RESERVED_PREFIX", "is_reserved", "vendor_key", "vendor_prefix"]


def vendor_prefix(vendor: str) -> str:
    """The prefix of every topic ``vendor`` reserves, e.g. ``compat.vonage.``."""
    return f"{RESERVED_PREFIX}{vendor}."


def is_reserved(topic: str) -> bool:
    """Whether ``topic`` belongs to a vendor model rather than to user data."""
    return topic.startswith(RESERVED_PREFIX)


def vendor_key(vendor: str, name: str) -> str:
    """A topic or attribute key reserved for ``vendor``, e.g. ``compat.twilio.dataTracks``."""
    return f"{vendor_prefix(vendor)}{name}"
