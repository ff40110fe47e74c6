"""Store writes per 1,000 read-only requests, counted by the stores themselves.

- SQLite (SessionKeeper's store, the KV service's store, Flask-Session's
  SQLAlchemy table): temporary ``AFTER INSERT/UPDATE/DELETE`` triggers on the
  session table count every row written, by any process, then are dropped.
- Redis: the server's own modification counter (``rdb_changes_since_last_save``
  in ``INFO persistence``, which counts every key change, inside scripts too;
  the server runs with ``--save ''``, so nothing resets it).
- PostgreSQL: a row trigger on the session table, as on SQLite.
- memcached: the server's own command counters (``stats``: sets, including
  ``add`` and ``cas``, touches and deletes).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol

import redis
import sqlalchemy
from client import Client
from pymemcache.client.base import Client as MemcacheClient

#: The session tables: SessionKeeper's SQLite and SQL stores, Flask-Session's SQLAlchemy model.
TABLES = frozenset({"records", "sessions", "sessionkeeper_records"})


class Counter(Protocol):
    """Reads a store's write counter."""

    def count(self) -> int: ...

    def close(self) -> None: ...


class SqliteWrites:
    """Count row writes on ``table`` of a SQLite file with temporary triggers."""

    def __init__(self, path: Path, table: str) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown session table {table!r}")
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.table = table
        statements = ["CREATE TABLE IF NOT EXISTS bench_writes (n INTEGER NOT NULL)"]
        statements.append("DELETE FROM bench_writes")
        statements.append("INSERT INTO bench_writes VALUES (0)")
        for event in ("INSERT", "UPDATE", "DELETE"):
            statements.append(  # the table name is one of TABLES, never input
                f"CREATE TRIGGER IF NOT EXISTS bench_{event.lower()} AFTER {event} ON {table}"  # noqa: S608
                " BEGIN UPDATE bench_writes SET n = n + 1; END"
            )
        for sql in statements:
            self.conn.execute(sql)

    def count(self) -> int:
        """Row writes since the triggers were installed."""
        row = self.conn.execute("SELECT n FROM bench_writes").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Drop the triggers and the counter."""
        for event in ("insert", "update", "delete"):
            self.conn.execute(f"DROP TRIGGER IF EXISTS bench_{event}")
        self.conn.execute("DROP TABLE IF EXISTS bench_writes")
        self.conn.close()


class RedisWrites:
    """Count key modifications with Redis's own counter."""

    def __init__(self, port: int) -> None:
        self.client = redis.Redis(port=port)
        self.start = self._dirty()

    def _dirty(self) -> int:
        return int(self.client.info("persistence")["rdb_changes_since_last_save"])

    def count(self) -> int:
        """Key modifications since this counter was made."""
        return self._dirty() - self.start

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


class PostgresWrites:
    """Count row writes on ``table`` of a PostgreSQL database with a row trigger."""

    def __init__(self, url: str, table: str) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown session table {table!r}")
        self.engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
        self.table = table
        statements = [
            "CREATE TABLE IF NOT EXISTS bench_writes (n BIGINT NOT NULL)",
            "DELETE FROM bench_writes",
            "INSERT INTO bench_writes VALUES (0)",
            "CREATE OR REPLACE FUNCTION bench_count() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN UPDATE bench_writes SET n = n + 1; RETURN NULL; END $$",
            f"CREATE OR REPLACE TRIGGER bench_writes AFTER INSERT OR UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION bench_count()",
        ]
        with self.engine.connect() as conn:
            for sql in statements:
                conn.execute(sqlalchemy.text(sql))

    def count(self) -> int:
        """Row writes since the trigger was installed."""
        with self.engine.connect() as conn:
            return int(conn.execute(sqlalchemy.text("SELECT n FROM bench_writes")).scalar_one())

    def close(self) -> None:
        """Drop the trigger and the counter."""
        with self.engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"DROP TRIGGER IF EXISTS bench_writes ON {self.table}"))
            conn.execute(sqlalchemy.text("DROP TABLE IF EXISTS bench_writes"))
        self.engine.dispose()


class MemcachedWrites:
    """Count writes with memcached's own command counters."""

    COUNTERS = (b"cmd_set", b"cmd_touch", b"delete_hits", b"delete_misses")

    def __init__(self, port: int) -> None:
        self.client = MemcacheClient(("127.0.0.1", port))
        self.start = self._total()

    def _total(self) -> int:
        stats = self.client.stats()
        return sum(int(stats[name]) for name in self.COUNTERS)

    def count(self) -> int:
        """Writes since this counter was made (every client's)."""
        return self._total() - self.start

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


def read_only_writes(port: int, cookies: list[str], counter: Counter, reads: int = 1000) -> int:
    """Send ``reads`` ``/read`` requests over ``cookies`` from 4 threads; return store writes."""
    before = counter.count()
    threads = 4
    errors: list[int] = []

    def worker(offset: int) -> None:
        client = Client(port)
        try:
            for i in range(offset, reads, threads):
                answer = client.get("/read", cookies[i % len(cookies)])
                if answer.status != 200:
                    errors.append(answer.status)
        finally:
            client.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if errors:
        raise RuntimeError(f"/read failed on port {port}: {errors[:5]}")
    return counter.count() - before
