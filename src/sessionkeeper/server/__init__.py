"""Server-side sessions: the cookie carries a signed random id, the data lives in a Store.

The store key is the SHA-256 of the id, so a dump of the store yields no usable
cookie. Saves are patches written with compare-and-set, so overlapping requests
of one session never lose each other's keys; :func:`locked` (or
``SESSION_LOCKING``) serialises the requests of a session for code that needs a
read-modify-write of one key.
"""

from __future__ import annotations

from .admin import SessionAdmin, SessionInfo, Stats
from .interface import ServerSessionInterface
from .locking import locked
from .session import ServerSession

__all__ = [
    "ServerSession",
    "ServerSessionInterface",
    "SessionAdmin",
    "SessionInfo",
    "Stats",
    "locked",
]
