"""The Redis store's client-side cache (``cache=1``) against real servers and processes.

Hits are counted on the server: a read served from memory runs no HMGET there.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

import pytest
import redis

from redis_servers import RedisCluster, RedisSentinel, RedisServer, wait_until
from session_app import create_app
from sessionkeeper import SessionKeeper
from sessionkeeper.errors import ConfigError
from sessionkeeper.stores import store_from_url
from sessionkeeper.stores.redis import RedisStore

pytestmark = pytest.mark.redis
Factory = Callable[..., RedisServer]


class FakeClock:
    """Time that moves only when told (Redis keeps its own)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server(redis_factory: Factory) -> RedisServer:
    """A server of the test's own, so its command counts are the test's alone."""
    return redis_factory()


@pytest.fixture
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    with server.client() as client:
        yield client


@pytest.fixture
def store(server: RedisServer) -> Iterator[RedisStore]:
    store = RedisStore.from_url(server.url() + "?cache=1", key_prefix="app:")
    yield store
    store.close()


def reads(admin: redis.Redis) -> int:
    """How many record reads (HMGET) the server has run."""
    calls: int = admin.info("commandstats").get("cmdstat_hmget", {}).get("calls", 0)
    return calls


def tracking_ids(admin: redis.Redis) -> list[str]:
    """The ids of the connections registered for invalidations."""
    return [c["id"] for c in admin.client_list() if "t" in c["flags"]]


def test_a_second_read_makes_no_round_trip(store: RedisStore, admin: redis.Redis) -> None:
    version = store.set("k", b"v", ttl=60)
    first = store.get("k")
    before = reads(admin)
    for _ in range(10):
        assert store.get("k") == first
    assert first is not None and first.version == version
    assert reads(admin) == before
    assert store.get("missing") is None and reads(admin) == before + 1  # absence is not kept


def test_a_write_from_another_client_is_seen_by_the_next_read(
    server: RedisServer, store: RedisStore, admin: redis.Redis
) -> None:
    store.set("k", b"one")
    assert store.get("k").value == b"one"  # type: ignore[union-attr]
    admin.hset("app:k", "v", b"two")
    assert store.get("k").value == b"two"  # type: ignore[union-attr]
    admin.delete("app:k")
    assert store.get("k") is None
    store.set("k", b"three")
    store.get("k")
    admin.flushdb()  # a flush drops every entry (its invalidation names no key)...
    # ...but Redis queues that invalidation before the flush's reply, and so writes it
    # just after the reply (a write's comes just before): a read racing the flush by
    # microseconds may still see the old record.
    wait_until(lambda: store.get("k") is None, "the flush to reach the cache", timeout=5)


def test_this_process_forgets_what_it_writes(store: RedisStore, admin: redis.Redis) -> None:
    version = store.set("k", b"one", ttl=60)
    store.get("k")
    assert store.touch("k", None)
    assert store.get("k").expires is None  # type: ignore[union-attr]
    store.set("k", b"two", if_version=store.get("k").version)  # type: ignore[union-attr]
    assert store.get("k").value == b"two"  # type: ignore[union-attr]
    assert store.delete("k") and store.get("k") is None
    assert version


def test_expired_entries_are_not_served(server: RedisServer, admin: redis.Redis) -> None:
    clock = FakeClock()
    store = RedisStore.from_url(server.url() + "?cache=1", clock=clock)
    try:
        store.set("k", b"v", ttl=60)
        record = store.get("k")
        assert record is not None and record.expires == pytest.approx(clock.now + 60, abs=1)
        before = reads(admin)
        assert store.get("k") == record
        assert reads(admin) == before
        clock.now += 61  # past the entry's expiry on this process's clock
        store.get("k")
        assert reads(admin) == before + 1
        store.set("short", b"v", ttl=0.05)
        store.get("short")
        wait_until(lambda: not admin.exists("short"), "Redis to expire the key", timeout=5)
        assert store.get("short") is None
    finally:
        store.close()


def test_the_cache_keeps_at_most_cache_size_records(
    server: RedisServer, admin: redis.Redis
) -> None:
    store = RedisStore.from_url(server.url() + "?cache=1&cache_size=2")
    try:
        for key in "abc":
            store.set(key, b"v")
            store.get(key)
        store.get("b")  # b is now the most recent, c the next
        before = reads(admin)
        store.get("b")
        store.get("c")
        assert reads(admin) == before
        store.get("a")  # evicted when c came in
        assert reads(admin) == before + 1
    finally:
        store.close()


def test_a_fill_that_raced_an_invalidation_is_not_kept(
    store: RedisStore, admin: redis.Redis
) -> None:
    store.set("k", b"one")
    store.get("other")  # connects the cache
    cache = store._cache
    assert cache is not None
    cached, stamp = cache.lookup(b"app:k")  # a reader notes the count, then reads "one"...
    assert cached is None and stamp is not None
    stale = store.get("k")
    admin.hset("app:k", "v", b"two")  # ...a write lands before it keeps the answer...
    cache.lookup(b"app:other")  # ...and another thread drains the invalidation
    assert stale is not None
    cache.fill(b"app:k", stale, stamp)
    assert store.get("k").value == b"two"  # type: ignore[union-attr]


def test_a_dropped_tracking_connection_disables_the_cache_until_it_reconnects(
    store: RedisStore, admin: redis.Redis
) -> None:
    store.set("k", b"one")
    store.get("k")
    [tracking] = tracking_ids(admin)
    admin.client_kill_filter(_id=tracking)
    admin.hset("app:k", "v", b"two")  # its invalidation goes nowhere
    before = reads(admin)
    assert store.get("k").value == b"two"  # type: ignore[union-attr]
    assert reads(admin) == before + 1
    assert store._cache is not None
    wait_until(lambda: store.get("k") is not None and store._cache.connected, "a reconnect")  # type: ignore[union-attr]
    assert tracking_ids(admin) != [tracking]
    store.get("k")
    before = reads(admin)
    assert store.get("k").value == b"two"  # type: ignore[union-attr]
    assert reads(admin) == before  # served from memory again


def test_a_stopped_server_empties_the_cache(redis_factory: Factory) -> None:
    server = redis_factory()
    store = RedisStore.from_url(server.url() + "?cache=1", timeout=1)
    try:
        store.set("k", b"one")
        store.get("k")
        server.stop()
        server.start()  # empty: the record is gone, and so is the tracking connection
        assert store.get("k") is None
    finally:
        store.close()


# Two processes, one session -----------------------------------------------------------------


def _worker(url: str, pipe: Connection) -> None:
    """Serve ("write", value) and ("read", None) from the parent until it sends None."""
    store = RedisStore.from_url(url)
    try:
        while (message := pipe.recv()) is not None:
            op, value = message
            if op == "write":
                store.set("session", value.encode(), ttl=60)
                pipe.send(None)
            else:  # the first read may go to Redis, the second comes from memory
                found = [store.get("session") for _ in range(2)]
                pipe.send([None if r is None else r.value.decode() for r in found])
    finally:
        store.close()
        pipe.close()


def test_two_caching_processes_alternating_on_one_session_never_read_stale(
    server: RedisServer, admin: redis.Redis
) -> None:
    context = multiprocessing.get_context("spawn")
    url = server.url() + "?cache=1"
    pipes, workers = [], []
    try:
        for _ in range(2):
            ours, theirs = context.Pipe()
            worker = context.Process(target=_worker, args=(url, theirs), daemon=True)
            worker.start()
            theirs.close()
            pipes.append(ours)
            workers.append(worker)
        stale, rounds = 0, 1000
        for i in range(rounds):
            writer, reader = pipes[i % 2], pipes[(i + 1) % 2]
            writer.send(("write", str(i)))
            assert writer.poll(10)
            writer.recv()  # the write is acknowledged: any read from now on must see it
            for each in (reader, writer):  # the reader holds what it read a round ago
                each.send(("read", None))
                assert each.poll(10)
                stale += sum(value != str(i) for value in each.recv())
        assert stale == 0
        assert reads(admin) <= 2.1 * rounds  # of 4,000 reads, at least half from memory
        for pipe in pipes:
            pipe.send(None)
        for worker in workers:
            worker.join(10)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join(5)
        for pipe in pipes:
            pipe.close()


# The app and the CLI --------------------------------------------------------------------------


def test_a_revoke_from_the_cli_is_seen_by_the_next_request(server: RedisServer) -> None:
    url = server.url() + "?cache=1"
    app = create_app(SESSION_STORE=url, SECRET_KEY="s")
    admin_app = create_app(SESSION_STORE=server.url(), SECRET_KEY="s")
    try:
        client = app.test_client()
        client.post("/login", data={"user": "ada"})
        for _ in range(3):
            assert client.get("/whoami").text == "ada"
        runner = admin_app.test_cli_runner()
        listed = runner.invoke(args=["sessions", "list"])
        [session_id] = re.findall(r"^([0-9a-f]{64}) ", listed.output, re.MULTILINE)
        revoked = runner.invoke(args=["sessions", "revoke", session_id])
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/whoami").text == "anonymous"
    finally:
        for each in (app, admin_app):
            store = SessionKeeper.state(each).store
            assert store is not None
            store.close()


# Options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["cache=2", "cache=yes", "cache=1&cache_size=0", "cache_size=x"])
def test_bad_cache_options_fail_at_start(query: str) -> None:
    with pytest.raises(ConfigError, match="cache"):
        store_from_url(f"redis://127.0.0.1:6379/0?{query}")


def test_the_cache_is_refused_on_a_cluster(redis_cluster: RedisCluster) -> None:
    with pytest.raises(ConfigError, match="Cluster"):
        store_from_url(redis_cluster.url + "?cache=1")
    client = redis.RedisCluster(host="127.0.0.1", port=redis_cluster.nodes[0].port)
    try:
        with pytest.raises(ConfigError, match="Cluster"):
            RedisStore(client, cache=True)
    finally:
        client.close()


def test_the_cache_works_through_sentinel(redis_sentinel: RedisSentinel) -> None:
    store = store_from_url(redis_sentinel.fresh_url() + "?cache=1")
    try:
        store.set("k", b"v")
        store.get("k")
        with redis_sentinel.primary.client() as admin:
            before = reads(admin)
            assert store.get("k").value == b"v"  # type: ignore[union-attr]
            assert reads(admin) == before
    finally:
        store.close()
