"""Shared fixtures: an injected clock, and every store for the contract suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessionkeeper.stores import Store
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.stores.sqlite import SqliteStore

pytest_plugins = [
    "redis_servers",
    "sql_servers",
    "memcached_servers",
    "lab_servers",
    "browser_fixtures",
]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- Store kinds for the contract suite (tests/test_store_contract.py) ------------------
# To run the contract against another store, write a builder and add one line to
# STORE_BUILDERS. Builders that need a server take it from ``request.getfixturevalue``.


@dataclass(frozen=True)
class StoreKind:
    """How to build one kind of store; ``controls_clock`` is False when it keeps its own time,
    ``scans`` False when it cannot list keys."""

    build: Callable[[FakeClock, Path, pytest.FixtureRequest | None], Store]
    controls_clock: bool = True
    scans: bool = True


def _memory_store(clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None) -> Store:
    return MemoryStore(clock=clock)


def _sqlite_store(clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None) -> Store:
    return SqliteStore(tmp_path / "contract.db", clock=clock)


def _redis_store(clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None) -> Store:
    from sessionkeeper.stores.redis import RedisStore

    assert request is not None
    return RedisStore.from_url(request.getfixturevalue("redis_server").fresh_url())


def _redis_cluster_store(
    clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None
) -> Store:
    from redis_servers import unique_prefix
    from sessionkeeper.stores.redis import RedisStore

    assert request is not None
    url = request.getfixturevalue("redis_cluster").url
    return RedisStore.from_url(url, key_prefix=unique_prefix())


def _redis_sentinel_store(
    clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None
) -> Store:
    from sessionkeeper.stores.redis import RedisStore

    assert request is not None
    return RedisStore.from_url(request.getfixturevalue("redis_sentinel").fresh_url())


def _http_store(clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None) -> Store:
    from kv_servers import serve_for
    from sessionkeeper.stores.http import HttpStore

    assert request is not None
    return HttpStore(serve_for(request, MemoryStore(clock=clock)))


def _sql_store(fixture: str) -> Callable[[FakeClock, Path, pytest.FixtureRequest | None], Store]:
    def build(clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None) -> Store:
        from sessionkeeper.stores.sql import SqlStore

        assert request is not None
        return SqlStore.from_url(request.getfixturevalue(fixture).fresh_url(), clock=clock)

    return build


def _sqlalchemy_sqlite_store(
    clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None
) -> Store:
    from sessionkeeper.stores.sql import SqlStore

    return SqlStore.from_url("sqlite+pysqlite:///contract.db", clock=clock, instance_path=tmp_path)


def _memcached_store(
    clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None
) -> Store:
    from sessionkeeper.stores.memcached import MemcachedStore

    assert request is not None
    server = request.getfixturevalue("memcached_server")
    return MemcachedStore.from_url(server.url, key_prefix=server.fresh_prefix(), clock=clock)


STORE_BUILDERS: dict[str, StoreKind] = {
    "memory": StoreKind(_memory_store),
    "sqlite": StoreKind(_sqlite_store),
    "redis": StoreKind(_redis_store, controls_clock=False),
    "redis-cluster": StoreKind(_redis_cluster_store, controls_clock=False),
    "redis-sentinel": StoreKind(_redis_sentinel_store, controls_clock=False),
    "http": StoreKind(_http_store),
    "postgresql": StoreKind(_sql_store("postgresql_server")),
    "mariadb": StoreKind(_sql_store("mariadb_server")),
    "sqlalchemy-sqlite": StoreKind(_sqlalchemy_sqlite_store),
    # expiry is read by the injected clock (memcached drops records by its own time, later)
    "memcached": StoreKind(_memcached_store, scans=False),
}
STORE_KINDS = list(STORE_BUILDERS)


def make_store(
    kind: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest | None = None
) -> Store:
    """Build a fresh, empty store of ``kind`` whose expiry follows ``clock`` where it can.

    Builders of stores that need a server get it from ``request`` (pass it from a fixture).
    """
    return STORE_BUILDERS[kind].build(clock, tmp_path, request)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_clock: moves the injected clock; not run for stores that keep their own time",
    )
    config.addinivalue_line(
        "markers", "needs_scan: lists keys; not run for stores that cannot (memcached)"
    )


#: Test modules whose every test lists keys (the user index is a key range).
LISTING_MODULES = {"test_user_index"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out tests that cannot apply: clock-moving ones for stores that keep their own
    time, key-listing ones for stores that cannot list keys."""
    kept, dropped = [], []
    for item in items:
        kind = getattr(item, "callspec", None) and item.callspec.params.get("store")
        built = STORE_BUILDERS.get(kind) if isinstance(kind, str) else None
        own_time = built is not None and not built.controls_clock
        no_scan = built is not None and not built.scans
        module = getattr(getattr(item, "module", None), "__name__", "")
        lists = item.get_closest_marker("needs_scan") or module in LISTING_MODULES
        unfit = (own_time and item.get_closest_marker("needs_clock")) or (no_scan and lists)
        (dropped if unfit else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Store]:
    """Every kind of store in turn, empty, closed after the test."""
    kind: str = request.param
    built = make_store(kind, clock, tmp_path, request)
    yield built
    built.close()


# --- end of store kinds -----------------------------------------------------------------
