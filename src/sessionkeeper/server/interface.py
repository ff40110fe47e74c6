"""Flask's hooks for server-side sessions: open lazily, load on first use, commit at the end.

A request pays for what it uses: opening costs nothing; the store is read when
the view first touches ``session``; it is written only when the data changed
(nested changes included), and an unchanged session is at most ``touch``-ed
once per ``SESSION_TOUCH_INTERVAL``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Request, Response, current_app, g, has_app_context
from flask.sessions import SessionMixin, session_json_serializer

from ..config import Settings
from ..cookie import (
    CookieDefaults,
    add_vary_cookie,
    client_address,
    cookie_value,
    security_log,
)
from ..errors import ConfigError, CorruptRecord, SessionError, StoreError
from ..stores.base import Store
from .changes import Outcome, Stored
from .ids import IdSigner
from .inspect import ENVIRON_KEY, ObservedStore, inspect
from .keys import KeySpace, hash_id
from .locking import HeldLock, Locker, is_locked
from .record import decode, untag
from .saving import Saver
from .session import Loaded, ServerSession, snapshot_of
from .unavailable import fail_response

__all__ = ["ServerSessionInterface", "release_held_locks", "watch_teardown"]

log = logging.getLogger("sessionkeeper")
_HELD: str = "_sessionkeeper_locks"


class ServerSessionInterface(CookieDefaults):
    """Flask session interface that keeps session data in a :class:`Store`."""

    serializer = session_json_serializer

    def __init__(
        self, store: Store, settings: Settings, app: Flask, *, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.keys = KeySpace(settings.key_prefix)
        self.store = ObservedStore(store, self.keys) if settings.inspect else store
        self._signer: tuple[tuple[object, ...], IdSigner] | None = None
        self.locker = Locker(
            self.store, self.keys, ttl=settings.lock_ttl, timeout=settings.lock_timeout
        )
        self.saver = Saver(self.store, self.keys, self.locker, settings, clock)
        self._locked_views: tuple[int, frozenset[str]] = (-1, frozenset())

    # Flask hooks -----------------------------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        return ServerSession(self, app, request)  # read nothing until the view asks

    def signer_for(self, app: Flask) -> IdSigner:
        """The id signer for the app's current keys, as Flask reads them on every request."""
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        cached = self._signer
        if cached is None or cached[0] != keys:
            if not app.secret_key:
                raise ConfigError("server-side sessions sign their ids: set SECRET_KEY")
            cached = self._signer = (keys, IdSigner([k for k in keys if k]))
        return cached[1]

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession) or not session.accessed:
            return
        add_vary_cookie(response)
        if not session.loaded:
            return  # loading failed; the view's error response stands
        observed = self.store if isinstance(self.store, ObservedStore) else None
        unchanged = session.unchanged if observed is None else None
        pending = None
        try:
            if unchanged is not None:  # a read: at most a touch, nothing to encode
                outcome, created = self.saver.keep(unchanged), unchanged.record.created
            else:
                pending = session.pending(self.serializer)
                outcome, created = self.saver.save(pending), pending.created
        except (StoreError, SessionError) as exc:
            fail_response(response, exc)
            return
        finally:
            self._release(session.take_lock())
        if observed is not None and pending is not None:
            environ = session.request_environ()
            environ[ENVIRON_KEY] = inspect(observed, self.keys, self.settings, pending, outcome)
        if outcome.cookie == "set":
            assert outcome.sid is not None
            expires = self.cookie_expires(session, created)
            value = self.signer_for(app).sign(outcome.sid)
            self.set_session_cookie(app, response, value, expires)
        elif outcome.cookie == "delete":
            self.delete_session_cookie(app, response)

    def cookie_expires(self, session: SessionMixin, created: float) -> datetime | None:
        """Keep a permanent session's cookie to the absolute timeout, others per browser run."""
        if not session.permanent:
            return None
        return datetime.fromtimestamp(created + self.settings.absolute_timeout, UTC)

    def commit(self, session: ServerSession) -> Outcome:
        """Save what ``session``'s request changed (without touching any response)."""
        return self.saver.save(session.pending(self.serializer))

    # Loading ---------------------------------------------------------------------------

    def load(self, app: Flask, request: Request) -> Loaded:
        """Read a session; a cookie or record that fails any check gives an empty one."""
        now = self.clock()
        cookie = cookie_value(request, self.get_cookie_name(app))
        sid = self.verify(cookie, self.signer_for(app)) if cookie else None
        if sid is None:
            return Loaded({}, now)
        key = self.keys.record_of(sid)
        lock = self._acquire(app, hash_id(sid)) if self._wants_lock(app, request) else None
        try:
            found = self.store.get(key)
        except StoreError:
            self._release(lock)
            raise
        if found is None:
            security_log.info("unknown or expired session id from %s", client_address())
            return Loaded({}, now, lock=lock, verified=True)
        try:
            record = decode(found.value)
            data = untag(self.serializer, record.data)
            if not isinstance(data, dict):
                raise CorruptRecord("session data is not an object")
        except (CorruptRecord, ValueError, KeyError, TypeError) as exc:
            security_log.warning("undecodable session record %s: %s", key, exc)
            return Loaded({}, now, lock=lock, verified=True)
        stored = Stored(sid, key, found.version, found.value, found.expires, record)
        if record.created + self.settings.absolute_timeout <= now:
            security_log.info("session past its absolute timeout from %s", client_address())
            return Loaded({}, now, lock=lock, discard=[stored], verified=True)
        return Loaded(data, record.created, stored, lock, verified=True, snapshot=snapshot_of(data))

    def verify(self, cookie: str, signer: IdSigner) -> str | None:
        """The session id inside a signed cookie value, or None if the signature is wrong."""
        sid = signer.unsign(cookie)
        if sid is None:
            security_log.warning("rejected session cookie from %s: bad signature", client_address())
        return sid

    # Locking ---------------------------------------------------------------------------

    def _wants_lock(self, app: Flask, request: Request) -> bool:
        if self.settings.locking:
            return True
        views = app.view_functions
        count, endpoints = self._locked_views
        if count != len(views):  # routes are only added before the first request
            endpoints = frozenset(name for name, view in views.items() if is_locked(view))
            self._locked_views = (len(views), endpoints)
        return bool(endpoints) and request.endpoint in endpoints

    def _acquire(self, app: Flask, id_hash: str) -> HeldLock:
        lock = self.locker.acquire(id_hash)
        if has_app_context():  # released at teardown if the save never runs
            g.setdefault(_HELD, set()).add(lock)
            watch_teardown(app)
        return lock

    def _release(self, lock: HeldLock | None) -> None:
        if lock is not None and has_app_context():
            g.get(_HELD, set()).discard(lock)
        self.locker.release(lock)


def release_held_locks(exc: BaseException | None = None) -> None:
    """Release locks the request still holds (its save never ran); a teardown hook."""
    interface = current_app.session_interface
    held = g.pop(_HELD, None)
    if held and isinstance(interface, ServerSessionInterface):
        for lock in held:
            interface.locker.release(lock)


_registering = threading.Lock()


def watch_teardown(app: Flask) -> None:
    """Release held locks at teardown, registered with the app's first lock.

    Apps that never lock pay nothing at teardown. ``teardown_request_funcs`` is
    Flask's documented registry; appending to it is what ``teardown_request``
    does, minus the check that refuses setup once requests have started.
    """
    funcs = app.teardown_request_funcs.get(None, [])
    if release_held_locks not in funcs:
        with _registering:
            funcs = app.teardown_request_funcs.setdefault(None, [])
            if release_held_locks not in funcs:
                funcs.append(release_held_locks)
