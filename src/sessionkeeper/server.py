"""Server-side sessions: the cookie carries a signed random id, the data lives in a Store.

A request pays for what it uses. Opening a session costs nothing; the store is
read when the view first touches ``session``; it is written only when the data
changed (compared as serialised JSON, so nested changes count); an unchanged
session is at most ``touch``-ed once per ``SESSION_TOUCH_INTERVAL``.

Saves are patches: the keys this request set or deleted are written with
compare-and-set against the version it loaded. When another request wrote in
between, the latest record is reloaded, the patch re-applied and the write
retried with jittered backoff until ``SESSION_SAVE_DEADLINE``, so overlapping
requests of one session never lose each other's keys.

The store key is the SHA-256 of the id, so a dump of the store yields no usable
cookie.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from flask import Flask, Request, Response, current_app, has_request_context, request, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionMixin, session_json_serializer
from markupsafe import escape

from ._cookies import CookieDefaults, client_address, security_log
from .config import Settings
from .errors import Conflict, CorruptRecord, LockTimeout, SaveConflict, SessionError, StoreError
from .signing import IdSigner
from .stores.base import ABSENT, Clock, Store, Version

__all__ = [
    "ServerSession",
    "ServerSessionInterface",
    "locked",
    "release_lock",
    "unavailable_response",
]

log = logging.getLogger("sessionkeeper")
CookieAction = Literal["set", "delete"] | None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def untag(serializer: TaggedJSONSerializer, value: Any) -> Any:
    """Rebuild Python values from tagged JSON, leaving ``value`` itself untouched."""
    if isinstance(value, dict):
        return serializer.untag({k: untag(serializer, v) for k, v in value.items()})
    if isinstance(value, list):
        return [untag(serializer, item) for item in value]
    return value


class ServerSession(SessionMixin):
    """Flask's ``session`` for server-side stores; loads from the store on first use."""

    def __init__(self, interface: ServerSessionInterface, cookie: str | None) -> None:
        self.interface = interface
        self.cookie = cookie
        self._data: dict[str, Any] | None = None
        self.sid: str | None = None
        self.key: str | None = None
        self.version: Version | None = None
        self.expires: float | None = None
        self.created = 0.0
        self.base: dict[str, Any] = {}
        self.raw = b""
        self.user: str | None = None
        self.base_user: str | None = None
        self.discard: list[str] = []
        self.lock: tuple[str, Version] | None = None
        self.accessed = False
        self.modified = False
        self.new = True

    @property
    def data(self) -> dict[str, Any]:
        """The session's data, loaded from the store on first access."""
        if self._data is None:
            self._data = self.interface.load(self)
        return self._data

    @property
    def loaded(self) -> bool:
        """Whether this request has read the session from the store."""
        return self._data is not None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def clear(self) -> None:
        """Remove every key and unbind the user: what a logout that calls ``clear()`` means."""
        self.data.clear()
        self.user = None
        self.modified = True

    def __repr__(self) -> str:
        state = repr(self._data) if self._data is not None else "<not loaded>"
        return f"<ServerSession {state}>"

    @property
    def id_hash(self) -> str | None:
        """The hashed id this session is stored under (what the CLI and index show), if stored."""
        return self.interface.hash_of(self.key) if self.key else None

    def regenerate(self) -> None:
        """Move the data to a new session id and destroy the old one. Call it at login."""
        data = self.data
        if self.key is not None:
            self.discard.append(self.key)
            if self.base_user is not None:
                self.discard.append(self.interface.index_key(self.base_user, self.key))
        self.sid = self.key = self.version = None
        self.base, self.base_user = {}, None
        self.modified = bool(data)

    def destroy(self) -> None:
        """Delete the session from the store and clear it; the old cookie stops working."""
        self.regenerate()
        self.data.clear()
        self.user = None
        self.created = self.interface.clock()
        self.modified = True

    def bind_user(self, user_id: str | int) -> None:
        """Record whose session this is, so it can be listed and revoked with its siblings."""
        _ = self.data
        self.user = str(user_id)

    def unbind_user(self) -> None:
        """Detach the session from its user (it stays valid, but out of the user's index)."""
        _ = self.data
        self.user = None


class ServerSessionInterface(CookieDefaults):
    """Flask session interface that keeps session data in a :class:`Store`."""

    serializer = session_json_serializer

    def __init__(self, store: Store, settings: Settings, app: Flask, *, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        keys = [*(app.config["SECRET_KEY_FALLBACKS"] or []), app.secret_key]
        self.signer = IdSigner(keys)
        self.sleep: Callable[[float], None] = time.sleep

    def key_for(self, sid: str) -> str:
        """The store key of a session id: a hash, so the store never holds a usable token."""
        return self.settings.key_prefix + hashlib.sha256(sid.encode()).hexdigest()

    def hash_of(self, key: str) -> str:
        """The hashed id inside a record key."""
        return key[len(self.settings.key_prefix) :]

    def user_index(self, user: str) -> str:
        """The key prefix under which ``user``'s sessions are listed."""
        return f"{self.settings.user_prefix}{hashlib.sha256(user.encode()).hexdigest()[:32]}:"

    def index_key(self, user: str, key: str) -> str:
        """The user-index entry that lists the session stored under ``key`` for ``user``."""
        return self.user_index(user) + self.hash_of(key)

    # Flask hooks -----------------------------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        return ServerSession(self, request.cookies.get(self.get_cookie_name(app)) or None)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession) or not session.accessed:
            return
        response.vary.add("Cookie")
        if not session.loaded:
            return  # loading failed; the view's error response stands
        try:
            action = self.commit(session)
        except (StoreError, SessionError) as exc:
            fail_response(response, exc)
            return
        finally:
            self.release(session)
        if action == "set":
            assert session.sid is not None
            self.set_session_cookie(
                app, response, self.signer.sign(session.sid), self.cookie_expires(session)
            )
        elif action == "delete":
            self.delete_session_cookie(app, response)

    def cookie_expires(self, session: ServerSession) -> datetime | None:
        """Keep a permanent session's cookie to the absolute timeout, others per browser run."""
        if not session.permanent:
            return None
        return datetime.fromtimestamp(session.created + self.settings.absolute_timeout, UTC)

    # Loading ---------------------------------------------------------------------------

    def load(self, session: ServerSession) -> dict[str, Any]:
        """Read the session's record; a cookie or record that fails any check gives an empty one."""
        session.accessed = True
        now = self.clock()
        session.created = now
        sid = self.verify(session.cookie) if session.cookie else None
        if sid is None:
            return {}
        key = self.key_for(sid)
        if self.settings.locking or (
            _locked_views and getattr(app_view(), "sessionkeeper_locked", False)
        ):
            self.acquire(session, key)
        try:
            record = self.store.get(key)
        except StoreError:
            self.release(session)
            raise
        if record is None:
            security_log.info("unknown or expired session id from %s", client_address())
            return {}
        try:
            tree = json.loads(record.value)
            created, base, user = float(tree["c"]), tree["d"], tree.get("u")
            data = untag(self.serializer, base)
            if not isinstance(data, dict):
                raise TypeError("session data is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            security_log.warning("undecodable session record %s: %s", key, exc)
            return {}
        if created + self.settings.absolute_timeout <= now:
            security_log.info("session past its absolute timeout from %s", client_address())
            session.discard.append(key)
            return {}
        session.sid, session.key, session.version = sid, key, record.version
        session.raw, session.expires = record.value, record.expires
        session.created, session.base = created, base
        session.user = session.base_user = user if isinstance(user, str) else None
        session.new = False
        return data

    def verify(self, cookie: str) -> str | None:
        """The session id inside a signed cookie value, or None if the signature is wrong."""
        sid = self.signer.unsign(cookie)
        if sid is None:
            security_log.warning("rejected session cookie from %s: bad signature", client_address())
        return sid

    # Locking ---------------------------------------------------------------------------

    def acquire(self, session: ServerSession, key: str, timeout: float | None = None) -> None:
        """Take the session's lock, waiting up to ``timeout`` (``SESSION_LOCK_TIMEOUT``).

        The lock is a store key written only if absent, with a TTL so a crashed
        worker cannot hold it forever; it is released after the save.
        """
        lock_key = self.settings.lock_prefix + self.hash_of(key)
        deadline = time.monotonic() + (self.settings.lock_timeout if timeout is None else timeout)
        attempt = 0
        while True:
            try:
                version = self.store.set(
                    lock_key, b"1", ttl=self.settings.lock_ttl, if_version=ABSENT
                )
            except Conflict:
                attempt += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(
                        f"another request held the session lock for over "
                        f"{self.settings.lock_timeout:g}s (SESSION_LOCK_TIMEOUT)"
                    ) from None
                self.sleep(min(remaining, random.uniform(0, min(0.1, 0.001 * 2**attempt))))
                continue
            session.lock = (lock_key, version)
            return

    def release(self, session: ServerSession) -> None:
        """Release the session's lock if this request holds it."""
        if session.lock is None:
            return
        lock_key, version = session.lock
        session.lock = None
        try:
            self.store.delete(lock_key, if_version=version)
        except Conflict:
            log.warning("session lock expired before release; raise SESSION_LOCK_TTL")
        except StoreError as exc:
            log.error("could not release a session lock (it expires by itself): %s", exc)

    # Saving ----------------------------------------------------------------------------

    def ttl(self, created: float, now: float) -> float:
        """Seconds the record lives: the idle timeout, capped by the absolute one."""
        return min(self.settings.idle_timeout, created + self.settings.absolute_timeout - now)

    def encode(self, created: float, user: str | None, data: dict[str, Any]) -> bytes:
        """The record: creation time, bound user and tagged data, as JSON."""
        record: dict[str, Any] = {"c": created, "d": data}
        if user is not None:
            record["u"] = user
        return _dumps(record).encode()

    def commit(self, session: ServerSession) -> CookieAction:
        """Write what this request changed; say what to do with the cookie."""
        store, now = self.store, self.clock()
        for key in session.discard:
            store.delete(key)
        data = session.data
        tag = self.serializer.tag
        tagged = {k: tag(v) for k, v in data.items()}
        if session.key is None:
            if not data and session.user is None:
                return "delete" if session.cookie else None
            return self.create(session, tagged, now)
        user_changed = session.user != session.base_user
        # The record is re-encoded exactly as it was written: equal bytes, nothing changed.
        if self.encode(session.created, session.user, tagged) == session.raw or (
            not user_changed and _dumps(tagged) == _dumps(session.base)
        ):
            self.touch(session, now)
            return None
        base = session.base
        sets = {k: v for k, v in tagged.items() if k not in base or _dumps(v) != _dumps(base[k])}
        key = session.key
        action = self.patch(session, sets, base.keys() - tagged.keys(), user_changed, now)
        if user_changed:
            if session.base_user is not None:
                store.delete(self.index_key(session.base_user, key))
            if session.user is not None and action is None:
                self.index(session, now)
        return action

    def create(self, session: ServerSession, tagged: dict[str, Any], now: float) -> CookieAction:
        ttl = self.ttl(session.created, now)
        if ttl <= 0:
            return "delete"
        sid = secrets.token_urlsafe(32)
        key = self.key_for(sid)
        session.version = self.store.set(
            key, self.encode(session.created, session.user, tagged), ttl=ttl, if_version=ABSENT
        )
        session.sid, session.key, session.base = sid, key, tagged
        if session.user is not None:
            self.index(session, now)
        return "set"

    def index(self, session: ServerSession, now: float) -> None:
        """List the session under its user until it could have expired at the latest."""
        assert session.key is not None and session.user is not None
        entry = _dumps({"created": session.created}).encode()
        ttl = session.created + self.settings.absolute_timeout - now
        self.store.set(self.index_key(session.user, session.key), entry, ttl=ttl)

    def touch(self, session: ServerSession, now: float) -> None:
        """Push the idle expiry forward, at most once per touch interval."""
        assert session.key is not None
        ttl = self.ttl(session.created, now)
        if session.expires is None or now + ttl - session.expires >= self.settings.touch_interval:
            self.store.touch(session.key, ttl)

    def patch(
        self,
        session: ServerSession,
        sets: dict[str, Any],
        deletes: set[str],
        user_changed: bool,
        now: float,
    ) -> CookieAction:
        """Apply this request's changes on top of the latest record, retrying on conflicts."""
        assert session.key is not None
        key, version, base, user = session.key, session.version, session.base, session.user
        deadline = time.monotonic() + self.settings.save_deadline
        attempt = 0
        while True:
            merged = {k: v for k, v in base.items() if k not in deletes}
            merged.update(sets)
            ttl = self.ttl(session.created, now)
            try:
                if ttl <= 0:
                    self.store.delete(key, if_version=version)
                    return "delete"
                # An emptied session keeps its (empty) record until it expires, so a
                # concurrent request's keys still merge into it; this response drops the cookie.
                self.store.set(
                    key, self.encode(session.created, user, merged), ttl=ttl, if_version=version
                )
                return None if merged else "delete"
            except Conflict:
                attempt += 1
            if session.lock is None:
                # Contended: queue behind the session lock, so that retries stop racing
                # each other and every writer gets its turn before the deadline.
                try:
                    self.acquire(session, key, timeout=max(0.0, deadline - time.monotonic()))
                except LockTimeout:
                    raise self.gave_up(attempt) from None
            elif time.monotonic() >= deadline:
                raise self.gave_up(attempt)
            else:
                self.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
            record = self.store.get(key)
            if record is None:
                return "delete"  # destroyed by another request: our changes die with it
            try:
                tree = json.loads(record.value)
                base, version = dict(tree["d"]), record.version
            except (ValueError, KeyError, TypeError) as exc:
                raise CorruptRecord(f"session record {key} cannot be decoded: {exc}") from exc
            if not user_changed:
                user = tree.get("u")
            now = self.clock()

    def gave_up(self, attempts: int) -> SaveConflict:
        return SaveConflict(
            f"session changed by other requests {attempts} times; gave up after "
            f"{self.settings.save_deadline:g}s (SESSION_SAVE_DEADLINE)"
        )


def app_view() -> Callable[..., Any] | None:
    """The view function handling the current request, if any."""
    endpoint = request.endpoint if has_request_context() else None
    return current_app.view_functions.get(endpoint) if endpoint else None


ViewT = TypeVar("ViewT", bound=Callable[..., Any])


#: Whether any view was marked ``@locked``; until one is, requests skip the view lookup.
_locked_views = False


def locked(view: ViewT) -> ViewT:
    """Serialise this view's requests per session, as ``SESSION_LOCKING = True`` does for all."""
    global _locked_views
    _locked_views = True
    view.sessionkeeper_locked = True  # type: ignore[attr-defined]
    return view


def release_lock(exc: BaseException | None = None) -> None:
    """Release a lock the request still holds (its save never ran); a teardown hook."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, ServerSession) and current.lock is not None:
        current.interface.release(current)


def unavailable_response(exc: Exception) -> tuple[str, int, dict[str, str]]:
    """A 503 answer for a failed store, as JSON or HTML to suit the client."""
    log.error("session store failed: %s", exc)
    message = "The session store is unavailable; please try again shortly."
    if isinstance(exc, SessionError):
        message = f"The session could not be saved: {exc}."
    headers = {"Retry-After": "1"}
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        headers["Content-Type"] = "text/html; charset=utf-8"
        body = (
            "<!doctype html><title>503 Service Unavailable</title>"
            f"<h1>Service Unavailable</h1><p>{escape(message)}</p>"
        )
        return body, 503, headers
    headers["Content-Type"] = "application/json"
    return _dumps({"error": "session_unavailable", "message": message}), 503, headers


def fail_response(response: Response, exc: Exception) -> None:
    """Turn an already-built response into the 503 for a failed save."""
    body, status, headers = unavailable_response(exc)
    response.set_data(body)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
