"""ServerProcess (compat.devserver.testing) reports the server's warnings with the exception of any traceback."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from compat.devserver.testing import ServerProcess

OUTPUT = """\
INFO:aioice.ice:Connection(1) ICE completed
WARNING:compat.devserver.session:p2: subscriber negotiation failed
Traceback (most recent call last):
  File "session.py", line 958, in _negotiate_loop
    offer = await pc.createOffer()
aiortc.exceptions.InvalidStateError: RTCPeerConnection is closed
WARNING:compat.devserver.session:p3: no usable subscriber answer in 10s
dev server on ws://127.0.0.1:1
"""


async def read(output: str) -> ServerProcess:
    server = ServerProcess(0, "key", "secret")
    stdout = asyncio.StreamReader()
    stdout.feed_data(output.encode())
    stdout.feed_eof()
    server.proc = SimpleNamespace(stdout=stdout)  # type: ignore[assignment]
    ready = asyncio.get_running_loop().create_future()
    await server._read(ready)
    assert ready.done()
    return server


async def test_a_warning_carries_the_exception_its_traceback_ends_with() -> None:
    server = await read(OUTPUT)
    assert server.warnings == [
        "WARNING:compat.devserver.session:p2: subscriber negotiation failed"
        " [aiortc.exceptions.InvalidStateError: RTCPeerConnection is closed]",
        "WARNING:compat.devserver.session:p3: no usable subscriber answer in 10s",
    ]
    assert server.tracebacks == 1


async def test_a_warning_right_after_a_traceback_is_its_own() -> None:
    server = await read("Traceback (most recent call last):\n  File x\nWARNING:a:b\n")
    assert server.warnings == ["WARNING:a:b"]


async def test_a_traceback_after_other_output_is_not_given_to_an_earlier_warning() -> None:
    server = await read("WARNING:a:b\nINFO:c:d\nTraceback (most recent call last):\n  File x\nValueError: e\n")
    assert server.warnings == ["WARNING:a:b"]
