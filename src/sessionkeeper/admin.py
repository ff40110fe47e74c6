"""Looking at and revoking stored sessions: what ``flask sessions`` and "log out everywhere" use.

Sessions are named by their hashed id (the store key without its prefix); the
raw id, which only the cookie holds, is never needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .server import ServerSessionInterface, untag
from .stores.base import Record

__all__ = ["SessionAdmin", "SessionInfo", "Stats"]

_HASH_LENGTH = 64


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
    """Operations on the stored sessions of one app."""

    def __init__(self, interface: ServerSessionInterface) -> None:
        self.interface = interface
        self.store = interface.store
        self.settings = interface.settings

    def _info(self, id_hash: str, record: Record) -> SessionInfo | None:
        try:
            tree = json.loads(record.value)
            created = float(tree["c"])
            data = untag(self.interface.serializer, tree["d"])
        except (ValueError, KeyError, TypeError):
            return None
        user = tree.get("u")
        last_seen = created
        if record.expires is not None:
            last_seen = max(created, record.expires - self.settings.idle_timeout)
        return SessionInfo(
            id_hash, user, created, last_seen, record.expires, len(record.value), data
        )

    def info(self, id_hash: str) -> SessionInfo | None:
        """The stored session with this hashed id, if it is live."""
        record = self.store.get(self.settings.key_prefix + id_hash)
        return self._info(id_hash, record) if record is not None else None

    def ids(self, *, after: str | None = None, limit: int = 100) -> tuple[list[str], str | None]:
        """A page of hashed ids in order, and the cursor of the next page."""
        prefix = self.settings.key_prefix
        cursor = prefix + after if after is not None else None
        keys, next_key = self.store.scan(prefix, after=cursor, limit=limit)
        ids = [k[len(prefix) :] for k in keys if len(k) - len(prefix) == _HASH_LENGTH]
        return ids, next_key[len(prefix) :] if next_key is not None else None

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
        key = self.settings.key_prefix + id_hash
        info = self.info(id_hash)
        if info is not None and info.user is not None:
            self.store.delete(self.interface.index_key(info.user, key))
        return self.store.delete(key)

    def sessions_of(self, user: str | int) -> list[SessionInfo]:
        """The live sessions bound to ``user``; stale index entries are removed on the way."""
        user = str(user)
        prefix = self.interface.user_index(user)
        found: list[SessionInfo] = []
        after: str | None = None
        while True:
            keys, after = self.store.scan(prefix, after=after, limit=500)
            for entry in keys:
                id_hash = entry[len(prefix) :]
                info = self.info(id_hash)
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
            record = self.store.get(self.settings.key_prefix + id_hash)
            if record is not None:
                count += 1
                total += len(record.value)
                largest = max(largest, len(record.value))
        return Stats(count, total, largest)

    def clear_expired(self) -> int:
        """Remove expired records; 0 for stores that expire keys by themselves."""
        return self.store.clear_expired()
