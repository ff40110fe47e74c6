"""Looking at and revoking stored sessions: what ``flask sessions`` and "log out everywhere" use.

Sessions are named by their hashed id (the store key without its prefix); the
raw id, which only the cookie holds, is never needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptRecord
from ..stores.base import Record, Store
from .keys import KeySpace
from .record import Tagger, decode, untag

__all__ = ["SessionAdmin", "SessionInfo", "Stats"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One stored session. ``last_seen`` is accurate to the touch interval."""

    id: str
    user: str | None
    created: float
    last_seen: float
    expires: float | None
    size: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stats:
    """How many sessions are stored and how large they are, in bytes."""

    count: int
    total_bytes: int
    largest_bytes: int


class SessionAdmin:
    """Operations on the sessions stored in ``store`` under the key space ``keys``.

    ``idle_timeout`` (seconds) dates the last visit from a record's expiry;
    ``tagger`` untags the data (Flask's session serializer).
    """

    def __init__(self, store: Store, keys: KeySpace, *, idle_timeout: float, tagger: Tagger):
        self.store = store
        self.keys = keys
        self.idle_timeout = idle_timeout
        self.tagger = tagger

    def _info(self, id_hash: str, found: Record) -> SessionInfo | None:
        try:
            record = decode(found.value)
            data = untag(self.tagger, record.data)
        except (CorruptRecord, ValueError, KeyError, TypeError):
            return None
        last_seen = record.created
        if found.expires is not None:
            last_seen = max(record.created, found.expires - self.idle_timeout)
        return SessionInfo(
            id_hash, record.user, record.created, last_seen, found.expires, len(found.value), data
        )

    def info(self, id_hash: str) -> SessionInfo | None:
        """The stored session with this hashed id, if it is live."""
        found = self.store.get(self.keys.record(id_hash))
        return self._info(id_hash, found) if found is not None else None

    def ids(self, *, after: str | None = None, limit: int = 100) -> tuple[list[str], str | None]:
        """A page of hashed ids in order, and the cursor of the next page."""
        cursor = self.keys.record(after) if after is not None else None
        keys, next_key = self.store.scan(self.keys.record_prefix, after=cursor, limit=limit)
        ids = [id_hash for k in keys if (id_hash := self.keys.id_hash(k)) is not None]
        if next_key is None:
            return ids, None
        return ids, next_key[len(self.keys.record_prefix) :]

    def all_ids(self) -> Iterator[str]:
        """Every stored hashed id, page by page."""
        after: str | None = None
        while True:
            ids, after = self.ids(after=after, limit=500)
            yield from ids
            if after is None:
                return

    def revoke(self, id_hash: str) -> bool:
        """Delete a session (and its user-index entry); its cookie stops working."""
        info = self.info(id_hash)
        if info is not None and info.user is not None:
            self.store.delete(self.keys.user_entry(info.user, id_hash))
        return self.store.delete(self.keys.record(id_hash))

    def sessions_of(self, user: str | int) -> list[SessionInfo]:
        """The live sessions bound to ``user``; stale index entries are removed on the way."""
        user = str(user)
        prefix = self.keys.user_index(user)
        found: list[SessionInfo] = []
        after: str | None = None
        while True:
            keys, after = self.store.scan(prefix, after=after, limit=500)
            for entry in keys:
                info = self.info(entry[len(prefix) :])
                if info is None or info.user != user:
                    self.store.delete(entry)
                else:
                    found.append(info)
            if after is None:
                return sorted(found, key=lambda i: i.created)

    def revoke_user(self, user: str | int, *, keep: str | None = None) -> int:
        """Revoke every session of ``user`` except the one with hashed id ``keep``."""
        return sum(self.revoke(i.id) for i in self.sessions_of(user) if i.id != keep)

    def stats(self) -> Stats:
        """Count and size every stored session (reads them all: for the CLI, not for requests)."""
        count = total = largest = 0
        for id_hash in self.all_ids():
            found = self.store.get(self.keys.record(id_hash))
            if found is not None:
                count += 1
                total += len(found.value)
                largest = max(largest, len(found.value))
        return Stats(count, total, largest)

    def clear_expired(self) -> int:
        """Remove expired records; 0 for stores that expire keys by themselves."""
        return self.store.clear_expired()
