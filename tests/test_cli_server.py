"""`compat token …` mints tokens each vendor's client accepts; `compat webhooks --help` documents the service."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from compat.__main__ import main
from compat.devserver.testing import free_port
from compat.vonage import inspect_token, mint_session_id

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-0123"


def test_vonage_token_from_the_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    assert main(["token", "vonage", "--room", "visit-9", "--role", "moderator", "--data", "dr"]) == 0
    info = inspect_token(capsys.readouterr().out.strip(), session_id=mint_session_id(KEY, "visit-9"))
    assert (info.room, info.role, info.data) == ("visit-9", "moderator", "dr")


@pytest.mark.parametrize("vendor", ["twilio", "livekit"])
def test_twilio_and_livekit_tokens_grant_the_room(vendor: str, capsys: pytest.CaptureFixture[str]) -> None:
    from livekit import api

    assert main(["token", vendor, "--room", "r1", "--identity", "ann", "--api-key", KEY, "--api-secret", SECRET]) == 0
    claims = api.TokenVerifier(KEY, SECRET).verify(capsys.readouterr().out.strip())
    assert claims.video is not None
    assert (claims.identity, claims.video.room, claims.video.room_join) == ("ann", "r1", True)


def test_token_refusals_are_usage_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LIVEKIT_API_KEY", raising=False)
    assert main(["token", "livekit", "--room", "r"]) == 2
    assert main(["token", "vonage", "--room", "r", "--api-key", KEY, "--api-secret", SECRET, "--data", "x" * 1001]) == 2
    assert "1000 characters" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["token", "webhooks"])
def test_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0 and "LIVEKIT_API_KEY" in capsys.readouterr().out


def test_webhooks_needs_a_vendor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhooks", "--db", "x.sqlite", "--api-key", KEY, "--api-secret", SECRET]) == 2
    assert "configure a vendor" in capsys.readouterr().err


async def test_webhooks_serves_both_vendors_from_one_process(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, LIVEKIT_API_KEY=KEY, LIVEKIT_API_SECRET=SECRET, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "compat", "webhooks", "--db", str(tmp_path / "o.sqlite"), "--port", str(port),
        "--twilio-auth-token", "t", "--vonage-session-callback", "http://127.0.0.1:9/v",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert f"twilio + vonage status callbacks on http://127.0.0.1:{port}/livekit" in line.decode()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 15) == 0
