"""A Memcached store (pymemcache): ``memcached://host:port``.

Records live in memory only (a restart loses every session; memory pressure evicts
the least recently used). Keys expire by themselves in whole seconds: a TTL rounds
up to the next second; one over 30 days is sent as an absolute Unix time, as
memcached reads it. Memcached cannot list keys: :meth:`MemcachedStore.scan` raises,
and so do ``flask sessions list``/``stats`` and the user index (``sessions_of``).

Each value starts with a 16-byte header: a random 63-bit version (never repeated
after delete and create, unlike a cas token) and the absolute expiry. Compare-and-set
is ``gets``/``cas``, :data:`ABSENT` is ``add``; with no conditional delete, a delete
at a version ``cas``-writes a tombstone that reads as absent and expires in a second.
A plain delete reads first, so that it reports only a live record as deleted.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import struct
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pymemcache import exceptions as mc  # type: ignore[import-untyped]
from pymemcache.client.base import PooledClient  # type: ignore[import-untyped]

from ..errors import ConfigError, Conflict, StoreError, StoreUnavailable
from . import ABSENT, Absent, Record, Store, Version
from .base import DEFAULT_SCAN_LIMIT, Clock, check_ttl, default_clock
from .urls import redact

__all__ = ["MemcachedStore"]

_HEADER = struct.Struct(">Qd")  # version, absolute expiry (NaN: never)
_TOMBSTONE = _HEADER.pack(0, 0.0)  # expired since 1970: reads as absent
_THIRTY_DAYS = 30 * 24 * 3600
_SAFE_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # memcached keys: no spaces or controls, <= 250
#: What ``scan`` says; the admin commands and the user index pass it on.
NO_SCAN = (
    "memcached cannot list keys: `flask sessions list`, `stats` and the user index need a "
    "store that can; use SQL, Redis or SQLite"
)


def _memcached_ttl(ttl: float | None) -> int:
    """Memcached's expiry for ``ttl`` seconds: whole seconds up, absolute past 30 days."""
    if ttl is None:
        return 0
    seconds = max(1, math.ceil(ttl))
    return seconds if seconds <= _THIRTY_DAYS else int(time.time()) + seconds


class MemcachedStore(Store):
    """Keep records in memcached through a thread-safe pymemcache client (a pool).

    A store built by :meth:`from_url` owns its ``PooledClient`` and closes it in
    :meth:`close`; a client handed in stays its owner's. ``clock`` stamps each record's
    expiry: a record reads as absent once it passes, though memcached may hold it 1 s more.
    """

    expires_by_itself = True

    def __init__(
        self,
        client: Any,
        *,
        key_prefix: str = "",
        clock: Clock = default_clock,
        owns_client: bool = False,
    ) -> None:
        self._client, self._prefix, self._clock = client, key_prefix, clock
        self._owned, self._name = owns_client, "memcached"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock = default_clock,
        timeout: float | None = None,
        key_prefix: str | None = None,
        **_: object,
    ) -> MemcachedStore:
        """Build from ``memcached://host:port[?prefix=P]`` (port 11211 by default)."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 11211
        except ValueError as exc:
            raise ConfigError(f"bad memcached URL {redact(url)!r}: {exc}") from exc
        if parts.path not in ("", "/"):
            raise ConfigError(f"bad memcached URL {redact(url)!r}: use memcached://host:port")
        if key_prefix is None:
            key_prefix = parse_qs(parts.query).get("prefix", [""])[0]
        seconds = timeout or 5.0
        client = PooledClient(
            (host, port), connect_timeout=seconds, timeout=seconds, no_delay=True, max_pool_size=64
        )
        store = cls(client, key_prefix=key_prefix, clock=clock, owns_client=True)
        store._name = redact(url)
        return store

    def _key(self, key: str) -> str:
        full = self._prefix + key
        if _SAFE_KEY.fullmatch(full):
            return full
        return "#" + hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()

    def _call(self, command: str, *args: Any, **options: Any) -> Any:
        try:
            return getattr(self._client, command)(*args, **options)
        except (mc.MemcacheUnexpectedCloseError, OSError) as exc:
            raise StoreUnavailable(f"{self._name}: {exc or type(exc).__name__}") from exc
        except mc.MemcacheError as exc:  # a bad key, a value too large, a server error
            raise StoreError(f"{self._name}: {exc}") from exc

    def _cas(self, key: str, data: bytes, token: bytes | None, expire: int) -> bool:
        return token is not None and bool(self._call("cas", key, data, token, expire, False))

    def _gets(self, key: str) -> tuple[Record | None, bytes | None]:
        """The live record under ``key`` and the cas token of what memcached holds."""
        raw, token = self._call("gets", key)
        if raw is None or len(raw) < _HEADER.size:
            return None, token
        version, expires = _HEADER.unpack_from(raw)
        if not math.isnan(expires) and expires <= self._clock():
            return None, token
        limit = None if math.isnan(expires) else expires
        return Record(bytes(raw[_HEADER.size :]), f"{version:016x}", limit), token

    def _pack(self, value: bytes, ttl: float | None, version: int) -> bytes:
        expires = math.nan if ttl is None else self._clock() + ttl
        return _HEADER.pack(version, expires) + value

    def get(self, key: str) -> Record | None:
        return self._gets(self._key(key))[0]

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        check_ttl(ttl)
        version = secrets.randbits(63)
        name, data, expire = self._key(key), self._pack(value, ttl, version), _memcached_ttl(ttl)
        if if_version is None:
            self._call("set", name, data, expire, noreply=False)
        elif if_version is ABSENT:
            if not self._call("add", name, data, expire, noreply=False):
                current, token = self._gets(name)  # held, but maybe expired by our clock
                if current is not None or not self._cas(name, data, token, expire):
                    raise Conflict(key, "key exists")
        else:
            current, token = self._gets(name)
            if current is None or current.version != if_version:
                raise Conflict(key)
            if not self._cas(name, data, token, expire):
                raise Conflict(key)
        return f"{version:016x}"

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        name = self._key(key)
        current, token = self._gets(name)
        if if_version is None:
            # A tombstone or a record expired by the clock is left to memcached's expiry:
            # it reads as absent, and deleting it could take a record written meanwhile.
            return current is not None and bool(self._call("delete", name, noreply=False))
        if current is None or current.version != if_version:
            raise Conflict(key)
        if not self._cas(name, _TOMBSTONE, token, 1):
            raise Conflict(key)
        return True

    def touch(self, key: str, ttl: float | None) -> bool:
        """Give a live key a new expiry, keeping its value and version (a ``cas`` rewrite)."""
        check_ttl(ttl)
        name, expire = self._key(key), _memcached_ttl(ttl)
        for _ in range(5):  # another writer in between sets its own expiry: try again
            current, token = self._gets(name)
            if current is None:
                return False
            data = self._pack(current.value, ttl, int(current.version, 16))
            if self._cas(name, data, token, expire):
                return True
        return self.get(key) is not None

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        """Raise :class:`~sessionkeeper.errors.StoreError`: memcached cannot list keys."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        raise StoreError(NO_SCAN)

    def close(self) -> None:
        """Close the pool's connections if this store built the client."""
        if self._owned:
            self._client.close()
