"""Per-session locks: serialise the requests of one session, with a bounded wait.

A lock is a store key written only if absent (compare-and-set with
:data:`ABSENT`), with a TTL so a crashed worker cannot hold it forever; it is
released by a delete at the version that took it, so a lock that expired and
was taken by another request is never released by the first.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from ..errors import Conflict, LockTimeout, StoreError
from ..stores.base import ABSENT, Store, Version
from .keys import KeySpace

__all__ = ["LOCKED_ATTRIBUTE", "HeldLock", "Locker", "is_locked", "locked"]

log = logging.getLogger("sessionkeeper")

#: The attribute :func:`locked` sets on a view function.
LOCKED_ATTRIBUTE: Final = "sessionkeeper_locked"

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def locked(view: ViewT) -> ViewT:
    """Serialise this view's requests per session, as ``SESSION_LOCKING = True`` does for all."""
    setattr(view, LOCKED_ATTRIBUTE, True)
    return view


def is_locked(view: object) -> bool:
    """Whether a view function was marked with :func:`locked`."""
    return getattr(view, LOCKED_ATTRIBUTE, False) is True


@dataclass(frozen=True, slots=True)
class HeldLock:
    """A lock this request holds: its key and the version that took it."""

    key: str
    version: Version


class Locker:
    """Take and release session locks in ``store``."""

    def __init__(self, store: Store, keys: KeySpace, *, ttl: float, timeout: float) -> None:
        self.store = store
        self.keys = keys
        self.ttl = ttl
        self.timeout = timeout
        #: How waits sleep; tests replace it to interleave requests deterministically.
        self.sleep: Callable[[float], None] = time.sleep

    def acquire(self, id_hash: str, timeout: float | None = None) -> HeldLock:
        """Take the lock of session ``id_hash``, waiting up to ``timeout`` (the lock timeout)."""
        key = self.keys.lock(id_hash)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        attempt = 0
        while True:
            try:
                return HeldLock(key, self.store.set(key, b"1", ttl=self.ttl, if_version=ABSENT))
            except Conflict:
                attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"another request held the session lock for over {self.timeout:g}s "
                    "(SESSION_LOCK_TIMEOUT)"
                ) from None
            self.backoff(attempt, cap=min(remaining, 0.1))

    def backoff(self, attempt: int, *, cap: float) -> None:
        """Sleep a jittered, exponentially growing time, at most ``cap`` seconds."""
        self.sleep(random.uniform(0, min(cap, 0.001 * 2**attempt)))

    def release(self, lock: HeldLock | None) -> None:
        """Release a lock this request holds; a lost or failed release is logged, not raised."""
        if lock is None:
            return
        try:
            self.store.delete(lock.key, if_version=lock.version)
        except Conflict:
            log.warning("session lock expired before release; raise SESSION_LOCK_TTL")
        except StoreError as exc:
            log.error("could not release a session lock (it expires by itself): %s", exc)
