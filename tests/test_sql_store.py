"""The SQL store beyond the contract: URLs, engines and who owns them, the app's
Flask-SQLAlchemy engine, ``flask sessions init-db``, the schema, batched expiry, outages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.schema import CreateTable

from conftest import FakeClock
from redis_servers import free_port
from sessionkeeper import SessionKeeper
from sessionkeeper.errors import ConfigError, Conflict, StoreError, StoreUnavailable
from sessionkeeper.stores import ABSENT, store_from_url
from sessionkeeper.stores.sql import SqlStore, metadata, records


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each real server in turn."""
    url: str = request.getfixturevalue(f"{request.param}_server").fresh_url()
    return url


def test_the_table_is_on_an_exported_metadata_for_migrations() -> None:
    assert metadata.tables["sessionkeeper_records"] is records
    assert [c.name for c in records.primary_key] == ["key"]
    assert any(index.columns.keys() == ["expires"] for index in records.indexes)
    pg = str(CreateTable(records).compile(dialect=postgresql.dialect()))
    assert 'COLLATE "C"' in pg and "BYTEA" in pg and "BIGINT" in pg
    my = str(CreateTable(records).compile(dialect=mysql.dialect()))
    assert "VARBINARY(1020)" in my and "LONGBLOB" in my  # byte order, no space padding


def test_urls_pick_the_driver_and_the_file(tmp_path: Path) -> None:
    store = store_from_url("sqlite+pysqlite:///sub/s.db", instance_path=tmp_path)
    store.set("k", b"v")
    assert (tmp_path / "sub" / "s.db").exists()
    store.close()
    pg = store_from_url("postgresql://u@127.0.0.1:1/db")
    assert isinstance(pg, SqlStore)
    assert pg._engine.dialect.driver == "psycopg"
    pg.close()
    with pytest.raises(ConfigError, match="needs a file"):
        store_from_url("sqlite+pysqlite:///:memory:")


def test_errors_hide_the_password_and_say_unavailable() -> None:
    url = f"postgresql+psycopg://user:hunter2@127.0.0.1:{free_port()}/db"
    store = store_from_url(url, timeout=1)
    with pytest.raises(StoreUnavailable) as caught:
        store.get("k")
    assert "hunter2" not in str(caught.value)
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    store.close()


def test_an_owned_engine_is_disposed_and_a_handed_one_is_not(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'handed.db'}")
    handed = SqlStore(engine)
    handed.set("k", b"v")
    handed.close()
    with pytest.raises(StoreError, match="closed"):
        handed.get("k")
    with engine.connect() as conn:  # still the owner's, still working
        assert conn.execute(sa.select(sa.func.count()).select_from(records)).scalar() == 1
    engine.dispose()

    owned_engine = sa.create_engine(f"sqlite:///{tmp_path / 'owned.db'}")
    owned = SqlStore(owned_engine, owns_engine=True)
    owned.set("k", b"v")
    assert owned_engine.pool.checkedin() == 1
    owned.close()
    assert owned_engine.pool.checkedin() == 0  # the pool was disposed of


@pytest.mark.parametrize("found_rows", [True, False])
def test_mariadb_create_if_absent_holds_whatever_the_connection_counts(
    mariadb_server: Any, found_rows: bool
) -> None:
    options = {} if found_rows else {"connect_args": {"client_flag": 0}}
    engine = sa.create_engine(mariadb_server.fresh_url(), **options)
    store = SqlStore(engine, owns_engine=True)
    first = store.set("k", b"one", if_version=ABSENT)
    with pytest.raises(Conflict):
        store.set("k", b"two", if_version=ABSENT)
    record = store.get("k")
    assert record is not None and (record.value, record.version) == (b"one", first)
    store.close()


def test_clear_expired_deletes_in_bounded_batches(server_url: str, clock: FakeClock) -> None:
    store = SqlStore.from_url(server_url, clock=clock)
    store.sweep_batch = 3
    for i in range(10):
        store.set(f"old{i}", b"", ttl=5)
    store.set("live", b"")
    clock.advance(10)
    assert store.clear_expired() == 10
    assert store.scan() == (["live"], None)
    store.close()


def test_writes_sweep_expired_rows_at_most_every_interval(tmp_path: Path, clock: Any) -> None:
    store = SqlStore.from_url("sqlite+pysqlite:///s.db", instance_path=tmp_path, clock=clock)
    store.sweep_batch = 2
    for i in range(5):
        store.set(f"old{i}", b"", ttl=1)
    clock.advance(301)  # expired, and the next sweep is due

    def rows() -> int:
        with store._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one())

    store.set("new", b"")  # due: sweeps a full batch, so the next write sweeps again
    assert rows() == 4
    store.set("new", b"")
    store.set("new", b"")  # the third batch is short: no sweep for sweep_interval
    assert rows() == 1
    store.set("old", b"", ttl=1)
    clock.advance(2)
    store.set("new", b"")
    assert rows() == 2  # not due yet
    store.close()


def flask_app(tmp_path: Path, **config: Any) -> tuple[Flask, SQLAlchemy]:
    app = Flask(__name__, instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", SQLALCHEMY_DATABASE_URI="sqlite:///app.db", **config)
    db = SQLAlchemy(app)
    SessionKeeper(app)

    @app.get("/incr")
    def incr() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    return app, db


def test_sqlalchemy_reuses_the_apps_engine_and_leaves_it_open(tmp_path: Path) -> None:
    app, db = flask_app(tmp_path, SESSION_STORE="sqlalchemy")
    client = app.test_client()
    assert [client.get("/incr").text for _ in range(3)] == ["1", "2", "3"]
    with app.app_context():
        assert sa.inspect(db.engine).has_table("sessionkeeper_records")
        store = SessionKeeper.state(app).store
        assert store is not None
        store.close()
        with db.engine.connect() as conn:  # the app's engine is still the app's
            conn.execute(sa.text("SELECT 1"))


def test_sqlalchemy_names_a_bind(tmp_path: Path) -> None:
    binds = {"sessions": "sqlite:///sessions.db"}
    app, db = flask_app(tmp_path, SESSION_STORE="sqlalchemy://sessions", SQLALCHEMY_BINDS=binds)
    assert app.test_client().get("/incr").text == "1"
    with app.app_context():
        assert sa.inspect(db.engines["sessions"]).has_table("sessionkeeper_records")
        assert not sa.inspect(db.engine).has_table("sessionkeeper_records")
    with pytest.raises(ConfigError, match="no bind 'other'"):
        flask_app(tmp_path / "b", SESSION_STORE="sqlalchemy://other")


def test_sqlalchemy_without_flask_sqlalchemy_says_what_to_do() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE="sqlalchemy")
    with pytest.raises(ConfigError, match="initialise Flask-SQLAlchemy"):
        SessionKeeper(app)


def test_init_db_creates_the_table_ahead_of_time(postgresql_server: Any) -> None:
    url = postgresql_server.fresh_url()
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE=url)
    SessionKeeper(app)
    engine = sa.create_engine(url)
    assert not sa.inspect(engine).has_table("sessionkeeper_records")  # nothing at start
    result = app.test_cli_runner().invoke(args=["sessions", "init-db"])
    assert result.exit_code == 0, result.output
    assert "ready" in result.output
    assert sa.inspect(engine).has_table("sessionkeeper_records")
    assert app.test_cli_runner().invoke(args=["sessions", "init-db"]).exit_code == 0  # again
    engine.dispose()
    SessionKeeper.state(app).store.close()  # type: ignore[union-attr]


def test_init_db_on_a_store_without_schema_is_a_clear_error() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE="memory://")
    SessionKeeper(app)
    result = app.test_cli_runner().invoke(args=["sessions", "init-db"])
    assert result.exit_code == 1
    assert "init-db is for the SQL stores" in result.output
