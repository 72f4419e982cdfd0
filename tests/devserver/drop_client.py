"""A livekit.rtc participant in its own process, for tests that kill it without a leave."""

from __future__ import annotations

import asyncio
import sys

from livekit import rtc


async def main(url: str, token: str) -> None:
    room = rtc.Room()
    await room.connect(url, token, rtc.RoomOptions(connect_timeout=10))
    print("connected", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
