"""The test codebase under tests/audit/codebase, and every finding the audit must report in it.

Python files are stored as `*.py.fixture` (so the project's own ruff and mypy leave them alone)
and the tree is laid out in a temporary directory, with vendored copies the audit must skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SOURCE = Path(__file__).parent / "codebase"

# Vendored or built copies of vendor code: never reported.
VENDORED = {
    "node_modules/twilio-video/index.js": "module.exports = require('twilio-video');\n",
    "dist/bundle.js": "import Video from 'twilio-video'; Video.connect('t');\n",
    "build/app.py": "from twilio.rest import Client\nClient().video.v1.rooms.create()\n",
    ".venv/lib/opentok/__init__.py": "import opentok\nopentok.Client('k', 's').create_session()\n",
    ".git/hooks/env": "TWILIO_API_KEY_SID=SK1\n",
    "frontend/vendor/twilio-video.min.js": "import Video from 'twilio-video'; Video.connect('t');\n",
}


def lay_out(target: Path) -> Path:
    """The test codebase in `target` (created), as a real project would have it."""
    for source in SOURCE.rglob("*"):
        if source.is_file():
            relative = source.relative_to(SOURCE).as_posix().removesuffix(".fixture")
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    for relative, text in VENDORED.items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text)
    return target


# (file, line, group, category, api): the whole expected report, reviewed line by line.
EXPECTED = {
    ('.env.example', 2, 'infrastructure', 'credentials', 'TWILIO_ACCOUNT_SID'),
    ('.env.example', 3, 'infrastructure', 'credentials', 'TWILIO_API_KEY_SID'),
    ('.env.example', 4, 'infrastructure', 'credentials', 'TWILIO_API_SECRET'),
    ('.env.example', 6, 'infrastructure', 'credentials', 'OPENTOK_API_SECRET'),
    ('.env.example', 7, 'infrastructure', 'credentials', 'VONAGE_PRIVATE_KEY'),
    ('backend/opentok_server.py', 13, 'infrastructure', 'credentials', 'opentok_api_key'),
    ('backend/opentok_server.py', 13, 'infrastructure', 'credentials', 'opentok_api_secret'),
    ('backend/opentok_server.py', 14, 'infrastructure', 'credentials', 'VONAGE_APPLICATION_ID'),
    ('backend/opentok_server.py', 14, 'infrastructure', 'credentials', 'vonage_private_key'),
    ('backend/opentok_server.py', 18, 'back end', 'room-session', 'create_session'),
    ('backend/opentok_server.py', 19, 'back end', 'token-generation', 'generate_token'),
    ('backend/opentok_server.py', 24, 'back end', 'room-session', 'create_session'),
    ('backend/opentok_server.py', 25, 'back end', 'token-generation', 'generate_client_token'),
    ('backend/opentok_server.py', 29, 'back end', 'recording', 'start_archive'),
    ('backend/opentok_server.py', 30, 'back end', 'composition', 'set_archive_layout'),
    ('backend/opentok_server.py', 31, 'back end', 'recording', 'stop_archive'),
    ('backend/opentok_server.py', 36, 'back end', 'composition', 'start_broadcast'),
    ('backend/opentok_server.py', 40, 'back end', 'room-session', 'force_disconnect'),
    ('backend/opentok_server.py', 41, 'back end', 'room-session', 'mute_all'),
    ('backend/opentok_server.py', 42, 'back end', 'room-session', 'send_signal'),
    ('backend/opentok_server.py', 46, 'back end', 'usage-billing', 'account.get_balance'),
    ('backend/opentok_server.py', 51, 'back end', 'scheduled-job', 'list_streams'),
    ('backend/opentok_server.py', 58, 'back end', 'webhook-signature', 'verify_signature'),
    ('backend/opentok_server.py', 61, 'back end', 'webhook-handler', "event 'connectionCreated'"),
    ('backend/opentok_server.py', 61, 'back end', 'webhook-handler', "event 'connectionDestroyed'"),
    ('backend/opentok_server.py', 63, 'back end', 'webhook-handler', "event 'streamCreated'"),
    ('backend/server.js', 5, 'back end', 'token-generation', 'AccessToken'),
    ('backend/server.js', 6, 'back end', 'token-generation', 'VideoGrant'),
    ('backend/server.js', 8, 'infrastructure', 'credentials', 'TWILIO_ACCOUNT_SID'),
    ('backend/server.js', 8, 'infrastructure', 'credentials', 'TWILIO_API_KEY'),
    ('backend/server.js', 8, 'infrastructure', 'credentials', 'TWILIO_API_SECRET'),
    ('backend/server.js', 12, 'infrastructure', 'credentials', 'TWILIO_ACCOUNT_SID'),
    ('backend/server.js', 12, 'back end', 'token-generation', 'AccessToken'),
    ('backend/server.js', 13, 'back end', 'token-generation', 'VideoGrant'),
    ('backend/server.js', 18, 'back end', 'room-session', 'Rooms.create'),
    ('backend/server.js', 22, 'back end', 'webhook-signature', 'twilio.webhook() middleware'),
    ('backend/server.js', 23, 'back end', 'webhook-handler', "event 'participant-connected'"),
    ('backend/server.js', 23, 'back end', 'webhook-handler', 'status callback field StatusCallbackEvent'),
    ('backend/server.js', 24, 'back end', 'webhook-handler', 'status callback field ParticipantIdentity'),
    ('backend/server.js', 30, 'back end', 'scheduled-job', 'Rooms.list'),
    ('backend/twilio_video_api.py', 15, 'infrastructure', 'credentials', 'TWILIO_ACCOUNT_SID'),
    ('backend/twilio_video_api.py', 15, 'infrastructure', 'credentials', 'TWILIO_API_KEY_SID'),
    ('backend/twilio_video_api.py', 15, 'infrastructure', 'credentials', 'TWILIO_API_SECRET'),
    ('backend/twilio_video_api.py', 21, 'back end', 'room-session', 'Rooms.create'),
    ('backend/twilio_video_api.py', 23, 'front end', 'error-codes', 'error code 53113'),
    ('backend/twilio_video_api.py', 30, 'back end', 'room-session', 'Room.update (status=completed)'),
    ('backend/twilio_video_api.py', 31, 'back end', 'room-session', 'Participant.update (status=disconnected)'),
    ('backend/twilio_video_api.py', 35, 'infrastructure', 'credentials', 'TWILIO_ACCOUNT_SID'),
    ('backend/twilio_video_api.py', 35, 'back end', 'token-generation', 'AccessToken'),
    ('backend/twilio_video_api.py', 36, 'back end', 'token-generation', 'VideoGrant'),
    ('backend/twilio_video_api.py', 41, 'back end', 'recording', 'RecordingRules'),
    ('backend/twilio_video_api.py', 42, 'back end', 'recording', 'Room Recordings'),
    ('backend/twilio_video_api.py', 46, 'back end', 'composition', 'Compositions'),
    ('backend/twilio_video_api.py', 50, 'back end', 'usage-billing', 'Usage Records'),
    ('backend/twilio_video_api.py', 55, 'infrastructure', 'turn-stun', 'Network Traversal Service Tokens.create'),
    ('backend/twilio_video_api.py', 60, 'back end', 'scheduled-job', 'Rooms.list'),
    ('backend/twilio_video_api.py', 66, 'infrastructure', 'credentials', 'TWILIO_AUTH_TOKEN'),
    ('backend/twilio_video_api.py', 66, 'back end', 'webhook-signature', 'RequestValidator'),
    ('backend/twilio_video_api.py', 67, 'back end', 'webhook-signature', 'header X-Twilio-Signature'),
    ('backend/twilio_video_api.py', 69, 'back end', 'webhook-handler', 'status callback field StatusCallbackEvent'),
    ('backend/twilio_video_api.py', 70, 'back end', 'webhook-handler', "event 'room-ended'"),
    ('backend/twilio_video_api.py', 71, 'back end', 'webhook-handler', 'status callback field RoomSid'),
    ('bots/connector_bot.py', 3, 'front end', 'sdk-import', 'import vonage_video_connector'),
    ('bots/connector_bot.py', 4, 'front end', 'sdk-import', 'import vonage_video_connector.models'),
    ('bots/connector_bot.py', 6, 'front end', 'sdk-init', 'VonageVideoClient'),
    ('bots/connector_bot.py', 7, 'front end', 'sdk-init', 'VonageVideoClient.connect'),
    ('frontend/ParticipantTile.tsx', 2, 'front end', 'sdk-import', 'import twilio-video'),
    ('frontend/ParticipantTile.tsx', 3, 'front end', 'sdk-import', 'import @opentok/client'),
    ('frontend/ParticipantTile.tsx', 5, 'front end', 'vendor-ui', 'type RemoteParticipant'),
    ('frontend/ParticipantTile.tsx', 11, 'front end', 'vendor-ui', 'Track.attach'),
    ('frontend/ParticipantTile.tsx', 11, 'front end', 'vendor-ui', 'type RemoteVideoTrack'),
    ('frontend/ParticipantTile.tsx', 12, 'front end', 'vendor-ui', "event 'trackSubscribed'"),
    ('frontend/ParticipantTile.tsx', 13, 'front end', 'vendor-ui', "event 'trackSubscribed'"),
    ('frontend/ParticipantTile.tsx', 15, 'front end', 'network-quality', 'Participant.networkQualityLevel'),
    ('frontend/ParticipantTile.tsx', 19, 'front end', 'sdk-init', 'OT.checkSystemRequirements'),
    ('frontend/opentok.js', 4, 'front end', 'sdk-init', 'OT.initSession'),
    ('frontend/opentok.js', 5, 'front end', 'sdk-init', 'OT.initPublisher'),
    ('frontend/opentok.js', 6, 'front end', 'error-codes', 'error name OT_USER_MEDIA_ACCESS_DENIED'),
    ('frontend/opentok.js', 8, 'front end', 'device-permissions', "event 'accessDenied'"),
    ('frontend/opentok.js', 9, 'front end', 'vendor-ui', "event 'streamCreated'"),
    ('frontend/opentok.js', 10, 'front end', 'vendor-ui', 'Session.subscribe'),
    ('frontend/opentok.js', 12, 'front end', 'sdk-init', 'Session.connect'),
    ('frontend/opentok.js', 13, 'front end', 'error-codes', 'OT.ExceptionCodes'),
    ('frontend/opentok.js', 14, 'front end', 'error-codes', 'error code 1004'),
    ('frontend/opentok.js', 15, 'front end', 'sdk-init', 'Session.publish'),
    ('frontend/opentok.js', 17, 'front end', 'device-permissions', 'OT.getDevices'),
    ('frontend/video.js', 1, 'front end', 'sdk-import', 'import twilio-video'),
    ('frontend/video.js', 7, 'front end', 'device-permissions', 'createLocalTracks'),
    ('frontend/video.js', 10, 'front end', 'sdk-init', 'connect'),
    ('frontend/video.js', 13, 'front end', 'error-codes', 'error code 53205'),
    ('frontend/video.js', 15, 'front end', 'error-codes', 'error code 20104'),
    ('frontend/video.js', 21, 'front end', 'vendor-ui', "event 'participantConnected'"),
    ('frontend/video.js', 22, 'front end', 'vendor-ui', 'Track.attach'),
    ('frontend/video.js', 22, 'front end', 'vendor-ui', "event 'trackSubscribed'"),
    ('frontend/video.js', 23, 'front end', 'network-quality', "event 'networkQualityLevelChanged'"),
    ('frontend/video.js', 26, 'front end', 'error-codes', 'error code 53000'),
    ('frontend/video.js', 28, 'front end', 'network-quality', 'Participant.networkQualityLevel'),
    ('infra/endpoints.json', 2, 'infrastructure', 'vendor-domain', 'OpenTok REST API (api.opentok.com)'),
    ('infra/endpoints.json', 2, 'infrastructure', 'vendor-domain', 'OpenTok.js CDN (static.opentok.com)'),
    ('infra/endpoints.json', 3, 'infrastructure', 'credentials', 'VONAGE_PRIVATE_KEY'),
    ('infra/endpoints.json', 3, 'infrastructure', 'vendor-domain', 'Vonage Video REST API (video.api.vonage.com)'),
    ('infra/firewall.tf', 2, 'infrastructure', 'credentials', 'twilio_api_key_sid'),
    ('infra/firewall.tf', 3, 'infrastructure', 'credentials', 'opentok_api_secret'),
    ('infra/firewall.tf', 10, 'infrastructure', 'vendor-ip-range', '168.86.128.0/18'),
    ('infra/firewall.tf', 19, 'infrastructure', 'turn-stun', 'Twilio TURN (Network Traversal) (global.turn.twilio.com)'),
    ('infra/nginx.conf', 3, 'infrastructure', 'vendor-domain', 'OpenTok / TokBox hosts (*.tokbox.com)'),
    ('infra/nginx.conf', 3, 'infrastructure', 'vendor-domain', 'OpenTok REST API (api.opentok.com)'),
    ('infra/nginx.conf', 3, 'infrastructure', 'vendor-domain', 'OpenTok.js CDN (static.opentok.com)'),
    ('infra/nginx.conf', 6, 'infrastructure', 'vendor-domain', 'Twilio Video REST API (video.twilio.com)'),
    ('infra/nginx.conf', 11, 'infrastructure', 'webhook-allowlist', '54.172.60.0/23'),
    ('infra/nginx.conf', 12, 'infrastructure', 'webhook-allowlist', '54.244.51.0/24'),
    ('infra/values.yaml', 3, 'infrastructure', 'credentials', 'TWILIO_API_KEY_SID'),
    ('infra/values.yaml', 5, 'infrastructure', 'credentials', 'OPENTOK_API_KEY'),
    ('infra/values.yaml', 8, 'infrastructure', 'turn-stun', 'Twilio STUN (global.stun.twilio.com)'),
    ('infra/values.yaml', 8, 'infrastructure', 'turn-stun', 'Twilio TURN (Network Traversal) (global.turn.twilio.com)'),
    ('infra/values.yaml', 10, 'infrastructure', 'vendor-domain', 'OpenTok / TokBox hosts (*.tokbox.com)'),
    ('infra/values.yaml', 11, 'infrastructure', 'vendor-domain', 'Vonage Video REST API (video.api.vonage.com)'),
    ('package.json', 4, 'infrastructure', 'sdk-dependency', 'package @opentok/client'),
    ('package.json', 6, 'infrastructure', 'sdk-dependency', 'package twilio-video'),
    ('package.json', 8, 'infrastructure', 'sdk-dependency', 'package twilio'),
    ('requirements.txt', 2, 'infrastructure', 'sdk-dependency', 'package twilio'),
    ('requirements.txt', 3, 'infrastructure', 'sdk-dependency', 'package opentok'),
    ('requirements.txt', 4, 'infrastructure', 'sdk-dependency', 'package vonage-video'),
}
