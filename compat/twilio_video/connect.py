"""``connect(token, options)``: join a room and resolve with a :class:`Room`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from compat import core as C

from .createlocaltracks import make_tracks
from .errormapping import connect_error, legacy_room_error
from .options import ConnectOptions
from .room import Room
from .token import inspect_token

START_HOPS = 3


async def connect(token: str, options: Any = None, **kwargs: Any) -> Room:
    """Connect to a room, like ``Video.connect(token, options)``.

    ``options`` is a dict with twilio-video.js key names (or keyword arguments, or a
    :class:`ConnectOptions`). Unknown keys raise TypeError; browser-only keys are accepted
    and ignored (docs/parity.md). Additions: ``url`` (default: environment
    ``LIVEKIT_URL``) and ``connectTimeout`` (seconds, default 30: the deadline of the
    whole join, after which it rejects with 53000 and nothing is dialled any more; each
    signalling attempt is bounded by ``min(10, connectTimeout)``, cut to end before the
    deadline, see ``compat.core.open_session``). ``token`` must be a
    LiveKit access token. Without ``tracks``, ``audio`` / ``video`` (``True`` or
    createLocalAudioTrack/createLocalVideoTrack options) publish tracks made as
    ``createLocalTracks`` makes them, fed by the bot (find them in
    ``room.localParticipant.audioTracks`` / ``videoTracks``; silence or black until its first
    frame) and stopped at disconnect, as lib/connect.js does with the tracks it
    creates; with neither key nothing is published (the original would then capture the
    microphone and camera). Failures raise the TwilioError the original rejects with.

    With a compat.rollout store configured, a room the rollout assigned to legacy is refused
    with 53106 (:func:`~compat.twilio_video.errormapping.legacy_room_error`), and the session's
    setup, TURN use, reconnects and audio MOS are recorded.

    The Room's events start on a later loop iteration: attach listeners right after
    ``await connect(...)`` returns, before awaiting anything else.
    """
    if not isinstance(token, str):
        raise TypeError("token must be a string")
    if options is not None and not isinstance(options, (Mapping, ConnectOptions)):
        raise TypeError("options must be an object")
    if kwargs:
        if isinstance(options, ConnectOptions):
            raise TypeError("Illegal call to connect: pass options either as ConnectOptions or as keywords")
        options = {**(options or {}), **kwargs}
    opts = ConnectOptions.parse(options)
    room = inspect_token(token, opts.name).room or ""
    url = opts.url or os.environ.get("LIVEKIT_URL")
    if not url:
        raise TypeError("options.url must be specified (or set the LIVEKIT_URL environment variable)")
    if C.session_platform(room) == "legacy":
        raise legacy_room_error(room)
    record = C.begin_setup(room, "twilio")
    try:
        session = await C.open_session(
            url,
            token,
            auto_subscribe=opts.automaticSubscription,
            connect_timeout=min(10.0, opts.connectTimeout),
            overall_timeout=opts.connectTimeout,
            record=record,
            # 'auto' is adaptive simulcast (lib/connect.js connect(): [{codec: 'VP8', simulcast:
            # true, adaptiveSimulcast: true}]): the server turns off layers nobody watches; dynacast.
            dynacast=opts.preferredVideoCodecs == "auto",
        )
    except C.ConnectFailure as failure:
        error = connect_error(failure)
        record.failed(error.code)
        raise error from None
    return await connect_session(session, opts)


async def connect_session(session: C.Session, options: Any = None) -> Room:
    """Build a Room on an already connected Session (tests use a ScriptedSession)."""
    opts = ConnectOptions.parse(options)
    room = Room(session, opts)
    created = _created_tracks(opts)
    room.localParticipant._tracks_to_stop.extend(created)
    try:
        for track in opts.tracks if opts.tracks is not None else created:
            await room.localParticipant._publish(track, None, emit=False)
    except BaseException:
        session.disconnect()
        raise
    _schedule_start(room, START_HOPS)
    return room


def _created_tracks(opts: ConnectOptions) -> list[Any]:
    """The tracks connect() makes itself: only without ``tracks`` and with ``audio`` or
    ``video`` given (lib/connect.js calls createLocalTracks(options) when ``tracks`` is absent)."""
    if opts.tracks is not None or (opts.audio is None and opts.video is None):
        return []
    return list(make_tracks({k: v for k, v in (("audio", opts.audio), ("video", opts.video)) if v is not None}))


def _schedule_start(room: Room, hops: int) -> None:
    """Start the fact stream a few loop iterations later, so that code awaiting connect()
    (even through a wrapper task) attaches its listeners first."""
    loop = asyncio.get_running_loop()
    if hops <= 0:
        room._start()
    else:
        loop.call_soon(_schedule_start, room, hops - 1)

__all__ = ["START_HOPS", "connect", "connect_session"]
