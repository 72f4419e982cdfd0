"""What `compat audit` knows: vendor API -> category -> what compat offers, as tables.

Everything the scanners decide comes from these tables; the scanners hold no vendor names.
To teach the audit a new call, add a row here (and a line to the test codebases).

Sources: docs/parity.md (what compat offers and its parity status), the vendor references
(twilio-python 9.11 `client.video.v1.*` §7, twilio-video.js 2.x; opentok 3.15, vonage-video
1.6.1 §5, OpenTok.js 2.35.2, webhooks §6).
"""

from __future__ import annotations

import re
from typing import Final

import attrs

# -- groups and categories --------------------------------------------------------------------

BACK_END: Final = "back end"
FRONT_END: Final = "front end"
INFRASTRUCTURE: Final = "infrastructure"
GROUPS: Final = (BACK_END, FRONT_END, INFRASTRUCTURE)


@attrs.frozen
class Category:
    group: str
    title: str


CATEGORIES: Final[dict[str, Category]] = {
    "room-session": Category(BACK_END, "room/session creation and control"),
    "token-generation": Category(BACK_END, "token generation"),
    "webhook-handler": Category(BACK_END, "webhook / status-callback handler"),
    "webhook-signature": Category(BACK_END, "webhook signature check"),
    "recording": Category(BACK_END, "recording / archive"),
    "composition": Category(BACK_END, "composition / layout / broadcast"),
    "usage-billing": Category(BACK_END, "usage and billing query"),
    "scheduled-job": Category(BACK_END, "scheduled job querying sessions"),
    "sdk-import": Category(FRONT_END, "SDK import"),
    "sdk-init": Category(FRONT_END, "SDK initialisation / connect"),
    "device-permissions": Category(FRONT_END, "device permissions / capture"),
    "network-quality": Category(FRONT_END, "network quality / stats"),
    "vendor-ui": Category(FRONT_END, "UI built on vendor objects / events"),
    "error-codes": Category(FRONT_END, "vendor error-code handling"),
    "vendor-domain": Category(INFRASTRUCTURE, "vendor domain in firewall / CDN / proxy config"),
    "vendor-ip-range": Category(INFRASTRUCTURE, "vendor IP range"),
    "turn-stun": Category(INFRASTRUCTURE, "TURN / STUN configuration"),
    "webhook-allowlist": Category(INFRASTRUCTURE, "webhook IP allowlist"),
    "credentials": Category(INFRASTRUCTURE, "vendor credentials (env, secrets templates)"),
    "sdk-dependency": Category(INFRASTRUCTURE, "vendor SDK in a dependency manifest"),
}

# -- what compat offers --------------------------------------------------------------------------


@attrs.frozen
class Offer:
    """`compat` names a drop-in (with its parity status from docs/parity.md); None means manual."""

    livekit: str
    compat: str | None = None
    status: str = "manual"


LK_API = "livekit.api.LiveKitAPI"
OFFERS: Final[dict[str, Offer]] = {
    # back end
    "room-create": Offer(f"{LK_API}().room.create_room(CreateRoomRequest(name=..., empty_timeout=..., max_participants=...))"
                         " (or let the first join create the room)"),
    "room-end": Offer(f"{LK_API}().room.delete_room(DeleteRoomRequest(room=...))"),
    "room-list": Offer(f"{LK_API}().room.list_rooms(ListRoomsRequest(names=[...]))"),
    "participant-list": Offer(f"{LK_API}().room.list_participants(ListParticipantsRequest(room=...))"),
    "participant-remove": Offer(f"{LK_API}().room.remove_participant(RoomParticipantIdentity(room=..., identity=...))"),
    "track-mute": Offer(f"{LK_API}().room.mute_published_track(MuteRoomTrackRequest(...))"),
    "subscriptions": Offer(f"{LK_API}().room.update_subscriptions(UpdateSubscriptionsRequest(...))"),
    "send-data": Offer(f"{LK_API}().room.send_data(SendDataRequest(..., topic='compat.vonage.signal'))"
                       " with JSON {type, data}: compat.vonage sessions receive it as a signal"),
    "sip": Offer(f"{LK_API}().sip.create_sip_participant(...) (LiveKit SIP)"),
    "session-create": Offer("a session is a LiveKit room, created on first join", "compat.vonage.mint_session_id", "addition"),
    "session-query": Offer(f"{LK_API}().room.list_participants(...) (published tracks are in ParticipantInfo.tracks)"),
    "twilio-token": Offer("livekit.api.AccessToken(key, secret).with_identity(...).with_grants(VideoGrants(room_join=True,"
                          " room=...)).to_jwt() (compat.twilio_video refuses Twilio tokens with 20101 saying so)"),
    "opentok-token": Offer("a LiveKit access token for the session's room", "compat.vonage.generate_token", "differs"),
    "webhook": Offer("livekit.api.WebhookReceiver(TokenVerifier(key, secret)).receive(body, auth_header);"
                     " events room_started, room_finished, participant_joined, participant_left, track_published,"
                     " track_unpublished, egress_started, egress_ended"),
    "webhook-signature": Offer("livekit.api.WebhookReceiver verifies the Authorization JWT (sha256 of the body)"),
    "egress": Offer(f"{LK_API}().egress: start_room_composite_egress / start_track_egress / list_egress / stop_egress"
                    " (compat.devserver implements Egress for tests)"),
    "egress-layout": Offer(f"{LK_API}().egress.start_room_composite_egress(layout=...) / update_layout(...)"),
    "broadcast": Offer(f"{LK_API}().egress.start_room_composite_egress(stream_outputs=[StreamOutput(urls=[rtmp...])]"
                       " or segment_outputs for HLS)"),
    "usage": Offer("LiveKit webhooks (participant_joined/left, room_finished) to meter minutes, or LiveKit Cloud analytics"),
    "polling": Offer("LiveKit webhooks instead of polling, or room.list_rooms / list_participants"),
    "nts": Offer("the LiveKit server hands out its TURN servers in the join response (livekit.yaml `turn:`)"),
    # front end
    "twilio-sdk": Offer("livekit-client (npm); for Python bots compat.twilio_video (see docs/parity.md)"),
    "twilio-connect": Offer("livekit-client: new Room(); await room.connect(url, token)", "compat.twilio_video.connect", "differs"),
    "twilio-devices": Offer("livekit-client createLocalTracks() / localParticipant.setMicrophoneEnabled(true)",
                            "compat.twilio_video.createLocalTracks", "not supported"),
    "twilio-netq": Offer("livekit-client participant.connectionQuality / RoomEvent.ConnectionQualityChanged",
                         "compat.twilio_video networkQualityLevel", "differs"),
    "twilio-preflight": Offer("livekit-client ConnectionCheck", "compat.twilio_video.runPreflight", "not supported"),
    "twilio-stats": Offer("livekit-client track.getRTCStatsReport()", "compat.twilio_video Room.getStats", "differs"),
    "twilio-ui": Offer("livekit-client RoomEvent.* and track.attach(); @livekit/components-react",
                       "compat.twilio_video (same events, for Python bots)", "supported"),
    "twilio-attach": Offer("livekit-client track.attach() / detach()", "compat.twilio_video attach()", "not supported"),
    "twilio-errors": Offer("livekit-client ConnectionError / DisconnectReason", "compat.twilio_video (all 55 coded errors)",
                           "supported"),
    "opentok-sdk": Offer("livekit-client (npm); for Python bots compat.vonage (foundation so far: errors, tokens, signals)"),
    "opentok-session": Offer("livekit-client: new Room(); await room.connect(url, token); compat.vonage.Session is not there yet"),
    "opentok-publish": Offer("livekit-client localParticipant.publishTrack() / setCameraEnabled(true)"),
    "opentok-devices": Offer("livekit-client Room.getLocalDevices() / createLocalTracks()"),
    "opentok-netq": Offer("livekit-client participant.connectionQuality / track.getRTCStatsReport()"),
    "opentok-ui": Offer("livekit-client RoomEvent.TrackSubscribed / ParticipantConnected and track.attach(); @livekit/components-react"),
    "opentok-signal": Offer("livekit-client publishData on topic 'compat.vonage.signal' (JSON {type, data})",
                            "compat.vonage.signal wire format", "supported"),
    "opentok-errors": Offer("livekit-client ConnectionError / DisconnectReason", "compat.vonage.OTError (codes and OT_* names)",
                            "supported"),
    "connector": Offer("livekit (Python rtc SDK)", "compat.vonage (Session, Publisher, Subscriber not there yet)", "differs"),
    # infrastructure
    "domain": Offer("your LiveKit host: 443/tcp (or 7880) for signalling, 7881/tcp and 50000-60000/udp for media"),
    "ip-range": Offer("your LiveKit nodes' addresses (self-hosted) or LiveKit Cloud's published guidance"),
    "turn": Offer("LiveKit's embedded TURN (livekit.yaml turn.enabled, turn.domain, 3478/udp, 5349 or 443/tls)"),
    "allowlist": Offer("check LiveKit webhooks with WebhookReceiver (signed Authorization JWT) instead of an IP allowlist"),
    "credentials": Offer("LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET"),
    "dependency": Offer("livekit-client / livekit-server-sdk (npm), livekit + livekit-api (PyPI), or livekit-compat"),
}

# -- code: modules, families, rules -------------------------------------------------------------

TWILIO, VONAGE = "twilio", "vonage"

# A file uses a family when it imports one of its modules (Python: dotted prefix; JS: the
# specifier). Rules that match a method name alone only apply in files of their family.
MODULE_FAMILIES: Final[dict[str, str]] = {
    "twilio": "twilio-server",                 # twilio-python and the twilio npm package
    "twilio-video": "twilio-client",
    "@twilio/video-processors": "twilio-client",
    "opentok": "opentok-server",               # opentok (PyPI) and opentok (npm)
    "vonage": "vonage-server",
    "vonage_video": "vonage-server",
    "vonage_jwt": "vonage-server",
    "@vonage/video": "vonage-server",
    "@vonage/server-sdk": "vonage-server",
    "@vonage/jwt": "vonage-server",
    "@opentok/client": "opentok-client",
    "@vonage/client-sdk-video": "opentok-client",
    "opentok-network-test-js": "opentok-client",
    "vonage_video_connector": "vonage-connector",
}
FAMILY_VENDOR: Final[dict[str, str]] = {
    "twilio-server": TWILIO, "twilio-client": TWILIO,
    "opentok-server": VONAGE, "vonage-server": VONAGE, "opentok-client": VONAGE, "vonage-connector": VONAGE,
}
# Browser globals set by a <script> tag: the chain's first segments stand for the module.
GLOBAL_ROOTS: Final[dict[tuple[str, ...], str]] = {
    ("Twilio", "Video"): "twilio-video",
    ("OT",): "@opentok/client",
}

# Imports reported by themselves (module -> category, offer); server SDK imports are not
# findings: their calls are.
IMPORTS: Final[dict[str, tuple[str, str]]] = {
    "twilio-video": ("sdk-import", "twilio-sdk"),
    "@twilio/video-processors": ("sdk-import", "twilio-sdk"),
    "@opentok/client": ("sdk-import", "opentok-sdk"),
    "@vonage/client-sdk-video": ("sdk-import", "opentok-sdk"),
    "opentok-network-test-js": ("network-quality", "opentok-netq"),
    "vonage_video_connector": ("sdk-import", "connector"),
}


@attrs.frozen
class CodeRule:
    """`pattern`: dotted segments that must appear together in a call or member chain (calls and
    subscripts dropped: `client.video.v1.rooms(sid).recordings.list()` is
    `client.video.v1.rooms.recordings.list`); a segment ending in `?` is optional; the pattern
    matching furthest along the chain, then the longest, wins (`code.match_rule`).
    `query`: reading session state (so a scheduled job when polled)."""

    families: tuple[str, ...]
    pattern: str
    category: str
    api: str
    offer: str
    query: bool = False


TW_S = ("twilio-server",)
TW_C = ("twilio-client",)
OT_S = ("opentok-server", "vonage-server")
OT_C = ("opentok-client",)
VC = ("vonage-connector",)
_V = "video.v1?"  # twilio-python's deprecated `client.video.rooms` still works (reference §7.1)

CODE_RULES: Final[tuple[CodeRule, ...]] = (
    # Twilio REST (twilio-python and twilio node share the call paths)
    CodeRule(TW_S, f"{_V}.rooms.create", "room-session", "Rooms.create", "room-create"),
    CodeRule(TW_S, f"{_V}.rooms.update", "room-session", "Room.update (status=completed)", "room-end"),
    CodeRule(TW_S, f"{_V}.rooms.fetch", "room-session", "Room.fetch", "room-list", query=True),
    CodeRule(TW_S, f"{_V}.rooms.list", "room-session", "Rooms.list", "room-list", query=True),
    CodeRule(TW_S, f"{_V}.rooms.stream", "room-session", "Rooms.stream", "room-list", query=True),
    CodeRule(TW_S, f"{_V}.rooms.each", "room-session", "Rooms.each", "room-list", query=True),
    CodeRule(TW_S, "rooms.participants.update", "room-session", "Participant.update (status=disconnected)", "participant-remove"),
    CodeRule(TW_S, "rooms.participants.list", "room-session", "Participants.list", "participant-list", query=True),
    CodeRule(TW_S, "rooms.participants.stream", "room-session", "Participants.stream", "participant-list", query=True),
    CodeRule(TW_S, "rooms.participants.fetch", "room-session", "Participant.fetch", "participant-list", query=True),
    CodeRule(TW_S, "participants.published_tracks", "room-session", "PublishedTracks", "session-query", query=True),
    CodeRule(TW_S, "participants.publishedTracks", "room-session", "PublishedTracks", "session-query", query=True),
    CodeRule(TW_S, "participants.subscribe_rules", "room-session", "SubscribeRules", "subscriptions"),
    CodeRule(TW_S, "participants.subscribeRules", "room-session", "SubscribeRules", "subscriptions"),
    CodeRule(TW_S, "rooms.recordings", "recording", "Room Recordings", "egress"),
    CodeRule(TW_S, "rooms.recording_rules", "recording", "RecordingRules", "egress"),
    CodeRule(TW_S, "rooms.recordingRules", "recording", "RecordingRules", "egress"),
    CodeRule(TW_S, f"{_V}.recordings", "recording", "Recordings", "egress"),
    CodeRule(TW_S, f"{_V}.recording_settings", "recording", "RecordingSettings", "egress"),
    CodeRule(TW_S, f"{_V}.recordingSettings", "recording", "RecordingSettings", "egress"),
    CodeRule(TW_S, f"{_V}.compositions", "composition", "Compositions", "egress-layout"),
    CodeRule(TW_S, f"{_V}.composition_hooks", "composition", "CompositionHooks", "egress-layout"),
    CodeRule(TW_S, f"{_V}.compositionHooks", "composition", "CompositionHooks", "egress-layout"),
    CodeRule(TW_S, f"{_V}.composition_settings", "composition", "CompositionSettings", "egress-layout"),
    CodeRule(TW_S, "usage.records", "usage-billing", "Usage Records", "usage"),
    CodeRule(TW_S, "usage.triggers", "usage-billing", "Usage Triggers", "usage"),
    CodeRule(TW_S, "twilio.jwt.access_token.AccessToken", "token-generation", "AccessToken", "twilio-token"),
    CodeRule(TW_S, "twilio.jwt.access_token.grants.VideoGrant", "token-generation", "VideoGrant", "twilio-token"),
    CodeRule(TW_S, "twilio.jwt.AccessToken", "token-generation", "AccessToken", "twilio-token"),
    CodeRule(TW_S, "AccessToken.VideoGrant", "token-generation", "VideoGrant", "twilio-token"),
    CodeRule(TW_S, "twilio.request_validator.RequestValidator", "webhook-signature", "RequestValidator", "webhook-signature"),
    CodeRule(TW_S, "twilio.validateRequest", "webhook-signature", "validateRequest", "webhook-signature"),
    CodeRule(TW_S, "twilio.validateRequestWithBody", "webhook-signature", "validateRequestWithBody", "webhook-signature"),
    CodeRule(TW_S, "twilio.webhook", "webhook-signature", "twilio.webhook() middleware", "webhook-signature"),
    CodeRule(TW_S, "tokens.create", "turn-stun", "Network Traversal Service Tokens.create", "nts"),
    # OpenTok / Vonage server SDKs (opentok, vonage-video; Python and node names)
    CodeRule(OT_S, "create_session", "room-session", "create_session", "session-create"),
    CodeRule(OT_S, "createSession", "room-session", "createSession", "session-create"),
    CodeRule(OT_S, "force_disconnect", "room-session", "force_disconnect", "participant-remove"),
    CodeRule(OT_S, "disconnect_client", "room-session", "disconnect_client", "participant-remove"),
    CodeRule(OT_S, "forceDisconnect", "room-session", "forceDisconnect", "participant-remove"),
    CodeRule(OT_S, "disconnectClient", "room-session", "disconnectClient", "participant-remove"),
    CodeRule(OT_S, "mute_stream", "room-session", "mute_stream", "track-mute"),
    CodeRule(OT_S, "mute_all", "room-session", "mute_all", "track-mute"),
    CodeRule(OT_S, "mute_all_streams", "room-session", "mute_all_streams", "track-mute"),
    CodeRule(OT_S, "disable_force_mute", "room-session", "disable_force_mute", "track-mute"),
    CodeRule(OT_S, "muteStream", "room-session", "muteStream", "track-mute"),
    CodeRule(OT_S, "forceMuteAll", "room-session", "forceMuteAll", "track-mute"),
    CodeRule(OT_S, "send_signal", "room-session", "send_signal", "send-data"),
    CodeRule(OT_S, "sendSignal", "room-session", "sendSignal", "send-data"),
    CodeRule(OT_S, "dial", "room-session", "dial (SIP)", "sip"),
    CodeRule(OT_S, "initiate_sip_call", "room-session", "initiate_sip_call", "sip"),
    CodeRule(OT_S, "list_streams", "room-session", "list_streams", "session-query", query=True),
    CodeRule(OT_S, "get_stream", "room-session", "get_stream", "session-query", query=True),
    CodeRule(OT_S, "listStreams", "room-session", "listStreams", "session-query", query=True),
    CodeRule(OT_S, "getStream", "room-session", "getStream", "session-query", query=True),
    CodeRule(OT_S, "generate_token", "token-generation", "generate_token", "opentok-token"),
    CodeRule(OT_S, "generateToken", "token-generation", "generateToken", "opentok-token"),
    CodeRule(OT_S, "generate_client_token", "token-generation", "generate_client_token", "opentok-token"),
    CodeRule(OT_S, "generateClientToken", "token-generation", "generateClientToken", "opentok-token"),
    CodeRule(OT_S, "verify_signature", "webhook-signature", "verify_signature", "webhook-signature"),
    CodeRule(OT_S, "verifySignature", "webhook-signature", "verifySignature", "webhook-signature"),
    CodeRule(OT_S, "start_archive", "recording", "start_archive", "egress"),
    CodeRule(OT_S, "stop_archive", "recording", "stop_archive", "egress"),
    CodeRule(OT_S, "get_archive", "recording", "get_archive", "egress", query=True),
    CodeRule(OT_S, "list_archives", "recording", "list_archives", "egress", query=True),
    CodeRule(OT_S, "get_archives", "recording", "get_archives", "egress", query=True),
    CodeRule(OT_S, "delete_archive", "recording", "delete_archive", "egress"),
    CodeRule(OT_S, "add_archive_stream", "recording", "add_archive_stream", "egress"),
    CodeRule(OT_S, "add_stream_to_archive", "recording", "add_stream_to_archive", "egress"),
    CodeRule(OT_S, "startArchive", "recording", "startArchive", "egress"),
    CodeRule(OT_S, "stopArchive", "recording", "stopArchive", "egress"),
    CodeRule(OT_S, "getArchive", "recording", "getArchive", "egress", query=True),
    CodeRule(OT_S, "listArchives", "recording", "listArchives", "egress", query=True),
    CodeRule(OT_S, "deleteArchive", "recording", "deleteArchive", "egress"),
    CodeRule(OT_S, "set_archive_layout", "composition", "set_archive_layout", "egress-layout"),
    CodeRule(OT_S, "change_archive_layout", "composition", "change_archive_layout", "egress-layout"),
    CodeRule(OT_S, "set_stream_class_lists", "composition", "set_stream_class_lists", "egress-layout"),
    CodeRule(OT_S, "change_stream_layout", "composition", "change_stream_layout", "egress-layout"),
    CodeRule(OT_S, "setArchiveLayout", "composition", "setArchiveLayout", "egress-layout"),
    CodeRule(OT_S, "setStreamClassLists", "composition", "setStreamClassLists", "egress-layout"),
    CodeRule(OT_S, "start_broadcast", "composition", "start_broadcast", "broadcast"),
    CodeRule(OT_S, "stop_broadcast", "composition", "stop_broadcast", "broadcast"),
    CodeRule(OT_S, "set_broadcast_layout", "composition", "set_broadcast_layout", "egress-layout"),
    CodeRule(OT_S, "change_broadcast_layout", "composition", "change_broadcast_layout", "egress-layout"),
    CodeRule(OT_S, "startBroadcast", "composition", "startBroadcast", "broadcast"),
    CodeRule(OT_S, "stopBroadcast", "composition", "stopBroadcast", "broadcast"),
    CodeRule(OT_S, "account.get_balance", "usage-billing", "account.get_balance", "usage"),
    CodeRule(OT_S, "accounts.getBalance", "usage-billing", "accounts.getBalance", "usage"),
    # twilio-video.js
    CodeRule(TW_C, "twilio-video.connect", "sdk-init", "connect", "twilio-connect"),
    CodeRule(TW_C, "twilio-video.isSupported", "sdk-init", "isSupported", "twilio-connect"),
    CodeRule(TW_C, "twilio-video.createLocalTracks", "device-permissions", "createLocalTracks", "twilio-devices"),
    CodeRule(TW_C, "twilio-video.createLocalAudioTrack", "device-permissions", "createLocalAudioTrack", "twilio-devices"),
    CodeRule(TW_C, "twilio-video.createLocalVideoTrack", "device-permissions", "createLocalVideoTrack", "twilio-devices"),
    CodeRule(TW_C, "twilio-video.runPreflight", "network-quality", "runPreflight", "twilio-preflight"),
    CodeRule(TW_C, "networkQualityLevel", "network-quality", "Participant.networkQualityLevel", "twilio-netq"),
    CodeRule(TW_C, "networkQualityStats", "network-quality", "Participant.networkQualityStats", "twilio-netq"),
    CodeRule(TW_C, "setNetworkQualityConfiguration", "network-quality", "setNetworkQualityConfiguration", "twilio-netq"),
    CodeRule(TW_C, "getStats", "network-quality", "Room.getStats", "twilio-stats"),
    CodeRule(TW_C, "attach", "vendor-ui", "Track.attach", "twilio-attach"),
    CodeRule(TW_C, "detach", "vendor-ui", "Track.detach", "twilio-attach"),
    # OpenTok.js (import or the OT global)
    CodeRule(OT_C, "@opentok/client.initSession", "sdk-init", "OT.initSession", "opentok-session"),
    CodeRule(OT_C, "@opentok/client.initPublisher", "sdk-init", "OT.initPublisher", "opentok-publish"),
    CodeRule(OT_C, "@opentok/client.checkSystemRequirements", "sdk-init", "OT.checkSystemRequirements", "opentok-session"),
    CodeRule(OT_C, "@opentok/client.getDevices", "device-permissions", "OT.getDevices", "opentok-devices"),
    CodeRule(OT_C, "@opentok/client.getUserMedia", "device-permissions", "OT.getUserMedia", "opentok-devices"),
    CodeRule(OT_C, "@opentok/client.setAudioOutputDevice", "device-permissions", "OT.setAudioOutputDevice", "opentok-devices"),
    CodeRule(OT_C, "@opentok/client.ExceptionCodes", "error-codes", "OT.ExceptionCodes", "opentok-errors"),
    CodeRule(OT_C, "connect", "sdk-init", "Session.connect", "opentok-session"),
    CodeRule(OT_C, "publish", "sdk-init", "Session.publish", "opentok-publish"),
    CodeRule(OT_C, "subscribe", "vendor-ui", "Session.subscribe", "opentok-ui"),
    CodeRule(OT_C, "signal", "room-session", "Session.signal", "opentok-signal"),
    CodeRule(OT_C, "getStats", "network-quality", "getStats", "opentok-netq"),
    CodeRule(OT_C, "getRtcStatsReport", "network-quality", "getRtcStatsReport", "opentok-netq"),
    CodeRule(OT_C, "NetworkTest", "network-quality", "NetworkTest", "opentok-netq"),
    # Vonage Video Connector (Python)
    CodeRule(VC, "vonage_video_connector.VonageVideoClient", "sdk-init", "VonageVideoClient", "connector"),
    CodeRule(VC, "connect", "sdk-init", "VonageVideoClient.connect", "connector"),
)

# A TypeScript type named after a vendor client export (props typed `RemoteParticipant`...).
TYPE_CATEGORY: Final[dict[str, tuple[str, str]]] = {
    "twilio-video": ("vendor-ui", "twilio-ui"),
    "@opentok/client": ("vendor-ui", "opentok-ui"),
}

# Event names passed to `.on` / `.once` / `.addEventListener` (family -> name -> category, offer).
EVENT_METHODS: Final = frozenset({"on", "once", "addListener", "addEventListener", "off", "removeListener"})
EVENTS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "twilio-client": {
        **dict.fromkeys(
            ("participantConnected", "participantDisconnected", "trackSubscribed", "trackUnsubscribed", "trackPublished",
             "trackUnpublished", "trackStarted", "trackEnabled", "trackDisabled", "trackSwitchedOff", "trackSwitchedOn",
             "dominantSpeakerChanged", "recordingStarted", "recordingStopped", "trackDimensionsChanged"),
            ("vendor-ui", "twilio-ui")),
        "networkQualityLevelChanged": ("network-quality", "twilio-netq"),
        "trackSubscriptionFailed": ("error-codes", "twilio-errors"),
        "trackPublicationFailed": ("error-codes", "twilio-errors"),
    },
    "opentok-client": {
        **dict.fromkeys(
            ("streamCreated", "streamDestroyed", "connectionCreated", "connectionDestroyed", "sessionConnected",
             "sessionDisconnected", "sessionReconnecting", "sessionReconnected", "streamPropertyChanged",
             "audioLevelUpdated", "videoElementCreated", "archiveStarted", "archiveStopped"),
            ("vendor-ui", "opentok-ui")),
        "signal": ("room-session", "opentok-signal"),  # also `signal:<type>`
        **dict.fromkeys(("accessAllowed", "accessDenied", "accessDialogOpened", "accessDialogClosed", "mediaStopped"),
                        ("device-permissions", "opentok-devices")),
        **dict.fromkeys(("videoDisableWarning", "videoDisableWarningLifted", "videoDisabled", "videoEnabled"),
                        ("network-quality", "opentok-netq")),
        "exception": ("error-codes", "opentok-errors"),
    },
}

# Webhook payload fields read by a handler (subscript, `.get(...)`, `req.body.X`): no import needed.
WEBHOOK_FIELDS: Final[dict[str, str]] = {
    # Twilio Video status callbacks (reference §7.4)
    **dict.fromkeys(
        ("StatusCallbackEvent", "RoomSid", "RoomStatus", "RoomType", "RoomDuration", "ParticipantSid", "ParticipantIdentity",
         "ParticipantStatus", "ParticipantDuration", "TrackSid", "TrackKind", "RecordingSid", "RecordingUri",
         "CompositionSid", "CompositionUri"),
        TWILIO),
}
# Event values compared in a handler (`event == "room-ended"`): (vendor, LiveKit webhook event).
WEBHOOK_EVENTS: Final[dict[str, tuple[str, str]]] = {
    "room-created": (TWILIO, "room_started"), "room-ended": (TWILIO, "room_finished"),
    "participant-connected": (TWILIO, "participant_joined"), "participant-disconnected": (TWILIO, "participant_left"),
    "track-added": (TWILIO, "track_published"), "track-removed": (TWILIO, "track_unpublished"),
    "recording-started": (TWILIO, "egress_started"), "recording-completed": (TWILIO, "egress_ended"),
    "recording-failed": (TWILIO, "egress_ended"),
    "composition-started": (TWILIO, "egress_started"), "composition-available": (TWILIO, "egress_ended"),
    "composition-failed": (TWILIO, "egress_ended"),
    "sessionCreated": (VONAGE, "room_started"), "sessionDestroyed": (VONAGE, "room_finished"),
    "connectionCreated": (VONAGE, "participant_joined"), "connectionDestroyed": (VONAGE, "participant_left"),
    "streamCreated": (VONAGE, "track_published"), "streamDestroyed": (VONAGE, "track_unpublished"),
}
# Signature headers (lower case; matched case-insensitively).
SIGNATURE_HEADERS: Final[dict[str, str]] = {"x-twilio-signature": TWILIO}

# Error codes compared with `<x>.code` / `case` (needs the vendor family in the file).
TWILIO_ERROR_RANGES: Final = ((20101, 20199), (53000, 53999))
OPENTOK_ERROR_CODES: Final = frozenset({
    1004, 1005, 1006, 1010, 1011, 1013, 1021, 1022, 1023, 1026, 1027, 1500, 1501, 1503, 1520, 1530, 1535, 1540, 1550,
    1552, 1553, 1554, 1600, 2000, 2001, 2010, 4001,
})
OPENTOK_ERROR_NAME: Final = re.compile(r"OT_[A-Z_]+")
ERROR_FIELDS: Final = frozenset({"code", "name"})

# Scheduled jobs: a session query inside a function run by a scheduler is a polling job.
SCHEDULER_DECORATORS: Final = frozenset({
    "scheduled_job", "periodic_task", "cron", "crontab", "repeat_every", "scheduled", "schedule", "every", "interval",
})
SCHEDULER_CALLS: Final = frozenset({"do", "add_job", "scheduleJob", "schedule", "setInterval", "CronJob", "every"})

# Environment lookups whose key is a string (`os.getenv("TWILIO_…")`, `process.env["…"]`).
KEY_CALLS: Final = frozenset({"get", "getenv", "getlist", "header", "get_header", "getHeader", "get_json"})

# -- credentials, domains, IPs (code and config) -------------------------------------------------

_SEP = r"[_.\-]?"
CREDENTIAL: Final = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(twilio|opentok|tokbox|vonage){_SEP}(?:video{_SEP})?"
    rf"(account{_SEP}sid|auth{_SEP}token|api{_SEP}key(?:{_SEP}(?:sid|secret))?|api{_SEP}secret|key{_SEP}sid"
    rf"|application{_SEP}id|app{_SEP}id|private{_SEP}key(?:{_SEP}path)?|signature{_SEP}secret|project{_SEP}(?:id|key)"
    rf"|secret)(?![A-Za-z0-9])"
)


@attrs.frozen
class HostRule:
    regex: str
    vendor: str
    category: str
    api: str
    offer: str


_H = r"(?<![\w\-])"  # host start
HOST_RULES: Final[tuple[HostRule, ...]] = (  # first match wins: TURN/STUN before the generic hosts
    HostRule(_H + r"(?:\*\.|[\w\-.]*)turn[\w\-]*\.twilio\.com", TWILIO, "turn-stun", "Twilio TURN (Network Traversal)", "turn"),
    HostRule(_H + r"[\w\-.]*stun[\w\-]*\.twilio\.com", TWILIO, "turn-stun", "Twilio STUN", "turn"),
    HostRule(_H + r"[\w\-.]*turn[\w\-]*\.(?:tokbox|opentok)\.com", VONAGE, "turn-stun", "OpenTok TURN", "turn"),
    HostRule(_H + r"video\.twilio\.com", TWILIO, "vendor-domain", "Twilio Video REST API", "domain"),
    HostRule(_H + r"(?:\*|[\w\-]+)\.vss\.twilio\.com", TWILIO, "vendor-domain", "Twilio Video signalling", "domain"),
    HostRule(_H + r"(?:sdk\.twilio\.com|media\.twiliocdn\.com)", TWILIO, "vendor-domain", "twilio-video.js CDN", "domain"),
    HostRule(_H + r"\*\.twilio\.com", TWILIO, "vendor-domain", "Twilio (all hosts)", "domain"),
    HostRule(_H + r"api\.opentok\.com", VONAGE, "vendor-domain", "OpenTok REST API", "domain"),
    HostRule(_H + r"static\.opentok\.com", VONAGE, "vendor-domain", "OpenTok.js CDN", "domain"),
    HostRule(_H + r"(?:\*|[\w\-]+)(?:\.[\w\-]+)*\.(?:tokbox|opentok)\.com", VONAGE, "vendor-domain", "OpenTok / TokBox hosts", "domain"),
    HostRule(_H + r"video\.api\.vonage\.com", VONAGE, "vendor-domain", "Vonage Video REST API", "domain"),
    HostRule(_H + r"\*\.vonage\.com", VONAGE, "vendor-domain", "Vonage (all hosts)", "domain"),
)

# Where a vendor host ends: the scanner finds these, takes the host they end, and classifies
# it with HOST_RULES (full match). Every HOST_RULES host ends in one of them.
HOST_TAIL: Final = re.compile(r"\.(?:twilio|twiliocdn|opentok|tokbox|vonage)\.com(?![\w\-])")
HOST_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*_")
IP_OR_CIDR: Final = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\d.])")
VENDOR_WORD: Final = re.compile(r"(?i)twilio|opentok|tokbox|vonage")
WEBHOOK_WORD: Final = re.compile(r"(?i)webhook|callback")
IP_CONTEXT_LINES: Final = 8  # an IP belongs to a vendor when its line or block (up to 8 lines up) names one

# Dependency manifests: file name -> regex whose group 1 is the package name.
DEPENDENCY_PACKAGES: Final[dict[str, str]] = {
    "twilio-video": TWILIO, "@twilio/video-processors": TWILIO, "twilio": TWILIO,
    "@opentok/client": VONAGE, "opentok": VONAGE, "@vonage/video": VONAGE, "@vonage/server-sdk": VONAGE,
    "@vonage/client-sdk-video": VONAGE, "opentok-network-test-js": VONAGE,
    "vonage": VONAGE, "vonage-video": VONAGE, "vonage-video-connector": VONAGE,
}
_PKG = "|".join(re.escape(name) for name in sorted(DEPENDENCY_PACKAGES, key=len, reverse=True))
MANIFESTS: Final[dict[str, re.Pattern[str]]] = {
    "package.json": re.compile(rf'"({_PKG})"\s*:'),
    "requirements.txt": re.compile(rf"(?im)^\s*({_PKG})(?![\w\-])"),
    "pyproject.toml": re.compile(rf"""["']({_PKG})(?![\w\-])"""),
    "Pipfile": re.compile(rf"(?im)^\s*({_PKG})\s*="),
}

# -- which files, in which language ---------------------------------------------------------------

SKIP_DIRS: Final = frozenset({
    "node_modules", ".venv", "venv", ".git", ".hg", ".svn", "dist", "build", "__pycache__", ".tox", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".next", "site-packages", "bower_components",
})
CODE_EXTENSIONS: Final[dict[str, str]] = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
}
CONFIG_EXTENSIONS: Final = frozenset({
    ".yaml", ".yml", ".json", ".env", ".tf", ".tfvars", ".hcl", ".conf", ".nginx", ".toml", ".ini", ".cfg",
    ".properties",
})
CONFIG_NAMES: Final = frozenset({".env", "Dockerfile", "Caddyfile", "nginx.conf", "Pipfile"})
TEMPLATE_SUFFIXES: Final = frozenset({".example", ".sample", ".template", ".tmpl", ".tpl", ".dist", ".j2", ".local"})
SKIP_SUFFIXES: Final = (".min.js", ".bundle.js", ".d.ts")  # vendored builds and type declarations
MAX_FILE_BYTES: Final = 2_000_000
