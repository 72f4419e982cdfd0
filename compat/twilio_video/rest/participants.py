"""``rooms(r).participants``, ``participants(p).published_tracks`` and ``.subscribe_rules`` on
RoomService ListParticipants / RemoveParticipant / UpdateSubscriptions."""

from __future__ import annotations

import builtins
import datetime
import time
from dataclasses import dataclass
from typing import Any

from livekit import api
from livekit.protocol import models

from ._base import BASE_URL, Api, Resource, bad_request, included, not_found, now, parse_rules, utc
from .rooms import live_room
from .sids import is_sid, same, to_twilio

__all__ = [
    "ParticipantContext",
    "ParticipantInstance",
    "ParticipantList",
    "PublishedTrackContext",
    "PublishedTrackInstance",
    "PublishedTrackList",
    "SubscribeRulesInstance",
    "SubscribeRulesList",
]

DEFAULT_SUBSCRIBE_RULES: list[dict[str, Any]] = [{"type": "include", "all": True}]
_CONNECTED = (models.ParticipantInfo.State.JOINING, models.ParticipantInfo.State.JOINED, models.ParticipantInfo.State.ACTIVE)


@dataclass
class EndedParticipant:
    room: models.Room
    participant: models.ParticipantInfo
    ended_at: float


class ParticipantInstance(Resource):
    class Status:
        CONNECTED = "connected"
        DISCONNECTED = "disconnected"
        RECONNECTING = "reconnecting"

    sid: str
    room_sid: str
    account_sid: str
    status: str
    identity: str
    date_created: datetime.datetime | None
    date_updated: datetime.datetime | None
    start_time: datetime.datetime | None
    end_time: datetime.datetime | None
    duration: int | None
    url: str
    links: dict[str, str]

    @property
    def _proxy(self) -> ParticipantContext:
        return ParticipantContext(self._api, self.room_sid, self.sid)

    def fetch(self) -> ParticipantInstance:
        return self._proxy.fetch()

    async def fetch_async(self) -> ParticipantInstance:
        return await self._proxy.fetch_async()

    def update(self, status: str | None = None) -> ParticipantInstance:
        return self._proxy.update(status)

    async def update_async(self, status: str | None = None) -> ParticipantInstance:
        return await self._proxy.update_async(status)

    @property
    def published_tracks(self) -> PublishedTrackList:
        return self._proxy.published_tracks

    @property
    def subscribe_rules(self) -> SubscribeRulesList:
        return self._proxy.subscribe_rules


def participant_fields(api_: Api, room: models.Room, p: models.ParticipantInfo, ended_at: float | None = None) -> dict[str, Any]:
    room_sid = to_twilio("RM", room.sid)
    sid = to_twilio("PA", p.sid)
    joined = p.joined_at_ms / 1000 if p.joined_at_ms else float(p.joined_at)
    url = f"{BASE_URL}/Rooms/{room_sid}/Participants/{sid}"
    return {
        "sid": sid,
        "room_sid": room_sid,
        "account_sid": api_.account_sid,
        "status": "disconnected" if ended_at else ("connected" if p.state in _CONNECTED else "disconnected"),
        "identity": p.identity,
        "date_created": utc(joined),
        "date_updated": utc(ended_at or joined),
        "start_time": utc(joined),
        "end_time": utc(ended_at),
        "duration": int(ended_at - joined) if ended_at else None,
        "url": url,
        "links": {name: f"{url}/{path}" for name, path in (
            ("published_tracks", "PublishedTracks"), ("subscribed_tracks", "SubscribedTracks"),
            ("subscribe_rules", "SubscribeRules"), ("anonymize", "Anonymize"))},
    }


async def visible(lk: api.LiveKitAPI, room: models.Room) -> list[models.ParticipantInfo]:
    """The room's participants as Twilio lists them (LiveKit's hidden recorders left out)."""
    listed = (await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))).participants
    return [p for p in listed if not p.permission.hidden]


async def find_participant(
    lk: api.LiveKitAPI, api_: Api, room_key: str, key: str, uri: str, method: str, verb: str
) -> tuple[models.Room, models.ParticipantInfo]:
    room = await live_room(lk, api_, room_key, uri, method, verb)
    people = await visible(lk, room)
    bysid = is_sid("PA", key)
    found = next((p for p in people if (same("PA", key, p.sid) if bysid else p.identity == key)), None)
    if found is None:
        raise not_found(uri, method, verb)
    return room, found


def _pair(solution: dict[str, str]) -> tuple[str, str]:
    """(room key, participant key) of a context's path."""
    return solution["room_sid"], solution.get("participant_sid") or solution["sid"]


class ParticipantContext:
    """``rooms(r).participants(sid_or_identity)``."""

    def __init__(self, api_: Api, room_sid: str, sid: str) -> None:
        self._api = api_
        self._solution = {"room_sid": room_sid, "sid": sid}
        self._uri = f"/Rooms/{room_sid}/Participants/{sid}"

    def fetch(self) -> ParticipantInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> ParticipantInstance:
        left = self._left()
        if left is not None:
            return ParticipantInstance(self._api, participant_fields(self._api, left.room, left.participant, left.ended_at))
        async with self._api.livekit("GET", self._uri) as lk:
            room, found = await find_participant(lk, self._api, *_pair(self._solution), self._uri, "GET", "fetch")
        return ParticipantInstance(self._api, participant_fields(self._api, room, found))

    def _left(self) -> EndedParticipant | None:
        key = self._solution["sid"]
        return next((e for e in self._api.left.values() if is_sid("PA", key) and same("PA", key, e.participant.sid)), None)

    def update(self, status: str | None = None) -> ParticipantInstance:
        return self._api.run(self.update_async(status), "update", "POST", self._uri)

    async def update_async(self, status: str | None = None) -> ParticipantInstance:
        """``status="disconnected"`` removes the participant (RemoveParticipant)."""
        if status != "disconnected":
            raise bad_request(self._uri, "POST", "update", f"Invalid Status {status!r}: only 'disconnected' is allowed", None)
        async with self._api.livekit("POST", self._uri) as lk:
            room, found = await find_participant(lk, self._api, *_pair(self._solution), self._uri, "POST", "update")
            await lk.room.remove_participant(api.RoomParticipantIdentity(room=room.name, identity=found.identity))
        record = EndedParticipant(room, found, time.time())
        self._api.left[found.sid] = record
        return ParticipantInstance(self._api, participant_fields(self._api, room, found, record.ended_at))

    @property
    def published_tracks(self) -> PublishedTrackList:
        return PublishedTrackList(self._api, self._solution["room_sid"], self._solution["sid"])

    @property
    def subscribe_rules(self) -> SubscribeRulesList:
        return SubscribeRulesList(self._api, self._solution["room_sid"], self._solution["sid"])


class ParticipantList:
    """``rooms(r).participants``."""

    def __init__(self, api_: Api, room_sid: str) -> None:
        self._api = api_
        self._room = room_sid
        self._uri = f"/Rooms/{room_sid}/Participants"

    def __call__(self, sid: str) -> ParticipantContext:
        return ParticipantContext(self._api, self._room, sid)

    def get(self, sid: str) -> ParticipantContext:
        return ParticipantContext(self._api, self._room, sid)

    def list(self, status: str | None = None, identity: str | None = None, date_created_after: datetime.datetime | None = None,
             date_created_before: datetime.datetime | None = None, limit: int | None = None,
             page_size: int | None = None) -> builtins.list[ParticipantInstance]:
        coro = self.list_async(status, identity, date_created_after, date_created_before, limit, page_size)
        return self._api.run(coro, "list", "GET", self._uri)

    async def list_async(self, status: str | None = None, identity: str | None = None,
                         date_created_after: datetime.datetime | None = None,
                         date_created_before: datetime.datetime | None = None, limit: int | None = None,
                         page_size: int | None = None) -> builtins.list[ParticipantInstance]:
        """``status`` defaults to connected; ``disconnected`` lists those this Client removed."""
        status = status or "connected"
        async with self._api.livekit("GET", self._uri) as lk:
            room = await live_room(lk, self._api, self._room, self._uri, "GET", "read")
            people = await visible(lk, room) if status == "connected" else []
        rows = [participant_fields(self._api, room, p) for p in people]
        if status == "disconnected":
            rows = [participant_fields(self._api, e.room, e.participant, e.ended_at)
                    for e in self._api.left.values() if e.room.sid == room.sid]
        rows = [r for r in rows if not identity or r["identity"] == identity]
        rows = [r for r in rows if (date_created_after is None or r["date_created"] >= date_created_after)
                and (date_created_before is None or r["date_created"] < date_created_before)]
        found = [ParticipantInstance(self._api, r) for r in rows]
        return found[:limit] if limit else found

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return iter(self.list(*args, **kwargs))


# ---- published tracks --------------------------------------------------------------------------


class PublishedTrackInstance(Resource):
    class Kind:
        AUDIO = "audio"
        VIDEO = "video"
        DATA = "data"

    sid: str
    participant_sid: str
    room_sid: str
    name: str
    date_created: datetime.datetime | None
    date_updated: datetime.datetime | None
    enabled: bool
    kind: str
    url: str


def track_kind(track: models.TrackInfo) -> str:
    return "audio" if track.type == models.TrackType.AUDIO else "video" if track.type == models.TrackType.VIDEO else "data"


def track_fields(room: models.Room, p: models.ParticipantInfo, t: models.TrackInfo) -> dict[str, Any]:
    room_sid, participant_sid, sid = to_twilio("RM", room.sid), to_twilio("PA", p.sid), to_twilio("MT", t.sid)
    return {
        "sid": sid, "participant_sid": participant_sid, "room_sid": room_sid, "name": t.name,
        "date_created": None, "date_updated": None,  # LiveKit keeps no publication time
        "enabled": not t.muted, "kind": track_kind(t),
        "url": f"{BASE_URL}/Rooms/{room_sid}/Participants/{participant_sid}/PublishedTracks/{sid}",
    }


class PublishedTrackContext:
    def __init__(self, api_: Api, room_sid: str, participant_sid: str, sid: str) -> None:
        self._api = api_
        self._solution = {"room_sid": room_sid, "participant_sid": participant_sid, "sid": sid}
        self._uri = f"/Rooms/{room_sid}/Participants/{participant_sid}/PublishedTracks/{sid}"

    def fetch(self) -> PublishedTrackInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> PublishedTrackInstance:
        s = self._solution
        async with self._api.livekit("GET", self._uri) as lk:
            room, p = await find_participant(lk, self._api, *_pair(s), self._uri, "GET", "fetch")
        track = next((t for t in p.tracks if same("MT", s["sid"], t.sid)), None)
        if track is None:
            raise not_found(self._uri, "GET")
        return PublishedTrackInstance(self._api, track_fields(room, p, track))


class PublishedTrackList:
    def __init__(self, api_: Api, room_sid: str, participant_sid: str) -> None:
        self._api = api_
        self._solution = {"room_sid": room_sid, "participant_sid": participant_sid}
        self._uri = f"/Rooms/{room_sid}/Participants/{participant_sid}/PublishedTracks"

    def __call__(self, sid: str) -> PublishedTrackContext:
        return PublishedTrackContext(self._api, self._solution["room_sid"], self._solution["participant_sid"], sid)

    def get(self, sid: str) -> PublishedTrackContext:
        return self(sid)

    def list(self, limit: int | None = None, page_size: int | None = None) -> list[PublishedTrackInstance]:
        return self._api.run(self.list_async(limit, page_size), "list", "GET", self._uri)

    async def list_async(self, limit: int | None = None, page_size: int | None = None) -> builtins.list[PublishedTrackInstance]:
        async with self._api.livekit("GET", self._uri) as lk:
            room, p = await find_participant(lk, self._api, *_pair(self._solution), self._uri, "GET", "read")
        found = [PublishedTrackInstance(self._api, track_fields(room, p, t)) for t in p.tracks]
        return found[:limit] if limit else found

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return iter(self.list(*args, **kwargs))


# ---- subscribe rules ---------------------------------------------------------------------------


class SubscribeRulesInstance(Resource):
    participant_sid: str
    room_sid: str
    rules: list[dict[str, Any]]
    date_created: datetime.datetime | None
    date_updated: datetime.datetime | None


class SubscribeRulesList:
    """``participants(p).subscribe_rules``: ``fetch()``, ``update(rules=[...])``.

    ``update`` applies the rules once to the tracks published now (LiveKit UpdateSubscriptions:
    subscribe to the included, unsubscribe from the others); tracks published later follow the
    participant's auto-subscribe setting, not the rules (docs/parity.md)."""

    def __init__(self, api_: Api, room_sid: str, participant_sid: str) -> None:
        self._api = api_
        self._solution = {"room_sid": room_sid, "participant_sid": participant_sid}
        self._uri = f"/Rooms/{room_sid}/Participants/{participant_sid}/SubscribeRules"

    def fetch(self) -> SubscribeRulesInstance:
        return self._api.run(self.fetch_async(), "fetch", "GET", self._uri)

    async def fetch_async(self) -> SubscribeRulesInstance:
        async with self._api.livekit("GET", self._uri) as lk:
            room, p = await find_participant(lk, self._api, *_pair(self._solution), self._uri, "GET", "fetch")
        rules, when = self._api.subscribe_rules.get(p.sid, (DEFAULT_SUBSCRIBE_RULES, utc(p.joined_at) or now()))
        return self._instance(room, p, rules, when)

    def _instance(self, room: models.Room, p: models.ParticipantInfo, rules: list[dict[str, Any]],
                  when: datetime.datetime) -> SubscribeRulesInstance:
        fields = {"participant_sid": to_twilio("PA", p.sid), "room_sid": to_twilio("RM", room.sid),
                  "rules": [dict(r) for r in rules], "date_created": when, "date_updated": when}
        return SubscribeRulesInstance(self._api, fields)

    def update(self, rules: Any = None) -> SubscribeRulesInstance:
        return self._api.run(self.update_async(rules), "update", "POST", self._uri)

    async def update_async(self, rules: Any = None) -> SubscribeRulesInstance:
        parsed = parse_rules(rules, self._uri, "update")  # before LiveKit is called
        async with self._api.livekit("POST", self._uri) as lk:
            room, p = await find_participant(lk, self._api, *_pair(self._solution), self._uri, "POST", "update")
            chosen = {True: [], False: []}  # type: dict[bool, list[str]]
            for other in await visible(lk, room):
                if other.sid != p.sid:
                    for t in other.tracks:
                        publisher = (other.identity, to_twilio("PA", other.sid))
                        track = (t.name, to_twilio("MT", t.sid), track_kind(t))
                        chosen[included(parsed, publisher, track)].append(t.sid)
            for subscribe, sids in chosen.items():
                if sids:
                    request = api.UpdateSubscriptionsRequest(room=room.name, identity=p.identity, track_sids=sids, subscribe=subscribe)
                    await lk.room.update_subscriptions(request)
        when = now()
        self._api.subscribe_rules[p.sid] = (parsed, when)
        return self._instance(room, p, parsed, when)
