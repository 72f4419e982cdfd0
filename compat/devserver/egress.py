"""Recording: the file-output subset of LiveKit Egress over Twirp `livekit.Egress`.

StartRoomCompositeEgress (mixed audio, plus a grid or single-speaker video unless audio_only),
StartTrackEgress (one track), StartParticipantEgress (one participant's audio and camera or
screen share), StopEgress and ListEgress. Files go under the server's recordings directory.
Each egress goes STARTING → ACTIVE → ENDING → COMPLETE (or FAILED, with `error`), reported as
egress_started / egress_updated / egress_ended webhooks, and the room's `active_recording` flag
follows. An egress ends, and its file is completed, on StopEgress, when its room closes, when its
track is unpublished or its participant leaves, and when the server stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from livekit.protocol import egress as egress_pb
from livekit.protocol import models

from compat.devserver.ids import new_id
from compat.devserver.recorder import Recording, container_for
from compat.devserver.room import Participant, PublishedTrack, Room, RoomManager, RoomObserver
from compat.devserver.twirp import Grants, TwirpError, TwirpRouter, room_not_found

log = logging.getLogger(__name__)

Status = egress_pb.EgressStatus
LIVE = (Status.EGRESS_STARTING, Status.EGRESS_ACTIVE)
FINAL = (Status.EGRESS_COMPLETE, Status.EGRESS_FAILED, Status.EGRESS_ABORTED, Status.EGRESS_LIMIT_REACHED)
FINISH_TIMEOUT = 20.0  # bound on completing one file at shutdown

Notify = Callable[[str, egress_pb.EgressInfo], None]


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)



def _unrecordable(track: PublishedTrack) -> str | None:
    """Why the server cannot decode this track to record it, or None when it can."""
    if track.info.encryption != models.Encryption.Type.NONE:
        return "is end-to-end encrypted: the server cannot decode it"
    return None

class Egress:
    """One recording job."""

    def __init__(
        self,
        manager: EgressManager,
        info: egress_pb.EgressInfo,
        room: Room,
        path: str,
        *,
        audio: bool,
        video: bool,
        layout: str,
        wants: Callable[[Participant, PublishedTrack], bool],
        ends_with_track: str | None = None,
        ends_with_identity: str | None = None,
    ) -> None:
        self.manager = manager
        self.info = info
        self.room = room
        self.path = path
        self.wants = wants
        self.ends_with_track = ends_with_track
        self.ends_with_identity = ends_with_identity
        self.recording = Recording(path, audio=audio, video=video, layout=layout, speaker=self._loudest)
        self._sinks: dict[str, tuple[PublishedTrack, Callable[[Any], None]]] = {}
        self.task: asyncio.Task[None] | None = None
        self._opened = False

    @property
    def id(self) -> str:
        return self.info.egress_id

    @property
    def live(self) -> bool:
        return self.info.status in LIVE

    def snapshot(self) -> egress_pb.EgressInfo:
        info = egress_pb.EgressInfo()
        info.CopyFrom(self.info)
        return info

    def _loudest(self) -> str | None:
        levels = self.room.speaker_levels(time.monotonic())
        return max(levels, key=lambda sid: levels[sid]) if levels else None

    def _set_status(self, status: int, event: str | None = "egress_updated") -> None:
        self.info.status = status  # type: ignore[assignment]
        self.info.updated_at = _ns(time.time())
        if event is not None:
            self.manager.notify(event, self.snapshot())

    # ---- inputs ----------------------------------------------------------------------------------

    def attach(self, participant: Participant, track: PublishedTrack) -> None:
        if not self._opened or not self.live or track.sid in self._sinks:
            return
        forwarder = track.forwarder
        if forwarder is None or not self.wants(participant, track):
            return
        reason = _unrecordable(track)
        if reason is not None:
            log.warning("egress %s: track %s %s; it is not recorded", self.id, track.sid, reason)
            return
        recording = self.recording
        if track.kind == "audio":
            if not recording.audio:
                return
            sink = recording.add_audio(track.sid).push
        else:
            if not recording.video:
                return
            sink = recording.add_video(track.sid, participant.sid).push
        forwarder.add_sink(sink)
        self._sinks[track.sid] = (track, sink)

    def detach(self, track_sid: str) -> None:
        found = self._sinks.pop(track_sid, None)
        if found is not None:
            track, sink = found
            if track.forwarder is not None:
                track.forwarder.remove_sink(sink)
            self.recording.remove_input(track_sid)

    def detach_all(self) -> None:
        for sid in list(self._sinks):
            self.detach(sid)

    # ---- lifetime --------------------------------------------------------------------------------

    async def run(self) -> None:
        recording = self.recording
        try:
            await recording.open()
        except Exception as exc:  # noqa: BLE001 - any open failure fails this egress, with its reason
            log.warning("egress %s: cannot open %s: %s", self.id, self.path, exc)
            self.fail(f"cannot open output file: {exc}")
            await recording.abort()
            return
        self._opened = True
        if self.info.status == Status.EGRESS_STARTING:
            self.info.started_at = _ns(recording.started_at)
            self._set_status(Status.EGRESS_ACTIVE)
            for participant in list(self.room.participants.values()):
                for track in list(participant.tracks.values()):
                    self.attach(participant, track)
        else:  # stopped before it could start
            recording.stop()
        try:
            await recording.run()
            size = await recording.finish()
        except asyncio.CancelledError:
            await asyncio.shield(recording.abort())
            self.fail("recording aborted at shutdown")
            raise
        except Exception as exc:
            log.exception("egress %s failed", self.id)
            await recording.abort()
            self.fail(f"recording failed: {exc}")
            return
        finally:
            self.detach_all()
        ended = recording.ended_at or time.time()
        result = egress_pb.FileInfo(
            filename=self.path,
            location=self.path,
            started_at=_ns(recording.started_at),
            ended_at=_ns(ended),
            duration=_ns(recording.duration),
            size=size,
        )
        self.info.file_results.append(result)
        self.info.file.CopyFrom(result)
        self.info.ended_at = _ns(ended)
        self._set_status(Status.EGRESS_COMPLETE, "egress_ended")
        self.manager.egress_done(self)

    def stop(self) -> bool:
        """Begin ending (ENDING); the file is completed by run(). False if it was not live."""
        if not self.live:
            return False
        self._set_status(Status.EGRESS_ENDING)
        self.detach_all()
        self.recording.stop()
        return True

    def fail(self, error: str) -> None:
        if self.info.status in FINAL:
            return
        self.info.error = error
        self.info.ended_at = _ns(time.time())
        self._set_status(Status.EGRESS_FAILED, "egress_ended")
        self.detach_all()
        self.recording.stop()
        self.manager.egress_done(self)


class EgressManager(RoomObserver):
    """Every egress of the server: Twirp handlers, room observer, and shutdown extension."""

    def __init__(self, manager: RoomManager, recordings_dir: str | None, notify: Notify | None = None) -> None:
        self.manager = manager
        self.recordings_dir = os.path.abspath(recordings_dir) if recordings_dir else None
        self._notify = notify
        self.egresses: dict[str, Egress] = {}
        self.failed: dict[str, egress_pb.EgressInfo] = {}  # failed before starting (unknown track)
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, event: str, info: egress_pb.EgressInfo) -> None:
        if self._notify is not None:
            self._notify(event, info)

    def register(self, router: TwirpRouter) -> None:
        svc = "Egress"
        router.register(svc, "StartRoomCompositeEgress", egress_pb.RoomCompositeEgressRequest, self.start_room_composite)
        router.register(svc, "StartTrackEgress", egress_pb.TrackEgressRequest, self.start_track)
        router.register(svc, "StartParticipantEgress", egress_pb.ParticipantEgressRequest, self.start_participant)
        router.register(svc, "StopEgress", egress_pb.StopEgressRequest, self.stop_egress)
        router.register(svc, "ListEgress", egress_pb.ListEgressRequest, self.list_egress)

    # ---- Twirp -----------------------------------------------------------------------------------

    def _ready(self, grants: Grants, room_name: str) -> Room:
        grants.require_record()
        if self.recordings_dir is None:
            raise TwirpError("internal", "egress not connected: the dev server has no recordings directory (--recordings-dir)")
        room = self.manager.get(room_name)
        if room is None or room.closed:
            raise room_not_found()
        return room

    async def start_room_composite(self, req: egress_pb.RoomCompositeEgressRequest, grants: Grants) -> egress_pb.EgressInfo:
        room = self._ready(grants, req.room_name)
        if req.audio_only and req.video_only:
            raise TwirpError("invalid_argument", "audio_only and video_only cannot both be set")
        output = self._file_output(req.file_outputs, req.file if req.HasField("file") else None, req)
        audio = not req.video_only
        video = not req.audio_only
        path = self._path(output, room, audio=audio, video=video, default="{room_name}-{time}")
        info = self._info(room, egress_pb.EgressSourceType.EGRESS_SOURCE_TYPE_WEB)
        info.room_composite.CopyFrom(req)
        layout = "speaker" if "speaker" in req.layout else "grid"
        return self._launch(
            Egress(self, info, room, path, audio=audio, video=video, layout=layout, wants=lambda p, t: True)
        )

    async def start_participant(self, req: egress_pb.ParticipantEgressRequest, grants: Grants) -> egress_pb.EgressInfo:
        room = self._ready(grants, req.room_name)
        if not req.identity:
            raise TwirpError("invalid_argument", "identity cannot be empty")
        output = self._file_output(req.file_outputs, None, req)
        path = self._path(output, room, audio=True, video=True, default="{publisher_identity}-{time}", identity=req.identity)
        info = self._info(room, egress_pb.EgressSourceType.EGRESS_SOURCE_TYPE_SDK)
        info.participant.CopyFrom(req)
        video_sources = (
            (models.TrackSource.SCREEN_SHARE,) if req.screen_share else (models.TrackSource.CAMERA, models.TrackSource.UNKNOWN)
        )
        audio_sources = (
            (models.TrackSource.SCREEN_SHARE_AUDIO,)
            if req.screen_share
            else (models.TrackSource.MICROPHONE, models.TrackSource.UNKNOWN)
        )

        def wants(participant: Participant, track: PublishedTrack) -> bool:
            if participant.identity != req.identity:
                return False
            sources = audio_sources if track.kind == "audio" else video_sources
            return track.info.source in sources

        return self._launch(
            Egress(self, info, room, path, audio=True, video=True, layout="grid", wants=wants, ends_with_identity=req.identity)
        )

    async def start_track(self, req: egress_pb.TrackEgressRequest, grants: Grants) -> egress_pb.EgressInfo:
        room = self._ready(grants, req.room_name)
        if req.HasField("websocket_url") or not req.HasField("file"):
            raise TwirpError("invalid_argument", "the dev server's track egress writes files only: set file")
        found = next(
            ((p, p.tracks[req.track_id]) for p in room.participants.values() if req.track_id in p.tracks), None
        )
        info = self._info(room, egress_pb.EgressSourceType.EGRESS_SOURCE_TYPE_SDK)
        info.track.CopyFrom(req)
        if found is None:
            info.status = Status.EGRESS_FAILED
            info.error = "track not found"
            info.ended_at = info.updated_at
            self.failed[info.egress_id] = info
            self.notify("egress_started", info)
            self.notify("egress_ended", info)
            return info
        participant, track = found
        reason = _unrecordable(track)
        if reason is not None:
            raise TwirpError("failed_precondition", f"track {track.sid} {reason}, so it cannot record it")
        audio = track.kind == "audio"
        output = egress_pb.EncodedFileOutput(filepath=req.file.filepath)
        path = self._path(
            output,
            room,
            audio=audio,
            video=not audio,
            default="{track_id}-{time}",
            identity=participant.identity,
            track=track,
            extension=".ogg" if audio else ".webm",
        )
        return self._launch(
            Egress(
                self,
                info,
                room,
                path,
                audio=audio,
                video=not audio,
                layout="grid",
                wants=lambda p, t: t.sid == req.track_id,
                ends_with_track=req.track_id,
            )
        )

    async def stop_egress(self, req: egress_pb.StopEgressRequest, grants: Grants) -> egress_pb.EgressInfo:
        grants.require_record()
        egress = self.egresses.get(req.egress_id)
        if egress is None:
            failed = self.failed.get(req.egress_id)
            if failed is None:
                raise TwirpError("not_found", "egress does not exist")
            status = failed.status
        elif egress.stop():
            return egress.snapshot()
        else:
            status = egress.info.status
        name = egress_pb.EgressStatus.Name(status)
        raise TwirpError("failed_precondition", f"egress with status {name} cannot be stopped")

    async def list_egress(self, req: egress_pb.ListEgressRequest, grants: Grants) -> egress_pb.ListEgressResponse:
        grants.require_record()
        infos = [e.snapshot() for e in self.egresses.values()] + [self._copy(i) for i in self.failed.values()]
        items = [
            info
            for info in infos
            if (not req.room_name or info.room_name == req.room_name)
            and (not req.egress_id or info.egress_id == req.egress_id)
            and (not req.active or info.status in LIVE)
        ]
        return egress_pb.ListEgressResponse(items=items)

    # ---- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _copy(info: egress_pb.EgressInfo) -> egress_pb.EgressInfo:
        out = egress_pb.EgressInfo()
        out.CopyFrom(info)
        return out

    def _info(self, room: Room, source: int) -> egress_pb.EgressInfo:
        now = _ns(time.time())
        return egress_pb.EgressInfo(
            egress_id=new_id("EG_"),
            room_id=room.sid,
            room_name=room.name,
            source_type=source,  # type: ignore[arg-type]
            status=Status.EGRESS_STARTING,
            updated_at=now,
        )

    @staticmethod
    def _file_output(
        outputs: Any, legacy: egress_pb.EncodedFileOutput | None, req: Any
    ) -> egress_pb.EncodedFileOutput:
        for field in ("stream_outputs", "segment_outputs", "image_outputs"):
            if len(getattr(req, field, ())):
                raise TwirpError("invalid_argument", f"the dev server writes files only: {field} is not supported")
        for field in ("stream", "segments"):
            if req.DESCRIPTOR.fields_by_name.get(field) is not None and req.HasField(field):
                raise TwirpError("invalid_argument", f"the dev server writes files only: {field} is not supported")
        if len(outputs) > 1:
            raise TwirpError("invalid_argument", "the dev server writes one file per egress")
        if len(outputs) == 1:
            output: egress_pb.EncodedFileOutput = outputs[0]
            return output
        if legacy is not None:
            return legacy
        raise TwirpError("invalid_argument", "no output: set file_outputs")

    def _path(
        self,
        output: egress_pb.EncodedFileOutput,
        room: Room,
        *,
        audio: bool,
        video: bool,
        default: str,
        identity: str = "",
        track: PublishedTrack | None = None,
        extension: str | None = None,
    ) -> str:
        assert self.recordings_dir is not None
        if extension is None:
            file_type = output.file_type
            if file_type == egress_pb.EncodedFileType.OGG:
                extension = ".ogg"
            elif file_type == egress_pb.EncodedFileType.MP3:
                extension = ".mp3"
            elif file_type == egress_pb.EncodedFileType.MP4:
                extension = ".mp4"
            else:
                extension = ".ogg" if not video else ".mp4"
        template = output.filepath or default
        if template.endswith("/"):
            template += default
        stamp = time.strftime("%Y-%m-%dT%H%M%S", time.gmtime())
        values = {
            "room_name": room.name,
            "room_id": room.sid,
            "time": stamp,
            "utc": stamp,
            "publisher_identity": identity,
            "track_id": track.sid if track is not None else "",
            "track_type": (track.kind if track is not None else ""),
            "track_source": models.TrackSource.Name(track.info.source).lower() if track is not None else "",
        }
        name = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
        if not os.path.splitext(name)[1]:
            name += extension
        path = os.path.abspath(os.path.join(self.recordings_dir, name.lstrip("/")) if not os.path.isabs(name) else name)
        if os.path.commonpath([path, self.recordings_dir]) != self.recordings_dir:
            raise TwirpError("invalid_argument", f"filepath must stay inside the recordings directory: {output.filepath!r}")
        if any(e.path == path and e.live for e in self.egresses.values()):
            raise TwirpError("already_exists", f"another egress is writing {path}")
        try:
            container_for(path, audio=audio, video=video)
        except ValueError as exc:
            raise TwirpError("invalid_argument", str(exc)) from None
        return path

    def _launch(self, egress: Egress) -> egress_pb.EgressInfo:
        self.egresses[egress.id] = egress
        egress.room.set_recording(True)
        self.notify("egress_started", egress.snapshot())
        task = asyncio.get_running_loop().create_task(egress.run(), name=f"egress {egress.id}")
        egress.task = task
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return egress.snapshot()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("egress task %s failed", task.get_name(), exc_info=task.exception())

    def egress_done(self, egress: Egress) -> None:
        room = egress.room
        if not any(e.room is room and e.info.status not in FINAL for e in self.egresses.values()):
            room.set_recording(False)

    # ---- room observer ---------------------------------------------------------------------------

    def _for_room(self, room: Room) -> list[Egress]:
        return [e for e in self.egresses.values() if e.room is room and e.live]

    def track_published(self, room: Room, participant: Participant, track: PublishedTrack) -> None:
        for egress in self._for_room(room):
            egress.attach(participant, track)

    def track_unpublished(self, room: Room, participant: Participant, track: PublishedTrack) -> None:
        for egress in self._for_room(room):
            egress.detach(track.sid)
            if egress.ends_with_track == track.sid:
                egress.stop()

    def participant_left(self, room: Room, participant: Participant) -> None:
        for egress in self._for_room(room):
            if egress.ends_with_identity == participant.identity:
                egress.stop()

    def room_finished(self, room: Room) -> None:
        for egress in self._for_room(room):
            egress.stop()

    # ---- shutdown --------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop every egress and wait (bounded) until their files are complete."""
        for egress in list(self.egresses.values()):
            egress.stop()
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=FINISH_TIMEOUT)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
