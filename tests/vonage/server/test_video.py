"""vonage-video's ``Video`` on the dev server: session, client token (bytes), signal, archive, disconnect;
and its models refuse bad input as the original's do, before LiveKit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from compat import vonage as OT
from compat.devserver import DevServer
from compat.vonage.server.video import CreateArchiveRequest, SessionOptions, SignalData, TokenOptions, TokenRole, Video
from compat.vonage.server.video_errors import InvalidArchiveStateError, NoAudioOrVideoError, NotFoundError, TokenExpiryError
from tests.support import wait_for

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-0123"


def test_models_refuse_like_vonage_video() -> None:
    with pytest.raises(TokenExpiryError):
        TokenOptions(session_id="s", exp=int(time.time()) - 5)
    with pytest.raises(TokenExpiryError):
        TokenOptions(session_id="s", exp=int(time.time()) + 31 * 86400)
    with pytest.raises(ValidationError):
        TokenOptions(session_id="s", role="doctor")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TokenOptions(session_id="s", connection_data="x" * 1001)
    with pytest.raises(ValidationError):
        SignalData(type="t", data="x" * 8193)
    with pytest.raises(NoAudioOrVideoError):
        CreateArchiveRequest(session_id="s", has_audio=False, has_video=False)
    assert abs(TokenOptions(session_id="s").exp - (time.time() + 900)) < 5  # type: ignore[operator]


@pytest.mark.media
async def test_a_vonage_video_backend_on_the_dev_server(tmp_path: Path) -> None:
    async with DevServer(port=0, keys={KEY: SECRET}, recordings_dir=str(tmp_path / "rec")) as server:
        video = Video(KEY, SECRET, server.url)
        run = asyncio.to_thread
        session = await run(video.create_session, SessionOptions())
        token = video.generate_client_token(TokenOptions(session_id=session.session_id, role=TokenRole.MODERATOR, connection_data="dr"))
        assert isinstance(token, bytes)
        client = OT.initSession(KEY, session.session_id, {"url": server.url})
        got: list[Any] = []
        client.on("signal", lambda e: got.append((e.type, e.data, e.from_)))
        client.on("sessionDisconnected", lambda e: got.append(e.reason))
        await client.connect(token.decode())
        assert client.connection is not None and client.connection.data == "dr"
        await run(video.send_signal, session.session_id, SignalData(type="chat", data="hi"), client.connection.connectionId)
        await wait_for(lambda: ("signal:chat", "hi", None) in got, what="the signal")
        archive = await run(video.start_archive, CreateArchiveRequest(session_id=session.session_id, name="a1"))
        assert (archive.status, archive.name, archive.session_id) == ("started", "a1", session.session_id)
        assert archive.id is not None
        archives, count, _ = await run(video.list_archives)
        assert count == 1 and archives[0].id == archive.id
        await run(video.stop_archive, archive.id)
        with pytest.raises(InvalidArchiveStateError):
            await run(video.stop_archive, archive.id)
        with pytest.raises(NotFoundError):
            await run(video.get_archive, "nope")
        await run(video.disconnect_client, session.session_id, client.connection.connectionId)
        await wait_for(lambda: "forceDisconnected" in got, what="forceDisconnected")
