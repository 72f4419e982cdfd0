"""Where the rollout keeps its state: a SQLite file (default) or PostgreSQL (by URL).

One schema, one set of statements (written with ``?`` placeholders; PostgreSQL gets ``%s``).
Agreement under concurrency comes from the database, not from us: an assignment is one
``INSERT … ON CONFLICT DO UPDATE … WHERE ended_at IS NOT NULL`` (a live session's row is never
overwritten, so the first writer wins and every other worker reads that row back), and a stage
change is a compare-and-set ``UPDATE … WHERE stage = ?``.
"""

from __future__ import annotations

import abc
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from . import stages
from .quality import Gates, Summary, Verdict, summarize, verdict

BUSY_TIMEOUT_S: Final = 10.0  # SQLite's lock wait and PostgreSQL's connect and statement timeouts

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS rollout_state (id INTEGER PRIMARY KEY CHECK (id = 1), stage TEXT NOT NULL,"
    " changed_at DOUBLE PRECISION NOT NULL)",
    "INSERT INTO rollout_state (id, stage, changed_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS rollout_internal (user_id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS rollout_sessions (session_key TEXT PRIMARY KEY, platform TEXT NOT NULL,"
    " stage TEXT NOT NULL, assigned_at DOUBLE PRECISION NOT NULL, ended_at DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS rollout_records (id {id_column}, session_key TEXT NOT NULL, platform TEXT NOT NULL,"
    " stage TEXT NOT NULL, vendor TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL, setup_s DOUBLE PRECISION,"
    " failure_code INTEGER, turn_relay INTEGER, reconnects INTEGER NOT NULL DEFAULT 0, mos DOUBLE PRECISION,"
    " ended_at DOUBLE PRECISION)",
)

_ASSIGN: Final = (
    "INSERT INTO rollout_sessions (session_key, platform, stage, assigned_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (session_key) DO UPDATE SET platform = excluded.platform, stage = excluded.stage,"
    " assigned_at = excluded.assigned_at, ended_at = NULL WHERE rollout_sessions.ended_at IS NOT NULL"
)


class RolloutError(Exception):
    """A rollout operation cannot be done (no store configured, an unknown record, a bad URL)."""


class GateFailed(RolloutError):  # noqa: N818 - reads as what happened
    """``advance`` was refused: a quality gate of the current stage fails (``failures`` says which)."""

    def __init__(self, stage: str, failures: Sequence[str]) -> None:
        self.stage, self.failures = stage, tuple(failures)
        super().__init__(f"cannot advance from stage {stage!r}: " + "; ".join(self.failures))


class Store(abc.ABC):
    """The rollout's state: stage, internal allowlist, session assignments, quality records."""

    _id_column: str

    def __init__(self) -> None:
        self._local = threading.local()
        with self._transaction() as tx:
            self._lock_schema(tx)
            for statement in _SCHEMA:
                tx.execute(self._sql(statement.format(id_column=self._id_column)), *([(stages.STAGES[0], time.time())]
                           if "?" in statement else []))

    # --- the dialect --------------------------------------------------------------------------

    @abc.abstractmethod
    def _connect(self) -> Any: ...

    def _sql(self, statement: str) -> str:
        return statement

    def _lock_schema(self, tx: Any) -> None:
        """Serialise concurrent schema creation (CREATE IF NOT EXISTS races on PostgreSQL)."""
        return None

    def _connection(self) -> Any:
        """One connection per thread and process (a forked worker opens its own)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._local.conn = self._connect()
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._connection()
        try:
            cursor = conn.cursor()
            yield cursor
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def _one(self, statement: str, *params: Any) -> Any:
        with self._transaction() as tx:
            tx.execute(self._sql(statement), params)
            rows = tx.fetchall() if tx.description is not None else []  # drain: SQLite commits only a finished statement
            return rows[0] if rows else None

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    # --- stage --------------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        return str(self._one("SELECT stage FROM rollout_state WHERE id = 1")[0])

    def advance(self, gates: Gates | None = None) -> str:
        """Move to the next stage, if every gate of the current one passes; the new stage back.

        :raises GateFailed: a gate fails (nothing changes).
        :raises RolloutError: at the last stage, or another worker advanced meanwhile."""
        current = self.stage
        following = stages.next_stage(current)
        if following is None:
            raise RolloutError(f"stage {current!r} is the last one")
        judged = self.verdict(current, gates or Gates())
        if not judged.passed:
            raise GateFailed(current, judged.failures)
        row = self._one("UPDATE rollout_state SET stage = ?, changed_at = ? WHERE id = 1 AND stage = ? RETURNING stage",
                        following, time.time(), current)
        if row is None:
            raise RolloutError(f"the stage changed while advancing from {current!r}: check it and try again")
        return following

    def rollback(self, to: str | None = None) -> str:
        """Go back to ``to`` (an earlier stage; default the previous one), with no gate: a bad
        stage must be undone at once. New sessions follow the earlier stage's cohort rules; a
        session in progress stays on its platform until it ends (sessions drain, as on advance).

        :raises RolloutError: at the first stage, ``to`` not earlier than the current stage, or
            another worker changed the stage meanwhile.
        :raises ValueError: ``to`` is not a stage."""
        current = self.stage
        target = stages.previous_stage(current) if to is None else stages.check_stage(to)
        if target is None:
            raise RolloutError(f"stage {current!r} is the first one")
        if stages.STAGES.index(target) >= stages.STAGES.index(current):
            raise RolloutError(f"stage {target!r} is not before the current stage {current!r}")
        row = self._one("UPDATE rollout_state SET stage = ?, changed_at = ? WHERE id = 1 AND stage = ? RETURNING stage",
                        target, time.time(), current)
        if row is None:
            raise RolloutError(f"the stage changed while rolling back from {current!r}: check it and try again")
        return target

    def add_internal(self, *users: str) -> None:
        """Put users on the internal allowlist (LiveKit from the first stage on)."""
        with self._transaction() as tx:
            for user in users:
                tx.execute(self._sql("INSERT INTO rollout_internal (user_id) VALUES (?) ON CONFLICT (user_id) DO NOTHING"), (user,))

    # --- assignments --------------------------------------------------------------------------

    def assign(self, session_key: str, *, user: str | None = None, is_new_user: bool = False, internal: bool = False) -> stages.Platform:
        """The platform of ``session_key``: the one it is on while it lasts, else the stage's cohort rule."""
        _check_key(session_key)
        with self._transaction() as tx:
            tx.execute(self._sql("SELECT platform FROM rollout_sessions WHERE session_key = ? AND ended_at IS NULL"), (session_key,))
            row = tx.fetchone()
        if row is not None:
            return _platform(row[0])
        stage = self.stage
        on_list = user is not None and self._one("SELECT 1 FROM rollout_internal WHERE user_id = ?", user) is not None
        chosen = stages.cohort_platform(stage, session_key, user=user, is_new_user=is_new_user, internal=internal or on_list)
        with self._transaction() as tx:
            tx.execute(self._sql(_ASSIGN), (session_key, chosen, stage, time.time()))
            tx.execute(self._sql("SELECT platform FROM rollout_sessions WHERE session_key = ?"), (session_key,))
            return _platform(tx.fetchone()[0])

    def platform_of(self, session_key: str) -> stages.Platform | None:
        """The platform a live session is on (None: not assigned, or ended)."""
        row = self._one("SELECT platform FROM rollout_sessions WHERE session_key = ? AND ended_at IS NULL", session_key)
        return None if row is None else _platform(row[0])

    def end(self, session_key: str) -> None:
        """The session is over: its next ``assign`` follows the stage again."""
        self._one("UPDATE rollout_sessions SET ended_at = ? WHERE session_key = ? AND ended_at IS NULL RETURNING 1",
                  time.time(), session_key)

    # --- quality records ----------------------------------------------------------------------

    def begin_setup(self, session_key: str, vendor: str, platform: str | None = None) -> int:
        """A client starts joining ``session_key``: a new record (its id back). The platform and
        stage are the session's assignment (unassigned: LiveKit at the current stage)."""
        _check_key(session_key)
        row = self._one("SELECT platform, stage FROM rollout_sessions WHERE session_key = ? AND ended_at IS NULL", session_key)
        chosen = platform or (row[0] if row is not None else "livekit")
        stage = row[1] if row is not None else self.stage
        found = self._one("INSERT INTO rollout_records (session_key, platform, stage, vendor, started_at) VALUES (?, ?, ?, ?, ?)"
                          " RETURNING id", session_key, _platform(chosen), stage, vendor, time.time())
        return int(found[0])

    def setup_done(self, record_id: int, *, setup_s: float | None = None, failure_code: int | None = None) -> None:
        """The setup connected after ``setup_s`` seconds, or failed with the vendor's ``failure_code``."""
        if (setup_s is None) == (failure_code is None):
            raise ValueError("give exactly one of setup_s (connected) and failure_code (failed)")
        self._update(record_id, "setup_s = ?, failure_code = ?", setup_s, failure_code)

    def add_reconnect(self, record_id: int) -> None:
        """One reconnect episode began."""
        self._update(record_id, "reconnects = reconnects + 1")

    def finish(self, record_id: int, *, turn_relay: bool | None = None, mos: float | None = None) -> None:
        """The session ended: whether media went through TURN, and the received audio's MOS."""
        self._update(record_id, "turn_relay = ?, mos = ?, ended_at = ?", None if turn_relay is None else int(turn_relay), mos, time.time())

    def _update(self, record_id: int, assignments: str, *values: Any) -> None:
        if self._one(f"UPDATE rollout_records SET {assignments} WHERE id = ? RETURNING id", *values, record_id) is None:
            raise RolloutError(f"no quality record {record_id}")

    def record(self, session_key: str, *, vendor: str, platform: str = "legacy", setup_s: float | None = None,
               failure_code: int | None = None, turn_relay: bool | None = None, reconnects: int = 0,
               mos: float | None = None) -> int:
        """A whole session's record at once: how a back end records its legacy sessions."""
        record_id = self.begin_setup(session_key, vendor, platform)
        self.setup_done(record_id, setup_s=setup_s, failure_code=failure_code)
        for _ in range(reconnects):
            self.add_reconnect(record_id)
        self.finish(record_id, turn_relay=turn_relay, mos=mos)
        return record_id

    # --- status -------------------------------------------------------------------------------

    def summaries(self) -> list[Summary]:
        """Per platform and stage (in stage order), the numbers of every record."""
        with self._transaction() as tx:
            tx.execute("SELECT platform, stage, setup_s, failure_code, turn_relay, mos FROM rollout_records")
            rows = tx.fetchall()
        grouped: dict[tuple[str, str], list[_Numbers]] = {}
        for platform, stage, *numbers in rows:
            grouped.setdefault((platform, stage), []).append(_numbers(numbers))
        order = sorted(grouped, key=lambda k: (k[0], stages.STAGES.index(k[1]) if k[1] in stages.STAGES else len(stages.STAGES)))
        return [summarize(platform, stage, grouped[(platform, stage)]) for platform, stage in order]

    def legacy_baseline(self) -> Summary:
        """Legacy over every stage: the MOS LiveKit is compared with."""
        with self._transaction() as tx:
            tx.execute(self._sql("SELECT setup_s, failure_code, turn_relay, mos FROM rollout_records WHERE platform = ?"), ("legacy",))
            rows = tx.fetchall()
        return summarize("legacy", "all", [_numbers(r) for r in rows])

    def verdict(self, stage: str, gates: Gates) -> Verdict:
        """LiveKit's gate verdict at ``stage``."""
        livekit = next((s for s in self.summaries() if s.platform == "livekit" and s.stage == stage), None)
        return verdict(livekit or summarize("livekit", stage, []), self.legacy_baseline(), gates)


class SQLiteStore(Store):
    """A SQLite file in WAL mode (readers never block the writer; workers on one host share it)."""

    _id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        super().__init__()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level="IMMEDIATE")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


class PostgresStore(Store):
    """PostgreSQL by URL (``postgresql://…``), for back ends on several hosts; needs psycopg 3
    (``pip install 'livekit-compat[postgres]'``)."""

    _id_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__()

    def _connect(self) -> Any:
        try:
            import psycopg
        except ModuleNotFoundError:
            raise RolloutError("a PostgreSQL rollout store needs psycopg 3: pip install 'livekit-compat[postgres]'") from None
        timeout_ms = int(BUSY_TIMEOUT_S * 1000)
        return psycopg.connect(self.url, connect_timeout=int(BUSY_TIMEOUT_S),
                               options=f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}")

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _lock_schema(self, tx: Any) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(7201512)")  # any fixed number: this schema's lock

    def __repr__(self) -> str:
        return "PostgresStore(<url>)"  # the URL may carry a password


def open_store(location: str | os.PathLike[str]) -> Store:
    """``postgresql://…`` / ``postgres://…``: PostgreSQL; anything else: a SQLite file path."""
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresStore(text)
    if "://" in text:
        raise RolloutError(f"unsupported rollout store {text.split('://')[0]!r}: a SQLite path or a postgresql:// URL")
    return SQLiteStore(text)


_Numbers = tuple[float | None, int | None, bool | None, float | None]


def _numbers(row: Sequence[Any]) -> _Numbers:
    """(setup s, failure code, TURN relay, MOS) of a record row (the relay is stored as 0/1)."""
    return (row[0], row[1], None if row[2] is None else bool(row[2]), row[3])


def _check_key(session_key: object) -> None:
    if not isinstance(session_key, str) or not session_key:
        raise ValueError(f"session_key must be a non-empty string, got {session_key!r}")


def _platform(value: object) -> stages.Platform:
    if value == "legacy":
        return "legacy"
    if value == "livekit":
        return "livekit"
    raise RolloutError(f"unknown platform {value!r} in the rollout store")

__all__ = ["GateFailed", "PostgresStore", "RolloutError", "SQLiteStore", "Store", "open_store"]
