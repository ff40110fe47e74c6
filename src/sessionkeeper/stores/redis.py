"""A store on Redis, Redis Cluster or a Sentinel-monitored Redis, through redis-py.

Each key is one HASH (field ``v`` the value, ``n`` the version) and every operation is
one Lua script: atomic on the server, one round trip. Expiry is Redis's own (PEXPIRE,
millisecond precision). Versions are random 96-bit tokens, so a deleted and recreated
key never repeats one.

On one server (standalone, or the primary a Sentinel names) the writes also keep an
ordered index of the store's keys, a sorted set, in the same script, so a :meth:`scan`
page costs O(log N + page). A Cluster keeps no index, since one key holding every record
would pull every write into its slot; there a scan walks the whole keyspace with SCAN.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from redis.cluster import RedisCluster
from redis.commands.core import Script

from ..errors import ConfigError, Conflict, CorruptRecord, StoreError
from .base import ABSENT, DEFAULT_SCAN_LIMIT, Absent, Record, Store, Version, check_ttl
from .base import default_clock as _now
from .redis_scan import prune_index, scan_keyspace, walk_index
from .redis_scripts import SCRIPTS
from .redis_urls import Client, build_client, translated, wait_options
from .redis_wait import DEFAULT_WAIT_TIMEOUT, acknowledged, wait_ms

__all__ = ["RedisStore"]

# 0xFF never occurs in UTF-8, so no str key (under any key_prefix) can name the index.
_INDEX_SUFFIX: Final = b"\xffindex"
#: What the ``set`` script answers when the key is new to the index.
_NEW_MEMBER: Final = 2
#: How many index members each new one checks.
_SAMPLE: Final = 3


def _ms(ttl: float | None) -> str:
    check_ttl(ttl)
    return "" if ttl is None else str(max(1, math.ceil(ttl * 1000)))


class RedisStore(Store):
    """Keep records in Redis; TTLs, compare-and-set and deletes run as server-side scripts.

    ``client`` is a :class:`redis.Redis` or :class:`redis.cluster.RedisCluster` that does
    not decode responses, or a zero-argument function building one on first use. A
    client handed in belongs to its owner, who closes it; :meth:`close` closes it only
    with ``owns_client=True``, as :meth:`from_url` sets for the client it builds.
    ``key_prefix`` is put before every key, so several apps (or tests) can share a server.

    On one server (standalone or Sentinel) writes keep an index of the keys, the sorted
    set ``<key_prefix>\\xffindex`` (no str key can take that name), and :meth:`scan`
    pages through it in O(log N + page), listing keys written with the same
    ``key_prefix``. Members of records Redis expired are dropped by the scans that meet
    them, by each new key among 3 sampled members (so they stay near a third of the
    index) and by :meth:`clear_expired`. A Cluster keeps no index (its one slot would
    take every write): there :meth:`scan` walks the keyspace with SCAN on every primary,
    in steps that never block a server but at a cost proportional to the whole database.

    With ``wait_replicas=N`` (not on a Cluster) every write (``set``, ``delete``,
    ``touch``) returns once N replicas have it, so a failover that promotes one keeps it;
    a write not acknowledged within ``wait_timeout`` seconds raises
    :class:`StoreUnavailable` (the primary has it; a failover may lose it).
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
    ) -> None:
        self._wait_ms = wait_ms(wait_replicas, wait_timeout)
        self._wait_replicas = wait_replicas
        if wait_replicas and isinstance(client, RedisCluster):
            raise ConfigError("wait_replicas is not supported on a Redis Cluster")
        self._prefix = key_prefix
        self._factory = client if callable(client) else None
        self._client: Client | None = None if callable(client) else client
        self._owns_client = owns_client
        self._extra_close: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._scripts: dict[str, Script] = {}
        self._index: list[str | bytes] = []  # [the index key] on one server, [] on a Cluster

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float | None = None, key_prefix: str = "", **_: object
    ) -> RedisStore:
        """Build from a ``redis://``, ``rediss://``, ``unix://``, ``redis+cluster://`` or
        ``redis+sentinel://`` URL; connect and read timeouts are ``timeout`` seconds (2).
        ``?wait=N&wait_timeout=SECONDS`` in the URL set ``wait_replicas`` and ``wait_timeout``.

        The store owns the client it builds and closes it in :meth:`close`.
        """
        timeout = 2.0 if timeout is None else timeout
        url, replicas, seconds = wait_options(url, timeout)
        client, extra_close = build_client(url, timeout)
        store = cls(
            client,
            owns_client=True,
            key_prefix=key_prefix,
            wait_replicas=replicas,
            wait_timeout=seconds,
        )
        store._extra_close = extra_close
        return store

    def _connected(self) -> Client:
        client = self._client
        if client is not None and self._scripts:
            return client
        with self._lock:
            if self._client is None and self._factory is not None:
                with translated():
                    self._client = self._factory()
            client = self._client
            if client is None:
                raise StoreError("the Redis store is closed")
            if not self._scripts:
                if client.get_encoder().decode_responses:
                    raise ConfigError("hand RedisStore a client with decode_responses=False")
                if not isinstance(client, RedisCluster):
                    self._index = [self._prefix.encode() + _INDEX_SUFFIX]
                self._scripts = {n: client.register_script(s) for n, s in SCRIPTS.items()}
            return client

    def _run(self, name: str, keys: Sequence[str | bytes], *args: str | bytes | int) -> Any:
        client = self._connected()
        with translated():
            return self._scripts[name](keys=keys, args=args, client=client)

    def _write(self, name: str, keys: Sequence[str | bytes], *args: str | bytes | int) -> Any:
        if not self._wait_replicas:
            return self._run(name, keys, *args)
        client = self._connected()
        if isinstance(client, RedisCluster):
            raise ConfigError("wait_replicas is not supported on a Redis Cluster")
        script, replicas = self._scripts[name], self._wait_replicas
        with translated():
            return acknowledged(client, script, keys, args, replicas, self._wait_ms)

    def get(self, key: str) -> Record | None:
        reply = self._run("get", [self._prefix + key])
        if reply is None:
            return None
        value, version, pttl = reply
        if not version:
            raise CorruptRecord(f"Redis key {key!r} holds a hash without a version")
        return Record(value, version.decode(), None if pttl < 0 else _now() + pttl / 1000)

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
        version, ms = secrets.token_urlsafe(12), _ms(ttl)
        keys = [self._prefix + key, *self._index_keys()]
        done = self._write("set", keys, mode, expected, bytes(value), version, ms)
        if not done:
            raise Conflict(key, "key exists" if if_version is ABSENT else "version mismatch")
        if done == _NEW_MEMBER:
            self._prune_sample()
        return version

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        keys = [self._prefix + key, *self._index_keys()]
        removed = self._write("delete", keys, "" if if_version is None else "1", if_version or "")
        if removed < 0:
            raise Conflict(key)
        return bool(removed)

    def touch(self, key: str, ttl: float | None) -> bool:
        return bool(self._write("touch", [self._prefix + key], _ms(ttl)))

    def _index_keys(self) -> list[str | bytes]:
        self._connected()
        return self._index

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if self._index_keys():
            keys = walk_index(self._scan_index, self._prefix, prefix, after, limit + 1)
        else:
            client = self._connected()
            with translated():
                keys = scan_keyspace(client, self._prefix, prefix, after, limit + 1)
        return (keys[:limit], keys[limit - 1]) if len(keys) > limit else (keys, None)

    def _prune_sample(self) -> None:
        """Drop the dead among a few random index members: one new member, up to 3 checked.

        With one member added and 3 * dead/total removed per new record, dead members
        settle at about a third of the index in the steady state, without a cron job.
        """
        client = self._connected()
        with translated():
            sample = client.zrandmember(self._index[0], _SAMPLE)
        if sample:
            self._run("prune", [*self._index, *sample])

    def _scan_index(self, start: bytes, end: bytes, count: int) -> Any:
        client = self._connected()
        with translated():
            members = client.zrange(self._index[0], start, end, bylex=True, offset=0, num=count)
        if not members:
            return [], b"", 0
        return self._run("prune", [*self._index, *members]), members[-1], len(members)

    def clear_expired(self) -> int:
        """Drop the index members whose records Redis expired, in bounded steps; return 0.

        Redis removed the expired records itself; this only tidies the index.
        """
        if self._index_keys():
            prune_index(self._scan_index)
        return 0

    def close(self) -> None:
        with self._lock:
            client, self._client, self._factory = self._client, None, None
            extra_close, self._extra_close = self._extra_close, None
        if self._owns_client:
            with translated():
                if client is not None:
                    client.close()
                if extra_close is not None:
                    extra_close()
