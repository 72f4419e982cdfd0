# mypy: ignore-errors
# (verbatim twilio-python back-end code: untyped, as such code usually is)
"""A small telehealth back end written against twilio-python 9.x, as a team would have it.

The acceptance test runs this file twice as it is: the import lines below swapped for compat's,
nothing else changed. (It is valid twilio-python code: with the original imports it talks to Twilio.)
"""

from twilio.base.exceptions import TwilioRestException
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VideoGrant
from twilio.rest import Client


class VisitService:
    def __init__(self, account_sid, api_key, api_secret):
        self.account_sid = account_sid
        self.api_key = api_key
        self.api_secret = api_secret
        self.client = Client(api_key, api_secret, account_sid)

    def open_visit(self, name, status_callback):
        room = self.client.video.v1.rooms.create(unique_name=name, type="group", status_callback=status_callback)
        return room.sid

    def token(self, identity, room_name, ttl=3600):
        token = AccessToken(self.account_sid, self.api_key, self.api_secret, identity=identity, ttl=ttl)
        token.add_grant(VideoGrant(room=room_name))
        return token.to_jwt()

    def who_is_here(self, room_sid):
        return sorted(p.identity for p in self.client.video.v1.rooms(room_sid).participants.list(status="connected"))

    def tracks_of(self, room_sid, identity):
        participant = self.client.video.v1.rooms(room_sid).participants(identity).fetch()
        published = self.client.video.v1.rooms(room_sid).participants(participant.sid).published_tracks.list()
        return [(t.sid, t.kind, t.name, t.enabled) for t in published]

    def record_everything(self, room_sid):
        self.client.video.v1.rooms(room_sid).recording_rules.update(rules=[{"type": "include", "all": True}])

    def recordings(self, room_sid):
        return [(r.sid, r.status, r.type, r.source_sid) for r in self.client.video.v1.rooms(room_sid).recordings.list()]

    def remove(self, room_sid, identity):
        return self.client.video.v1.rooms(room_sid).participants(identity).update(status="disconnected").status

    def close_visit(self, room_sid):
        return self.client.video.v1.rooms(room_sid).update(status="completed").status

    def status_or_error(self, room_sid, status=None):
        try:
            room = self.client.video.v1.rooms(room_sid)
            return (room.update(status=status) if status else room.fetch()).status
        except TwilioRestException as exc:
            return exc.code
