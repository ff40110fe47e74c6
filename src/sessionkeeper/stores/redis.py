"""A store on Redis, Redis Cluster or a Sentinel-monitored Redis, through redis-py.

Each key is one HASH (field ``v`` the value, ``n`` the version) with Redis's own expiry
(millisecond precision). A read is two plain commands in one round trip (HMGET, PTTL);
every write is one Lua script, atomic on the server, in one round trip. Versions are
random 96-bit tokens, so a deleted and recreated key never repeats one. On one server the
commands go packed on connections used directly (:mod:`.redis_wire`); reads can be
served from memory (:mod:`.redis_cache`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

from redis.cluster import RedisCluster

from ..errors import ConfigError, Conflict, CorruptRecord, StoreError
from .base import ABSENT, DEFAULT_SCAN_LIMIT, Absent, Clock, Record, Store, Version
from .base import default_clock as _now
from .redis_cache import TrackingCache
from .redis_scan import KeyIndex, scan_keyspace
from .redis_scripts import SCRIPTS, ttl_ms
from .redis_urls import DEFAULT_CACHE_SIZE, Client, build_client, store_options, translated
from .redis_wait import DEFAULT_WAIT_TIMEOUT, wait_ms, written
from .redis_wire import Arg, ClientWire, ConnectionWire, Wire

__all__ = ["RedisStore"]


class RedisStore(Store):
    """Keep records in Redis; TTLs, compare-and-set and deletes run as server-side scripts.

    ``client`` is a :class:`redis.Redis` or :class:`redis.cluster.RedisCluster` that does
    not decode responses, or a zero-argument function building one on first use. A
    client handed in belongs to its owner, who closes it; :meth:`close` closes it only
    with ``owns_client=True``, as :meth:`from_url` sets. On one server the store keeps
    the connections it takes from the client's pool and gives them back in :meth:`close`.
    ``key_prefix`` goes before every key; ``clock`` turns remaining TTLs into expiries.

    On one server writes keep an index of the keys (:mod:`.redis_scan`), so a
    :meth:`scan` page costs O(log N + page); on a Cluster it walks every primary's keys.
    ``wait_replicas=N`` makes writes wait for N replicas (:mod:`.redis_wait`).
    ``cache=True`` keeps up to ``cache_size`` records in each process's memory, coherent
    through Redis's invalidations (:mod:`.redis_cache`) on one more connection, which the
    store owns and closes. It is off by default: the connection and the invalidations
    (one per write under ``key_prefix``, to every process) pay off only when processes
    read the same sessions again and again. Neither option works on a Cluster.
    """

    expires_by_itself = True

    def __init__(
        self,
        client: Client | Callable[[], Client],
        *,
        owns_client: bool = False,
        key_prefix: str = "",
        wait_replicas: int = 0,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        cache: bool = False,
        cache_size: int = DEFAULT_CACHE_SIZE,
        clock: Clock = _now,
    ) -> None:
        self._wait = (wait_replicas, wait_ms(wait_replicas, wait_timeout))
        for wanted, name in ((wait_replicas, "wait_replicas"), (cache, "cache")):
            if wanted and isinstance(client, RedisCluster):
                raise ConfigError(f"{name} is not supported on a Redis Cluster")
        if cache and not (isinstance(cache_size, int) and cache_size > 0):
            raise ConfigError(f"cache_size must be a number of records > 0, got {cache_size!r}")
        self._prefix, self._clock = key_prefix, clock
        self._cache_size = cache_size if cache else 0
        self._factory = client if callable(client) else None
        self._client: Client | None = None if callable(client) else client
        self._owns_client = owns_client
        self._extra_close: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._wire: Wire | None = None
        self._cache: TrackingCache | None = None
        self._index: KeyIndex | None = None  # on one server; a Cluster keeps none

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float | None = None,
        key_prefix: str = "",
        clock: Clock = _now,
        **_: object,
    ) -> RedisStore:
        """Build from a URL (:mod:`.redis_urls`), connect and read timeouts ``timeout``
        seconds (2); the store owns the client it builds and closes it."""
        timeout = 2.0 if timeout is None else timeout
        url, options = store_options(url, timeout)
        client, extra_close = build_client(url, timeout)
        store = cls(client, owns_client=True, key_prefix=key_prefix, clock=clock, **options)
        store._extra_close = extra_close
        return store

    def _connected(self) -> Wire:
        wire = self._wire
        if wire is not None:
            return wire
        with self._lock:
            if self._client is None and self._factory is not None:
                with translated():
                    self._client = self._factory()
            client = self._client
            if client is None:
                raise StoreError("the Redis store is closed")
            if self._wire is not None:
                return self._wire
            if client.get_encoder().decode_responses:
                raise ConfigError("hand RedisStore a client with decode_responses=False")
            if isinstance(client, RedisCluster):
                self._wire = ClientWire(client, SCRIPTS)
                return self._wire
            wire = ConnectionWire(client, SCRIPTS)
            self._index = KeyIndex(wire, self._prefix)
            if self._cache_size:
                prefix = self._prefix.encode()
                self._cache = TrackingCache(client, prefix, self._cache_size, self._clock)
            self._wire = wire
            return wire

    def _write(self, name: str, keys: list[Arg], *args: Arg, after: Sequence[bytes] = ()) -> Any:
        try:
            return written(self._connected(), name, keys, args, after, *self._wait)
        finally:
            if self._cache is not None:  # written or maybe written: this process forgets it
                self._cache.forget(keys[0])  # type: ignore[arg-type]

    def get(self, key: str) -> Record | None:
        name = (self._prefix + key).encode()
        wire, cache, stamp = self._connected(), self._cache, None
        if cache is not None:
            cached, stamp = cache.lookup(name)
            if cached is not None:
                return cached
        (value, version), pttl = wire.read(name)
        if value is None or pttl == -2:
            return None
        if not version:
            raise CorruptRecord(f"Redis key {key!r} holds a hash without a version")
        record = Record(value, version.decode(), None if pttl < 0 else self._clock() + pttl / 1000)
        if cache is not None and stamp is not None:
            cache.fill(name, record, stamp)
        return record

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        mode = "absent" if if_version is ABSENT else "" if if_version is None else "version"
        expected = if_version if isinstance(if_version, str) else ""
        version, ms = secrets.token_urlsafe(12), ttl_ms(ttl)
        name: Arg = (self._prefix + key).encode()
        self._connected()
        index, keys, sample, after = self._index, [name], list[bytes](), tuple[bytes, ...]()
        if index is not None:  # a versioned write never adds a member: no new sample
            sample, after = index.take_sample(), () if isinstance(if_version, str) else index.draw
            keys += [index.key, *sample]
        done, *drawn = self._write("set", keys, mode, expected, value, version, ms, after=after)
        if index is not None:
            index.settle(done, sample, drawn)
        if not done:
            raise Conflict(key, "key exists" if if_version is ABSENT else "version mismatch")
        return version

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        keys: list[Arg] = [(self._prefix + key).encode()]
        if self._connected() and self._index is not None:
            keys.append(self._index.key)
        compare = "" if if_version is None else "1"
        removed = self._write("delete", keys, compare, if_version or "")[0]
        if removed < 0:
            raise Conflict(key)
        return bool(removed)

    def touch(self, key: str, ttl: float | None) -> bool:
        return bool(self._write("touch", [(self._prefix + key).encode()], ttl_ms(ttl))[0])

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        wire = self._connected()
        if self._index is not None:
            keys = self._index.scan(prefix, after, limit + 1)
        else:
            keys = scan_keyspace(wire, self._prefix, prefix, after, limit + 1)
        return (keys[:limit], keys[limit - 1]) if len(keys) > limit else (keys, None)

    def clear_expired(self) -> int:
        """Drop the index members of records Redis expired (it removed those itself)."""
        self._connected()
        if self._index is not None:
            self._index.prune()
        return 0

    def close(self) -> None:
        with self._lock:
            client, self._client, self._factory = self._client, None, None
            extra_close, self._extra_close = self._extra_close, None
            wire, self._wire = self._wire, None
            cache, self._cache = self._cache, None
        for part in (cache, wire):
            if part is not None:
                part.close()
        if self._owns_client:
            with translated():
                if client is not None:
                    client.close()
                if extra_close is not None:
                    extra_close()
