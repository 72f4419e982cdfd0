"""The `compat` command line (`compat …` or `python -m compat …`).

A subcommand is one function decorated with :func:`command`: it adds its arguments to the
parser it is given and returns the function that runs it (an exit status back).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

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


@command("devserver", "run the embedded LiveKit-compatible dev server (python -m compat.devserver)", passthrough=True)
def _devserver(parser: argparse.ArgumentParser) -> Run:
    def run(_args: argparse.Namespace, extra: list[str]) -> int:
        from compat.devserver.__main__ import main as devserver_main  # heavy (media stack): only when asked

        devserver_main(extra)
        return 0

    return run


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
