"""Limits on admin log-in attempts, counted where every worker sees them.

An attempt is *reserved* before the password is checked: a compare-and-set on
the store adds it to the counters, and only a request that got a slot under the
limit goes on to the password check, so concurrent guesses cannot all slip in
between a check and a record. A successful log-in gives its slots back.

The counters live in the app's session store, so every worker and every app
instance on that store shares them, under the session key prefix's stem plus
``-admin-login:`` (``session-admin-login:`` by default; the session listing does
not see them). Each expires with its window, so the store drops it. In cookie
mode there is no store: the counters are kept in a :class:`~sessionkeeper.MemoryStore`
in the process (at most ``max_entries``, oldest evicted), so each worker counts alone.

Each attempt counts twice, because keying on the client address alone locks out
everyone behind it (a NAT, a proxy, 127.0.0.1) once one of them guesses wrong:

- per browser (its CSRF nonce cookie, which every admin form POST carries):
  ``attempts`` per window; a browser that guesses wrong locks out only itself;
- per client address, a higher ceiling (``address_attempts``): a fresh browser is
  one dropped cookie away, so this caps what an attacker gains by dropping
  cookies. Reaching it does lock out the address for the rest of the window,
  the price of bounding guesses at all.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sessionkeeper import ABSENT, Conflict, MemoryStore, Store

__all__ = ["LoginLimiter", "Slot"]

#: Compare-and-set rounds before a contended attempt is refused (each round one writer wins).
MAX_ROUNDS: Final = 64


@dataclass(frozen=True, slots=True)
class Slot:
    """One counter an attempt is charged to: a store key and its limit."""

    key: str
    limit: int


class LoginLimiter:
    """Reserve log-in attempts per browser and per address in a store, in fixed windows."""

    def __init__(
        self,
        store: Store | None,
        *,
        prefix: str,
        attempts: int,
        address_attempts: int,
        window: float,
        clock: Callable[[], float] = time.time,
        max_entries: int = 10_000,
    ) -> None:
        self.store: Store = (
            store if store is not None else MemoryStore(clock=clock, max_entries=max_entries)
        )
        self.prefix, self.window, self.clock = prefix, window, clock
        self.attempts, self.address_attempts = attempts, address_attempts

    def slots(self, address: str, browser: str) -> list[Slot]:
        """Return the counters an attempt from ``address`` by ``browser`` is charged to."""
        return [
            Slot(self._key("address", address), self.address_attempts),
            Slot(self._key("browser", browser), self.attempts),
        ]

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{hashlib.sha256(name.encode()).hexdigest()[:32]}"

    def reserve(self, slots: Sequence[Slot]) -> float:
        """Charge one attempt to every slot; return 0, or the seconds to wait (nothing charged)."""
        taken: list[Slot] = []
        for slot in slots:
            wait = self._take(slot)
            if wait > 0:
                self.release(taken)
                return wait
            taken.append(slot)
        return 0.0

    def release(self, slots: Sequence[Slot]) -> None:
        """Give back one attempt of every slot (after a successful log-in)."""
        for slot in slots:
            self._give_back(slot.key)

    def _read(self, key: str) -> tuple[int, float, str | None]:
        record = self.store.get(key)
        if record is None:
            return 0, self.clock(), None
        try:
            count, start = json.loads(record.value)
            return int(count), float(start), record.version
        except (ValueError, TypeError):
            return 0, self.clock(), record.version  # unreadable: a fresh window

    def _take(self, slot: Slot) -> float:
        for _ in range(MAX_ROUNDS):
            count, start, version = self._read(slot.key)
            now = self.clock()
            if now - start >= self.window:
                count, start = 0, now
            if count >= slot.limit:
                return start + self.window - now
            value = json.dumps([count + 1, start]).encode()
            try:
                self.store.set(
                    slot.key,
                    value,
                    ttl=start + self.window - now,
                    if_version=ABSENT if version is None else version,
                )
            except Conflict:
                continue
            return 0.0
        return self.window  # fail closed: more contention than any honest client makes

    def _give_back(self, key: str) -> None:
        for _ in range(MAX_ROUNDS):
            count, start, version = self._read(key)
            left = start + self.window - self.clock()
            if version is None or left <= 0:
                return
            try:
                if count <= 1:
                    self.store.delete(key, if_version=version)
                else:
                    value = json.dumps([count - 1, start]).encode()
                    self.store.set(key, value, ttl=left, if_version=version)
            except Conflict:
                continue
            return
