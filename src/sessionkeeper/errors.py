"""The exceptions SessionKeeper raises.

SessionKeeperError
 +-- ConfigError          the app is configured wrongly (fails at start)
 +-- CookieTooLarge       a cookie session outgrew what browsers keep
 +-- SessionError         the session layer gave up on a request
 |    +-- SaveConflict    concurrent writers kept winning until the deadline
 |    +-- LockTimeout     the session lock was not free in time
 +-- StoreError           the store failed (infrastructure, not the caller)
 |    +-- StoreUnavailable    refused, unreachable, timed out
 |    +-- CorruptRecord       stored bytes that cannot be decoded
 +-- Conflict             a compare-and-set found another version
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "CookieTooLarge",
    "CorruptRecord",
    "LockTimeout",
    "SaveConflict",
    "SessionError",
    "SessionKeeperError",
    "StoreError",
    "StoreUnavailable",
]


class SessionKeeperError(Exception):
    """Base of every error this package raises."""


class ConfigError(SessionKeeperError):
    """The application's configuration is missing or wrong; the message says what to set."""


class CookieTooLarge(SessionKeeperError):
    """A cookie session would exceed the size browsers keep (it would be silently dropped)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the session cookie would be {size} bytes, over the {limit}-byte limit browsers "
            "keep; store less in the session or use a server-side store (SESSION_STORE)"
        )
        self.size = size
        self.limit = limit


class SessionError(SessionKeeperError):
    """The session layer could not complete a request's load or save."""


class SaveConflict(SessionError):
    """Other requests kept changing the session until the save deadline passed."""


class LockTimeout(SessionError):
    """The session's lock was held by another request for longer than the lock timeout."""


class StoreError(SessionKeeperError):
    """The store failed: unreachable, timed out, or returned data that cannot be read."""


class StoreUnavailable(StoreError):
    """The store refused the connection, was unreachable, or did not answer in time."""


class CorruptRecord(StoreError):
    """The store returned bytes that cannot be decoded."""


class Conflict(SessionKeeperError):
    """A compare-and-set write found a version other than the one it expected."""

    def __init__(self, key: str, message: str = "version mismatch") -> None:
        super().__init__(f"{message} for key {key!r}")
        self.key = key
