"""Run a bot (tests/core/exit_bot.py unless told otherwise) many times, each in its own
process, against one dev server.

The dev server and the remote peer (tests/core/exit_bot.py --peer: a Twilio-API participant
publishing a tone) each run in their own process, started once. Every bot run must exit with
status 0; an abort at interpreter exit shows as -6 (SIGABRT). Another bot module (``--bot``,
or ``main(bot=...)`` from a wrapper) takes ``--room R --identity I`` and may take more arguments.

    flock /tmp/compat-media.lock scripts/netns-run .venv/bin/python -m tests.core.exit_runner --runs 50 [--leave-open]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

KEY, SECRET = "devkey", "secret-for-the-exit-bot-runner-0123456789"
BOT_TIMEOUT = 60.0
BOT = "tests.core.exit_bot"


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str


def _python(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


@contextlib.contextmanager
def dev_server() -> Iterator[dict[str, str]]:
    """A dev server process on a free port; yields the LIVEKIT_* environment for clients."""
    proc = _python("-m", "compat.devserver", "--port", "0", "--keys", f"{KEY}:{SECRET}",
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:  # bounded: the server prints its URL right after start
            if line.strip().startswith("LIVEKIT_URL="):
                url = line.strip().split("=", 1)[1]
                break
        if not url:
            raise RuntimeError("dev server did not start")
        yield {**os.environ, "LIVEKIT_URL": url, "LIVEKIT_API_KEY": KEY, "LIVEKIT_API_SECRET": SECRET}
    finally:
        _stop(proc, signal.SIGTERM)


@contextlib.contextmanager
def peer(env: dict[str, str], room: str) -> Iterator[subprocess.Popen[str]]:
    """The remote participant: publishes a tone until its stdin closes."""
    proc = _python("-m", "tests.core.exit_bot", "--peer", "--room", room, "--identity", "peer",
                   env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        _stop(proc, None)


def _stop(proc: subprocess.Popen[str], sig: signal.Signals | None) -> None:
    if sig is not None and proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def run_bot(env: dict[str, str], room: str, identity: str, *args: str, bot: str = BOT) -> Run:
    try:
        done = subprocess.run(
            [sys.executable, "-m", bot, "--room", room, "--identity", identity, *args],
            env=env, capture_output=True, text=True, timeout=BOT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        return Run(-999, str(exc.stdout or ""), f"timed out after {BOT_TIMEOUT}s")
    return Run(done.returncode, done.stdout, done.stderr)


def run_many(runs: int, *args: str, verbose: bool = False, bot: str = BOT) -> tuple[list[Run], int | None]:
    """``runs`` processes of the module ``bot`` in a row (``args`` go to each); returns their
    results and the peer's exit status."""
    room = f"exit-{uuid.uuid4().hex[:8]}"
    results: list[Run] = []
    with dev_server() as env, peer(env, room) as remote:
        for i in range(runs):
            result = run_bot(env, room, f"bot-{i}", *args, bot=bot)
            results.append(result)
            if verbose:
                print(f"run {i + 1:3d}: status {result.status}", flush=True)
    return results, remote.returncode


def main(argv: list[str] | None = None, bot: str = BOT) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("COMPAT_EXIT_RUNS", "50")))
    parser.add_argument("--leave-open", action="store_true", help="bots return without disconnecting")
    parser.add_argument("--bot", default=bot, help=f"the bot's module (default {bot})")
    args = parser.parse_args(argv)
    bot_args = ["--leave-open"] if args.leave_open else []
    results, peer_status = run_many(args.runs, *bot_args, verbose=True, bot=args.bot)
    bad = [(i, r) for i, r in enumerate(results, 1) if r.status != 0]
    for i, r in bad:
        print(f"--- run {i}: status {r.status}\n{r.stderr[-2000:]}", flush=True)
    print(f"{len(results) - len(bad)} of {len(results)} runs exited 0; peer exited {peer_status}")
    return 0 if not bad and peer_status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
