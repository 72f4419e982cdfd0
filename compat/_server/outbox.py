"""The persisted outbox: an embedded SQLite file (WAL) holding every translated callback until it
is delivered or given up (then moved to ``dead``, with a WARNING).

``commit`` is one transaction: the LiveKit event id (so a re-sent webhook adds nothing), the
callbacks with their per-room number (assigned here, so a callback keeps its number across
restarts; a vendor that numbers its callbacks, as Twilio's ``SequenceNumber``, names the field in
:attr:`Callback.numbered`), and the room/track caches. Each callback keeps its vendor (whose hooks sign
it) and body format (``form`` or ``json``). A process killed after ``commit`` loses nothing; one
killed before it never acknowledged the webhook, and LiveKit sends it again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .model import Callback, RoomInfo, TrackInfo

__all__ = ["Outbox", "Row"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seq (room TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (name TEXT PRIMARY KEY, sid TEXT NOT NULL, metadata TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tracks (sid TEXT PRIMARY KEY, participant_sid TEXT, identity TEXT, kind TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, room TEXT NOT NULL, url TEXT NOT NULL, method TEXT NOT NULL,
    params TEXT NOT NULL, created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0, last_error TEXT, vendor TEXT NOT NULL DEFAULT 'twilio',
    format TEXT NOT NULL DEFAULT 'form');
CREATE INDEX IF NOT EXISTS outbox_room ON outbox (room, id);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY, room TEXT NOT NULL, url TEXT NOT NULL, method TEXT NOT NULL,
    params TEXT NOT NULL, created REAL NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL,
    vendor TEXT NOT NULL DEFAULT 'twilio', format TEXT NOT NULL DEFAULT 'form');
"""
SEEN_KEEP_S = 7 * 86400  # far beyond any LiveKit webhook retry horizon


@dataclass(frozen=True)
class Row:
    id: int
    room: str
    url: str
    method: str
    params: dict[str, Any]
    created: float
    attempts: int
    vendor: str = "twilio"
    format: str = "form"


class Outbox:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
        self.db.executescript(SCHEMA)
        self._migrate()
        self.db.execute("DELETE FROM seen WHERE at < ?", (time.time() - SEEN_KEEP_S,))

    def _migrate(self) -> None:
        """Outboxes written before the vendor/format columns: their rows are Twilio form posts."""
        for table in ("outbox", "dead"):
            columns = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for column, default in (("vendor", "twilio"), ("format", "form")):
                if column not in columns:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT '{default}'")

    def close(self) -> None:
        self.db.close()

    # ---- caches --------------------------------------------------------------------------------

    def room(self, name: str) -> RoomInfo | None:
        row = self.db.execute("SELECT name, sid, metadata, created FROM rooms WHERE name = ?", (name,)).fetchone()
        return RoomInfo(*row) if row else None

    def tracks(self, sids: Iterable[str]) -> dict[str, TrackInfo]:
        found: dict[str, TrackInfo] = {}
        for sid in sids:
            row = self.db.execute("SELECT sid, participant_sid, identity, kind, name FROM tracks WHERE sid = ?", (sid,)).fetchone()
            if row:
                found[sid] = TrackInfo(*row)
        return found

    # ---- commit --------------------------------------------------------------------------------

    def commit(self, event_id: str, callbacks: list[Callback], room: RoomInfo | None, track: TrackInfo | None) -> bool:
        """Store one event's callbacks atomically; False (and nothing stored) if it was seen before."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if event_id and db.execute("SELECT 1 FROM seen WHERE event_id = ?", (event_id,)).fetchone():
                db.execute("ROLLBACK")
                return False
            now = time.time()
            if event_id:
                db.execute("INSERT INTO seen (event_id, at) VALUES (?, ?)", (event_id, now))
            if room is not None:
                db.execute("INSERT OR REPLACE INTO rooms VALUES (?, ?, ?, ?)", (room.name, room.sid, room.metadata, room.created))
            if track is not None:
                db.execute("INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?, ?)",
                           (track.sid, track.participant_sid, track.identity, track.kind, track.name))
            for cb in callbacks:
                self._append(cb, now)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return True

    def _append(self, cb: Callback, now: float) -> None:
        params: dict[str, Any] = dict(cb.params)
        if cb.numbered:
            row = self.db.execute("SELECT next FROM seq WHERE room = ?", (cb.room_key,)).fetchone()
            number = row[0] if row else 0
            self.db.execute("INSERT OR REPLACE INTO seq (room, next) VALUES (?, ?)", (cb.room_key, number + 1))
            params[cb.numbered] = str(number)
        self.db.execute("INSERT INTO outbox (room, url, method, params, created, vendor, format) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (cb.room_key, cb.url, cb.method, json.dumps(params), now, cb.vendor, cb.format))

    # ---- delivery ------------------------------------------------------------------------------

    def heads(self, now: float, busy: set[str], limit: int) -> list[Row]:
        """The oldest callback of each room that is due and not being sent (per-room order)."""
        rows = self.db.execute(
            "SELECT o.id, o.room, o.url, o.method, o.params, o.created, o.attempts, o.vendor, o.format FROM outbox o "
            "JOIN (SELECT MIN(id) AS id FROM outbox GROUP BY room) h ON o.id = h.id "
            "WHERE o.next_at <= ? ORDER BY o.id", (now,)).fetchall()
        heads = [Row(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8]) for r in rows if r[1] not in busy]
        return heads[:limit]

    def next_due(self) -> float | None:
        row = self.db.execute(
            "SELECT MIN(o.next_at) FROM outbox o JOIN (SELECT MIN(id) AS id FROM outbox GROUP BY room) h ON o.id = h.id"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def delivered(self, row: Row) -> None:
        self.db.execute("DELETE FROM outbox WHERE id = ?", (row.id,))

    def retry(self, row: Row, at: float, error: str) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?", (at, error, row.id))

    def give_up(self, row: Row, reason: str) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO dead (id, room, url, method, params, created, attempts, reason, vendor, format) "
                        "SELECT id, room, url, method, params, created, attempts + 1, ?, vendor, format FROM outbox WHERE id = ?",
                        (reason, row.id))
        self.db.execute("DELETE FROM outbox WHERE id = ?", (row.id,))
        self.db.execute("COMMIT")

    def pending(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def dead(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM dead").fetchone()[0])
