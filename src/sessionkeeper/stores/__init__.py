"""Stores, chosen by URL: ``memory://``, ``sqlite:///path.db``, ``redis://...``, ``http://...``.

Each scheme names the module and class that handles it; the module is imported
only when its scheme is used, so optional dependencies stay optional.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigError
from .base import ABSENT, Absent, Record, Store, Version
from .urls import redact

__all__ = ["ABSENT", "SCHEMES", "Absent", "Record", "Store", "Version", "store_from_url"]

#: URL scheme -> "module:Class". Add an entry to plug in a store.
SCHEMES: dict[str, str] = {
    "memory": "sessionkeeper.stores.memory:MemoryStore",
    "sqlite": "sessionkeeper.stores.sqlite:SqliteStore",
    "redis": "sessionkeeper.stores.redis:RedisStore",
    "rediss": "sessionkeeper.stores.redis:RedisStore",
    "unix": "sessionkeeper.stores.redis:RedisStore",
    "redis+cluster": "sessionkeeper.stores.redis:RedisStore",
    "redis+sentinel": "sessionkeeper.stores.redis:RedisStore",
    "http": "sessionkeeper.stores.http:HttpStore",
    "https": "sessionkeeper.stores.http:HttpStore",
    "postgresql": "sessionkeeper.stores.sql:SqlStore",
    "postgresql+psycopg": "sessionkeeper.stores.sql:SqlStore",
    "mysql+pymysql": "sessionkeeper.stores.sql:SqlStore",
    "mariadb+pymysql": "sessionkeeper.stores.sql:SqlStore",
    "sqlite+pysqlite": "sessionkeeper.stores.sql:SqlStore",
    "sqlalchemy": "sessionkeeper.stores.sql:SqlStore",
    "memcached": "sessionkeeper.stores.memcached:MemcachedStore",
}


def store_from_url(url: str, **options: Any) -> Store:
    """Build the store a URL names, passing ``options`` (clock, instance_path...) to ``from_url``.

    An unknown scheme raises :class:`~sessionkeeper.errors.ConfigError`.
    """
    scheme, sep, _ = url.partition("://")
    target = SCHEMES.get(scheme.lower()) if sep else None
    if target is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigError(
            f"unknown session store URL {redact(url)!r}: set SESSION_STORE to 'cookie' or a URL "
            f"starting with one of {known}"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"the {scheme}:// store needs an optional dependency: {exc}; "
            "install sessionkeeper with the matching extra, e.g. 'sessionkeeper[redis]'"
        ) from exc
    cls = getattr(module, class_name)
    store: Store = cls.from_url(url, **options)
    return store
