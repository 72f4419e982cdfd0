"""python -m compat.devserver [--host H] [--port P] [--keys KEY:SECRET] [--webhook URL] [--webhook-horizon S] [--relay forward|decode]"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from compat.devserver.server import RELAY_MODES, DevServer


def parse_keys(values: list[str] | None) -> dict[str, str]:
    keys: dict[str, str] = {}
    for value in values or ["devkey:secret"]:
        key, sep, secret = value.partition(":")
        if not sep or not key or not secret:
            raise SystemExit(f"--keys takes KEY:SECRET, got {value!r}")
        keys[key] = secret
    return keys


async def serve(args: argparse.Namespace) -> None:
    server = DevServer(
        args.host,
        args.port,
        parse_keys(args.keys),
        webhooks=args.webhook or (),
        webhook_horizon=args.webhook_horizon,
        webhook_backoff_max=args.webhook_backoff_max,
        recordings_dir=args.recordings_dir,
        relay=args.relay,
    )
    await server.start()
    print(f"LiveKit-compatible dev server on {server.url}", flush=True)
    print(f"  LIVEKIT_URL={server.url}", flush=True)
    print(f"  LIVEKIT_API_KEY={server.api_key}", flush=True)
    print(f"  LIVEKIT_API_SECRET={server.api_secret}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("shutting down: closing rooms and finishing recordings", flush=True)
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m compat.devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7880)
    parser.add_argument("--keys", action="append", metavar="KEY:SECRET", help="API key and secret (repeatable)")
    parser.add_argument("--webhook", action="append", metavar="URL", help="webhook endpoint (repeatable)")
    parser.add_argument(
        "--webhook-horizon", type=float, default=600.0, metavar="SECONDS",
        help="retry each webhook event for this long, then count it as lost in num_dropped (default 600)",
    )
    parser.add_argument(
        "--webhook-backoff-max", type=float, default=5.0, metavar="SECONDS",
        help="longest pause between two tries of a webhook (default 5)",
    )
    parser.add_argument("--recordings-dir", default="recordings", help="where egress writes files")
    parser.add_argument(
        "--relay", choices=RELAY_MODES, default=None,
        help="forward: subscribers get the publisher's encoded frames (default; env COMPAT_DEVSERVER_RELAY); "
        "decode: decode and re-encode them (the old relay)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
