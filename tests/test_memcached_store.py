"""The Memcached store beyond the contract: TTLs in memcached's terms, keys it would
refuse, tombstones, what cannot list keys, outages, who owns the client."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask, session
from pymemcache.client.base import PooledClient  # type: ignore[import-untyped]

from conftest import FakeClock
from redis_servers import free_port
from sessionkeeper import ServerSession, SessionKeeper
from sessionkeeper.errors import StoreError, StoreUnavailable
from sessionkeeper.stores import ABSENT, store_from_url
from sessionkeeper.stores.memcached import MemcachedStore, _memcached_ttl


@pytest.fixture
def store(memcached_server: Any) -> Any:
    built = MemcachedStore.from_url(
        memcached_server.url, key_prefix=memcached_server.fresh_prefix()
    )
    yield built
    built.close()


def test_ttls_round_up_to_seconds_and_go_absolute_past_30_days() -> None:
    assert _memcached_ttl(None) == 0
    assert _memcached_ttl(0.2) == 1
    assert _memcached_ttl(1.5) == 2
    assert _memcached_ttl(30 * 86400) == 30 * 86400
    assert abs(_memcached_ttl(31 * 86400) - (time.time() + 31 * 86400)) < 5


def test_a_ttl_of_40_days_is_kept_not_read_as_a_date_in_1970(store: MemcachedStore) -> None:
    store.set("long", b"v", ttl=40 * 86400)
    assert store.get("long") is not None


def test_a_record_reads_absent_once_the_clock_passes_its_expiry(memcached_server: Any) -> None:
    clock = FakeClock(time.time())
    store = MemcachedStore.from_url(
        memcached_server.url, key_prefix=memcached_server.fresh_prefix(), clock=clock
    )
    store.set("k", b"v", ttl=0.5)  # memcached holds it a whole second
    clock.advance(0.5)
    assert store.get("k") is None
    store.set("k", b"again", if_version=ABSENT)  # expired by our clock: created over it
    assert store.touch("k", 100)
    store.close()


def test_keys_memcached_would_refuse_are_hashed(store: MemcachedStore) -> None:
    for key in ["with space", "new\nline", "x" * 300, "\u65e5\u672c"]:
        store.set(key, key.encode())
        record = store.get(key)
        assert record is not None and record.value == key.encode()


def test_a_delete_at_a_version_leaves_a_tombstone_that_reads_as_absent(
    store: MemcachedStore,
) -> None:
    version = store.set("k", b"v")
    assert store.delete("k", if_version=version)
    assert store.get("k") is None
    assert not store.touch("k", 10)
    assert store.set("k", b"new", if_version=ABSENT) != version


def test_a_value_over_memcached_item_limit_is_a_store_error(store: MemcachedStore) -> None:
    with pytest.raises(StoreError) as caught:
        store.set("big", b"x" * (2 * 1024 * 1024))
    assert not isinstance(caught.value, StoreUnavailable)


def test_scan_says_memcached_cannot_list_keys(store: MemcachedStore) -> None:
    with pytest.raises(StoreError, match="memcached cannot list keys"):
        store.scan()


def test_the_user_index_fails_clearly(memcached_server: Any) -> None:
    app = Flask(__name__)
    url = f"{memcached_server.url}?prefix={memcached_server.fresh_prefix()}"
    app.config.update(SECRET_KEY="k", SESSION_STORE=url)
    keeper = SessionKeeper(app)

    @app.get("/login/<user>")
    def login(user: str) -> str:
        assert isinstance(session, ServerSession)
        session["user"] = user
        session.bind_user(user)  # the binding is stored; listing it is what cannot work
        return "ok"

    @app.get("/whoami")
    def whoami() -> str:
        return str(session.get("user"))

    client = app.test_client()
    assert client.get("/login/ada").text == "ok"
    assert client.get("/whoami").text == "ada"
    with app.app_context(), pytest.raises(StoreError, match="cannot list keys"):
        keeper.sessions_of("ada")
    with app.app_context(), pytest.raises(StoreError, match="cannot list keys"):
        keeper.revoke_user("ada")
    keeper.state(app).store.close()  # type: ignore[union-attr]


def test_a_server_that_is_not_there_is_unavailable() -> None:
    store = store_from_url(f"memcached://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(StoreUnavailable):
        store.get("k")
    store.close()


def test_a_handed_client_stays_open(memcached_server: Any) -> None:
    client = PooledClient(("127.0.0.1", memcached_server.port))
    store = MemcachedStore(client, key_prefix=memcached_server.fresh_prefix())
    store.set("k", b"v")
    store.close()
    assert client.version()  # still the owner's, still connected
    client.close()
