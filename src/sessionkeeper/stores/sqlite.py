"""A SQLite store: one file, shared safely by the threads and processes of one app server.

Every operation is one SQL statement in autocommit mode, so compare-and-set is
atomic across processes with no read-then-write transaction. Versions are random
63-bit integers: a key deleted and created again never repeats one (no ABA).
Needs SQLite 3.35 or later (upsert and ``RETURNING``).
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any, cast

from ..errors import ConfigError, Conflict, StoreError, StoreUnavailable
from . import ABSENT, Absent, Record, Store, Version
from .base import DEFAULT_SCAN_LIMIT, Clock, check_ttl, default_clock, prefix_end
from .urls import redact

__all__ = ["SqliteStore"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value BLOB NOT NULL,
    version INTEGER NOT NULL, expires REAL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expires ON records (expires);"""
# A record is live while ifnull(expires > :now, 1): it has no expiry, or one still ahead.
_GET = "SELECT value, version, expires FROM records WHERE key = :key AND ifnull(expires > :now, 1)"
_UPSERT = (
    "INSERT INTO records VALUES (:key, :value, :version, :expires) ON CONFLICT (key) DO UPDATE"
    " SET value = excluded.value, version = excluded.version, expires = excluded.expires"
)
_CREATE = _UPSERT + " WHERE records.expires <= :now"  # only over an expired record
_REPLACE = (
    "UPDATE records SET value = :value, version = :version, expires = :expires"
    " WHERE key = :key AND version = :expected AND ifnull(expires > :now, 1)"
)
_DELETE = "DELETE FROM records WHERE key = :key RETURNING ifnull(expires > :now, 1)"
_DELETE_IF = (
    "DELETE FROM records WHERE key = :key AND version = :expected AND ifnull(expires > :now, 1)"
)
_TOUCH = "UPDATE records SET expires = :expires WHERE key = :key AND ifnull(expires > :now, 1)"
_CLEAR = "DELETE FROM records WHERE expires <= :now"
_SWEEP = "DELETE FROM records WHERE key IN (SELECT key FROM records WHERE expires <= :now LIMIT :n)"
_SCAN_TO = (
    "SELECT key FROM records WHERE key >= :low AND key < :end AND ifnull(expires > :now, 1)"
    " ORDER BY key LIMIT :n"
)
_SCAN = _SCAN_TO.replace(" AND key < :end", "")
_VERSION = re.compile("[0-7][0-9a-f]{15}")  # 63 bits as written by f"{n:016x}"
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_UNAVAILABLE = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN)


def _parse_version(version: str) -> int | None:
    return int(version, 16) if _VERSION.fullmatch(version) else None


class SqliteStore(Store):
    """Keep records in one SQLite file in WAL mode, one connection per thread and process.

    ``synchronous="NORMAL"`` keeps what was acknowledged through a crash of the
    process; ``"FULL"`` also through power loss, at about a fifth of the write
    rate. Writes delete expired rows in bounded batches at most every
    ``sweep_interval`` seconds, so dead sessions never pile up.
    """

    #: Most expired rows one write deletes; a full batch lets the next write sweep again.
    sweep_batch: int = 1000

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = default_clock,
        busy_timeout: float = 5.0,
        synchronous: str = "NORMAL",
        sweep_interval: float = 300.0,
    ) -> None:
        self._path = os.fspath(path)
        if self._path in ("", ":memory:"):
            raise ConfigError("a SQLite store needs a file; use memory:// for an in-process store")
        self._synchronous = synchronous.upper()
        if self._synchronous not in _SYNCHRONOUS:
            raise ConfigError(f"SQLite synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._sweep_interval = sweep_interval
        self._next_sweep = float("-inf")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._ready = self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock = default_clock,
        instance_path: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        **_: object,
    ) -> SqliteStore:
        """Build from ``sqlite:///relative.db`` (under ``instance_path``) or ``sqlite:////abs.db``.

        Create the file's directory. ``timeout`` bounds the wait for another
        writer's lock (SQLite's busy timeout), in seconds.
        """
        rest = url.partition("://")[2]
        if rest == "/:memory:":
            raise ConfigError("sqlite:///:memory: is empty in every thread; use memory:// instead")
        if not rest.startswith("/") or rest == "/" or "?" in rest:
            raise ConfigError(
                f"bad SQLite URL {redact(url)!r}: use sqlite:///rel.db or sqlite:////abs.db"
            )
        path = Path(os.path.abspath(Path(instance_path or ".", rest[1:])))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the directory of {path}: {exc}") from exc
        return cls(path, clock=clock, busy_timeout=5.0 if timeout is None else timeout)

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) == os.getpid():
            return cast(sqlite3.Connection, local.conn)
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("the store is closed")
            if self._pid != os.getpid():
                # Connections inherited through fork belong to the parent: forget, never use them.
                self._pid, self._connections = os.getpid(), []
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                if not self._ready:
                    conn.execute("PRAGMA journal_mode = WAL").fetchall()
                    conn.executescript(_SCHEMA)
                    self._ready = True
            except sqlite3.Error:
                conn.close()
                raise
            self._connections.append(conn)
            local.conn, local.pid = conn, self._pid
            return conn

    def _run(self, sql: str, params: dict[str, Any]) -> tuple[list[Any], int]:
        try:
            cursor = self._connection().execute(sql, params)
            return cursor.fetchall(), cursor.rowcount
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
            error = StoreUnavailable if code in _UNAVAILABLE else StoreError
            raise error(f"SQLite store {self._path}: {exc}") from exc

    def get(self, key: str) -> Record | None:
        rows, _ = self._run(_GET, {"key": key, "now": self._clock()})
        return Record(rows[0][0], f"{rows[0][1]:016x}", rows[0][2]) if rows else None

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        check_ttl(ttl)
        now = self._clock()
        if now >= self._next_sweep:
            swept = self._run(_SWEEP, {"now": now, "n": self.sweep_batch})[1]
            if swept < self.sweep_batch:
                self._next_sweep = now + self._sweep_interval
        version = secrets.randbits(63)
        expires = None if ttl is None else now + ttl
        params = {"key": key, "value": value, "version": version, "expires": expires, "now": now}
        if if_version is None:
            self._run(_UPSERT, params)
        elif if_version is ABSENT:
            if not self._run(_CREATE, params)[1]:
                raise Conflict(key, "key exists")
        else:
            params["expected"] = _parse_version(if_version)
            if params["expected"] is None or not self._run(_REPLACE, params)[1]:
                raise Conflict(key)
        return f"{version:016x}"

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        params = {"key": key, "now": self._clock()}
        if if_version is None:
            rows, _ = self._run(_DELETE, params)  # an expired record goes too, but was not there
            return bool(rows and rows[0][0])
        params["expected"] = _parse_version(if_version)
        if params["expected"] is None or not self._run(_DELETE_IF, params)[1]:
            raise Conflict(key)
        return True

    def touch(self, key: str, ttl: float | None) -> bool:
        check_ttl(ttl)
        now = self._clock()
        params = {"key": key, "now": now, "expires": None if ttl is None else now + ttl}
        return self._run(_TOUCH, params)[1] > 0

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        end = prefix_end(prefix)
        # The keys after ``after`` are exactly those from ``after + "\\0"`` on.
        lower = prefix if after is None else max(prefix, after + "\0")
        params = {"low": lower, "end": end, "n": limit + 1, "now": self._clock()}
        rows, _ = self._run(_SCAN if end is None else _SCAN_TO, params)
        keys = [row[0] for row in rows]
        if len(keys) > limit:
            return keys[:limit], keys[limit - 1]
        return keys, None

    def clear_expired(self) -> int:
        return self._run(_CLEAR, {"now": self._clock()})[1]

    def close(self) -> None:
        """Close every connection this process opened; later calls raise StoreError."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
