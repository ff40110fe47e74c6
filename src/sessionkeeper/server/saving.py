"""Saving a request's session: a patch written with compare-and-set, merged on conflict.

A request saves only the keys it set or deleted. The write is conditional on
the version it loaded; when another request wrote in between, the latest record
is reloaded, the patch re-applied and the write retried until the save
deadline. A contended save first queues behind the session lock, so retries
stop racing each other and every writer gets its turn.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import Conflict, LockTimeout, SaveConflict
from ..stores.base import ABSENT, Store, Version
from .changes import PERMANENT, Outcome, Pending, Stored, apply, diff
from .ids import new_id
from .keys import KeySpace, hash_id
from .locking import HeldLock, Locker
from .record import SessionRecord, decode, dumps, encode, index_entry

__all__ = ["Saver"]


class Saver:
    """Write pending sessions to ``store``."""

    def __init__(
        self,
        store: Store,
        keys: KeySpace,
        locker: Locker,
        settings: Settings,
        clock: Callable[[], float],
    ) -> None:
        self.store, self.keys, self.locker = store, keys, locker
        self.settings, self.clock = settings, clock

    def ttl(self, created: float, now: float) -> float:
        """Seconds a record lives: the idle timeout, capped by the absolute one."""
        return min(self.settings.idle_timeout, created + self.settings.absolute_timeout - now)

    def save(self, pending: Pending) -> Outcome:
        """Write what the request changed (or touch what it only read); say what the cookie does."""
        now = self.clock()
        for old in pending.discard:
            self.destroy(old)
        stored = pending.stored
        if stored is None:
            if not pending.data and pending.user is None:
                if pending.moved_from is not None:
                    self.destroy(pending.moved_from)
                return Outcome("delete" if pending.had_cookie else None)
            if pending.moved_from is not None:
                return self._move(pending, pending.moved_from, now)
            return self._create(pending, now)
        base = stored.record
        record = SessionRecord(pending.created, pending.data, pending.user)
        user_changed = pending.user != base.user
        # The record re-encodes exactly as it was written: equal bytes, nothing changed.
        raw = encode(record)
        if raw == stored.raw or (not user_changed and dumps(pending.data) == dumps(base.data)):
            return self._touch(stored, pending.created, now)
        sets, deletes = diff(base.data, pending.data)
        outcome = self._patch(stored, record, raw, sets, deletes, user_changed, pending.holds_lock)
        if user_changed:
            if base.user is not None:
                self.store.delete(self.keys.user_entry(base.user, stored.id_hash))
            if pending.user is not None and outcome.cookie is None:
                self._index(pending.user, stored.id_hash, pending.created, now)
        if outcome.cookie is None and PERMANENT in sets.keys() | deletes:
            return Outcome("set", stored.sid)  # the cookie's lifetime changed with the flag
        return outcome

    def keep(self, stored: Stored) -> Outcome:
        """Save a session its request left unchanged: touch it when due."""
        return self._touch(stored, stored.record.created, self.clock())

    def destroy(self, stored: Stored) -> None:
        """Delete a record and its user-index entry."""
        self.store.delete(stored.key)
        if stored.record.user is not None:
            self.store.delete(self.keys.user_entry(stored.record.user, stored.id_hash))

    def _create(self, pending: Pending, now: float) -> Outcome:
        outcome, _ = self._create_record(pending, now)
        return outcome

    def _create_record(self, pending: Pending, now: float) -> tuple[Outcome, Version | None]:
        ttl = self.ttl(pending.created, now)
        if ttl <= 0:
            return Outcome("delete"), None
        sid = new_id()
        record = SessionRecord(pending.created, pending.data, pending.user)
        version = self.store.set(
            self.keys.record_of(sid), encode(record), ttl=ttl, if_version=ABSENT
        )
        if pending.user is not None:
            self._index(pending.user, hash_id(sid), pending.created, now)
        return Outcome("set", sid), version

    def _move(self, pending: Pending, old: Stored, now: float) -> Outcome:
        """Create the regenerated record, then delete the old one at the version loaded.

        A request that wrote through the old id in between makes that delete
        conflict: its changes are merged into the new record (this request's own
        changes win), and the delete retried at the version it wrote.
        """
        outcome, version = self._create_record(pending, now)
        if version is None or outcome.sid is None:
            self.destroy(old)
            return outcome
        key = self.keys.record_of(outcome.sid)
        sets, deletes = diff(old.record.data, pending.data)
        old_version = old.version
        deadline = time.monotonic() + self.settings.save_deadline
        for attempt in itertools.count(1):
            try:
                self.store.delete(old.key, if_version=old_version)
                break
            except Conflict:
                latest = self.store.get(old.key)
            if latest is None:
                break
            if time.monotonic() >= deadline:
                raise self._gave_up(attempt)
            merged = apply(decode(latest.value).data, sets, deletes)
            record = SessionRecord(pending.created, merged, pending.user)
            ttl = max(self.ttl(pending.created, self.clock()), 1.0)
            version = self.store.set(key, encode(record), ttl=ttl, if_version=version)
            old_version = latest.version
        if old.record.user is not None:
            self.store.delete(self.keys.user_entry(old.record.user, old.id_hash))
        return outcome

    def _index(self, user: str, id_hash: str, created: float, now: float) -> None:
        """List the session under its user until it could have expired at the latest."""
        ttl = created + self.settings.absolute_timeout - now
        if ttl > 0:
            self.store.set(self.keys.user_entry(user, id_hash), index_entry(created), ttl=ttl)

    def _touch(self, stored: Stored, created: float, now: float) -> Outcome:
        """Push the idle expiry forward, at most once per touch interval."""
        ttl = self.ttl(created, now)
        if ttl <= 0:
            self.store.delete(stored.key)
            return Outcome("delete")
        if stored.expires is None or now + ttl - stored.expires >= self.settings.touch_interval:
            self.store.touch(stored.key, ttl)
        return Outcome(None)

    def _patch(
        self,
        stored: Stored,
        record: SessionRecord,
        raw: bytes,
        sets: dict[str, Any],
        deletes: set[str],
        user_changed: bool,
        holds_lock: bool,
    ) -> Outcome:
        """Apply the request's changes on top of the latest record, retrying on conflicts.

        ``raw`` is ``record`` encoded: the first attempt writes it as it is, since the
        patch applied to the record loaded gives back the request's own data.
        """
        key, version, base, user = stored.key, stored.version, stored.record.data, record.user
        deadline = time.monotonic() + self.settings.save_deadline
        escalated: HeldLock | None = None
        attempt = 0
        try:
            while True:
                merged = record.data if attempt == 0 else apply(base, sets, deletes)
                ttl = self.ttl(record.created, self.clock())
                try:
                    if ttl <= 0:
                        self.store.delete(key, if_version=version)
                        return Outcome("delete")
                    # An emptied session keeps its (empty) record until it expires, so a
                    # concurrent request's keys still merge into it; the cookie goes.
                    value = (
                        raw if attempt == 0 else encode(SessionRecord(record.created, merged, user))
                    )
                    self.store.set(key, value, ttl=ttl, if_version=version)
                    return Outcome(None if merged else "delete")
                except Conflict:
                    attempt += 1
                if not holds_lock and escalated is None:
                    remaining = max(0.0, deadline - time.monotonic())
                    try:
                        escalated = self.locker.acquire(stored.id_hash, timeout=remaining)
                    except LockTimeout:
                        raise self._gave_up(attempt) from None
                elif time.monotonic() >= deadline:
                    raise self._gave_up(attempt)
                else:
                    self.locker.backoff(attempt, cap=0.05)
                latest = self.store.get(key)
                if latest is None:
                    return Outcome("delete")  # destroyed by another request: the changes die too
                current = decode(latest.value)
                base, version = current.data, latest.version
                if not user_changed:
                    user = current.user
        finally:
            self.locker.release(escalated)

    def _gave_up(self, attempts: int) -> SaveConflict:
        return SaveConflict(
            f"session changed by other requests {attempts} times; gave up after "
            f"{self.settings.save_deadline:g}s (SESSION_SAVE_DEADLINE)"
        )
