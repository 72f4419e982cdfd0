"""The Twilio side of the ``compat`` command line (loaded by name by :mod:`compat.__main__`)."""

from __future__ import annotations

import argparse

from compat._server.translator import Vendor

from .jwt.access_token import AccessToken
from .jwt.access_token.grants import VideoGrant

__all__ = ["callbacks", "mint_token"]


def mint_token(args: argparse.Namespace) -> str:
    """``compat token twilio``: an AccessToken with a VideoGrant for ``--room`` (a LiveKit token)."""
    token = AccessToken(args.account_sid, args.api_key, args.api_secret, identity=args.identity or "user", ttl=args.ttl)
    token.add_grant(VideoGrant(room=args.room))
    return str(token.to_jwt())


def callbacks(args: argparse.Namespace) -> Vendor | None:
    """``compat webhooks``: Twilio status callbacks when ``--twilio-auth-token`` is given."""
    if not args.twilio_auth_token:
        return None
    from .webhooks import TwilioCallbacks

    return TwilioCallbacks(args.twilio_auth_token, default_callback=args.twilio_callback, account_sid=args.account_sid or args.api_key)
