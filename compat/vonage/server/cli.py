"""The Vonage side of the ``compat`` command line (loaded by name by :mod:`compat.__main__`)."""

from __future__ import annotations

import argparse
import time

from compat._server.translator import Vendor
from compat.vonage.sessionid import mint_session_id
from compat.vonage.token import generate_token

__all__ = ["callbacks", "mint_token"]


def mint_token(args: argparse.Namespace) -> str:
    """``compat token vonage``: a token for ``--session-id`` (or the ID minted for ``--room``)."""
    session_id = args.session_id or mint_session_id(args.api_key, args.room)
    return generate_token(args.api_key, args.api_secret, session_id, role=args.role, data=args.data,
                          expire_time=int(time.time()) + args.ttl, identity=args.identity)


def callbacks(args: argparse.Namespace) -> Vendor | None:
    """``compat webhooks``: Vonage callbacks when a session or archive callback URL is given."""
    if not args.vonage_session_callback and not args.vonage_archive_callback:
        return None
    from .callbacks import VonageCallbacks

    return VonageCallbacks(args.api_key, session_callback=args.vonage_session_callback, archive_callback=args.vonage_archive_callback)
