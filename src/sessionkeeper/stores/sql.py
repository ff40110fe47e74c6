"""A SQL store on SQLAlchemy Core: PostgreSQL, MySQL/MariaDB, SQLite, or the app's own engine.

Every operation is one statement in autocommit mode, so compare-and-set is atomic
without a read-then-write transaction. Versions are random 63-bit integers: a key
deleted and created again never repeats one. The table (:data:`records` on
:data:`metadata`, for Alembic) is created on first use when missing, or ahead of
time by ``flask sessions init-db``.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, exc, select, update

from ..errors import Conflict, StoreError
from . import ABSENT, Absent, Record, Store, Version
from .base import DEFAULT_SCAN_LIMIT, Clock, check_ttl, default_clock, prefix_end
from .sql_dialects import (
    LIVE,
    create,
    create_schema,
    created,
    metadata,
    parse_version,
    records,
    sweep,
    upsert,
)
from .sql_engines import app_engine, engine_from_url, translated
from .urls import redact

__all__ = ["SqlStore", "metadata", "records"]

_c = records.c

# The statements of the hot operations, built once: SQLAlchemy then compiles each once per
# dialect and finds it in its cache, instead of building and keying a new one per call.
_KEYED = (_c.key == bindparam("the_key"), LIVE)
_AT_VERSION = (*_KEYED, _c.version == bindparam("expected"))
_GET = select(_c.value, _c.version, _c.expires).where(*_KEYED)
_REPLACE = (
    update(records)
    .where(*_AT_VERSION)
    .values(
        value=bindparam("new_value"),
        version=bindparam("new_version"),
        expires=bindparam("new_expires"),
    )
)
_DELETE = delete(records).where(*_KEYED)
_DELETE_AT = delete(records).where(*_AT_VERSION)
_TOUCH = update(records).where(*_KEYED).values(expires=bindparam("new_expires"))


class SqlStore(Store):
    """Keep records in one table of a SQL database reached through a SQLAlchemy ``Engine``.

    A store built by :meth:`from_url` owns its engine (and pool) and disposes of it in
    :meth:`close`; an engine handed in, the app's Flask-SQLAlchemy one included, stays
    its owner's. ``clock`` gives the time expiries are compared with. Writes delete
    expired rows in bounded batches at most every ``sweep_interval`` seconds.
    """

    #: Most expired rows one statement deletes.
    sweep_batch: int = 1000

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = default_clock,
        owns_engine: bool = False,
        sweep_interval: float = 300.0,
        autocommits: bool = False,
    ) -> None:
        """``autocommits``: the engine's connections are in autocommit mode already
        (``create_engine(..., isolation_level="AUTOCOMMIT")``, as :meth:`from_url` makes
        them); otherwise each checkout switches its connection to it and back."""
        self._engine = (
            engine if autocommits else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._owned = engine if owns_engine else None
        self._dialect = engine.dialect
        self._name = redact(engine.url.render_as_string(hide_password=True))
        self._clock, self._sweep_interval = clock, sweep_interval
        self._next_sweep, self._lock = float("-inf"), threading.Lock()
        self._ready = self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock = default_clock,
        instance_path: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        app: Any = None,
        **_: object,
    ) -> SqlStore:
        """Build from a SQLAlchemy URL, or ``sqlalchemy://[bind]`` for the app's engine.

        ``postgresql://`` means ``postgresql+psycopg://``. A relative SQLite path is
        under ``instance_path``, as Flask-SQLAlchemy has it. ``timeout`` bounds
        connecting to a server and waiting for one of the pool's connections, in seconds.
        """
        if url.startswith("sqlalchemy://"):
            return cls(app_engine(app, url.partition("://")[2] or None), clock=clock)
        engine = engine_from_url(url, instance_path=instance_path, timeout=timeout)
        return cls(engine, clock=clock, owns_engine=True, autocommits=True)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        if self._closed:
            raise StoreError(f"SQL store {self._name} is closed")
        try:
            if not self._ready:
                with self._lock:
                    self._ready = self._ready or create_schema(self._engine)
            with self._engine.connect() as conn:
                yield conn
        except exc.SQLAlchemyError as error:
            raise translated(error, self._name) from error

    def create_table(self) -> None:
        """Create the records table and its index when missing (``flask sessions init-db``)."""
        with self._connect():
            pass

    def _run(self, statement: Any, params: dict[str, Any] | None = None) -> int:
        """Execute ``statement``; return the rows it touched (read before the pool gets it)."""
        with self._connect() as conn:
            return int(conn.execute(statement, params).rowcount)

    def _rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        with self._connect() as conn:
            return list(conn.execute(statement, params))

    def get(self, key: str) -> Record | None:
        rows = self._rows(_GET, {"the_key": key, "now": self._clock()})
        return Record(bytes(rows[0][0]), f"{rows[0][1]:016x}", rows[0][2]) if rows else None

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
        due = now >= self._next_sweep  # a full batch leaves the next write due to sweep again
        if due and self._run(sweep(self._dialect, now, self.sweep_batch)) < self.sweep_batch:
            self._next_sweep = now + self._sweep_interval
        version = secrets.randbits(63)
        expires = None if ttl is None else now + ttl
        row = {"key": key, "value": value, "version": version, "expires": expires}
        if if_version is None:
            self._run(upsert(self._dialect, row))
        elif if_version is ABSENT:
            with self._connect() as conn:
                done = created(self._dialect, conn.execute(create(self._dialect, row, now)))
            if not done:
                raise Conflict(key, "key exists")
        else:
            expected = parse_version(if_version)
            params = {"the_key": key, "now": now, "expected": expected, "new_value": value}
            params.update(new_version=version, new_expires=expires)
            if expected is None or not self._run(_REPLACE, params):
                raise Conflict(key)
        return f"{version:016x}"

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        now = self._clock()
        if if_version is None:  # a live row only: an expired one waits for clear_expired
            return bool(self._run(_DELETE, {"the_key": key, "now": now}))
        expected = parse_version(if_version)
        if expected is None or not self._run(
            _DELETE_AT, {"the_key": key, "now": now, "expected": expected}
        ):
            raise Conflict(key)
        return True

    def touch(self, key: str, ttl: float | None) -> bool:
        check_ttl(ttl)
        now = self._clock()
        expires = None if ttl is None else now + ttl
        return bool(self._run(_TOUCH, {"the_key": key, "now": now, "new_expires": expires}))

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(_c.key).where(_c.key >= prefix, LIVE)
        end = prefix_end(prefix)
        if end is not None:
            query = query.where(_c.key < end)
        if after is not None:
            query = query.where(_c.key > after)
        page = query.order_by(_c.key).limit(limit + 1)
        keys = [row[0] for row in self._rows(page, {"now": self._clock()})]
        if len(keys) > limit:
            return keys[:limit], keys[limit - 1]
        return keys, None

    def clear_expired(self) -> int:
        total, now = 0, self._clock()
        while True:
            removed = self._run(sweep(self._dialect, now, self.sweep_batch))
            total += removed
            if removed < self.sweep_batch:
                return total

    def close(self) -> None:
        """Dispose of the engine's pool if this store built the engine; later calls fail."""
        self._closed = True
        if self._owned is not None:
            self._owned.dispose()  # safe twice
