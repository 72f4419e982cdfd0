"""The embedded LiveKit-compatible server: HTTP/WebSocket front, rooms, and their media."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection
from livekit.protocol import models, rtc

from compat.devserver.aiortc_internals import close_peer_connection, register_passthrough_codecs
from compat.devserver.auth import AuthError, Claims, bearer_token, check_join, verify
from compat.devserver.egress import EgressManager
from compat.devserver.ids import new_id
from compat.devserver.room import Participant, Room, RoomManager
from compat.devserver.session import SignalConnection
from compat.devserver.twirp import RoomService, TwirpRouter
from compat.devserver.webhooks import WebhookNotifier

log = logging.getLogger(__name__)

DEFAULT_KEYS: Mapping[str, str] = {"devkey": "secret"}
RELAY_MODES = ("forward", "decode")  # DevServer(relay=...), --relay, COMPAT_DEVSERVER_RELAY
VERSION = "1.9.0"  # the LiveKit server version we answer as (clients parse it as semver)
MAX_SIGNAL_MESSAGE = 1 << 20


def _cors_headers(request: web.Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": request.headers.get("Origin", "*"),
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Twirp-Version",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@web.middleware
async def _cors(request: web.Request, handler: Any) -> web.StreamResponse:
    # livekit-client fetches /rtc/v1/validate from the page's origin before falling back to /rtc.
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=_cors_headers(request))
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(_cors_headers(request))
        raise
    if not isinstance(response, web.WebSocketResponse):
        response.headers.update(_cors_headers(request))
    return response


class DevServer:
    """A LiveKit-compatible server for development and tests (what `livekit-server --dev` is to LiveKit).

    `async with DevServer(port=0) as server:` then connect LiveKit SDKs to `server.url` with tokens
    signed by `server.api_key` / `server.api_secret`.

    `ping_interval` and `ping_timeout` (seconds) go to the clients in the JoinResponse, as LiveKit's
    do; a socket silent for `ping_timeout` is taken as dropped. Keep `ping_timeout` above a client's
    resume (`testing.RESUME_PING_TIMEOUT`): livekit.rtc sends no ping while it resumes (~3 s), and
    a shorter timeout turns resumes into full reconnects.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7880,
        keys: Mapping[str, str] | None = None,
        *,
        empty_timeout: float = 300.0,
        departure_timeout: float = 20.0,
        max_participants: int = 0,
        ping_interval: int = 5,
        ping_timeout: int = 15,
        reconnect_grace: float | None = None,
        webhooks: Sequence[str] = (),
        webhook_horizon: float = 600.0,
        webhook_backoff_max: float = 5.0,
        recordings_dir: str | None = None,
        relay: str | None = None,
    ) -> None:
        if ping_interval <= 0 or ping_timeout <= 0:
            raise ValueError("ping_interval and ping_timeout must be positive (LiveKit clients panic on 0)")
        self.host = host
        self.port = port
        self.keys: dict[str, str] = dict(keys or DEFAULT_KEYS)
        if not self.keys:
            raise ValueError("at least one API key is needed")
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect_grace = ping_timeout if reconnect_grace is None else reconnect_grace
        self.version = VERSION
        self.node_id = new_id("ND_")
        self.webhooks = list(webhooks)
        # How long each webhook event is retried before it is counted as lost, and the longest pause
        # between two tries (docs/devserver.md, "Webhook delivery guarantees").
        self.webhook_horizon = webhook_horizon
        self.webhook_backoff_max = webhook_backoff_max
        self.recordings_dir = recordings_dir
        # "forward": encoded frames go to subscribers as they are; "decode": decode and re-encode (the old relay).
        self.relay = relay or os.environ.get("COMPAT_DEVSERVER_RELAY") or "forward"
        if self.relay not in RELAY_MODES:
            raise ValueError(f"relay must be one of {', '.join(RELAY_MODES)}, not {self.relay!r}")
        register_passthrough_codecs()  # VP9/AV1 negotiable; only relay "forward" accepts them
        self.manager = RoomManager(
            empty_timeout=empty_timeout, departure_timeout=departure_timeout, max_participants=max_participants
        )
        self.peer_connections: set[RTCPeerConnection] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.sessions: set[SignalConnection] = set()
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[_cors])
        self.app.router.add_get("/", self._health)
        self.app.router.add_get("/rtc", self._rtc)
        self.app.router.add_get("/rtc/validate", self._validate)
        self.app.router.add_route("*", "/rtc/v1", self._not_found)
        self.app.router.add_route("*", "/rtc/v1/validate", self._not_found)
        self._extensions: list[Any] = []
        self._install_control_plane()

    # ---- lifetime --------------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return next(iter(self.keys))

    @property
    def api_secret(self) -> str:
        return self.keys[self.api_key]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    @property
    def http_url(self) -> str:
        return "http" + self.url[2:]

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            # The OS chose the port: AppRunner.addresses (public) lists getsockname() of every bound socket.
            self.port = self._runner.addresses[0][1]
        log.info("dev server listening on %s", self.url)

    async def stop(self) -> None:
        """Close every room (participants get SERVER_SHUTDOWN), then stop serving."""
        await self.manager.close_all(models.DisconnectReason.SERVER_SHUTDOWN)
        for extension in reversed(self._extensions):
            await extension.close()
        for task in list(self.manager.tasks) + list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.manager.tasks, *self.tasks, return_exceptions=True)
        for pc in list(self.peer_connections):
            await close_peer_connection(pc)  # also one whose session's close was cancelled midway
        self.peer_connections.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _install_control_plane(self) -> None:
        """Twirp RoomService and Egress, webhooks, recordings (issue 4)."""
        self.twirp = TwirpRouter(self.keys)
        self.room_service = RoomService(self.manager)
        self.room_service.register(self.twirp)
        self.notifier = WebhookNotifier(
            self.webhooks,
            self.api_key,
            self.api_secret,
            horizon=self.webhook_horizon,
            backoff_max=self.webhook_backoff_max,
        )
        self.manager.observers.append(self.notifier)
        self.add_extension(self.notifier)  # closed last: flushes what the others reported
        self.egress = EgressManager(self.manager, self.recordings_dir, self.notifier.egress_event)
        self.egress.register(self.twirp)
        self.manager.observers.append(self.egress)
        self.add_extension(self.egress)
        self.twirp.install(self.app)

    def add_extension(self, extension: Any) -> None:
        """Register a component with an async close(), closed (in reverse order) when the server stops."""
        self._extensions.append(extension)

    # ---- introspection (tests, benchmarks) -----------------------------------------------------------

    @property
    def rooms(self) -> Mapping[str, Room]:
        return self.manager.rooms

    def stats(self) -> dict[str, int]:
        """What is alive: rooms, participants, open PeerConnections, and running tasks by origin."""
        counts = {"rooms": len(self.manager.rooms), "participants": 0, "peer_connections": 0,
                  "devserver_tasks": 0, "aiortc_tasks": 0}
        counts["participants"] = sum(1 for _ in self.manager.all_participants())
        counts["peer_connections"] = sum(1 for pc in self.peer_connections if pc.connectionState != "closed")
        for task in asyncio.all_tasks():
            coro = task.get_coro()
            code = getattr(coro, "cr_code", None)
            filename = code.co_filename if code is not None else ""
            if "compat/devserver" in filename:
                counts["devserver_tasks"] += 1
            elif "/aiortc/" in filename or "/aioice/" in filename:
                counts["aiortc_tasks"] += 1
        return counts

    # ---- HTTP ------------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def _not_found(self, request: web.Request) -> web.Response:
        # Single-PC signalling (/rtc/v1) is not offered: clients fall back to /rtc on a 404.
        return web.Response(status=404, text="not found")

    def _authorize(self, request: web.Request) -> tuple[Claims, str]:
        token = bearer_token(request.headers.get("Authorization"), request.query.get("access_token"))
        claims = verify(token, self.keys)
        room_name = check_join(claims, request.query.get("room"))
        room = self.manager.get(room_name)
        if room is not None and room.is_full() and claims.identity not in room.participants:
            raise AuthError(403, f"room {room_name!r} is full: limit of {room.info.max_participants} participants reached")
        return claims, room_name

    async def _validate(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
        except AuthError as exc:
            return web.Response(status=exc.status, text=exc.reason)
        return web.Response(text="success")

    async def _rtc(self, request: web.Request) -> web.StreamResponse:
        try:
            claims, room_name = self._authorize(request)
        except AuthError as exc:
            return web.Response(status=exc.status, text=exc.reason)
        ws = web.WebSocketResponse(max_msg_size=MAX_SIGNAL_MESSAGE, heartbeat=None)
        await ws.prepare(request)
        if request.query.get("reconnect") in ("1", "true"):
            session = self._resumable(room_name, claims.identity, request.query.get("sid", ""))
            if session is None:
                # Unknown, expired or another participant's session: the SDK falls back to a full reconnect.
                self._expect_rejoin(room_name, claims.identity)
                await self._refuse_resume(ws)
            else:
                log.info("%s resumes its session (reconnect_reason %s)",
                         claims.identity, request.query.get("reconnect_reason", "not given"))
                await session.resume(ws)
            return ws
        room = self.manager.get_or_create(room_name)
        existing = room.participants.get(claims.identity)
        if existing is not None:
            await room.kick(existing, models.DisconnectReason.DUPLICATE_IDENTITY)
        if room.closed:  # closed while we were kicking: start afresh
            room = self.manager.get_or_create(room_name)
        participant = Participant(
            room,
            claims.identity,
            claims.video,
            name=claims.name,
            metadata=claims.metadata,
            attributes=dict(claims.attributes),
            auto_subscribe=request.query.get("auto_subscribe", "1") not in ("0", "false"),
        )
        session = SignalConnection(self, ws, room, participant)
        participant.session = session
        room.add(participant)
        self.sessions.add(session)  # until it closes (session.py, _shutdown)
        await session.run()
        return ws

    def _resumable(self, room_name: str, identity: str, sid: str) -> SignalConnection | None:
        """The session a `reconnect=1` request may resume: same room and identity (the token
        says so), and the participant sid the client was given."""
        room = self.manager.get(room_name)
        participant = room.participants.get(identity) if room is not None else None
        session = participant.session if participant is not None else None
        if not isinstance(session, SignalConnection) or not session.resumable(sid):
            log.info("resume of %r in %r (sid %r) refused: no such session", identity, room_name, sid)
            return None
        return session

    def _expect_rejoin(self, room_name: str, identity: str) -> None:
        """The client will rejoin at once: its old participant stays until then (and then leaves
        with DUPLICATE_IDENTITY, as on LiveKit), even if it closes its media first."""
        room = self.manager.get(room_name)
        old = room.participants.get(identity) if room is not None else None
        if old is not None:
            old.resume_refused = True

    async def _refuse_resume(self, ws: web.WebSocketResponse) -> None:
        leave = rtc.LeaveRequest(
            can_reconnect=True,
            reason=models.DisconnectReason.STATE_MISMATCH,
            action=rtc.LeaveRequest.Action.RECONNECT,
        )
        await ws.send_bytes(rtc.SignalResponse(leave=leave).SerializeToString())
        await ws.close()
