"""Rollout stores for the tests: a SQLite file, and a throwaway PostgreSQL cluster.

The cluster is started once per test session by initdb/pg_ctl in a temporary directory, on a
unix socket only (no TCP: nothing listens on the network). PostgreSQL refuses to run as root,
so as root it runs as the ``postgres`` user (runuser). Each test gets its own database. Where no
server can be started the PostgreSQL tests skip, saying why.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import compat.rollout as R

_SEARCH = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
_counter = itertools.count()


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in _SEARCH if os.access(f"{d}/{name}", os.X_OK)), None)


def _as_user() -> tuple[list[str], int | None]:
    """The command prefix that runs PostgreSQL unprivileged, and that user's uid."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        raise RuntimeError("running as root and no 'postgres' user to run PostgreSQL as") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and no runuser to run PostgreSQL as 'postgres'")
    return [runuser, "-u", "postgres", "--"], uid


def _start(base: Path) -> tuple[str, list[str]]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("initdb/pg_ctl not found (looked on PATH and in " + ", ".join(_SEARCH) + ")")
    prefix, uid = _as_user()
    if uid is not None:
        os.chown(base, uid, -1)
    base.chmod(0o700)
    data = base / "data"

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, timeout=60)

    run(initdb, "-D", str(data), "-A", "trust", "-U", "compat", "--no-sync")
    run(pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "30",
        "-o", f"-k {base} -c listen_addresses='' -c fsync=off -c max_connections=100", "start")
    return f"postgresql://compat@/postgres?host={base}", [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a throwaway PostgreSQL cluster (skips where none can be started)."""
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        pytest.skip("psycopg is not installed (pip install 'livekit-compat[postgres]')")
    base = Path(tempfile.mkdtemp(prefix="compat-pg-"))
    try:
        url, stop = _start(base)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server could be started: {exc} {detail}".strip())
    yield url
    subprocess.run(stop, capture_output=True, timeout=60, check=False)
    shutil.rmtree(base, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    """A new empty database on the cluster; its URL."""
    import psycopg

    name = f"rollout_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: a SQLite path, or a PostgreSQL database URL."""
    if request.param == "sqlite":
        return str(tmp_path / "rollout.db")
    return fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(store_url: str) -> Iterator[R.Store]:
    store = R.open_store(store_url)
    yield store
    store.close()


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[R.Store]:
    """A SQLite store configured for this process (what the client models and drop-ins consult)."""
    store = R.configure(tmp_path / "configured.db")
    assert store is not None
    yield store
    R.configure(None)
    store.close()
