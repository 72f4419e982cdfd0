"""A Twilio-Video-style recording bot on LiveKit, written against compat.twilio_video.

It joins a room, logs who comes and goes, and records every remote audio track to its
own WAV file (16-bit mono 48 kHz). Each file is written under a temporary name
(``.<name>.wav.part``) and renamed to ``<identity>-<trackSid>.wav`` once the track ends
(unsubscribed, unpublished, participant left, or the bot disconnected), so a file with
the final name is always complete.

Run it (a LiveKit server or the dev server: ``python -m compat.devserver``)::

    LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \\
        python -m examples.twilio_recording_bot --room demo --out recordings --duration 60

Apart from the token (LiveKit's) and the frame reading (``track.frames()``, an addition),
this is the code you would write with twilio-video.js.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import wave
from pathlib import Path
from typing import Any

from compat import twilio_video as Video

log = logging.getLogger("recording_bot")

SAMPLE_RATE = 48000


async def record_track(track: Video.RemoteAudioTrack, participant: Video.RemoteParticipant, out_dir: Path) -> Path:
    """Write the track to a WAV file until it ends; return the final path."""
    final = out_dir / f"{participant.identity}-{track.sid}.wav"
    part = out_dir / f".{final.name}.part"
    stream = track.frames(sample_rate=SAMPLE_RATE, num_channels=1, capacity=100, frame_size_ms=50)
    with wave.open(str(part), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        async for frame in stream:
            wav.writeframes(frame.data)
    os.replace(part, final)
    if stream.dropped:
        log.warning("%s: %d frame(s) dropped (disk too slow?)", final.name, stream.dropped)
    log.info("saved %s", final)
    return final


async def run_bot(
    token: str,
    out_dir: Path,
    *,
    url: str | None = None,
    room_name: str | None = None,
    stop: asyncio.Event | None = None,
    duration: float | None = None,
) -> list[Path]:
    """Record until ``stop`` is set or ``duration`` seconds passed; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"automaticSubscription": True}
    if url is not None:
        options["url"] = url
    if room_name is not None:
        options["name"] = room_name
    room = await Video.connect(token, options)
    log.info("connected to %s (%s) as %s", room.name, room.sid, room.localParticipant.identity)
    recorders: list[asyncio.Task[Path]] = []

    def on_participant_connected(participant: Video.RemoteParticipant) -> None:
        log.info("participant connected: %s", participant.identity)

    def on_participant_disconnected(participant: Video.RemoteParticipant) -> None:
        log.info("participant disconnected: %s", participant.identity)

    def on_track_subscribed(track: Any, publication: Any, participant: Video.RemoteParticipant) -> None:
        if isinstance(track, Video.RemoteAudioTrack):
            log.info("recording %s of %s", track.name, participant.identity)
            recorders.append(asyncio.create_task(record_track(track, participant, out_dir)))

    room.on("participantConnected", on_participant_connected)
    room.on("participantDisconnected", on_participant_disconnected)
    room.on("trackSubscribed", on_track_subscribed)
    room.on("disconnected", lambda r, error: log.info("disconnected (%s)", error))
    for participant in room.participants.values():
        log.info("already in the room: %s", participant.identity)

    waiter = stop or asyncio.Event()
    try:
        await asyncio.wait_for(waiter.wait(), duration)
    except asyncio.TimeoutError:
        pass
    finally:
        room.disconnect()  # ends every frame stream: the recorders finish their files
        done = await asyncio.gather(*recorders, return_exceptions=True)
        await room.wait_closed()
    files = [f for f in done if isinstance(f, Path)]
    for failure in (f for f in done if isinstance(f, BaseException)):
        log.error("a recorder failed: %r", failure)
    return files


def main() -> None:
    from livekit import api

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--room", required=True)
    parser.add_argument("--identity", default="recording-bot")
    parser.add_argument("--out", type=Path, default=Path("recordings"))
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    token = (
        api.AccessToken()  # LIVEKIT_API_KEY / LIVEKIT_API_SECRET
        .with_identity(args.identity)
        .with_grants(api.VideoGrants(room_join=True, room=args.room, hidden=True, can_publish=False))
        .with_ttl(datetime.timedelta(hours=4))
        .to_jwt()
    )
    asyncio.run(run_bot(token, args.out, room_name=args.room, duration=args.duration))


if __name__ == "__main__":
    main()
