# mypy: ignore-errors
# (verbatim opentok back-end code: untyped, as such code usually is)
"""A small telehealth back end written against opentok 3.x, as a team would have it.

The acceptance test runs this file as it is, with only the import lines below swapped for compat's.
(It is valid opentok code: with the original imports it talks to OpenTok.)
"""

from opentok import Client, MediaModes, Roles
from opentok.exceptions import NotFoundError, OpenTokException


class VisitService:
    def __init__(self, api_key, api_secret):
        self.opentok = Client(api_key, api_secret)

    def open_visit(self):
        return self.opentok.create_session(media_mode=MediaModes.routed).session_id

    def token(self, session_id, who, role=Roles.publisher, expire_time=None):
        return self.opentok.generate_token(session_id, role=role, data=f"user={who}", expire_time=expire_time)

    def notify(self, session_id, text, connection_id=None):
        self.opentok.send_signal(session_id, {"type": "notice", "data": text}, connection_id)

    def streams(self, session_id):
        return [(s.id, s.videoType) for s in self.opentok.list_streams(session_id).items]

    def mute(self, session_id, stream_id):
        self.opentok.mute_stream(session_id, stream_id)

    def remove(self, session_id, connection_id):
        self.opentok.force_disconnect(session_id, connection_id)

    def start_recording(self, session_id):
        archive = self.opentok.start_archive(session_id, name="visit recording")
        return archive.id, archive.status

    def stop_recording(self, archive_id):
        return self.opentok.stop_archive(archive_id).status

    def recording(self, archive_id):
        archive = self.opentok.get_archive(archive_id)
        return archive.status, archive.name, archive.url

    def recordings(self, session_id):
        return [(a.id, a.status) for a in self.opentok.list_archives(session_id=session_id)]

    def recording_or_error(self, archive_id):
        try:
            return self.opentok.get_archive(archive_id).status
        except NotFoundError:
            return "not found"

    def token_or_error(self, session_id, **kwargs):
        try:
            return self.opentok.generate_token(session_id, **kwargs)
        except OpenTokException as exc:
            return str(exc)
