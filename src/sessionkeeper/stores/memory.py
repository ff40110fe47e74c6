"""A thread-safe in-process store, for tests and single-process development."""

from __future__ import annotations

import bisect
import itertools
import threading

from ..errors import Conflict
from .base import (
    ABSENT,
    DEFAULT_SCAN_LIMIT,
    Absent,
    Clock,
    Record,
    Store,
    Version,
    check_ttl,
    default_clock,
    expiry,
    prefix_end,
)

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keep records in a dict guarded by one lock; keys also kept sorted for ``scan``.

    With ``max_entries`` the store holds at most that many records: a new key
    first drops expired records from the oldest-written end, then evicts the
    oldest-written record. Use it for counters and caches that must not grow
    with the number of clients.
    """

    def __init__(self, *, clock: Clock = default_clock, max_entries: int | None = None) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        self._sorted: list[str] = []
        self._versions = itertools.count(1)

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = default_clock, **_: object) -> MemoryStore:
        """Build from ``memory://`` (the URL carries no options)."""
        return cls(clock=clock)

    def _live(self, key: str) -> Record | None:
        record = self._records.get(key)
        if record is not None and record.expires is not None and record.expires <= self._clock():
            return None
        return record

    def get(self, key: str) -> Record | None:
        with self._lock:
            return self._live(key)

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        check_ttl(ttl)
        with self._lock:
            current = self._live(key)
            if if_version is ABSENT and current is not None:
                raise Conflict(key, "key exists")
            if isinstance(if_version, str) and (current is None or current.version != if_version):
                raise Conflict(key)
            version = str(next(self._versions))
            if key in self._records:
                del self._records[key]  # written again: it moves to the newest end
            else:
                self._make_room()
                bisect.insort(self._sorted, key)
            self._records[key] = Record(bytes(value), version, expiry(self._clock, ttl))
            return version

    def _make_room(self) -> None:
        """Keep a bounded store under its bound: expired records go first, then the oldest."""
        if self._max_entries is None:
            return
        now = self._clock()
        while self._records:
            oldest, record = next(iter(self._records.items()))
            expired = record.expires is not None and record.expires <= now
            if not expired and len(self._records) < self._max_entries:
                return
            self._remove(oldest)

    def _remove(self, key: str) -> None:
        del self._records[key]
        del self._sorted[bisect.bisect_left(self._sorted, key)]

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        with self._lock:
            current = self._live(key)
            if if_version is not None and (current is None or current.version != if_version):
                raise Conflict(key)
            if key in self._records:
                self._remove(key)
            return current is not None

    def touch(self, key: str, ttl: float | None) -> bool:
        check_ttl(ttl)
        with self._lock:
            current = self._live(key)
            if current is None:
                return False
            self._records[key] = Record(current.value, current.version, expiry(self._clock, ttl))
            return True

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        end = prefix_end(prefix)
        keys: list[str] = []
        with self._lock:
            if after is not None and after >= prefix:
                index = bisect.bisect_right(self._sorted, after)
            else:
                index = bisect.bisect_left(self._sorted, prefix)
            while index < len(self._sorted):
                key = self._sorted[index]
                index += 1
                if end is not None and key >= end:
                    break
                if self._live(key) is None:
                    continue
                if len(keys) == limit:
                    return keys, keys[-1]
                keys.append(key)
        return keys, None

    def clear_expired(self) -> int:
        with self._lock:
            now = self._clock()
            dead = [
                k for k, r in self._records.items() if r.expires is not None and r.expires <= now
            ]
            for key in dead:
                self._remove(key)
            return len(dead)
