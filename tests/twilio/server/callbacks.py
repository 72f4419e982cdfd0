"""Test kit for status callbacks: a receiver that records (and can refuse) callbacks, signed
LiveKit webhook events, and checks of what arrived."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from google.protobuf import json_format
from livekit import api
from livekit.protocol import models
from livekit.protocol import webhook as webhook_pb
from twilio.request_validator import RequestValidator

KEY = "devkey"
SECRET = "devsecret-devsecret-devsecret-0123"
AUTH_TOKEN = "twilio-auth-token-for-tests"


@dataclass
class Received:
    url: str
    params: dict[str, str]
    signature: str


@dataclass
class Receiver:
    """Records each callback; answers 500 while ``failing`` (counts the refusals)."""

    url: str = ""
    got: list[Received] = field(default_factory=list)
    failing: bool = False
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.failing:
            self.refused += 1
            return web.Response(status=500)
        form = await request.post()
        self.got.append(Received(str(request.url), {k: str(v) for k, v in form.items()}, request.headers.get("X-Twilio-Signature", "")))
        return web.Response(text="")

    def by_room(self) -> dict[str, list[dict[str, str]]]:
        rooms: dict[str, list[dict[str, str]]] = {}
        for item in self.got:
            rooms.setdefault(item.params["RoomSid"], []).append(item.params)
        return rooms

    def all_signed(self) -> bool:
        validator = RequestValidator(AUTH_TOKEN)
        return all(validator.validate(self.url, r.params, r.signature) for r in self.got)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/status", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/status"
    try:
        yield rec
    finally:
        await runner.cleanup()


def room(name: str, callback: str) -> models.Room:
    meta = json.dumps({"twilio": {"status_callback": callback, "account_sid": "AC" + "c" * 32}})
    return models.Room(sid="RM_" + hashlib.sha1(name.encode()).hexdigest()[:12], name=name, metadata=meta,
                       creation_time=int(time.time()) - 5)


def event(kind: str, room_: models.Room | None = None, n: int = 0, **fields: object) -> webhook_pb.WebhookEvent:
    ev = webhook_pb.WebhookEvent(event=kind, id=f"EV_{kind}_{room_.name if room_ else ''}_{n}", created_at=int(time.time()))
    if room_ is not None:
        ev.room.CopyFrom(room_)
    for name, value in fields.items():
        getattr(ev, name).CopyFrom(value)
    return ev


def participant(identity: str, *tracks: models.TrackInfo) -> models.ParticipantInfo:
    return models.ParticipantInfo(sid="PA_" + hashlib.sha1(identity.encode()).hexdigest()[:12], identity=identity,
                                  joined_at=int(time.time()) - 3, tracks=list(tracks))


def signed(ev: webhook_pb.WebhookEvent) -> tuple[bytes, dict[str, str]]:
    body = json_format.MessageToJson(ev, indent=None)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = api.AccessToken(KEY, SECRET).with_ttl(datetime.timedelta(minutes=5)).with_sha256(digest).to_jwt()
    return body.encode(), {"Authorization": token, "Content-Type": "application/webhook+json"}


async def post(session: aiohttp.ClientSession, url: str, ev: webhook_pb.WebhookEvent) -> int:
    body, headers = signed(ev)
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


def assert_in_order(rooms: dict[str, list[dict[str, str]]], expected: dict[str, list[str]]) -> None:
    """Per room: each identity once (first delivery), in posting order, SequenceNumber 0, 1, 2, …"""
    for sid, identities in expected.items():
        first: dict[str, int] = {}
        for params in rooms.get(sid, []):
            seq = int(params["SequenceNumber"])
            assert first.setdefault(params["ParticipantIdentity"], seq) == seq, f"{params} delivered again with a new number"
        ordered = sorted(first, key=first.__getitem__)
        assert ordered == identities, f"room {sid}: {len(ordered)} of {len(identities)} delivered, or out of order"
        assert sorted(first.values()) == list(range(len(identities)))
        seqs = [int(p["SequenceNumber"]) for p in rooms[sid]]
        assert seqs == sorted(seqs), f"room {sid} delivered out of order: {seqs}"
