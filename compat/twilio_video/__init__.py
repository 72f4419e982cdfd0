"""compat.twilio_video: the twilio-video.js 2.x client object model on LiveKit.

Port a bot by changing its import::

    from compat import twilio_video as Video

    room = await Video.connect(livekit_token, {"name": "my-room", "dominantSpeaker": True})
    room.on("participantConnected", lambda p: print("joined", p.identity))

Names follow twilio-video.js (camelCase); Python additions use PEP 8 names and are
marked as additions in their docstrings (``url`` option, ``capture_frame``, ``frames``,
``wait_closed``, ``AudioSource``/``VideoSource``/``AudioFrame``/``VideoFrame``).

Event semantics follow the reference's section 3.6: state present at connect is in
``room.participants`` without ``participantConnected``/``trackPublished``;
``trackPublished`` precedes ``trackSubscribed``; ``trackUnsubscribed`` precedes
``trackUnpublished``; a participant that leaves gives ``trackUnsubscribed`` for each
subscribed track then ``participantDisconnected`` and keeps its publications;
``room.disconnect()`` emits LocalParticipant ``disconnected``, the remote
``trackUnsubscribed`` events, then Room ``disconnected(room, None)`` before returning;
Room re-emits append the participant; ``reconnecting``/``reconnected`` and
LocalParticipant ``trackPublished``/``trackPublicationFailed`` are deferred.
Handlers may be plain or ``async def`` functions.
"""

from __future__ import annotations

from compat.core import FrameStream
from compat.core.media import AudioFrame, AudioSource, VideoBufferType, VideoFrame, VideoSource

from .connect import connect
from .createlocaltracks import createLocalAudioTrack, createLocalTracks, createLocalVideoTrack
from .errors import (
    AccessTokenExpiredError,
    AccessTokenGrantsInvalidError,
    AccessTokenHeaderInvalidError,
    AccessTokenInvalidError,
    AccessTokenIssuerInvalidError,
    AccessTokenNotYetValidError,
    AccessTokenSignatureInvalidError,
    ConfigurationAcquireFailedError,
    ConfigurationAcquireTurnFailedError,
    MediaClientLocalDescFailedError,
    MediaClientRemoteDescFailedError,
    MediaConnectionError,
    MediaDTLSTransportFailedError,
    MediaNoSupportedCodecError,
    MediaServerLocalDescFailedError,
    MediaServerRemoteDescFailedError,
    ParticipantDuplicateIdentityError,
    ParticipantIdentityCharsInvalidError,
    ParticipantIdentityInvalidError,
    ParticipantIdentityTooLongError,
    ParticipantMaxTracksExceededError,
    ParticipantNotFoundError,
    RangeError,
    RoomAudioOnlyFlagNotSupportedError,
    RoomCompletedError,
    RoomConnectFailedError,
    RoomCreateFailedError,
    RoomInvalidParametersError,
    RoomMaxParticipantsExceededError,
    RoomMaxParticipantsOutOfRangeError,
    RoomMediaRegionInvalidError,
    RoomMediaRegionUnavailableError,
    RoomNameCharsInvalidError,
    RoomNameInvalidError,
    RoomNameTooLongError,
    RoomNotFoundError,
    RoomRoomExistsError,
    RoomStatusCallbackInvalidError,
    RoomStatusCallbackMethodInvalidError,
    RoomStatusInvalidError,
    RoomSubscriptionOperationNotSupportedError,
    RoomTimeoutOutOfRangeError,
    RoomTrackKindNotSupportedError,
    RoomTypeInvalidError,
    SignalingConnectionDisconnectedError,
    SignalingConnectionError,
    SignalingConnectionTimeoutError,
    SignalingIncomingMessageInvalidError,
    SignalingOutgoingMessageInvalidError,
    SignalingServerBusyError,
    TrackInvalidError,
    TrackNameCharsInvalidError,
    TrackNameInvalidError,
    TrackNameIsDuplicatedError,
    TrackNameTooLongError,
    TrackServerTrackCapacityReachedError,
    TwilioError,
    createTwilioError,
)
from .localaudiotrack import LocalAudioTrack, LocalAudioTrackEvent
from .localdatatrack import LocalDataTrack, LocalDataTrackEvent, LocalDataTrackOptions
from .localparticipant import LocalParticipant, LocalParticipantEvent
from .localtrackpublication import (
    LocalAudioTrackPublication,
    LocalDataTrackPublication,
    LocalTrackPublication,
    LocalTrackPublicationEvent,
    LocalVideoTrackPublication,
)
from .localvideotrack import LocalVideoTrack, LocalVideoTrackEvent
from .networkquality import NetworkQualityMediaStats, NetworkQualityStats
from .options import (
    AudioCodecSettings,
    ConnectOptions,
    LocalTrackPublishOptions,
    NetworkQualityConfiguration,
    VideoCodecSettings,
)
from .participant import Participant, ParticipantState
from .remoteaudiotrack import RemoteAudioTrack, RemoteAudioTrackEvent
from .remotedatatrack import RemoteDataTrack, RemoteDataTrackEvent
from .remoteparticipant import RemoteParticipant, RemoteParticipantEvent
from .remotetrackpublication import (
    RemoteAudioTrackPublication,
    RemoteDataTrackPublication,
    RemoteTrackPublication,
    RemoteTrackPublicationEvent,
    RemoteVideoTrackPublication,
)
from .remotevideotrack import RemoteVideoTrack, RemoteVideoTrackEvent
from .room import Room, RoomEvent, RoomState
from .stats import (
    LocalAudioTrackStats,
    LocalVideoTrackStats,
    RemoteAudioTrackStats,
    RemoteVideoTrackStats,
    StatsReport,
)
from .track import MediaTrack, Track
from .trackpublication import TrackPublication

version = "2.35.0"
"""The twilio-video.js version whose behaviour is reproduced."""

isSupported = True

__all__ = [
    "AccessTokenExpiredError",
    "AccessTokenGrantsInvalidError",
    "AccessTokenHeaderInvalidError",
    "AccessTokenInvalidError",
    "AccessTokenIssuerInvalidError",
    "AccessTokenNotYetValidError",
    "AccessTokenSignatureInvalidError",
    "AudioCodecSettings",
    "AudioFrame",
    "AudioSource",
    "ConfigurationAcquireFailedError",
    "ConfigurationAcquireTurnFailedError",
    "ConnectOptions",
    "FrameStream",
    "LocalAudioTrack",
    "LocalAudioTrackEvent",
    "LocalAudioTrackPublication",
    "LocalAudioTrackStats",
    "LocalDataTrack",
    "LocalDataTrackEvent",
    "LocalDataTrackOptions",
    "LocalDataTrackPublication",
    "LocalParticipant",
    "LocalParticipantEvent",
    "LocalTrackPublication",
    "LocalTrackPublicationEvent",
    "LocalTrackPublishOptions",
    "LocalVideoTrack",
    "LocalVideoTrackEvent",
    "LocalVideoTrackPublication",
    "LocalVideoTrackStats",
    "MediaClientLocalDescFailedError",
    "MediaClientRemoteDescFailedError",
    "MediaConnectionError",
    "MediaDTLSTransportFailedError",
    "MediaNoSupportedCodecError",
    "MediaServerLocalDescFailedError",
    "MediaServerRemoteDescFailedError",
    "MediaTrack",
    "NetworkQualityConfiguration",
    "NetworkQualityMediaStats",
    "NetworkQualityStats",
    "Participant",
    "ParticipantDuplicateIdentityError",
    "ParticipantIdentityCharsInvalidError",
    "ParticipantIdentityInvalidError",
    "ParticipantIdentityTooLongError",
    "ParticipantMaxTracksExceededError",
    "ParticipantNotFoundError",
    "ParticipantState",
    "RangeError",
    "RemoteAudioTrack",
    "RemoteAudioTrackEvent",
    "RemoteAudioTrackPublication",
    "RemoteAudioTrackStats",
    "RemoteDataTrack",
    "RemoteDataTrackEvent",
    "RemoteDataTrackPublication",
    "RemoteParticipant",
    "RemoteParticipantEvent",
    "RemoteTrackPublication",
    "RemoteTrackPublicationEvent",
    "RemoteVideoTrack",
    "RemoteVideoTrackEvent",
    "RemoteVideoTrackPublication",
    "RemoteVideoTrackStats",
    "Room",
    "RoomAudioOnlyFlagNotSupportedError",
    "RoomCompletedError",
    "RoomConnectFailedError",
    "RoomCreateFailedError",
    "RoomEvent",
    "RoomInvalidParametersError",
    "RoomMaxParticipantsExceededError",
    "RoomMaxParticipantsOutOfRangeError",
    "RoomMediaRegionInvalidError",
    "RoomMediaRegionUnavailableError",
    "RoomNameCharsInvalidError",
    "RoomNameInvalidError",
    "RoomNameTooLongError",
    "RoomNotFoundError",
    "RoomRoomExistsError",
    "RoomState",
    "RoomStatusCallbackInvalidError",
    "RoomStatusCallbackMethodInvalidError",
    "RoomStatusInvalidError",
    "RoomSubscriptionOperationNotSupportedError",
    "RoomTimeoutOutOfRangeError",
    "RoomTrackKindNotSupportedError",
    "RoomTypeInvalidError",
    "SignalingConnectionDisconnectedError",
    "SignalingConnectionError",
    "SignalingConnectionTimeoutError",
    "SignalingIncomingMessageInvalidError",
    "SignalingOutgoingMessageInvalidError",
    "SignalingServerBusyError",
    "StatsReport",
    "Track",
    "TrackInvalidError",
    "TrackNameCharsInvalidError",
    "TrackNameInvalidError",
    "TrackNameIsDuplicatedError",
    "TrackNameTooLongError",
    "TrackPublication",
    "TrackServerTrackCapacityReachedError",
    "TwilioError",
    "VideoBufferType",
    "VideoCodecSettings",
    "VideoFrame",
    "VideoSource",
    "connect",
    "createLocalAudioTrack",
    "createLocalTracks",
    "createLocalVideoTrack",
    "createTwilioError",
    "isSupported",
    "version",
]
