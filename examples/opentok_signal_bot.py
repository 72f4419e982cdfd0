"""An OpenTok-style signalling bot on LiveKit, written against compat.vonage.

It joins a session as a moderator and answers signals:

* ``ping`` -> replies ``pong`` (same data) to the sender only;
* ``kick`` -> ``forceDisconnect`` of the sender (who then sees ``sessionDisconnected`` with
  reason ``forceDisconnected``; everyone else ``connectionDestroyed{forceDisconnected}``);
* ``mute-all`` / ``unmute-all`` -> ``forceMuteAll()`` / ``disableForceMute()``.

Run it (a LiveKit server or the dev server: ``python -m compat.devserver``)::

    LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \\
        python -m examples.opentok_signal_bot --session demo --duration 60

Apart from the token (LiveKit's, minted with ``compat.vonage.generate_token``) and ``await``,
this is the code you would write with OpenTok.js.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from compat import vonage as OT

log = logging.getLogger("signal_bot")


def attach(session: OT.Session, answered: list[str]) -> None:
    """The bot's handlers (OpenTok.js style: one per event)."""

    async def on_ping(event: Any) -> None:
        answered.append("ping")
        await session.signal({"type": "pong", "data": event.data, "to": event.from_})

    async def on_kick(event: Any) -> None:
        sender = event.from_
        if sender is None:
            log.warning("kick from the server API ignored: nobody to kick")
            return
        answered.append("kick")
        log.info("kicking %s on its own request", sender.connectionId)
        def done(error: OT.OTError | None) -> None:
            if error is not None:
                log.warning("kick failed: %s", error)

        await session.forceDisconnect(sender, done)

    async def on_mute_all(event: Any) -> None:
        answered.append("mute-all")
        await session.forceMuteAll()

    async def on_unmute_all(event: Any) -> None:
        answered.append("unmute-all")
        await session.disableForceMute()

    session.on(
        {
            "signal:ping": on_ping,
            "signal:kick": on_kick,
            "signal:mute-all": on_mute_all,
            "signal:unmute-all": on_unmute_all,
            "connectionCreated": lambda e: log.info("connection %s (data %r)", e.connection.connectionId, e.connection.data),
            "connectionDestroyed": lambda e: log.info("connection %s gone: %s", e.connection.connectionId, e.reason),
            "sessionDisconnected": lambda e: log.info("disconnected: %s", e.reason),
        }
    )


async def run_bot(
    api_key: str, session_id: str, token: str, *, url: str | None = None, stop: asyncio.Event | None = None
) -> list[str]:
    """Connect, answer signals until ``stop`` is set (or the session ends); the commands answered."""
    session = OT.Session(api_key, session_id, {"url": url} if url else None)
    answered: list[str] = []
    ended = asyncio.Event()
    attach(session, answered)
    session.on("sessionDisconnected", lambda e: ended.set())
    await session.connect(token)
    log.info("connected to %s as %s", session_id, session.connection.connectionId if session.connection else "?")
    waits = [asyncio.ensure_future(ended.wait())]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.wait_for(session.disconnect(), 15)
    return answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session", required=True, help="session ID (a LiveKit room name, or a minted ID)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    key, secret = os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"]
    token = OT.generate_token(key, secret, args.session, role="moderator", identity="signal-bot", data="bot")

    async def go() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(args.duration, stop.set)
        answered = await run_bot(key, args.session, token, stop=stop)
        log.info("answered %d command(s)", len(answered))

    asyncio.run(go())


if __name__ == "__main__":
    main()
