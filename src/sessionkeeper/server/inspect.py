"""What a request did to its session, for pages that teach what sessions do.

With ``SESSION_INSPECT = True`` the store is wrapped in an :class:`ObservedStore`
that notes each operation of the current request, and after the save the
request's WSGI environ holds an :class:`Inspection` under :data:`ENVIRON_KEY`
(next to the response's own ``Set-Cookie``, which a WSGI middleware can read).
Off by default: it costs a read of the saved record per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask import has_request_context, request

from ..config import Settings
from ..stores.base import DEFAULT_SCAN_LIMIT, Absent, Record, Store, Version
from .changes import Outcome, Pending
from .keys import KeySpace, hash_id

__all__ = ["ENVIRON_KEY", "Inspection", "ObservedStore", "inspect", "noted"]

#: Where the inspection of a request is left in its WSGI environ.
ENVIRON_KEY: Final = "sessionkeeper.inspection"
_OPS: Final = "sessionkeeper.operations"


@dataclass(frozen=True, slots=True)
class Inspection:
    """A request's session as stored after its save, and the store operations it made."""

    store: str
    """The store's kind, e.g. ``SqliteStore``."""
    id_hash: str | None
    """The hashed id the record is stored under (None: no record)."""
    created: float | None
    idle_expires: float | None
    """When the record expires unless used again (epoch seconds)."""
    absolute_expires: float | None
    """When the session ends however active (epoch seconds)."""
    size: int | None
    """Bytes of the stored record."""
    operations: tuple[str, ...]
    """What this request asked of the store, in order: ``"get session"``, ``"set lock"``..."""


def noted() -> tuple[str, ...]:
    """The operations the current request made so far."""
    return tuple(request.environ.get(_OPS, ())) if has_request_context() else ()


class ObservedStore(Store):
    """Delegate to ``inner``, noting each operation of the current request by key kind."""

    def __init__(self, inner: Store, keys: KeySpace) -> None:
        self.inner, self._keys = inner, keys
        self.expires_by_itself = inner.expires_by_itself

    def _note(self, operation: str, key: str) -> None:
        if not has_request_context():
            return
        keys = self._keys
        kind = (
            "lock"
            if key.startswith(keys.lock_prefix)
            else "user index"
            if key.startswith(keys.user_prefix)
            else "session"
        )
        request.environ.setdefault(_OPS, []).append(f"{operation} {kind}")

    def get(self, key: str) -> Record | None:
        self._note("get", key)
        return self.inner.get(key)

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        self._note("set", key)
        return self.inner.set(key, value, ttl=ttl, if_version=if_version)

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        self._note("delete", key)
        return self.inner.delete(key, if_version=if_version)

    def touch(self, key: str, ttl: float | None) -> bool:
        self._note("touch", key)
        return self.inner.touch(key, ttl)

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        return self.inner.scan(prefix, after=after, limit=limit)

    def clear_expired(self) -> int:
        return self.inner.clear_expired()

    def close(self) -> None:
        self.inner.close()


def inspect(
    store: ObservedStore, keys: KeySpace, settings: Settings, pending: Pending, outcome: Outcome
) -> Inspection:
    """What a save left in the store, read without noting it as the request's own."""
    operations = noted()
    id_hash = hash_id(outcome.sid) if outcome.sid else None
    if id_hash is None and pending.stored is not None and outcome.cookie != "delete":
        id_hash = pending.stored.id_hash
    found = store.inner.get(keys.record(id_hash)) if id_hash else None
    if found is None:
        return Inspection(type(store.inner).__name__, None, None, None, None, None, operations)
    return Inspection(
        store=type(store.inner).__name__,
        id_hash=id_hash,
        created=pending.created,
        idle_expires=found.expires,
        absolute_expires=pending.created + settings.absolute_timeout,
        size=len(found.value),
        operations=operations,
    )
