"""SqliteStore facts beyond the contract: URLs, files shared by processes, WAL, sweeping, plans."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from conftest import FakeClock
from sessionkeeper.errors import ConfigError, Conflict, StoreError, StoreUnavailable
from sessionkeeper.stores import ABSENT, Store, store_from_url
from sessionkeeper.stores.sqlite import SqliteStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(path: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    store = SqliteStore(path, clock=clock)
    yield store
    store.close()


def stored_keys(path: Path) -> list[str]:
    """Every row in the file, expired or not, read behind the store's back."""
    with closing(sqlite3.connect(path)) as conn:
        return [key for (key,) in conn.execute("SELECT key FROM records ORDER BY key")]


def increment(store: Store, times: int) -> None:
    for _ in range(times):
        while True:
            record = store.get("counter")
            assert record is not None
            try:
                store.set("counter", b"%d" % (int(record.value) + 1), if_version=record.version)
                break
            except Conflict:
                pass


# URLs and construction --------------------------------------------------------------------


def test_relative_url_is_under_the_instance_path(tmp_path: Path) -> None:
    store = store_from_url("sqlite:///data/sessions.db", instance_path=str(tmp_path), timeout=1)
    try:
        assert isinstance(store, SqliteStore)
        store.set("k", b"v")
    finally:
        store.close()
    assert stored_keys(tmp_path / "data" / "sessions.db") == ["k"]


def test_relative_url_without_instance_path_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore.from_url("sqlite:///here.db")
    monkeypatch.chdir("/")
    try:
        store.set("k", b"v")
    finally:
        store.close()
    assert stored_keys(tmp_path / "here.db") == ["k"]


def test_absolute_url_ignores_the_instance_path(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "abs.db"
    store = SqliteStore.from_url(f"sqlite:///{target}", instance_path=str(tmp_path / "other"))
    try:
        store.set("k", b"v")
    finally:
        store.close()
    assert stored_keys(target) == ["k"]


@pytest.mark.parametrize(
    "url",
    ["sqlite:///:memory:", "sqlite://", "sqlite:///", "sqlite://h/x.db", "sqlite:///x.db?a=1"],
)
def test_unusable_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite:///"):
        SqliteStore.from_url(url)


def test_memory_database_suggests_the_memory_store() -> None:
    with pytest.raises(ConfigError, match="memory://"):
        store_from_url("sqlite:///:memory:")
    with pytest.raises(ConfigError, match="memory://"):
        SqliteStore(":memory:")


def test_unknown_synchronous_mode_is_a_configuration_error(path: Path) -> None:
    with pytest.raises(ConfigError, match="FULL"):
        SqliteStore(path, synchronous="SOMETIMES")


def test_constructor_touches_no_file(path: Path) -> None:
    store = SqliteStore(path)
    assert not path.exists()
    assert store.get("k") is None
    assert path.exists()
    store.close()


def test_data_survives_reopening(path: Path, clock: FakeClock) -> None:
    first = SqliteStore(path, clock=clock)
    version = first.set("k", b"kept", ttl=60)
    first.close()
    second = SqliteStore(path, clock=clock)
    try:
        record = second.get("k")
        assert record is not None
        assert (record.value, record.version) == (b"kept", version)
    finally:
        second.close()


# one file, several stores and processes ---------------------------------------------------


def test_two_stores_on_one_file_share_writes_and_conflicts(path: Path, clock: FakeClock) -> None:
    a, b = SqliteStore(path, clock=clock), SqliteStore(path, clock=clock)
    try:
        version = a.set("k", b"from a")
        record = b.get("k")
        assert record is not None
        assert (record.value, record.version) == (b"from a", version)
        newer = b.set("k", b"from b", if_version=version)
        with pytest.raises(Conflict):
            a.set("k", b"stale", if_version=version)
        with pytest.raises(Conflict):
            a.set("k", b"again", if_version=ABSENT)
        with pytest.raises(Conflict):
            a.delete("k", if_version=version)
        assert a.delete("k", if_version=newer)
        assert b.get("k") is None
        assert b.scan() == ([], None)
    finally:
        a.close()
        b.close()


CHILD = """
import sys
from sessionkeeper.errors import Conflict
from sessionkeeper.stores.sqlite import SqliteStore

store = SqliteStore(sys.argv[1])
store.get("counter")
print("ready", flush=True)
sys.stdin.readline()
for _ in range(int(sys.argv[2])):
    while True:
        record = store.get("counter")
        try:
            store.set("counter", b"%d" % (int(record.value) + 1), if_version=record.version)
            break
        except Conflict:
            pass
store.close()
"""


def test_compare_and_set_is_exact_across_processes(path: Path) -> None:
    times = 300
    store = SqliteStore(path)
    store.set("counter", b"0")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(times)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "ready\n"
        child.stdin.write("go\n")
        child.stdin.flush()
        increment(store, times)
        child.communicate(timeout=60)
        assert child.returncode == 0
        record = store.get("counter")
        assert record is not None
        assert record.value == b"%d" % (2 * times)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(store: SqliteStore, path: Path) -> None:
    store.set("parent", b"1")  # the parent now holds a connection
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            record = store.get("parent")
            store.set("child", b"2")
            code = 0 if record is not None and record.value == b"1" else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.scan() == (["child", "parent"], None)
    store.set("parent", b"still works")


# SQLite settings, sweeping and plans ------------------------------------------------------


def test_wal_mode_and_synchronous_setting(path: Path) -> None:
    store = SqliteStore(path, synchronous="full")
    try:
        store.set("k", b"v")
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # synchronous is per connection: ask the store's own
        assert store._connection().execute("PRAGMA synchronous").fetchone() == (2,)
    finally:
        store.close()


def test_writes_sweep_expired_rows_after_the_interval(path: Path, clock: FakeClock) -> None:
    store = SqliteStore(path, clock=clock, sweep_interval=60)
    try:
        store.set("dead", b"", ttl=10)
        clock.advance(30)
        store.set("a", b"")
        assert stored_keys(path) == ["a", "dead"]  # expired but not yet swept
        clock.advance(30)
        store.set("b", b"")
        assert stored_keys(path) == ["a", "b"]
    finally:
        store.close()


def test_sweep_is_bounded_and_catches_up(path: Path, clock: FakeClock) -> None:
    store = SqliteStore(path, clock=clock, sweep_interval=60)
    store.sweep_batch = 3
    try:
        for i in range(7):
            store.set(f"dead{i}", b"", ttl=1)
        clock.advance(60)
        remaining = []
        for i in range(4):
            store.set(f"live{i}", b"")
            remaining.append(sum(k.startswith("dead") for k in stored_keys(path)))
        assert remaining == [4, 1, 0, 0]
    finally:
        store.close()


def test_every_query_reads_an_index_range(store: SqliteStore, path: Path, clock: FakeClock) -> None:
    statements: list[str] = []
    store._connection().set_trace_callback(statements.append)
    for i in range(5):
        store.set(f"user/{i}", b"v", ttl=10)
    version = store.set("k", b"v")
    store.set("k", b"w", if_version=version)
    store.set("new", b"v", if_version=ABSENT)
    store.get("k")
    store.touch("k", 30)
    store.scan()
    store.scan("user/", limit=2)
    store.scan("user/", after="user/1")
    store.scan("\U0010ffff")
    clock.advance(10)
    store.clear_expired()
    store.delete("k")
    with pytest.raises(Conflict):
        store.delete("new", if_version="0" * 16)
    store._connection().set_trace_callback(None)
    assert len(statements) > 10
    with closing(sqlite3.connect(path)) as conn:
        for sql in statements:
            plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, (sql, plan)
            if sql.startswith("SELECT key"):
                assert "SEARCH records USING PRIMARY KEY (key>" in plan, (sql, plan)
            if sql.startswith("DELETE") and "expires <=" in sql:
                assert "USING COVERING INDEX records_expires (expires<?)" in plan, (sql, plan)


# failures ---------------------------------------------------------------------------------


def test_corrupt_file_is_a_store_error(path: Path) -> None:
    path.write_bytes(b"this is not a SQLite database\n" * 200)
    store = SqliteStore(path)
    try:
        with pytest.raises(StoreError) as caught:
            store.get("k")
        assert not isinstance(caught.value, StoreUnavailable)
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    finally:
        store.close()


def test_unopenable_file_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "missing-dir" / "store.db")
    with pytest.raises(StoreUnavailable):
        store.set("k", b"v")
    store.close()


def test_locked_database_is_unavailable_after_the_busy_timeout(path: Path) -> None:
    store = SqliteStore(path, busy_timeout=0.05)
    store.set("k", b"before")
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            store.set("k", b"blocked")
        record = store.get("k")  # WAL readers never wait for the writer
        assert record is not None
        assert record.value == b"before"
        other.execute("ROLLBACK")
    store.set("k", b"after")
    store.close()


def test_closed_store_raises_store_error_in_every_thread(store: SqliteStore) -> None:
    store.set("k", b"v")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get("k")
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.scan()
        except StoreError as exc:
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert len(errors) == 1
    store.close()
