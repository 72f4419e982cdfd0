"""A livekit.rtc participant in its own process that reports what it sees, one line per event
(tests/devserver/test_resume.py freezes it with SIGSTOP while its signalling is down)."""

from __future__ import annotations

import asyncio
import sys

from livekit import rtc


async def main(url: str, token: str) -> None:
    room = rtc.Room()
    room.on("reconnected", lambda: print("reconnected", flush=True))
    room.on("disconnected", lambda reason: print("disconnected", flush=True))
    room.on("track_muted", lambda p, pub: print(f"muted {p.identity} {pub.sid}", flush=True))
    await room.connect(url, token, rtc.RoomOptions(connect_timeout=10))
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await room.local_participant.publish_track(track, options)
    print(f"connected {room.local_participant.sid} {publication.sid}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
