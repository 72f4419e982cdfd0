"""One participant's signalling connection: the WebSocket and its two PeerConnections.

The client publishes on the publisher PeerConnection (it offers, we answer) and receives on the
subscriber PeerConnection (we offer, it answers). Outgoing signalling goes through one queue so
its order is the order in which the room produced it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceParameters,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from google.protobuf.message import DecodeError
from livekit.protocol import models, rtc

from compat.devserver.aiortc_internals import (
    RtpWriter,
    adopt_remote_ice_credentials,
    close_peer_connection,
    negotiated_mime_type,
    on_keyframe_request,
    on_remb,
    report_senders_together,
    send_sender_reports,
    set_msid,
)
from compat.devserver.dynacast import HIGH, LOW, MEDIUM, OFF
from compat.devserver.ids import new_id
from compat.devserver.media import (
    RelayTrack,
    TrackForwarder,
    accept_simulcast,
    copy_rid_extmaps,
    sending_sections,
    simulcast_sections,
    undecodable_video,
)
from compat.devserver.room import Participant, PublishedTrack, Room, RoomManager

log = logging.getLogger(__name__)

PUBLISHER = rtc.SignalTarget.PUBLISHER
SUBSCRIBER = rtc.SignalTarget.SUBSCRIBER
RELIABLE_LABEL = "_reliable"
LOSSY_LABEL = "_lossy"
PENDING_DATA_LIMIT = 256  # lossy packets kept for a subscriber channel not open yet (reliable: all, with a warning)
ANSWER_TIMEOUT = 15.0
SENDER_REPORT_EVERY = 5.0  # seconds: livekit-server's downTracksRTCPWorker (pkg/rtc/participant.go)


_RELAYED_CODECS = {"opus": "audio/opus", "vp8": "video/VP8", "h264": "video/H264"}
_FORWARDED_ONLY_CODECS = {"vp9": "video/VP9", "av1": "video/AV1"}  # never decoded: relay "forward" only


def _track_mime_type(request: rtc.AddTrackRequest, forward: bool) -> str | None:
    """The mime type of the first codec the relay can carry, or None when it can carry none."""
    if request.type == models.TrackType.AUDIO:
        return "audio/opus"
    offered = [c.codec.lower().rsplit("/", 1)[-1] for c in request.simulcast_codecs if c.codec]
    if not offered:
        return "video/VP8"  # the SDKs' default
    known = {**_RELAYED_CODECS, **_FORWARDED_ONLY_CODECS} if forward else _RELAYED_CODECS
    return next((known[c] for c in offered if c in known), None)


def _codec_preferences(kind: str, mime_type: str | None) -> list[RTCRtpCodecCapability]:
    """aiortc's codecs of this MIME type (every H.264 profile), or (None) those it can encode, with
    their retransmission codecs."""
    codecs = RTCRtpSender.getCapabilities(kind).codecs
    if mime_type is None:
        forwarded_only = {m.lower() for m in _FORWARDED_ONLY_CODECS.values()}
        wanted = [c for c in codecs if c.mimeType.lower() not in forwarded_only and not c.mimeType.lower().endswith("/rtx")]
    else:
        wanted = [c for c in codecs if c.mimeType.lower() == mime_type.lower()]
    return wanted + [c for c in codecs if c.mimeType.lower().endswith("/rtx")]


def _rtc_config() -> RTCConfiguration:
    # MAX_BUNDLE: with BALANCED, aiortc leaves the 2nd+ transceiver of a kind on a dead transport.
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def _wanted_quality(request: rtc.UpdateTrackSettings, layers: Any) -> int:
    """The VideoQuality a subscriber asks for: the smallest layer at least as large as what it
    renders when it gives a size (adaptive stream), else its quality (HIGH when unset)."""
    if request.width and request.height and layers:
        covering = [layer for layer in layers if layer.width >= request.width and layer.height >= request.height]
        chosen = min(covering, key=lambda layer: layer.width) if covering else max(layers, key=lambda layer: layer.width)
        return int(chosen.quality)
    return int(request.quality)


class Subscription:
    __slots__ = ("relay", "track_sid", "transceiver")

    def __init__(self, track_sid: str, transceiver: RTCRtpTransceiver, relay: RelayTrack) -> None:
        self.track_sid = track_sid
        self.transceiver = transceiver
        self.relay = relay


class SignalHost(Protocol):
    """What a signalling session reads from the server that composes it (server.py's DevServer):
    settings it announces, the room manager, and the sets the server shuts down at stop."""

    version: str
    node_id: str
    ping_interval: int
    ping_timeout: int
    reconnect_grace: float
    relay: str  # "forward" (encoded frames) or "decode"; see media.py
    manager: RoomManager
    peer_connections: set[RTCPeerConnection]
    tasks: set[asyncio.Task[Any]]
    sessions: set[SignalConnection]


def _ice_credentials(sdp: str) -> RTCIceParameters | None:
    """The first ice-ufrag / ice-pwd of an SDP (bundled: one pair for every section)."""
    ufrag = pwd = None
    for line in sdp.splitlines():
        if ufrag is None and line.startswith("a=ice-ufrag:"):
            ufrag = line.split(":", 1)[1].strip()
        elif pwd is None and line.startswith("a=ice-pwd:"):
            pwd = line.split(":", 1)[1].strip()
    if ufrag is None or pwd is None:
        return None
    return RTCIceParameters(usernameFragment=ufrag, password=pwd)


def _mids(sdp: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in sdp.splitlines() if line.startswith("a=mid:")]


class SignalConnection:
    """One participant's session. Its WebSocket may drop and be replaced by a resume
    (`/rtc?reconnect=1`) within the server's reconnect grace; the PeerConnections, publications
    and subscriptions live on meanwhile, and what the server sends waits in the outgoing queue."""

    def __init__(self, server: SignalHost, ws: web.WebSocketResponse, room: Room, participant: Participant) -> None:
        self.server = server
        self.ws = ws
        self.room = room
        self.participant = participant
        self.closed = False
        self.left_gracefully = False
        # Between a signalling drop and a resume (or the end of the grace): media goes on, signalling waits.
        self.detached = False
        self._drop_reason: models.DisconnectReason = models.DisconnectReason.SIGNAL_CLOSE
        self._disconnect_on_resume = False  # SimulateScenario: drop the next resume's signalling
        self._grace: asyncio.Task[None] | None = None
        # A response leaves the queue only once written, so one a dropped socket failed to send is
        # sent again after a resume.
        self._out: deque[rtc.SignalResponse] = deque()
        self._out_ready = asyncio.Event()
        self._writer_stop = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.publisher = self._new_pc()
        self.subscriber = self._new_pc()
        self._pub_lock = asyncio.Lock()
        # Candidates that arrive before the PeerConnection has a remote description wait here.
        self._early_candidates: dict[int, list[Any] | None] = {PUBLISHER: [], SUBSCRIBER: []}
        self._orphan_tracks: dict[str, MediaStreamTrack] = {}  # by cid, media before AddTrack
        self._pending_tracks: dict[str, PublishedTrack] = {}  # by cid, AddTrack before media
        self._pub_cids: dict[str, str] = {}  # publisher mid → cid
        self._pub_simulcast: dict[str, tuple[list[str], dict[str, int]]] = {}  # mid → (rids, extension ids)
        self._sub_channels: dict[str, RTCDataChannel] = {}
        self._sub_pending: dict[str, list[bytes]] = {RELIABLE_LABEL: [], LOSSY_LABEL: []}
        self._sub_dirty = False
        self._sub_negotiating = False
        self._sub_answer: asyncio.Future[rtc.SessionDescription] | None = None
        self._sub_offer_id = 0
        self._sub_connected = asyncio.Event()
        self.subscriptions: dict[str, Subscription] = {}
        self._deferred_subscriptions: list[tuple[Participant, PublishedTrack]] = []
        self._rtt_ms = 0
        self._writer_task: asyncio.Task[Any] | None = None
        self._handlers = self._handler_table()
        self._wire_publisher()
        self._wire_subscriber()

    # ---- plumbing ---------------------------------------------------------------------------

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(_rtc_config())
        self.server.peer_connections.add(pc)
        return pc

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.participant.identity}: {name}")
        self._tasks.add(task)
        self.server.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self.server.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            level = logging.DEBUG if self._closing else logging.WARNING
            log.log(level, "%s failed", task.get_name(), exc_info=task.exception())

    @property
    def _closing(self) -> bool:
        """The session is closed, or a PeerConnection is closing under it: the client closed its media.

        aiortc closes a PeerConnection whose DTLS the peer closed (``__updateConnectionState``), so
        a client disconnecting races its own leave: a negotiation or an offer meeting a closed
        PeerConnection then is part of the leave, not an error to report."""
        return self.closed or "closed" in (self.publisher.signalingState, self.subscriber.signalingState)

    def send(self, response: rtc.SignalResponse) -> None:
        if not self.closed:
            self._out.append(response)
            self._out_ready.set()

    async def _writer(self, ws: web.WebSocketResponse) -> None:
        while True:
            while not self._out:
                if self._writer_stop:
                    return
                self._out_ready.clear()
                await self._out_ready.wait()
            if ws.closed:
                return
            try:
                await ws.send_bytes(self._out[0].SerializeToString())
            except (ConnectionError, RuntimeError):
                return
            self._out.popleft()

    def _start_writer(self, ws: web.WebSocketResponse) -> None:
        if self._writer_task is not None:
            self._writer_task.cancel()  # the socket it wrote to was replaced; what it had not sent stays queued
        self._writer_task = self.spawn(self._writer(ws), "signal writer")

    # ---- lifecycle --------------------------------------------------------------------------

    def join_response(self) -> rtc.SignalResponse:
        server = self.server
        participant = self.participant
        return rtc.SignalResponse(
            join=rtc.JoinResponse(
                room=self.room.snapshot(),
                participant=participant.snapshot(),
                other_participants=[p.snapshot() for p in self.room.visible_to(participant)],
                server_version=server.version,
                server_info=models.ServerInfo(
                    edition=models.ServerInfo.Edition.Standard,
                    version=server.version,
                    protocol=16,
                    node_id=server.node_id,
                    region="local",
                ),
                subscriber_primary=True,
                ping_interval=server.ping_interval,
                ping_timeout=server.ping_timeout,
                server_region="local",
                enabled_publish_codecs=[
                    models.Codec(mime="audio/opus"),
                    models.Codec(mime="video/VP8"),
                    models.Codec(mime="video/H264"),
                ],
            )
        )

    async def run(self) -> None:
        """Serve the first connection: join, then signalling until the socket ends."""
        self._start_writer(self.ws)
        self.send(self.join_response())
        self.room.announce_joined(self.participant)
        self._sub_channels[RELIABLE_LABEL] = self._open_sub_channel(RELIABLE_LABEL, ordered=True)
        self._sub_channels[LOSSY_LABEL] = self._open_sub_channel(LOSSY_LABEL, ordered=False, maxRetransmits=0)
        # Tracks already in the room (deferred by subscribe() until the first negotiation connects).
        if self.participant.auto_subscribe and self.participant.info.permission.can_subscribe:
            for other in list(self.room.participants.values()):
                if other is not self.participant:
                    for track in list(other.tracks.values()):
                        self.subscribe(other, track, negotiate=False)
        self.negotiate_subscriber()
        await self._serve(self.ws)

    async def _serve(self, ws: web.WebSocketResponse) -> None:
        """Read one socket until it ends; then the participant leaves, or waits for a resume."""
        watchdog = self.spawn(self._watchdog(ws), "ping watchdog")
        try:
            async for message in ws:
                self.participant.last_seen = time.monotonic()
                if message.type == WSMsgType.BINARY:
                    await self._dispatch(message.data)
                elif message.type == WSMsgType.TEXT:
                    log.debug("%s sent a text frame; LiveKit signalling is binary", self.participant.identity)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            if not self.detached:  # else the watchdog may be the one detaching: let it finish
                watchdog.cancel()
            if ws is self.ws and not self.closed and not self.detached:
                await self._signal_closed(ws)

    async def _signal_closed(self, ws: web.WebSocketResponse) -> None:
        # A client whose resume we refused closes its media to rejoin: that is a drop, not a leave.
        leaving = self.left_gracefully or (await self._peer_closed_media() and not self.participant.resume_refused)
        if ws is not self.ws or self.closed:
            return  # resumed (or closed) while we looked
        if leaving:
            await self.close(models.DisconnectReason.CLIENT_INITIATED)
        else:
            await self._detach(models.DisconnectReason.SIGNAL_CLOSE)

    async def _peer_closed_media(self, within: float = 0.5) -> bool:
        """Did the client close its PeerConnection (DTLS close_notify) around the signal close?

        The SDK sometimes closes its socket before its queued leave is sent; a client that also
        closed its media on purpose is leaving, not lost (a crashed one sends no close_notify)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self._sub_connected.is_set():
            if self.subscriber.connectionState == "closed":
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return False

    async def _watchdog(self, ws: web.WebSocketResponse) -> None:
        timeout = self.server.ping_timeout
        while True:
            await asyncio.sleep(min(1.0, timeout / 3))
            if time.monotonic() - self.participant.last_seen > timeout and ws is self.ws:
                log.info("%s: no signalling for %ss; dropping the socket", self.participant.identity, timeout)
                await self._detach(models.DisconnectReason.CONNECTION_TIMEOUT)
                return

    async def _detach(self, reason: models.DisconnectReason) -> None:
        """The signalling socket died without leave: keep the session for a resume until the grace ends."""
        if self.closed or self.detached:
            return
        self.detached = True
        self._drop_reason = reason
        if self._writer_task is not None and self._writer_task is not asyncio.current_task():
            self._writer_task.cancel()
        self._writer_task = None
        grace = self.server.reconnect_grace
        log.info("%s: signalling lost (%s); session kept %ss for a resume",
                 self.participant.identity, models.DisconnectReason.Name(reason), grace)
        self._grace = self.spawn(self._expire(grace), "reconnect grace")
        await self._close_socket(self.ws)

    async def _expire(self, grace: float) -> None:
        await asyncio.sleep(grace)
        if self.detached and not self.closed:
            log.info("%s: no resume within %ss; leaving", self.participant.identity, grace)
            await self.close(self._drop_reason)

    async def _close_socket(self, ws: web.WebSocketResponse) -> None:
        if not ws.closed:
            try:
                await asyncio.wait_for(ws.close(), 2.0)
            except (asyncio.TimeoutError, ConnectionError):
                pass

    async def drop_signal(self) -> None:
        """Close the signalling socket from the server side, as a network failure would (tests)."""
        await self._close_socket(self.ws)

    def resumable(self, sid: str) -> bool:
        return not self.closed and bool(sid) and sid == self.participant.sid

    async def resume(self, ws: web.WebSocketResponse) -> None:
        """Serve a resumed connection: ReconnectResponse first, then what was queued meanwhile,
        then the room's current state; the client follows with SyncState and an ICE restart."""
        previous = self.ws
        await ws.send_bytes(rtc.SignalResponse(reconnect=self._reconnect_response()).SerializeToString())
        if self.closed:  # the grace ended while we wrote: the client's resume fails, it rejoins
            await self._close_socket(ws)
            return
        if self._disconnect_on_resume:
            # LiveKit's simulated failure: the resume's signalling drops too, the client falls back
            # to a full reconnect. The session stays detached (its grace runs on).
            self._disconnect_on_resume = False
            log.info("%s: simulated signal drop on resume", self.participant.identity)
            await self._close_socket(ws)
            return
        self.ws = ws
        self.detached = False
        self.participant.last_seen = time.monotonic()
        self._cancel_grace()
        if previous is not ws:
            await self._close_socket(previous)  # a stale socket the client gave up on
        log.info(
            "%s: resumed (%d queued messages; reliable data taken up to #%d)",
            self.participant.identity, len(self._out), self.participant.last_reliable_seq,
        )
        self._queue_current_state()
        self._start_writer(ws)
        await self._serve(ws)

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def _reconnect_response(self) -> rtc.ReconnectResponse:
        return rtc.ReconnectResponse(
            ice_servers=[],
            last_message_seq=self.participant.last_reliable_seq,
            server_info=models.ServerInfo(
                edition=models.ServerInfo.Edition.Standard,
                version=self.server.version,
                protocol=16,
                node_id=self.server.node_id,
                region="local",
            ),
        )

    def _queue_current_state(self) -> None:
        """What LiveKit sends after ReconnectResponse: everyone's info (ours too: it may have
        changed) and the room."""
        participants = [self.participant.snapshot(), *(p.snapshot() for p in self.room.visible_to(self.participant))]
        self.send(rtc.SignalResponse(update=rtc.ParticipantUpdate(participants=participants)))
        self.send(rtc.SignalResponse(room_update=rtc.RoomUpdate(room=self.room.snapshot())))

    async def kick(self, reason: models.DisconnectReason) -> None:
        """Server-side disconnect (duplicate identity, removal, room deleted)."""
        await self.leave(rtc.LeaveRequest.Action.DISCONNECT, reason)

    async def leave(self, action: rtc.LeaveRequest.Action, reason: models.DisconnectReason) -> None:
        """The server ends the session: the client is told ``action`` (DISCONNECT; RECONNECT: join
        again as a new participant, livekit-server's IssueFullReconnect) and the participant leaves."""
        if self.closed:
            return
        reconnect = action == rtc.LeaveRequest.Action.RECONNECT
        self.send(rtc.SignalResponse(leave=rtc.LeaveRequest(can_reconnect=reconnect, reason=reason, action=action)))
        await self.close(reason)

    async def close(self, reason: models.DisconnectReason) -> None:
        if self.closed:
            return
        await self.room.remove(self.participant, reason)
        await self._shutdown()

    async def _shutdown(self) -> None:
        self.closed = True
        self.participant.session = None
        self.server.sessions.discard(self)
        self._writer_stop = True
        self._out_ready.set()
        writer = self._writer_task
        if writer is not None and writer is not asyncio.current_task():
            try:  # let queued signalling (a leave, the last updates) reach the client first
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
            except asyncio.TimeoutError:
                writer.cancel()
            except asyncio.CancelledError:
                if not writer.cancelled():
                    raise
        for sub in list(self.subscriptions.values()):
            sub.relay.stop()
        self.subscriptions.clear()
        for pc in (self.publisher, self.subscriber):
            if await close_peer_connection(pc):
                self.server.peer_connections.discard(pc)
        for track in self._orphan_tracks.values():
            track.stop()
        self._orphan_tracks.clear()
        self._pending_tracks.clear()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        await self._close_socket(self.ws)

    # ---- incoming signalling ------------------------------------------------------------------

    async def _dispatch(self, data: bytes) -> None:
        request = rtc.SignalRequest()
        try:
            request.ParseFromString(data)
        except (DecodeError, ValueError) as exc:
            log.info("%s sent an undecodable frame (%d bytes): %s", self.participant.identity, len(data), exc)
            return
        kind = request.WhichOneof("message")
        if kind is None:
            return
        log.debug("%s -> %s", self.participant.identity, kind)
        handler = self._handlers.get(kind)
        if handler is None:
            log.debug("%s: ignoring %s", self.participant.identity, kind)
            return
        try:
            await handler(getattr(request, kind))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the signal connection
            level = logging.DEBUG if self._closing else logging.WARNING
            log.log(level, "%s: bad %s request: %r", self.participant.identity, kind, exc)

    def _handler_table(self) -> dict[str, Callable[[Any], Awaitable[None]]]:
        """SignalRequest's `message` field name -> its handler (fields not listed are ignored)."""
        return {
            "offer": self._on_offer,
            "answer": self._on_answer,
            "trickle": self._on_trickle,
            "add_track": self._on_add_track,
            "mute": self._on_mute,
            "subscription": self._on_subscription,
            "track_setting": self._on_track_setting,
            "leave": self._on_leave,
            "ping": self._on_ping,
            "ping_req": self._on_ping_req,
            "update_metadata": self._on_update_metadata,
            "sync_state": self._on_sync_state,
            "simulate": self._on_simulate,
        }

    async def _on_simulate(self, scenario: rtc.SimulateScenario) -> None:
        kind = scenario.WhichOneof("scenario")
        if kind == "disconnect_signal_on_resume":
            self._disconnect_on_resume = True
        else:
            log.info("%s: simulate %s is not supported; ignored", self.participant.identity, kind)

    async def _on_sync_state(self, state: rtc.SyncState) -> None:
        """A resumed client's view, taken as livekit-server's Room.onSyncState takes it: a
        publication the server does not know (or one listed without its TrackInfo) means the two
        cannot go on together, and the client is asked for a full reconnect; otherwise the tracks
        it paused are paused and its subscription list applied. What it does not list (a
        publication the server still has, say) stays as it is. Differences are logged at INFO."""
        problems = self.sync_state_differences(state)
        for problem in problems:
            log.info("%s: sync state: %s", self.participant.identity, problem)
        if not problems:
            log.info("%s: sync state matches the server's", self.participant.identity)
        known = self._publication_sids()
        if any(not t.HasField("track") or t.track.sid not in known for t in state.publish_tracks):
            log.warning("%s: the client resumed with a publication the server does not know: asking for a full "
                        "reconnect", self.participant.identity)
            await self.leave(rtc.LeaveRequest.Action.RECONNECT, models.DisconnectReason.STATE_MISMATCH)
            return
        for sid in state.track_sids_disabled:
            subscription = self.subscriptions.get(sid)
            if subscription is not None:
                subscription.relay.set_enabled(False)
        await self._on_subscription(state.subscription)

    def _publication_sids(self) -> set[str]:
        """The tracks this participant publishes, announced or still waiting for their media."""
        return {t.sid for t in self.participant.tracks.values()} | {t.sid for t in self._pending_tracks.values()}

    def sync_state_differences(self, state: rtc.SyncState) -> list[str]:
        problems: list[str] = []
        ours = self._publication_sids()
        theirs = {t.track.sid for t in state.publish_tracks}
        if theirs - ours:
            problems.append(f"client publishes tracks the server does not know: {sorted(theirs - ours)}")
        if ours - theirs:
            problems.append(f"server has publications the client did not list: {sorted(ours - theirs)}")
        listed = set(state.subscription.track_sids)
        for pt in state.subscription.participant_tracks:
            listed.update(pt.track_sids)
        subscribed = set(self.subscriptions)
        if state.subscription.subscribe and listed - subscribed:
            problems.append(f"client subscribed to tracks the server does not send: {sorted(listed - subscribed)}")
        if not state.subscription.subscribe and listed & subscribed:
            problems.append(f"client unsubscribed from tracks the server still sends: {sorted(listed & subscribed)}")
        remote = self.subscriber.remoteDescription
        if state.answer.sdp and remote is not None and _mids(state.answer.sdp) != _mids(remote.sdp):
            # (libwebrtc re-serializes its answer, so only its sections are compared)
            problems.append(
                f"client's subscriber answer has sections {_mids(state.answer.sdp)}, the server's {_mids(remote.sdp)}"
            )
        return problems

    async def _on_ping(self, timestamp: int) -> None:
        self.send(rtc.SignalResponse(pong=timestamp))

    async def _on_ping_req(self, ping: rtc.Ping) -> None:
        self._rtt_ms = max(0, int(ping.rtt))
        self.send(
            rtc.SignalResponse(pong_resp=rtc.Pong(last_ping_timestamp=ping.timestamp, timestamp=int(time.time() * 1000)))
        )

    async def _on_leave(self, leave: rtc.LeaveRequest) -> None:
        self.left_gracefully = True
        await self.close(models.DisconnectReason.CLIENT_INITIATED)

    async def _on_trickle(self, trickle: rtc.TrickleRequest) -> None:
        init = json.loads(trickle.candidateInit)
        if not isinstance(init, dict):
            raise ValueError("candidateInit is not a JSON object")
        text = str(init.get("candidate") or "")
        if not text:
            return  # end of candidates
        candidate = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
        candidate.sdpMid = init.get("sdpMid")
        candidate.sdpMLineIndex = init.get("sdpMLineIndex")
        target = SUBSCRIBER if trickle.target == SUBSCRIBER else PUBLISHER
        early = self._early_candidates[target]
        if early is not None:
            early.append(candidate)
        else:
            await self._pc(target).addIceCandidate(candidate)

    def _pc(self, target: int) -> RTCPeerConnection:
        return self.subscriber if target == SUBSCRIBER else self.publisher

    async def _remote_description_set(self, target: int) -> None:
        early = self._early_candidates[target]
        if early is not None:
            self._early_candidates[target] = None
            for candidate in early:
                await self._pc(target).addIceCandidate(candidate)

    async def _on_offer(self, offer: rtc.SessionDescription) -> None:
        async with self._pub_lock:
            pc = self.publisher
            sending = sending_sections(offer.sdp)
            self._pub_cids.update(sending)
            self._take_ice_restart(offer.sdp)
            forward = self.server.relay == "forward"
            if forward:
                self._pub_simulcast.update(simulcast_sections(offer.sdp))
            elif undecodable := undecodable_video(offer.sdp):
                await self._offer_failed(sending, ValueError(f"relay 'decode' cannot decode {', '.join(undecodable)}"))
                return
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            except Exception as exc:  # noqa: BLE001 - aiortc raises many kinds for an offer it cannot take
                await self._offer_failed(sending, exc)
                return
            live_cids = set(sending.values())
            for published in list(self.participant.tracks.values()):
                if published.forwarder is not None and published.cid not in live_cids:
                    await self.room.unpublish(self.participant, published)
            await self._remote_description_set(PUBLISHER)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            sdp = copy_rid_extmaps(offer.sdp, pc.localDescription.sdp)
            if forward:
                sdp = accept_simulcast(offer.sdp, sdp)
            self.send(rtc.SignalResponse(answer=rtc.SessionDescription(type="answer", sdp=sdp, id=offer.id)))

    def _take_ice_restart(self, sdp: str) -> None:
        """A resumed client re-offers with new ICE credentials (an ICE restart). aiortc cannot
        restart ICE: the live connection takes the client's new credentials and answers with its
        own, so the transport and its DTLS session go on."""
        current = self.publisher.remoteDescription
        new = _ice_credentials(sdp)
        if current is None or new is None:
            return
        old = _ice_credentials(current.sdp)
        if old is not None and (old.usernameFragment, old.password) != (new.usernameFragment, new.password):
            log.info("%s: publisher ICE restart: adopting the client's new credentials", self.participant.identity)
            adopt_remote_ice_credentials(self.publisher, new)

    async def _offer_failed(self, sending: dict[str, str], exc: Exception) -> None:
        """The offer cannot be taken (in practice: relay "decode" and a codec aiortc cannot decode)."""
        dropped = [self._pending_tracks.pop(cid) for cid in set(sending.values()) if cid in self._pending_tracks]
        names = ", ".join(repr(t.info.name) for t in dropped) or "none"
        if self._closing:
            log.debug("%s: publisher offer after the media closed (%s); dropping tracks %s",
                      self.participant.identity, exc, names)
            return
        log.error(
            "%s: publisher offer refused (%s); dropping tracks %s. The dev server carries Opus, VP8 and H.264 "
            "(relay 'forward' also VP9 and AV1).",
            self.participant.identity, exc, names,
        )
        for track in dropped:
            self.send(rtc.SignalResponse(track_unpublished=rtc.TrackUnpublishedResponse(track_sid=track.sid)))

    async def _on_answer(self, answer: rtc.SessionDescription) -> None:
        waiter = self._sub_answer
        if waiter is None or waiter.done():
            raise ValueError("answer without an outstanding subscriber offer")
        waiter.set_result(answer)

    async def _on_add_track(self, request: rtc.AddTrackRequest) -> None:
        participant = self.participant
        permission = participant.info.permission
        if not participant.may_publish(request.source):
            self._refuse_track(
                request,
                rtc.RequestResponse.Reason.NOT_ALLOWED,
                "does not have permission to publish" + (" this source" if permission.can_publish else ""),
            )
            return
        forward = self.server.relay == "forward"
        mime_type = _track_mime_type(request, forward)
        if mime_type is None:
            offered = ", ".join(c.codec for c in request.simulcast_codecs if c.codec)
            carried = "Opus, VP8, H.264, VP9 and AV1" if forward else "Opus, VP8 and H.264 (relay 'decode')"
            self._refuse_track(
                request,
                rtc.RequestResponse.Reason.UNSUPPORTED_TYPE,
                f"codec {offered} is not supported by the dev server: it relays {carried}",
            )
            return
        if request.cid in self._pending_tracks or any(t.cid == request.cid for t in participant.tracks.values()):
            raise ValueError(f"track with cid {request.cid!r} already published")
        simulcast = request.type == models.TrackType.VIDEO and len(request.layers) > 1 and forward
        info = models.TrackInfo(
            sid=new_id("TR_"),
            type=request.type,
            name=request.name,
            muted=request.muted,
            width=request.width,
            height=request.height,
            # Layers are received and forwarded one per subscriber in relay "forward"; "decode" takes one.
            simulcast=simulcast,
            layers=request.layers if simulcast else (),
            source=request.source,
            disable_dtx=request.disable_dtx,
            stereo=request.stereo,
            stream=request.stream,
            mime_type=mime_type,
            # Reported as asked, so the clients set up their frame cryptors; forwarded encoded frames
            # reach subscribers intact (relay "decode" cannot carry them: see docs/devserver.md).
            encryption=request.encryption,
        )
        track = PublishedTrack(info, request.cid)
        self._pending_tracks[request.cid] = track
        self.send(rtc.SignalResponse(track_published=rtc.TrackPublishedResponse(cid=request.cid, track=info)))
        orphan = self._orphan_tracks.pop(request.cid, None)
        if orphan is not None:
            self._attach_media(track, orphan)

    def _refuse_track(self, request: rtc.AddTrackRequest, reason: rtc.RequestResponse.Reason, message: str) -> None:
        log.info("%s: refused track %r: %s", self.participant.identity, request.name, message)
        self.send(
            rtc.SignalResponse(
                request_response=rtc.RequestResponse(reason=reason, message=message, add_track=request)
            )
        )

    async def _on_mute(self, request: rtc.MuteTrackRequest) -> None:
        track = self.participant.tracks.get(request.sid)
        if track is None:
            pending = next((t for t in self._pending_tracks.values() if t.sid == request.sid), None)
            if pending is None:
                raise ValueError(f"mute of unknown track {request.sid!r}")
            pending.info.muted = request.muted  # announced with its media
            return
        self.room.set_muted(self.participant, track, request.muted)

    async def _on_update_metadata(self, request: rtc.UpdateParticipantMetadata) -> None:
        participant = self.participant
        if not participant.info.permission.can_update_metadata:
            self.send(
                rtc.SignalResponse(
                    request_response=rtc.RequestResponse(
                        request_id=request.request_id,
                        reason=rtc.RequestResponse.Reason.NOT_ALLOWED,
                        message="does not have permission to update own metadata",
                    )
                )
            )
            return
        changed = participant.update_info(request.name, request.metadata, request.attributes)
        self.send(rtc.SignalResponse(request_response=rtc.RequestResponse(request_id=request.request_id)))
        if changed:
            participant.bump()
            self.room.broadcast_participant(participant)

    async def _on_subscription(self, request: rtc.UpdateSubscription) -> None:
        sids = list(request.track_sids)
        for pt in request.participant_tracks:
            sids.extend(pt.track_sids)
        for sid in sids:
            if request.subscribe:
                found = self.room.find_track(sid, excluding=self.participant)
                if found is None:
                    self.send(
                        rtc.SignalResponse(
                            subscription_response=rtc.SubscriptionResponse(
                                track_sid=sid, err=models.SubscriptionError.SE_TRACK_NOTFOUND
                            )
                        )
                    )
                    continue
                if self.participant.info.permission.can_subscribe:
                    self.subscribe(*found)
            else:
                self.unsubscribe(sid)

    async def _on_track_setting(self, request: rtc.UpdateTrackSettings) -> None:
        """A subscriber's wishes for tracks it receives: paused or not, and which simulcast layer
        (by quality, or the smallest layer covering the width and height it renders)."""
        for sid in request.track_sids:
            subscription = self.subscriptions.get(sid)
            if subscription is None:
                continue
            relay = subscription.relay
            relay.set_enabled(not request.disabled)
            found = self.room.find_track(sid, excluding=self.participant)
            layers = found[1].info.layers if found is not None else ()
            relay.set_quality(_wanted_quality(request, layers))

    # ---- publisher side -------------------------------------------------------------------------

    def _wire_publisher(self) -> None:
        pc = self.publisher

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), None)
            cid = self._pub_cids.get(mid or "", track.id)
            published = self._pending_tracks.get(cid)
            if published is None:
                self._orphan_tracks[cid] = track
                return
            if mid is not None:
                published.info.mid = mid
            self._attach_media(published, track)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            label = channel.label

            @channel.on("message")
            def on_message(message: bytes | str) -> None:
                if isinstance(message, bytes) and label in (RELIABLE_LABEL, LOSSY_LABEL):
                    self.room.relay_data(self.participant, message, reliable=label == RELIABLE_LABEL)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "failed":
                log.info("%s: publisher connection failed", self.participant.identity)

    def _attach_media(self, published: PublishedTrack, track: MediaStreamTrack) -> None:
        del self._pending_tracks[published.cid]
        transceiver = next((t for t in self.publisher.getTransceivers() if t.receiver.track is track), None)
        codec = negotiated_mime_type(transceiver) if transceiver is not None else None
        if codec:
            published.info.mime_type = codec
        name = f"{self.participant.identity}/{published.info.name or published.sid}"
        if self.server.relay == "forward" and transceiver is not None and codec:
            rids, extension_ids = self._pub_simulcast.get(published.info.mid, ([], {}))
            spatial_layers = len(published.info.layers) if published.info.simulcast else 1
            forwarder = TrackForwarder(
                track,
                name,
                receiver=transceiver.receiver,
                mime_type=codec,
                rids=rids,
                extension_ids=extension_ids,
                spatial_layers=spatial_layers,
                on_wanted_quality=lambda quality: self._send_subscribed_quality(published, quality),
            )
        else:
            forwarder = TrackForwarder(track, name)
        published.forwarder = forwarder
        forwarder.start()
        self.room.publish(self.participant, published)

    def _send_subscribed_quality(self, published: PublishedTrack, quality: int) -> None:
        """Dynacast: the layers of ``published`` anyone watches, up to ``quality`` (none when OFF), as
        livekit-server's ParticipantImpl.onSubscribedMaxQualityChange says it; nothing while muted
        (MediaTrack.OnDynacastSubscribedMaxQualityChange; unmuting sends it again)."""
        if published.info.muted or self._closing:
            return
        qualities = [
            rtc.SubscribedQuality(quality=q, enabled=quality != OFF and q <= quality) for q in (LOW, MEDIUM, HIGH)
        ]
        codec = published.info.mime_type.lower().removeprefix("video/")
        self.send(rtc.SignalResponse(subscribed_quality_update=rtc.SubscribedQualityUpdate(
            track_sid=published.sid,
            subscribed_qualities=qualities,
            subscribed_codecs=[rtc.SubscribedCodec(codec=codec, qualities=qualities)],
        )))

    # ---- subscriber side ------------------------------------------------------------------------

    def _wire_subscriber(self) -> None:
        pc = self.subscriber

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and not self._sub_connected.is_set():
                self._sub_connected.set()
                self._subscribe_deferred()
                self.spawn(self._report_senders(), "sender reports")
                info = self.participant.info
                if info.state != models.ParticipantInfo.State.ACTIVE and not self.closed:
                    info.state = models.ParticipantInfo.State.ACTIVE
                    self.participant.bump()
                    self.room.broadcast_participant(self.participant)

    def _open_sub_channel(self, label: str, **options: Any) -> RTCDataChannel:
        channel = self.subscriber.createDataChannel(label, **options)

        @channel.on("open")
        def on_open() -> None:
            pending = self._sub_pending[label]
            self._sub_pending[label] = []
            for payload in pending:
                channel.send(payload)

        return channel

    def deliver_data(self, payload: bytes, reliable: bool) -> None:
        label = RELIABLE_LABEL if reliable else LOSSY_LABEL
        channel = self._sub_channels.get(label)
        if channel is not None and channel.readyState == "open":
            channel.send(payload)
        elif not self.closed:
            # Reliable data is kept until the channel opens (nothing lost); lossy data is bounded.
            pending = self._sub_pending[label]
            if label == RELIABLE_LABEL:
                if len(pending) == PENDING_DATA_LIMIT:
                    log.warning("%s: over %d reliable packets wait for the data channel to open",
                                self.participant.identity, PENDING_DATA_LIMIT)
                pending.append(payload)
            elif len(pending) < PENDING_DATA_LIMIT:
                pending.append(payload)

    def subscribe(self, publisher: Participant, track: PublishedTrack, *, negotiate: bool = True) -> None:
        if self._closing or track.sid in self.subscriptions or track.forwarder is None:
            return  # closing: its PeerConnection would refuse the transceiver, failing the publisher's offer
        if not self._sub_connected.is_set():
            # aiortc stops the shared transport when the first answer bundles a data channel created
            # before a media section: media goes in only once the first (data-only) negotiation is up.
            if all(t is not track for _, t in self._deferred_subscriptions):
                self._deferred_subscriptions.append((publisher, track))
            return
        forwarder = track.forwarder
        relay = forwarder.subscribe()
        transceiver = self.subscriber.addTransceiver(relay, direction="sendonly")
        if forwarder.encoded:
            # The sender only re-packetizes the publisher's frames: offer the subscriber that codec alone.
            transceiver.setCodecPreferences(_codec_preferences(forwarder.kind, forwarder.mime_type))
            on_keyframe_request(transceiver.sender, forwarder.request_keyframe)
            report_senders_together(transceiver.sender)  # _report_senders sends them
            if forwarder.kind == "audio":
                relay.writer = RtpWriter(transceiver)
            if forwarder.simulcast:
                on_remb(transceiver.sender, relay.on_estimate)  # its layer follows its bandwidth
        elif forwarder.kind == "video":
            transceiver.setCodecPreferences(_codec_preferences("video", None))  # what aiortc can encode
        # The client finds the publication from the msid: stream id "<participant sid>|<track sid>".
        set_msid(transceiver.sender, f"{publisher.sid}|{track.sid}", track.sid)
        self.subscriptions[track.sid] = Subscription(track.sid, transceiver, relay)
        publisher.send(rtc.SignalResponse(track_subscribed=rtc.TrackSubscribed(track_sid=track.sid)))
        if negotiate:
            self.negotiate_subscriber()

    def _subscribe_deferred(self) -> None:
        deferred, self._deferred_subscriptions = self._deferred_subscriptions, []
        for publisher, track in deferred:
            if publisher.tracks.get(track.sid) is track and publisher.identity in self.room.participants:
                self.subscribe(publisher, track, negotiate=False)
        if self.subscriptions:
            self.negotiate_subscriber()

    def unsubscribe(self, track_sid: str) -> None:
        self._deferred_subscriptions = [(p, t) for p, t in self._deferred_subscriptions if t.sid != track_sid]
        sub = self.subscriptions.pop(track_sid, None)
        if sub is None or self.closed:
            return
        sub.relay.stop()  # ends the sender's RTP loop
        if self._closing:
            return
        sub.transceiver.direction = "inactive"
        # The retired m-line keeps its msid; a later subscription to the same track would repeat
        # it, and libwebrtc rejects an SDP with duplicate msids.
        set_msid(sub.transceiver.sender, "-", new_id("retired_"))
        self.negotiate_subscriber()

    async def _report_senders(self) -> None:
        """The RTCP sender reports of the forwarded tracks this participant subscribes to, all of
        them every SENDER_REPORT_EVERY seconds in as few packets as fit, as livekit-server sends a
        subscriber's; aiortc would send one per track every 0.5–1.5 s (report_senders_together)."""
        while not self.closed:
            await asyncio.sleep(SENDER_REPORT_EVERY)
            senders = [sub.transceiver.sender for sub in self.subscriptions.values()]
            try:
                await send_sender_reports(senders)
            except Exception:  # one bad round must not end the reports for the rest of the session
                log.warning("%s: sending sender reports failed", self.participant.identity, exc_info=True)

    def negotiate_subscriber(self) -> None:
        self._sub_dirty = True
        if not self._sub_negotiating and not self._closing:
            self._sub_negotiating = True
            self.spawn(self._negotiate_loop(), "subscriber negotiation")

    async def _negotiate_loop(self) -> None:
        pc = self.subscriber
        try:
            while self._sub_dirty and not self.closed:
                self._sub_dirty = False
                offer = await pc.createOffer()
                await pc.setLocalDescription(offer)
                self._sub_offer_id += 1
                loop = asyncio.get_running_loop()
                self._sub_answer = loop.create_future()
                self.send(
                    rtc.SignalResponse(
                        offer=rtc.SessionDescription(type="offer", sdp=pc.localDescription.sdp, id=self._sub_offer_id)
                    )
                )
                if not await self._apply_subscriber_answer(loop.time() + ANSWER_TIMEOUT):
                    return
                # aiortc starts a sender only if DTLS is up when the answer is applied: hold the next
                # renegotiation until the transport is connected so no sender is stranded.
                if self._sub_dirty:
                    try:
                        await asyncio.wait_for(self._sub_connected.wait(), ANSWER_TIMEOUT)
                    except asyncio.TimeoutError:
                        log.warning("%s: subscriber transport not connected", self.participant.identity)
                        return
        finally:
            self._sub_negotiating = False

    async def _apply_subscriber_answer(self, deadline: float) -> bool:
        """Wait for an answer that applies; an unusable one is logged and the next awaited."""
        loop = asyncio.get_running_loop()
        while True:
            assert self._sub_answer is not None
            try:
                answer = await asyncio.wait_for(self._sub_answer, max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                if self.detached and not self.closed:  # the offer waits in the queue for a resume
                    deadline = loop.time() + ANSWER_TIMEOUT
                    continue
                log.warning("%s: no usable subscriber answer in %ss", self.participant.identity, ANSWER_TIMEOUT)
                return False
            try:
                await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
            except ValueError as exc:
                log.warning("%s: unusable subscriber answer: %s", self.participant.identity, exc)
                self._sub_answer = loop.create_future()
                continue
            await self._remote_description_set(SUBSCRIBER)
            return True

    # ---- quality ---------------------------------------------------------------------------------

    def connection_quality(self, now: float) -> models.ConnectionQuality:
        silent_for = now - self.participant.last_seen
        if self.closed or silent_for > self.server.ping_timeout:
            return models.ConnectionQuality.LOST
        if self.detached:
            return models.ConnectionQuality.POOR
        if silent_for > 2 * self.server.ping_interval or self._rtt_ms > 600:
            return models.ConnectionQuality.POOR
        if self._rtt_ms > 300:
            return models.ConnectionQuality.GOOD
        return models.ConnectionQuality.EXCELLENT
