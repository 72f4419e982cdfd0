"""tests/backstop.py ends a pytest process whose test hung on past pytest-timeout's one interruption."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HANGING = '''
import time
import pytest

@pytest.fixture
def slow_close():
    yield
    time.sleep(60)  # a teardown that hangs after the test was interrupted

@pytest.mark.timeout(1)
def test_hangs(slow_close):
    time.sleep(60)
'''


def run_hanging_test(tmp_path: Path, *plugin: str, limit: float = 20) -> tuple[int | None, float, str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_hanging.py").write_text(HANGING)
    argv = [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
            "-p", "no:cacheprovider", *plugin, str(tmp_path / "test_hanging.py")]
    env = dict(os.environ, COMPAT_TEST_BACKSTOP_S="2", PYTHONPATH=str(ROOT))
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return None, time.monotonic() - started, out
    return proc.returncode, time.monotonic() - started, out


def test_a_teardown_hanging_after_the_timeout_ends_the_process_with_every_stack(tmp_path: Path) -> None:
    code, took, out = run_hanging_test(tmp_path, "-p", "tests.backstop")
    assert code is not None and code != 0, out
    assert took < 15, out  # timeout 1 s + backstop 2 s, and pytest's start
    assert "Timeout (" in out and "line 8 in slow_close" in out, out  # faulthandler's dump names the hang


def test_without_it_pytest_timeout_alone_leaves_the_teardown_hanging(tmp_path: Path) -> None:
    code, _, out = run_hanging_test(tmp_path, limit=10)
    assert code is None, out  # still in the teardown's sleep when killed at 10 s
