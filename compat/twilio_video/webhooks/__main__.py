"""``python -m compat.twilio_video.webhooks``: the status-callback translator as a process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from compat._server.translator import serve

from . import StatusCallbackTranslator


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="LiveKit webhooks in, Twilio status callbacks out (POST /livekit)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--db", required=True, help="the SQLite outbox file (created if missing)")
    parser.add_argument("--keys", default=None, help="LiveKit API key:secret (default LIVEKIT_API_KEY/LIVEKIT_API_SECRET)")
    parser.add_argument("--auth-token", default=env.get("TWILIO_AUTH_TOKEN"), help="signs X-Twilio-Signature")
    parser.add_argument("--callback", default=None, help="URL for rooms created without status_callback")
    parser.add_argument("--account-sid", default="", help="AccountSid for rooms not created through compat's REST")
    args = parser.parse_args(argv)
    if args.keys is None:
        args.keys = f"{env.get('LIVEKIT_API_KEY', '')}:{env.get('LIVEKIT_API_SECRET', '')}"
    if not args.auth_token:
        parser.error("--auth-token (or TWILIO_AUTH_TOKEN) is required")
    return args


async def _serve(args: argparse.Namespace) -> None:
    key, _, secret = args.keys.partition(":")
    translator = StatusCallbackTranslator(
        args.db, key, secret, args.auth_token, default_callback=args.callback, account_sid=args.account_sid
    )
    await serve(translator, args.host, args.port)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(_args(argv)))


if __name__ == "__main__":
    main()
