"""Engines for the SQL store: built from a URL (the store owns them) or the app's own."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from ..errors import ConfigError, StoreError, StoreUnavailable
from .urls import redact

__all__ = ["app_engine", "engine_from_url", "translated"]

#: URL scheme -> the SQLAlchemy driver it means (PostgreSQL's default would be psycopg2).
_DRIVERS = {"postgresql": "postgresql+psycopg"}
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)


def engine_from_url(
    url: str, *, instance_path: str | os.PathLike[str] | None, timeout: float | None
) -> Engine:
    """Build an engine (and its pool) for ``url``; the caller owns and disposes of it.

    ``postgresql://`` means ``postgresql+psycopg://``. A relative SQLite path is
    under ``instance_path``, as Flask-SQLAlchemy has it, and the file is put in WAL
    mode. A server's pool keeps 16 connections, and a 17th concurrent request waits
    for one. ``timeout`` bounds connecting and that wait, in seconds. Its connections
    are in autocommit mode.
    """
    scheme, _, rest = url.partition("://")
    try:
        parsed = make_url(_DRIVERS.get(scheme, scheme) + "://" + rest)
    except exc.ArgumentError as error:
        raise ConfigError(f"bad SQL store URL {redact(url)!r}: {error}") from error
    options: dict[str, Any] = {
        "hide_parameters": True,
        "pool_recycle": 1800,
        "isolation_level": "AUTOCOMMIT",  # every operation is one statement
    }
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError("a SQLite store needs a file; use memory:// for one in memory")
        path = os.path.abspath(os.path.join(instance_path or ".", parsed.database))
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create the directory of {path}: {error}") from error
        parsed = parsed.set(database=path)
    else:  # a fixed pool: connections past it would be opened and closed per request
        options.update(pool_size=16, max_overflow=0, pool_timeout=timeout or 30.0)
        if timeout is not None:
            options["connect_args"] = {"connect_timeout": max(1, round(timeout))}
    try:
        engine = create_engine(parsed, **options)
    except (exc.ArgumentError, ImportError) as error:
        raise ConfigError(f"cannot use the SQL store {redact(url)!r}: {error}") from error
    if engine.dialect.name == "sqlite":  # readers beside one writer, as SqliteStore has it
        event.listen(engine, "connect", _wal)
    return engine


def _wal(dbapi_connection: Any, _: object) -> None:
    dbapi_connection.execute("PRAGMA journal_mode = WAL").fetchall()
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


def app_engine(app: Any, bind: str | None) -> Engine:
    """The engine of the app's Flask-SQLAlchemy extension, which stays its owner's.

    ``bind`` names a ``SQLALCHEMY_BINDS`` entry; None is the default engine.
    """
    extension = None if app is None else app.extensions.get("sqlalchemy")
    if extension is None:
        raise ConfigError(
            "SESSION_STORE = 'sqlalchemy' uses the app's Flask-SQLAlchemy engine: "
            "initialise Flask-SQLAlchemy (db.init_app(app)) before SessionKeeper"
        )
    with app.app_context():
        engines: dict[str | None, Engine] = extension.engines
    if bind not in engines:
        raise ConfigError(f"Flask-SQLAlchemy has no bind {bind!r}: add it to SQLALCHEMY_BINDS")
    return engines[bind]


def translated(error: exc.SQLAlchemyError, name: str) -> StoreError:
    """The store error for a database error: unavailable for connection trouble and timeouts.

    The message names the driver's error, never the statement's parameters.
    """
    reason = error.orig if isinstance(error, exc.DBAPIError) else error
    kind = StoreUnavailable if isinstance(error, _UNAVAILABLE) else StoreError
    return kind(f"SQL store {name}: {str(reason).strip()}")
