"""Growth: session load and prefix-listing latency as the stores fill to 10^6 sessions.

Sessions are bulk-loaded straight into each store's own format (SQL inserts into
the SQLite file; batched Lua on Redis), then measured through the Store API in
this process: ``get`` of random stored sessions, and ``scan`` of a 100-key page
of the session prefix starting after a random stored key. The KV service serves
the same SQLite file, so its numbers add exactly the HTTP hop.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from sessionkeeper.stores import Store

PREFIX = "session:"
TTL = 3600.0
BATCH = 20_000
PAGE = 100

# ARGV: value, version, the store's key index ('' if it keeps none), then the keys.
_REDIS_LOAD = """
for i = 4, #ARGV do
  redis.call('HSET', ARGV[i], 'v', ARGV[1], 'n', ARGV[2])
  redis.call('PEXPIRE', ARGV[i], 3600000)
  if ARGV[3] ~= '' then redis.call('ZADD', ARGV[3], 0, ARGV[i]) end
end
return #ARGV - 3
"""


def session_key(i: int) -> str:
    """The store key of the ``i``-th bulk session: shaped as SessionKeeper's hashed ids."""
    return PREFIX + hashlib.sha256(f"bench-session-{i}".encode()).hexdigest()


def record(i: int, created: float) -> bytes:
    """A session record as SessionKeeper writes it (creation time, tagged data)."""
    data = f'{{"n":{i % 100},"user":"user-{i % 5000}","cart":[{i % 7},{i % 11}]}}'
    return f'{{"c":{created!r},"d":{data}}}'.encode()


def load_sqlite(path: Path, start: int, stop: int) -> None:
    """Insert sessions ``start..stop`` into a SessionKeeper SQLite file (schema must exist).

    One transaction in key order with a large page cache: each page is written once.
    """
    now = time.time()
    expires = now + TTL
    rows = sorted(
        (session_key(i), record(i, now), secrets.randbits(63), expires) for i in range(start, stop)
    )
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size = -1048576")  # KiB: up to 1 GiB, this connection only
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def redis_index(client: redis.Redis, store: Store) -> bytes:
    """Find the sorted set the Redis store keeps its keys in, by writing one record.

    The database must be empty; an empty answer means the store keeps no index.
    """
    store.set("bench:probe", b"{}", ttl=TTL)
    indexes = list(client.scan_iter(_type="zset"))
    store.delete("bench:probe")
    if len(indexes) > 1:
        raise RuntimeError(f"the growth database is not empty: {indexes}")
    return indexes[0] if indexes else b""


def load_redis(client: redis.Redis, index: bytes, start: int, stop: int) -> None:
    """Write sessions ``start..stop`` as the Redis store does (hash, expiry, key index)."""
    script = client.register_script(_REDIS_LOAD)
    value = record(0, time.time())
    for low in range(start, stop, BATCH):
        keys = [session_key(i) for i in range(low, min(stop, low + BATCH))]
        script(keys=[], args=[value, secrets.token_urlsafe(12), index, *keys])


@dataclass(frozen=True)
class Point:
    """Median latencies (ms) at one size."""

    size: int
    load_p50_ms: float
    scan_p50_ms: float
    loads: int
    scans: int


def ordered_keys(size: int) -> list[str]:
    """The keys of sessions ``0..size``, in key order."""
    return sorted(session_key(i) for i in range(size))


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def measure(store: Store, ordered: list[str], *, loads: int, scan_budget: float) -> Point:
    """p50 of ``loads`` random session loads, and of scans for up to ``scan_budget`` seconds.

    ``ordered`` is every stored session key, sorted; each scan starts after one that
    leaves a full page, and must return exactly that page.
    """
    size = len(ordered)
    rng = random.Random(size)
    load_times = []
    for _ in range(loads):
        key = session_key(rng.randrange(size))
        load_times.append(_timed(lambda key=key: _must_get(store, key)))
    scan_times: list[float] = []
    deadline = time.monotonic() + scan_budget
    while len(scan_times) < 3 or (time.monotonic() < deadline and len(scan_times) < 500):
        start = rng.randrange(size - PAGE)
        expected = ordered[start + 1 : start + 1 + PAGE]
        began = time.perf_counter()
        keys, _ = store.scan(PREFIX, after=ordered[start], limit=PAGE)
        scan_times.append((time.perf_counter() - began) * 1000)
        if keys != expected:
            raise RuntimeError(f"scan after {ordered[start]} listed {len(keys)} keys, not {PAGE}")
    return Point(
        size,
        statistics.median(load_times),
        statistics.median(scan_times),
        len(load_times),
        len(scan_times),
    )


def _must_get(store: Store, key: str) -> None:
    if store.get(key) is None:
        raise RuntimeError(f"bulk-loaded session {key} is missing")
