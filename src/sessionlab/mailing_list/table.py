"""A bounded in-process Store, for counters when the app keeps its sessions in cookies.

It holds at most ``max_entries`` records: a write drops expired records from the
oldest end, and evicts the oldest written when it is full. It lives in one
process, so each worker counts alone.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sessionkeeper import ABSENT, Conflict, Record, Store

__all__ = ["BoundedTable"]

_Version = str


class BoundedTable(Store):
    """Keep at most ``max_entries`` records in a dict in write order, evicting the oldest."""

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries, self.clock = max_entries, clock
        self._records: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()
        self._versions = itertools.count(1)

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._records)

    def _live(self, key: str) -> Record | None:
        record = self._records.get(key)
        if record is not None and record.expires is not None and record.expires <= self.clock():
            del self._records[key]
            return None
        return record

    def _drop_expired(self) -> int:
        now = self.clock()
        dead = [k for k, r in self._records.items() if r.expires is not None and r.expires <= now]
        for key in dead:
            del self._records[key]
        return len(dead)

    def _trim_front(self) -> None:
        # Cheap upkeep on every write: the oldest writes tend to expire first.
        now = self.clock()
        while self._records:
            first = next(iter(self._records.values()))
            if first.expires is None or first.expires > now:
                return
            self._records.popitem(last=False)

    def get(self, key: str) -> Record | None:
        with self._lock:
            return self._live(key)

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: object = None,
    ) -> _Version:
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive seconds or None, got {ttl!r}")
        with self._lock:
            current = self._live(key)
            if if_version is ABSENT and current is not None:
                raise Conflict(key, "key exists")
            if isinstance(if_version, str) and (current is None or current.version != if_version):
                raise Conflict(key)
            self._trim_front()
            while current is None and len(self._records) >= self.max_entries:
                self._records.popitem(last=False)
            version = str(next(self._versions))
            expires = None if ttl is None else self.clock() + ttl
            self._records[key] = Record(bytes(value), version, expires)
            self._records.move_to_end(key)
            return version

    def delete(self, key: str, *, if_version: _Version | None = None) -> bool:
        with self._lock:
            current = self._live(key)
            if if_version is not None and (current is None or current.version != if_version):
                raise Conflict(key)
            self._records.pop(key, None)
            return current is not None

    def touch(self, key: str, ttl: float | None) -> bool:
        with self._lock:
            current = self._live(key)
            if current is None:
                return False
            expires = None if ttl is None else self.clock() + ttl
            self._records[key] = Record(current.value, current.version, expires)
            return True

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> tuple[list[str], str | None]:
        with self._lock:
            self._drop_expired()
            keys = sorted(k for k in self._records if k.startswith(prefix))
        if after is not None:
            keys = [k for k in keys if k > after]
        page = keys[:limit]
        return page, (page[-1] if len(keys) > limit else None)

    def clear_expired(self) -> int:
        with self._lock:
            return self._drop_expired()
