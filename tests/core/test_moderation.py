"""compat.core.moderation without a LiveKit server: how failures become ModerationFailure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from compat import core as C
from compat.core import moderation


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """An HTTP server on loopback that never answers."""

    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 60)
        return web.Response()

    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/{method}", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        release.set()
        await runner.cleanup()


async def test_no_token_is_permission_denied(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(C.ModerationFailure) as err:
        await moderation.remove_participant("ws://127.0.0.1:9", None, "r", "a")
    assert err.value.reason == "permission_denied" and "RemoveParticipant(a)" in caplog.text


async def test_an_unreachable_server_is_failed() -> None:
    with pytest.raises(C.ModerationFailure) as err:
        await moderation.remove_participant("ws://127.0.0.1:9", "token", "r", "a")
    assert err.value.reason == "failed"


async def test_no_answer_is_failed_after_the_bound(silent_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moderation, "TIMEOUT", 0.3)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(C.ModerationFailure) as err:
        await moderation.mute_published_track(silent_server, "token", "r", "a", "TR_1", True)
    assert err.value.reason == "failed" and loop.time() - start < 3.0
