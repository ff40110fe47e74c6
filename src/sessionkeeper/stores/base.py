"""The Store contract: bytes under string keys, with versions and expiry.

Every place that keeps session data implements :class:`Store`. Stores know
nothing of sessions; the session layer serialises. Every write gets a new
version; ``if_version`` turns a write into a compare-and-set, the one primitive
that lost-update protection and locking are built on.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["ABSENT", "Absent", "Clock", "Record", "Store", "Version", "prefix_end"]

#: An opaque token that changes on every write of a key.
Version = str
#: A function returning the current time in seconds since the epoch.
Clock = Callable[[], float]

#: Default page size of :meth:`Store.scan`.
DEFAULT_SCAN_LIMIT: Final = 100


class Absent(enum.Enum):
    """Type of :data:`ABSENT`."""

    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"


#: ``if_version=ABSENT`` writes only if the key does not exist (or has expired).
ABSENT: Final = Absent.ABSENT


@dataclass(frozen=True, slots=True)
class Record:
    """A stored value with its version and absolute expiry (epoch seconds, or None)."""

    value: bytes
    version: Version
    expires: float | None


class Store(ABC):
    """Keys are ``str``, values are ``bytes``; expired keys read as absent.

    Infrastructure failures raise :class:`~sessionkeeper.errors.StoreError`
    subclasses; a failed compare-and-set raises
    :class:`~sessionkeeper.errors.Conflict`.
    """

    #: True when the store drops expired keys by itself (``clear_expired`` is a no-op).
    expires_by_itself: bool = False

    @abstractmethod
    def get(self, key: str) -> Record | None:
        """Return the live record under ``key``, or None."""

    @abstractmethod
    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        """Write ``value``, expiring after ``ttl`` seconds; return the new version.

        ``if_version=None`` writes unconditionally; a version writes only if it is
        the current one; :data:`ABSENT` writes only if the key does not exist.
        A mismatch raises :class:`~sessionkeeper.errors.Conflict`.
        """

    @abstractmethod
    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        """Remove ``key``; return whether it held a live record (an expired one did not).

        With ``if_version``, remove it only at that version, else raise
        :class:`~sessionkeeper.errors.Conflict` (an absent key is a mismatch too).
        """

    @abstractmethod
    def touch(self, key: str, ttl: float | None) -> bool:
        """Set a live key's expiry to ``ttl`` seconds from now without rewriting it."""

    @abstractmethod
    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        """Return up to ``limit`` live keys starting with ``prefix``, in order, after ``after``.

        The second item is the cursor for the next page (pass it as ``after``),
        or None when there are no more keys. Cost is proportional to the page.
        """

    def clear_expired(self) -> int:
        """Remove expired records; return how many. Self-expiring stores return 0."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Safe to call twice."""


def prefix_end(prefix: str) -> str | None:
    """Return the smallest string greater than every string starting with ``prefix``.

    None means no upper bound (empty prefix, or only maximal code points).
    """
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


def check_ttl(ttl: float | None) -> None:
    """Reject TTLs that would store an already-dead record."""
    if ttl is not None and ttl <= 0:
        raise ValueError(f"ttl must be positive seconds or None, got {ttl!r}")


def expiry(clock: Clock, ttl: float | None) -> float | None:
    """Absolute expiry for ``ttl`` seconds from now."""
    return None if ttl is None else clock() + ttl


default_clock: Clock = time.time
