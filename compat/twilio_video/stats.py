"""getStats() result types: StatsReport and the per-track stats classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from compat.core import ConnectionStats, RtpStats

if TYPE_CHECKING:
    from .room import Room


@attrs.define
class TrackStats:
    trackId: str | None
    trackSid: str | None
    timestamp: float
    ssrc: str
    packetsLost: int | None = None
    codec: str | None = None


@attrs.define
class LocalTrackStats(TrackStats):
    bytesSent: int | None = None
    packetsSent: int | None = None
    roundTripTime: float | None = None


@attrs.define
class LocalAudioTrackStats(LocalTrackStats):
    audioLevel: int | None = None
    jitter: float | None = None


@attrs.define
class LocalVideoTrackStats(LocalTrackStats):
    captureDimensions: dict[str, int] | None = None
    dimensions: dict[str, int] | None = None
    captureFrameRate: float | None = None
    frameRate: float | None = None


@attrs.define
class RemoteTrackStats(TrackStats):
    bytesReceived: int | None = None
    packetsReceived: int | None = None
    jitter: float | None = None


@attrs.define
class RemoteAudioTrackStats(RemoteTrackStats):
    audioLevel: int | None = None


@attrs.define
class RemoteVideoTrackStats(RemoteTrackStats):
    dimensions: dict[str, int] | None = None
    frameRate: float | None = None


@attrs.define
class StatsReport:
    peerConnectionId: str
    localAudioTrackStats: list[LocalAudioTrackStats] = attrs.Factory(list)
    localVideoTrackStats: list[LocalVideoTrackStats] = attrs.Factory(list)
    remoteAudioTrackStats: list[RemoteAudioTrackStats] = attrs.Factory(list)
    remoteVideoTrackStats: list[RemoteVideoTrackStats] = attrs.Factory(list)


def _dims(s: RtpStats) -> dict[str, int] | None:
    if s.frame_width and s.frame_height:
        return {"width": s.frame_width, "height": s.frame_height}
    return None


def _only_local(room: Room, kind: str) -> Any:
    pubs = [p for p in room.localParticipant.tracks.values() if p.kind == kind]
    return pubs[0] if len(pubs) == 1 else None


def build_reports(conns: list[ConnectionStats], room: Room) -> list[StatsReport]:
    """Neutral RTP stats -> StatsReports (jitter and RTT converted to ms).

    LiveKit's outbound stats carry no track id: a local stat gets its trackSid only when
    exactly one local track of that kind is published."""
    reports = []
    for conn in conns:
        report = StatsReport(conn.peer_connection_id)
        for s in conn.streams:
            jitter = s.jitter_s * 1000 if s.jitter_s is not None else None
            if s.direction == "outbound":
                pub = _only_local(room, s.kind)
                common: dict[str, Any] = dict(
                    trackId=getattr(pub.track, "id", None) if pub else None,
                    trackSid=pub.trackSid if pub else None,
                    timestamp=s.timestamp_ms,
                    ssrc=str(s.ssrc),
                    codec=s.codec,
                    bytesSent=s.bytes,
                    packetsSent=s.packets,
                    roundTripTime=s.round_trip_time_s * 1000 if s.round_trip_time_s is not None else None,
                )
                if s.kind == "audio":
                    report.localAudioTrackStats.append(LocalAudioTrackStats(**common))
                elif s.kind == "video":
                    report.localVideoTrackStats.append(
                        LocalVideoTrackStats(**common, dimensions=_dims(s), frameRate=s.frames_per_second)
                    )
            else:
                rcommon: dict[str, Any] = dict(
                    trackId=s.track_sid,
                    trackSid=s.track_sid,
                    timestamp=s.timestamp_ms,
                    ssrc=str(s.ssrc),
                    packetsLost=s.packets_lost,
                    codec=s.codec,
                    bytesReceived=s.bytes,
                    packetsReceived=s.packets,
                    jitter=jitter,
                )
                if s.kind == "audio":
                    report.remoteAudioTrackStats.append(RemoteAudioTrackStats(**rcommon))
                elif s.kind == "video":
                    report.remoteVideoTrackStats.append(
                        RemoteVideoTrackStats(**rcommon, dimensions=_dims(s), frameRate=s.frames_per_second)
                    )
        reports.append(report)
    return reports

__all__ = [
    "LocalAudioTrackStats",
    "LocalTrackStats",
    "LocalVideoTrackStats",
    "RemoteAudioTrackStats",
    "RemoteTrackStats",
    "RemoteVideoTrackStats",
    "StatsReport",
    "TrackStats",
    "build_reports",
]
