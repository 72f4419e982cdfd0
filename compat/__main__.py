"""The `compat` command line (`compat …` or `python -m compat …`).

A subcommand is one function decorated with :func:`command`: it adds its arguments to the
parser it is given and returns the function that runs it (an exit status back).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

Run = Callable[[argparse.Namespace, list[str]], int]
Setup = Callable[[argparse.ArgumentParser], Run]


class _Command:
    def __init__(self, name: str, help: str, setup: Setup, passthrough: bool) -> None:
        self.name, self.help, self.setup, self.passthrough = name, help, setup, passthrough


COMMANDS: dict[str, _Command] = {}


def command(name: str, help: str, *, passthrough: bool = False) -> Callable[[Setup], Setup]:
    """Register a subcommand. `passthrough`: the arguments after the name go to it unparsed."""

    def register(setup: Setup) -> Setup:
        COMMANDS[name] = _Command(name, help, setup, passthrough)
        return setup

    return register


@command("audit", "find every Twilio Video / Vonage Video integration point in a codebase")
def _audit(parser: argparse.ArgumentParser) -> Run:
    parser.add_argument("path", help="root of the codebase (or one file)")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")

    def run(args: argparse.Namespace, _extra: list[str]) -> int:
        try:
            from compat.audit import AuditError, audit, render
        except ModuleNotFoundError as exc:
            print(f"compat audit: {exc.name} is missing; install the audit extra: pip install 'livekit-compat[audit]'",
                  file=sys.stderr)
            return 1
        try:
            report = audit(args.path, progress=True)
        except AuditError as exc:
            print(f"compat audit: {exc}", file=sys.stderr)
            return 2
        sys.stdout.write(render(report, args.format))
        return 0

    return run


@command("rollout", "the staged rollout: status (numbers and gate verdicts per platform and stage), advance, or rollback")
def _rollout(parser: argparse.ArgumentParser) -> Run:
    from compat.rollout import ENV_VAR, Gates

    defaults = Gates()
    parser.add_argument("action", choices=("status", "advance", "rollback"))
    parser.add_argument("--to", help="rollback: the earlier stage to go back to (default: the previous one)")
    parser.add_argument("--store", default=os.environ.get(ENV_VAR), help=f"SQLite path or postgresql:// URL (default {ENV_VAR})")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="status: the output format")
    gates = parser.add_argument_group("gates (LiveKit at the current stage must meet all to advance)")
    gates.add_argument("--min-success", type=float, default=defaults.min_success_rate, help="setup success rate (default 0.985)")
    gates.add_argument("--max-mos-drop", type=float, default=defaults.max_mos_drop, help="below legacy's mean MOS (default 0.05)")
    gates.add_argument("--max-relay", type=float, default=defaults.max_relay_rate, help="TURN relay rate (default 0.30)")
    gates.add_argument("--max-p95-setup", type=float, default=defaults.max_p95_setup_s, help="seconds (default 3.0)")
    gates.add_argument("--min-sessions", type=int, default=defaults.min_sessions, help="LiveKit setups needed (default 1)")

    def run(args: argparse.Namespace, _extra: list[str]) -> int:
        from compat.rollout import GateFailed, RolloutError, open_store
        from compat.rollout.report import render_json, render_text, status

        if not args.store:
            print(f"compat rollout: --store (or {ENV_VAR}) is required", file=sys.stderr)
            return 2
        if "://" not in args.store and not os.path.exists(args.store):  # a typo must not start an empty rollout
            print(f"compat rollout: no rollout store at {args.store}", file=sys.stderr)
            return 2
        chosen = Gates(args.min_success, args.max_mos_drop, args.max_relay, args.max_p95_setup, args.min_sessions)
        try:
            store = open_store(args.store)
            if args.action == "status":
                report = status(store, chosen)
                sys.stdout.write(render_json(report) if args.format == "json" else render_text(report))
                return 0
            if args.action == "rollback":
                print(f"stage: {store.rollback(args.to)}")
                return 0
            print(f"stage: {store.advance(chosen)}")
            return 0
        except ValueError as exc:  # an unknown --to stage
            print(f"compat rollout: {exc}", file=sys.stderr)
            return 2
        except GateFailed as exc:
            print(f"compat rollout: advance refused: {exc}", file=sys.stderr)
            return 1
        except RolloutError as exc:
            print(f"compat rollout: {exc}", file=sys.stderr)
            return 2

    return run


@command("devserver", "run the embedded LiveKit-compatible dev server (python -m compat.devserver)", passthrough=True)
def _devserver(parser: argparse.ArgumentParser) -> Run:
    def run(_args: argparse.Namespace, extra: list[str]) -> int:
        from compat.devserver.__main__ import main as devserver_main  # heavy (media stack): only when asked

        devserver_main(extra)
        return 0

    return run


def _keys(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--api-key", default=env.get("LIVEKIT_API_KEY"), help="LiveKit API key (default LIVEKIT_API_KEY)")
    parser.add_argument("--api-secret", default=env.get("LIVEKIT_API_SECRET"), help="LiveKit API secret (default LIVEKIT_API_SECRET)")


@command("token", "mint a development token: compat token twilio|vonage|livekit --room ROOM --identity ID")
def _token(parser: argparse.ArgumentParser) -> Run:
    parser.add_argument("vendor", choices=("twilio", "vonage", "livekit"), help="whose client will use the token")
    parser.add_argument("--room", help="the room (vonage: or --session-id)")
    parser.add_argument("--session-id", help="vonage: the session ID (default: one minted for --room)")
    parser.add_argument("--identity", default=None, help="participant identity (vonage: default a UUID)")
    parser.add_argument("--role", default="publisher", help="vonage: subscriber|publisher|publisheronly|moderator")
    parser.add_argument("--data", default=None, help="vonage: connection data (at most 1000 characters)")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    parser.add_argument("--account-sid", default="AC" + "0" * 32, help="twilio: the account SID in the token")
    _keys(parser)

    def run(args: argparse.Namespace, _extra: list[str]) -> int:
        if not args.api_key or not args.api_secret:
            print("compat token: --api-key/--api-secret (or LIVEKIT_API_KEY/LIVEKIT_API_SECRET) are required", file=sys.stderr)
            return 2
        if not args.room and not (args.vendor == "vonage" and args.session_id):
            print("compat token: --room is required" + (" (or --session-id)" if args.vendor == "vonage" else ""), file=sys.stderr)
            return 2
        try:
            print(_mint(args))
        except Exception as exc:  # noqa: BLE001 - each vendor raises its own class; all are usage errors here
            print(f"compat token: {exc}", file=sys.stderr)
            return 2
        return 0

    return run


def _vendor_clis() -> dict[str, Any]:
    """Each vendor's part of the command line (``mint_token(args)``, ``callbacks(args)``); imported
    on use, so ``compat audit`` and ``compat devserver`` load neither vendor."""
    from compat.twilio_video import cli as twilio_cli
    from compat.vonage.server import cli as vonage_cli

    return {"twilio": twilio_cli, "vonage": vonage_cli}


def _mint(args: argparse.Namespace) -> str:
    clis = _vendor_clis()
    if args.vendor in clis:
        return str(clis[args.vendor].mint_token(args))
    import datetime

    from livekit import api

    grant = api.VideoGrants(room_join=True, room=args.room)
    lk = api.AccessToken(args.api_key, args.api_secret).with_identity(args.identity or "user").with_grants(grant)
    return str(lk.with_ttl(datetime.timedelta(seconds=args.ttl)).to_jwt())


@command("webhooks", "run the webhook translator: LiveKit webhooks in (POST /livekit), Twilio and/or Vonage callbacks out")
def _webhooks(parser: argparse.ArgumentParser) -> Run:
    env = os.environ
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--db", required=True, help="the SQLite outbox file (created if missing; kept across restarts)")
    twilio = parser.add_argument_group("Twilio status callbacks (on when an auth token is given)")
    twilio.add_argument("--twilio-auth-token", default=env.get("TWILIO_AUTH_TOKEN"),
                        help="signs X-Twilio-Signature (env TWILIO_AUTH_TOKEN)")
    twilio.add_argument("--twilio-callback", default=None, help="StatusCallback URL for rooms created without one")
    twilio.add_argument("--account-sid", default="", help="AccountSid for rooms not created through compat's REST")
    vonage = parser.add_argument_group("Vonage callbacks (on when a URL is given)")
    vonage.add_argument("--vonage-session-callback", default=env.get("VONAGE_SESSION_CALLBACK"),
                        help="session monitoring URL (default VONAGE_SESSION_CALLBACK)")
    vonage.add_argument("--vonage-archive-callback", default=env.get("VONAGE_ARCHIVE_CALLBACK"),
                        help="archive status URL (default VONAGE_ARCHIVE_CALLBACK)")
    _keys(parser)

    def run(args: argparse.Namespace, _extra: list[str]) -> int:
        if not args.api_key or not args.api_secret:
            print("compat webhooks: --api-key/--api-secret (or LIVEKIT_API_KEY/LIVEKIT_API_SECRET) are required", file=sys.stderr)
            return 2
        vendors = _vendors(args)
        if not vendors:
            print("compat webhooks: configure a vendor: --twilio-auth-token and/or --vonage-session-callback / "
                  "--vonage-archive-callback", file=sys.stderr)
            return 2
        import asyncio
        import logging

        from compat._server.translator import WebhookTranslator, serve

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        asyncio.run(serve(WebhookTranslator(args.db, args.api_key, args.api_secret, vendors), args.host, args.port))
        return 0

    return run


def _vendors(args: argparse.Namespace) -> list[Any]:
    found = (cli.callbacks(args) for cli in _vendor_clis().values())
    return [vendor for vendor in found if vendor is not None]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Run]]:
    parser = argparse.ArgumentParser(prog="compat", description="Twilio Video / Vonage Video to LiveKit migration tools")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runs: dict[str, Run] = {}
    for cmd in COMMANDS.values():
        sub = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.help, add_help=not cmd.passthrough)
        runs[cmd.name] = cmd.setup(sub)
    return parser, runs


def main(argv: list[str] | None = None) -> int:
    parser, runs = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not COMMANDS[args.command].passthrough:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return runs[args.command](args, extra)


if __name__ == "__main__":
    sys.exit(main())
