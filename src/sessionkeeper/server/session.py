"""The session object of server-side sessions: Flask's ``session``, loaded on first use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from flask import Flask, Request
from flask.sessions import SessionMixin

from .changes import Pending, Stored
from .locking import HeldLock
from .record import Tagger

__all__ = ["Loaded", "Loader", "ServerSession", "snapshot_of"]

#: Values that are their own tagged form (Flask's tagger would check every tag to say so).
_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


@dataclass(slots=True)
class Loaded:
    """What loading gave a request: its data and, for a live record, where it came from."""

    data: dict[str, Any]
    created: float
    stored: Stored | None = None
    lock: HeldLock | None = None
    discard: list[Stored] = field(default_factory=list)
    """Records to destroy at the save (a destroyed session, an expired record)."""
    moved_from: Stored | None = None
    """The record ``regenerate`` moved the data away from."""
    verified: bool = False
    """The request's cookie carried a valid signature (so this app may delete it)."""
    snapshot: dict[str, Any] | None = None
    """A copy of the data as loaded, when every value is plain (a change is then visible)."""


def snapshot_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """A shallow copy of ``data`` if no value can change in place, else None."""
    for value in data.values():
        if type(value) not in _PLAIN:
            return None
    return dict(data)


class Loader(Protocol):
    """Reads a session for a request (the session interface)."""

    clock: Callable[[], float]

    def load(self, app: Flask, request: Request) -> Loaded: ...


class ServerSession(SessionMixin):
    """Flask's ``session`` for server-side stores; reads the store on first use."""

    def __init__(self, loader: Loader, app: Flask, request: Request) -> None:
        self._loader = loader
        self._app = app
        self._request = request
        self._loaded: Loaded | None = None
        self._user: str | None = None
        self.accessed = False
        self.modified = False
        self.new = True

    @property
    def _state(self) -> Loaded:
        if self._loaded is None:
            self.accessed = True
            self._loaded = loaded = self._loader.load(self._app, self._request)
            self.new = loaded.stored is None
            self._user = None if loaded.stored is None else loaded.stored.record.user
        return self._loaded

    @property
    def data(self) -> dict[str, Any]:
        """The session's data, loaded from the store on first access."""
        return self._state.data

    @property
    def loaded(self) -> bool:
        """Whether this request has read the session from the store."""
        return self._loaded is not None

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
        self._user = None
        self.modified = True

    def __repr__(self) -> str:
        state = repr(self._loaded.data) if self._loaded is not None else "<not loaded>"
        return f"<ServerSession {state}>"

    @property
    def id_hash(self) -> str | None:
        """The hashed id this session is stored under (what the CLI and index show), if stored."""
        stored = self._state.stored
        return stored.id_hash if stored is not None else None

    @property
    def user(self) -> str | None:
        """The user this session is bound to, if any."""
        _ = self._state
        return self._user

    def regenerate(self) -> None:
        """Move the data to a new session id and destroy the old one. Call it at login."""
        state = self._state
        stored = state.stored
        if stored is not None:
            state.moved_from, state.stored = stored, None
        self.modified = bool(state.data)

    def destroy(self) -> None:
        """Delete the session from the store and clear it; the old cookie stops working."""
        self.regenerate()
        state = self._state
        if state.moved_from is not None:  # nothing to carry over: the record just goes
            state.discard.append(state.moved_from)
            state.moved_from = None
        state.data.clear()
        state.created = self._loader.clock()
        self._user = None
        self.modified = True

    def bind_user(self, user_id: str | int) -> None:
        """Record whose session this is, so it can be listed and revoked with its siblings."""
        _ = self._state
        self._user = str(user_id)

    def unbind_user(self) -> None:
        """Detach the session from its user (it stays valid, but out of the user's index)."""
        _ = self._state
        self._user = None

    @property
    def unchanged(self) -> Stored | None:
        """The record loaded, if this request provably left it as it was (else None).

        Provable for plain values only: a list or dict in the session could have
        changed in place, so those sessions are compared by their encoding.
        """
        state = self._loaded
        if state is None or self.modified or state.snapshot is None:
            return None
        stored = state.stored
        if (
            stored is None
            or state.discard
            or state.moved_from is not None
            or self._user != stored.record.user
            or state.created != stored.record.created
            or state.data != state.snapshot
        ):
            return None
        return stored

    def pending(self, tagger: Tagger) -> Pending:
        """What this request leaves to save, its data tagged for the store."""
        state = self._state
        return Pending(
            stored=state.stored,
            data={k: v if type(v) in _PLAIN else tagger.tag(v) for k, v in state.data.items()},
            created=state.created,
            user=self._user,
            discard=tuple(state.discard),
            moved_from=state.moved_from,
            had_cookie=state.verified,
            holds_lock=state.lock is not None,
        )

    def request_environ(self) -> dict[str, Any]:
        """The WSGI environ of the request this session belongs to."""
        environ: dict[str, Any] = self._request.environ
        return environ

    def take_lock(self) -> HeldLock | None:
        """Hand over the lock this request holds (to release it), if any."""
        if self._loaded is None:
            return None
        lock, self._loaded.lock = self._loaded.lock, None
        return lock
