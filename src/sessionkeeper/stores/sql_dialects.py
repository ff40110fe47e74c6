"""The SQL store's table and the statements that differ by database.

The table lives on :data:`metadata`, so an Alembic ``env.py`` can include it in
``target_metadata`` (``[app_metadata, sessionkeeper.stores.sql.metadata]``).
Keys sort by code point on every database: PostgreSQL's ``COLLATE "C"``,
SQLite's byte order, and on MySQL/MariaDB a ``VARBINARY`` column holding UTF-8
(their ``_bin`` collations pad with spaces, which would put ``"a\\0"`` before ``"a"``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Double,
    Engine,
    Executable,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    exc,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["SessionKey", "metadata", "records"]

#: The longest key the table holds, in characters.
KEY_LENGTH = 255


class SessionKey(TypeDecorator[str]):
    """A ``str`` key column ordered by code point on every database."""

    impl = String(KEY_LENGTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _mysql(dialect):
            return dialect.type_descriptor(mysql.VARBINARY(4 * KEY_LENGTH))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(String(KEY_LENGTH, collation="C"))
        return dialect.type_descriptor(String(KEY_LENGTH))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is not None and _mysql(dialect):
            return value.encode("utf-8", "surrogatepass")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8", "surrogatepass")
        return value  # type: ignore[no-any-return]


metadata = MetaData()
#: ``sessionkeeper_records``: one row per key; ``expires`` (epoch seconds) is NULL for never.
records = Table(
    "sessionkeeper_records",
    metadata,
    Column("key", SessionKey(), primary_key=True),
    Column(
        "value",
        LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
        nullable=False,
    ),
    Column("version", BigInteger, nullable=False),
    Column("expires", Double, nullable=True, index=True),
)
_c = records.c
_VERSION = re.compile("[0-7][0-9a-f]{15}")  # 63 bits as written by f"{n:016x}"


def parse_version(version: str) -> int | None:
    """The stored integer of a version string, or None if it is not one of ours."""
    return int(version, 16) if _VERSION.fullmatch(version) else None


def create_schema(engine: Engine) -> bool:
    """Create the table and its index when missing; True once they exist."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except exc.SQLAlchemyError:  # another process may have won the race to create it
        with engine.connect() as conn:
            if not engine.dialect.has_table(conn, records.name):
                raise
    return True


def _mysql(dialect: Dialect) -> bool:
    return dialect.name in ("mysql", "mariadb")


#: The condition of a record that has not expired at the bound parameter ``now``.
LIVE: Any = or_(_c.expires.is_(None), _c.expires > bindparam("now"))


def upsert(dialect: Dialect, row: dict[str, Any]) -> Executable:
    """Write ``row`` whether or not its key exists."""
    if _mysql(dialect):
        stmt = mysql.insert(records).values(row)
        new_row = stmt.inserted
        upserted: Executable = stmt.on_duplicate_key_update(
            value=new_row.value, version=new_row.version, expires=new_row.expires
        )
        return upserted
    ins = (postgresql if dialect.name == "postgresql" else sqlite).insert(records).values(row)
    new = ins.excluded
    overwrite: Executable = ins.on_conflict_do_update(
        index_elements=[_c.key],
        set_={"value": new.value, "version": new.version, "expires": new.expires},
    )
    return overwrite


def create(dialect: Dialect, row: dict[str, Any], now: float) -> Executable:
    """Write ``row`` only where its key is missing or expired (see :func:`created`).

    PostgreSQL and SQLite (3.35+) return the written row's version, or nothing.

    MySQL has no conditional upsert: on a live duplicate the row keeps its values
    and ``LAST_INSERT_ID(1)`` marks the statement's insert id, which a plain insert
    into this table (no auto-increment column) leaves at 0. That holds whether or
    not the connection counts found rows (``CLIENT_FOUND_ROWS``) as affected.
    """
    if _mysql(dialect):
        stmt = mysql.insert(records).values(row)
        dead = _c.expires <= now  # assignments see earlier ones: ``expires`` goes last
        marked: Executable = stmt.on_duplicate_key_update(
            [
                ("value", func.if_(dead, stmt.inserted.value, _c.value)),
                ("version", func.if_(dead, stmt.inserted.version, _c.version)),
                ("expires", func.if_(dead, stmt.inserted.expires, _expires_marked())),
            ]
        )
        return marked
    ins = (postgresql if dialect.name == "postgresql" else sqlite).insert(records).values(row)
    new = ins.excluded
    conditional: Executable = ins.on_conflict_do_update(
        index_elements=[_c.key],
        set_={"value": new.value, "version": new.version, "expires": new.expires},
        where=_c.expires <= now,
    ).returning(_c.version)  # a row back when written (an insert's rowcount is not kept)
    return conditional


def _expires_marked() -> Any:
    # ``expires`` unchanged (NULL stays NULL), with LAST_INSERT_ID(1) evaluated on the way.
    return func.if_(func.last_insert_id(1), _c.expires, _c.expires)


def created(dialect: Dialect, result: CursorResult[Any]) -> bool:
    """Whether the statement from :func:`create` wrote its row."""
    if _mysql(dialect):
        return result.rowcount > 0 and not result.lastrowid
    return result.first() is not None


def sweep(dialect: Dialect, now: float, batch: int) -> Executable:
    """Delete at most ``batch`` records expired at ``now``."""
    if _mysql(dialect):  # no LIMIT in an IN subquery there, but DELETE takes one
        return (
            delete(records)
            .where(_c.expires <= now)
            .with_dialect_options(mysql_limit=batch, mariadb_limit=batch)
        )
    doomed = select(_c.key).where(_c.expires <= now).limit(batch).scalar_subquery()
    return delete(records).where(_c.key.in_(doomed))
