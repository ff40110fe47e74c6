"""The key space of one app's sessions in a store: records, locks and the user index.

A record lives under ``<prefix><id hash>``, where the id hash is the SHA-256 of
the session id: a dump of the store holds no id a cookie could carry. Its lock
is ``<prefix>-lock:<id hash>`` and its user-index entry
``<prefix>-user:<user hash>:<id hash>`` (``session-lock:`` and ``session-user:``
for the default prefix ``session:``).
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["HASH_LENGTH", "KeySpace", "hash_id"]

#: Characters of an id hash: a hex SHA-256.
HASH_LENGTH: Final = 64
_USER_HASH_LENGTH: Final = 32


def hash_id(sid: str) -> str:
    """The hash a session id is stored under."""
    return hashlib.sha256(sid.encode()).hexdigest()


class KeySpace:
    """Build and take apart the store keys under one prefix."""

    __slots__ = ("lock_prefix", "record_prefix", "user_prefix")

    def __init__(self, prefix: str = "session:") -> None:
        stem = prefix.rstrip(":")
        self.record_prefix = prefix
        self.lock_prefix = stem + "-lock:"
        self.user_prefix = stem + "-user:"

    def record(self, id_hash: str) -> str:
        """The key of the record with this id hash."""
        return self.record_prefix + id_hash

    def record_of(self, sid: str) -> str:
        """The key of the record of a (raw) session id."""
        return self.record_prefix + hash_id(sid)

    def id_hash(self, record_key: str) -> str | None:
        """The id hash inside a record key, or None if the key is not a record's."""
        if not record_key.startswith(self.record_prefix):
            return None
        id_hash = record_key[len(self.record_prefix) :]
        return id_hash if len(id_hash) == HASH_LENGTH else None

    def lock(self, id_hash: str) -> str:
        """The key of a session's lock."""
        return self.lock_prefix + id_hash

    def user_index(self, user: str) -> str:
        """The prefix under which ``user``'s sessions are listed."""
        user_hash = hashlib.sha256(user.encode()).hexdigest()[:_USER_HASH_LENGTH]
        return f"{self.user_prefix}{user_hash}:"

    def user_entry(self, user: str, id_hash: str) -> str:
        """The user-index entry that lists the session ``id_hash`` under ``user``."""
        return self.user_index(user) + id_hash
