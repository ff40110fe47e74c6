"""Configuration keys, their defaults, and how they are read.

Every key is set once on ``app.config`` with ``setdefault``; :class:`Settings`
is the parsed, validated view the session interfaces use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .errors import ConfigError

__all__ = ["DEFAULTS", "DOCS", "Settings", "seconds"]

#: Every ``SESSION_*`` key SessionKeeper reads, with its default; :data:`DOCS` describes each.
DEFAULTS: dict[str, Any] = {
    "SESSION_STORE": "cookie",
    "SESSION_COOKIE_ENCRYPT": False,
    "SESSION_COOKIE_MAX_SIZE": 4093,
    "SESSION_IDLE_TIMEOUT": timedelta(minutes=30),
    "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=12),
    "SESSION_TOUCH_INTERVAL": timedelta(minutes=1),
    "SESSION_KEY_PREFIX": "session:",
    "SESSION_STORE_TIMEOUT": 2.0,
    "SESSION_KV_TOKEN": None,
    "SESSION_SAVE_DEADLINE": 10.0,
    "SESSION_LOCKING": False,
    "SESSION_LOCK_TIMEOUT": 10.0,
    "SESSION_LOCK_TTL": 30.0,
    "SESSION_INSPECT": False,
}

#: One line per key of :data:`DEFAULTS`: the documentation's configuration reference is
#: generated from these two mappings (a test checks that both name the same keys).
DOCS: dict[str, str] = {
    "SESSION_STORE": (
        'Where sessions live: ``"cookie"``, a store URL (``memory://``, ``sqlite:///``, '
        "``redis://``, ``redis+cluster://``, ``redis+sentinel://``, ``http://``, "
        "``postgresql://``, ``mysql+pymysql://``, ``memcached://``), ``sqlalchemy`` for the "
        "app's Flask-SQLAlchemy engine, or a ready ``Store`` instance, which its owner closes."
    ),
    "SESSION_COOKIE_ENCRYPT": (
        "Cookie mode: encrypt the cookie with AES-256-GCM, keyed from ``SECRET_KEY`` "
        "(needs ``cryptography``, the ``crypto`` extra)."
    ),
    "SESSION_COOKIE_MAX_SIZE": (
        "A ``Set-Cookie`` header longer than this many bytes raises ``CookieTooLarge`` "
        "instead of being dropped by the browser."
    ),
    "SESSION_IDLE_TIMEOUT": (
        "A server-side session unused this long expires (rolling, enforced by the store's expiry)."
    ),
    "SESSION_ABSOLUTE_TIMEOUT": (
        "A server-side session expires this long after it was created, however active it is."
    ),
    "SESSION_TOUCH_INTERVAL": (
        "Refresh an unchanged session's idle expiry with a ``touch`` at most this often "
        "(0: on every request); must be shorter than the idle timeout."
    ),
    "SESSION_KEY_PREFIX": (
        "Store key prefix of session records (locks use ``session-lock:``, the user index "
        "``session-user:``)."
    ),
    "SESSION_STORE_TIMEOUT": (
        "Seconds to wait for the store: it bounds connecting to Redis, the KV service and "
        "Memcached and each of their answers; for PostgreSQL and MySQL/MariaDB, connecting "
        "(rounded to whole seconds) and the wait for a pooled connection; for ``sqlite:///``, "
        "the wait for another writer's lock."
    ),
    "SESSION_KV_TOKEN": "Bearer token sent to the key-value service (``http://`` stores).",
    "SESSION_SAVE_DEADLINE": (
        "How long a save that meets concurrent writers keeps merging and retrying "
        "(or queueing behind the session lock) before the request answers 503."
    ),
    "SESSION_LOCKING": (
        "Serialise the requests of one session (per view instead: ``@sessionkeeper.locked``)."
    ),
    "SESSION_LOCK_TIMEOUT": "How long a request waits for the session lock before it answers 503.",
    "SESSION_LOCK_TTL": "A lock left behind by a crashed worker frees itself after this long.",
    "SESSION_INSPECT": (
        "Leave a ``sessionkeeper.Inspection`` of each request's session (store operations, "
        "hashed id, expiries, size) in its WSGI environ, for teaching pages; costs a read."
    ),
}


def seconds(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Read a duration given as a ``timedelta`` or a number of seconds (fractions allowed)."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ConfigError(f"{name} must be a timedelta or a number of seconds, got {value!r}")
    if result < 0 or (result == 0 and not allow_zero):
        raise ConfigError(
            f"{name} must be {'zero or ' if allow_zero else ''}positive, got {value!r}"
        )
    return result


@dataclass(frozen=True, slots=True)
class Settings:
    """The parsed configuration of one app."""

    idle_timeout: float
    absolute_timeout: float
    touch_interval: float
    key_prefix: str
    store_timeout: float
    save_deadline: float
    locking: bool
    lock_timeout: float
    lock_ttl: float
    cookie_max_size: int
    inspect: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Validate and convert the ``SESSION_*`` keys; raise ConfigError naming a bad key."""
        settings = cls(
            idle_timeout=seconds(config["SESSION_IDLE_TIMEOUT"], "SESSION_IDLE_TIMEOUT"),
            absolute_timeout=seconds(
                config["SESSION_ABSOLUTE_TIMEOUT"], "SESSION_ABSOLUTE_TIMEOUT"
            ),
            touch_interval=seconds(
                config["SESSION_TOUCH_INTERVAL"], "SESSION_TOUCH_INTERVAL", allow_zero=True
            ),
            key_prefix=str(config["SESSION_KEY_PREFIX"]),
            store_timeout=seconds(config["SESSION_STORE_TIMEOUT"], "SESSION_STORE_TIMEOUT"),
            save_deadline=seconds(config["SESSION_SAVE_DEADLINE"], "SESSION_SAVE_DEADLINE"),
            locking=bool(config["SESSION_LOCKING"]),
            lock_timeout=seconds(config["SESSION_LOCK_TIMEOUT"], "SESSION_LOCK_TIMEOUT"),
            lock_ttl=seconds(config["SESSION_LOCK_TTL"], "SESSION_LOCK_TTL"),
            cookie_max_size=int(config["SESSION_COOKIE_MAX_SIZE"]),
            inspect=bool(config["SESSION_INSPECT"]),
        )
        if settings.touch_interval >= settings.idle_timeout:
            raise ConfigError("SESSION_TOUCH_INTERVAL must be shorter than SESSION_IDLE_TIMEOUT")
        return settings
