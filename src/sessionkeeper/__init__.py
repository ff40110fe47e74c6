"""SessionKeeper: sessions and cookies for Flask.

Kept in the cookie (signed, or encrypted) or on a server (SQLite, Redis, the
key-value service), secure by default, and safe when requests of one session
overlap.
"""

from __future__ import annotations

from .errors import (
    ConfigError,
    Conflict,
    CookieTooLarge,
    CorruptRecord,
    LockTimeout,
    SaveConflict,
    SessionError,
    SessionKeeperError,
    StoreError,
    StoreUnavailable,
)
from .extension import KeeperState, SessionKeeper
from .server import (
    ServerSession,
    ServerSessionInterface,
    SessionAdmin,
    SessionInfo,
    Stats,
    locked,
)
from .server.inspect import Inspection
from .stores import ABSENT, Record, Store, store_from_url
from .stores.memory import MemoryStore

__all__ = [
    "ABSENT",
    "ConfigError",
    "Conflict",
    "CookieTooLarge",
    "CorruptRecord",
    "Inspection",
    "KeeperState",
    "LockTimeout",
    "MemoryStore",
    "Record",
    "SaveConflict",
    "ServerSession",
    "ServerSessionInterface",
    "SessionAdmin",
    "SessionError",
    "SessionInfo",
    "SessionKeeper",
    "SessionKeeperError",
    "Stats",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "locked",
    "store_from_url",
]
