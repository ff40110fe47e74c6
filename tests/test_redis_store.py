"""RedisStore against real servers: URLs, ownership, real expiry, Cluster slots, outages."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
import redis

from redis_servers import (
    PRIMARY_ARGS,
    RedisCluster,
    RedisSentinel,
    RedisServer,
    free_port,
    replica_args,
    replicating,
    unique_prefix,
    wait_until,
)
from session_app import create_app
from sessionkeeper import SessionKeeper
from sessionkeeper.errors import ConfigError, Conflict, CorruptRecord, StoreError, StoreUnavailable
from sessionkeeper.stores import ABSENT, Store, store_from_url
from sessionkeeper.stores.redis import RedisStore
from sessionkeeper.stores.redis_scripts import SCRIPTS
from sessionkeeper.stores.redis_urls import _nodes
from test_wire_tls import self_signed

pytestmark = pytest.mark.redis
Factory = Callable[..., RedisServer]


@pytest.fixture
def db_url(redis_server: RedisServer) -> str:
    return redis_server.fresh_url()


@pytest.fixture
def store(db_url: str) -> Iterator[RedisStore]:
    store = RedisStore.from_url(db_url)
    yield store
    store.close()


@pytest.fixture
def raw(db_url: str) -> Iterator[redis.Redis]:
    """A plain client of the test's database, to look at what the store wrote."""
    client = redis.Redis.from_url(db_url)
    yield client
    client.close()


def roundtrip(store: Store, key: str = "k") -> None:
    version = store.set(key, b"value", ttl=60)
    record = store.get(key)
    assert record is not None
    assert (record.value, record.version) == (b"value", version)
    assert store.delete(key, if_version=version)
    assert store.get(key) is None


def client_names(server: RedisServer) -> list[str]:
    with server.client() as admin:
        return [c["name"] for c in admin.client_list()]


# URLs ------------------------------------------------------------------------------------


def test_redis_url_writes_one_hash_in_the_named_database(
    redis_server: RedisServer, db_url: str, raw: redis.Redis
) -> None:
    store = store_from_url(db_url, timeout=1, clock=time.time, token="ignored")
    try:
        version = store.set("k", b"value")
        assert raw.hgetall("k") == {b"v": b"value", b"n": version.encode()}
        with redis_server.client(db=0) as other_db:
            assert not other_db.exists("k")
    finally:
        store.close()


def test_unix_url(redis_server: RedisServer) -> None:
    store = store_from_url(f"unix://{redis_server.socket_path}?db={redis_server.fresh_db()}")
    try:
        roundtrip(store)
    finally:
        store.close()


def test_rediss_url_speaks_tls(redis_factory: Factory, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    files = ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file"]
    redis_factory("--tls-port", str(tls_port), *files, str(cert), "--tls-auth-clients", "no")
    store = store_from_url(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}")
    try:
        roundtrip(store)
    finally:
        store.close()
    untrusting = store_from_url(f"rediss://127.0.0.1:{tls_port}/0", timeout=1)
    with pytest.raises(StoreUnavailable):
        untrusting.get("k")
    untrusting.close()


def test_cluster_url_lists_startup_nodes_any_of_which_may_be_down(
    redis_cluster: RedisCluster,
) -> None:
    ports = [free_port()] + [n.port for n in redis_cluster.nodes[1:]]
    nodes = ",".join(f"127.0.0.1:{port}" for port in ports)
    store = store_from_url(f"redis+cluster://{nodes}", timeout=1, key_prefix=unique_prefix())
    try:
        roundtrip(store)
    finally:
        store.close()


def test_cluster_url_connects_on_first_use_so_apps_start_while_it_is_down() -> None:
    store = store_from_url(f"redis+cluster://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(StoreUnavailable):
        store.get("k")
    store.close()


def test_sentinel_url_finds_the_primary(redis_sentinel: RedisSentinel) -> None:
    url = redis_sentinel.fresh_url()
    store = store_from_url(url, timeout=1)
    try:
        roundtrip(store)
        store.set("k", b"v")
        with redis_sentinel.primary.client(db=int(url.rsplit("/", 1)[1])) as primary:
            assert primary.hget("k", "v") == b"v"
    finally:
        store.close()


def test_sentinel_url_with_an_unknown_service_is_unavailable(
    redis_sentinel: RedisSentinel,
) -> None:
    store = store_from_url(f"redis+sentinel://127.0.0.1:{redis_sentinel.sentinel.port}/nope")
    with pytest.raises(StoreUnavailable):
        store.get("k")
    store.close()


def test_host_lists_with_credentials_ipv6_and_default_ports() -> None:
    assert _nodes("u%40x:p%3Aw@a:1,[::1]:2,b", 6379) == (
        "u@x",
        "p:w",
        [("a", 1), ("::1", 2), ("b", 6379)],
    )
    assert _nodes("h", 26379) == (None, None, [("h", 26379)])


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0?no_such_option=1",
        "redis+cluster://127.0.0.1:7000/3",
        "redis+cluster://127.0.0.1:7000?ssl=true",
        "redis+cluster://127.0.0.1:notaport",
        "redis+sentinel://127.0.0.1:26379",
        "redis+sentinel://127.0.0.1:26379/service/notadb",
    ],
)
def test_bad_urls_fail_at_start(url: str) -> None:
    with pytest.raises(ConfigError):
        store_from_url(url)


# Ownership -------------------------------------------------------------------------------


def test_handed_in_client_is_left_open(redis_server: RedisServer, db_url: str) -> None:
    client = redis.Redis.from_url(db_url, client_name="handed-in")
    store = RedisStore(client)
    roundtrip(store)
    store.close()
    store.close()
    assert "handed-in" in client_names(redis_server)
    assert client.ping()
    with pytest.raises(StoreError, match="closed"):
        store.get("k")
    client.close()


def test_client_built_from_url_is_closed(redis_server: RedisServer, db_url: str) -> None:
    store = RedisStore.from_url(f"{db_url}?client_name=owned")
    roundtrip(store)
    assert "owned" in client_names(redis_server)
    store.close()
    wait_until(lambda: "owned" not in client_names(redis_server), "the owned client to close")


def test_decoding_client_is_a_configuration_error(db_url: str) -> None:
    client = redis.Redis.from_url(db_url, decode_responses=True)
    with pytest.raises(ConfigError, match="decode_responses"):
        RedisStore(client).get("k")
    client.close()


# Records ---------------------------------------------------------------------------------


def test_versions_never_repeat_after_delete_and_recreate(store: RedisStore) -> None:
    seen = set()
    for _ in range(50):
        seen.add(store.set("k", b"v", if_version=ABSENT))
        assert store.delete("k")
    assert len(seen) == 50


def test_foreign_values_are_store_errors(store: RedisStore, raw: redis.Redis) -> None:
    raw.hset("no-version", "v", b"x")
    with pytest.raises(CorruptRecord):
        store.get("no-version")
    raw.set("string", b"x")
    with pytest.raises(StoreError) as caught:
        store.set("string", b"y")
    assert isinstance(caught.value.__cause__, redis.ResponseError)


def test_key_prefix_namespaces_every_operation(db_url: str, raw: redis.Redis) -> None:
    store = RedisStore.from_url(db_url, key_prefix="app1:")
    try:
        version = store.set("k", b"v")
        raw.hset("k", mapping={"v": b"other", "n": b"1"})
        assert raw.hget("app1:k", "n") == version.encode()
        assert store.scan() == (["k"], None)
        assert store.delete("k", if_version=version)
        assert raw.exists("k")
    finally:
        store.close()


def test_scan_escapes_glob_characters_in_the_prefix(store: RedisStore) -> None:
    keys = ["a*", "a*b", "ab", "a?", "a?c", "ac", "[a]", "[a]x", "a", "b", "\\", "\\x", "x\\*"]
    for key in keys:
        store.set(key, b"1")
    assert store.scan("a*")[0] == ["a*", "a*b"]
    assert store.scan("a?")[0] == ["a?", "a?c"]
    assert store.scan("[a]")[0] == ["[a]", "[a]x"]
    assert store.scan("\\")[0] == ["\\", "\\x"]
    assert store.scan("x\\")[0] == ["x\\*"]
    assert store.scan("a")[0] == sorted(k for k in keys if k.startswith("a"))


def test_scan_pages_in_key_order(store: RedisStore) -> None:
    keys = [f"s:{i:04d}" for i in range(250)] + ["t:other", "é", "\U0001f600"]
    for key in keys:
        store.set(key, b"1")
    pages, cursor = [], None
    while True:
        page, cursor = store.scan("s:", after=cursor, limit=40)
        pages.append(page)
        if cursor is None:
            break
    assert [k for page in pages for k in page] == keys[:250]
    assert [len(p) for p in pages] == [40] * 6 + [10]
    assert store.scan(limit=1000)[0][-2:] == ["é", "\U0001f600"]


# The key index (one server): scan pages cost what they return ----------------------------

INDEX = b"\xffindex"  # the index of a store without key_prefix; 0xFF is never in UTF-8


def cost_of(server: RedisServer, run: Callable[[], object]) -> tuple[object, dict[str, int]]:
    """Run ``run``; count the commands the server ran (scripts' included) and the keys
    it looked up (each member EXISTS checks, and the index itself)."""
    with server.client() as admin:
        admin.config_resetstat()
        result = run()
        commands = admin.info("commandstats")
        stats = admin.info("stats")
    cost = {
        name: commands.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "zrange")
    }
    cost["lookups"] = stats["keyspace_hits"] + stats["keyspace_misses"]
    return result, cost


def page_costs(server: RedisServer, store: RedisStore) -> list[tuple[object, dict[str, int]]]:
    """Measure three scans of the range ``m/``."""
    return [
        cost_of(server, lambda: store.scan("m/", limit=3)),
        cost_of(server, lambda: store.scan("m/", after="m/2", limit=3)),
        cost_of(server, lambda: store.scan("m/", limit=100)),
    ]


def test_scan_cost_does_not_depend_on_keys_outside_the_prefix(redis_factory: Factory) -> None:
    server = redis_factory()
    costs = []
    for outside in (10, 2000):
        store = RedisStore.from_url(server.url(server.fresh_db()))
        try:
            for i in range(outside):
                store.set(f"{'az'[i % 2]}/{i:05d}", b"")
            for i in range(5):
                store.set(f"m/{i}", b"")
            store.scan("m/")  # loads the script, so every count below is one EVALSHA
            costs.append(page_costs(server, store))
        finally:
            store.close()
    one_call = {"evalsha": 1, "zrange": 1}
    assert (
        costs[0]
        == costs[1]
        == [
            ((["m/0", "m/1", "m/2"], "m/2"), {**one_call, "lookups": 1 + 4}),  # page and one more
            ((["m/3", "m/4"], None), {**one_call, "lookups": 1 + 2}),
            ((["m/0", "m/1", "m/2", "m/3", "m/4"], None), {**one_call, "lookups": 1 + 5}),
        ]
    )


def test_scan_skips_and_drops_members_of_expired_records(
    store: RedisStore, raw: redis.Redis
) -> None:
    for key in ("p/b", "p/c", "q"):
        store.set(key, b"")
    store.set("p/a", b"", ttl=0.05)
    wait_until(lambda: not raw.exists("p/a"), "Redis to expire the key", timeout=2)
    assert raw.zscore(INDEX, "p/a") == 0  # Redis left the member behind
    assert store.scan("p/", limit=1) == (["p/b"], "p/b")
    assert raw.zrange(INDEX, 0, -1) == [b"p/b", b"p/c", b"q"]


def test_scan_walks_past_long_runs_of_dead_members(store: RedisStore, raw: redis.Redis) -> None:
    dead = [f"p/{i:04d}" for i in range(1500)]
    for key in [*dead, "p/x", "p/y"]:
        store.set(key, b"")
    raw.delete(*dead)  # as Redis's own expiry does: the records go, their members stay
    assert store.scan("p/", limit=1) == (["p/x"], "p/x")
    assert store.scan("p/", after="p/x") == (["p/y"], None)
    assert raw.zrange(INDEX, 0, -1) == [b"p/x", b"p/y"]


def test_each_new_key_draws_a_sample_that_the_next_create_checks(
    redis_server: RedisServer, store: RedisStore, raw: redis.Redis
) -> None:
    for key in ("a", "b", "c"):
        store.set(key, b"")
    raw.delete("a", "b")
    _, cost = cost_of(redis_server, lambda: store.set("d", b""))  # checks the sample c drew
    assert cost["evalsha"] == 1 and cost["zrange"] == 0  # no round trip of its own
    assert raw.zrange(INDEX, 0, -1) == [b"c", b"d"]
    raw.delete("c")
    store.set("d", b"again")  # checks the sample d drew; keeps none (it added no member)
    assert raw.zrange(INDEX, 0, -1) == [b"d"]
    store.set("e", b"", if_version=ABSENT)
    assert raw.zrange(INDEX, 0, -1) == [b"d", b"e"]
    version = store.set("e", b"v")
    store.set("e", b"w", if_version=version)  # a versioned write draws nothing
    assert store.delete("d") and store.delete("e")
    assert not raw.exists(INDEX)


def test_clear_expired_prunes_the_whole_index_and_removes_no_record(
    store: RedisStore, raw: redis.Redis
) -> None:
    keys = [f"k{i:04d}" for i in range(2500)]  # more than one batch
    for key in keys:
        store.set(key, b"")
    raw.delete(*keys[::2])
    assert store.clear_expired() == 0
    assert raw.zrange(INDEX, 0, -1) == [key.encode() for key in keys[1::2]]
    assert raw.dbsize() == 1251


def test_scan_never_lists_the_index(db_url: str, raw: redis.Redis) -> None:
    keys = ["", "index", "\x00index", "\u00ffindex", "\uffff", "\U0010ffff", "\U0010ffffz"]
    stores = [RedisStore.from_url(db_url, key_prefix=p) for p in ("", "app:", "app:\U0010ffff")]
    try:
        for store in stores:
            for key in keys:
                store.set(key, b"")
        indexes = {b"", b"app:", "app:\U0010ffff".encode()}
        assert set(raw.keys(b"*\xffindex")) == {prefix + INDEX for prefix in indexes}
        for store in stores:
            assert store.scan() == (sorted(keys), None)
            assert store.scan("\U0010ffff") == (["\U0010ffff", "\U0010ffffz"], None)
            assert store.scan(after="\uffff") == (["\U0010ffff", "\U0010ffffz"], None)
    finally:
        for store in stores:
            store.close()


def test_a_cluster_keeps_no_index(redis_cluster: RedisCluster) -> None:
    prefix = unique_prefix()
    store = RedisStore.from_url(redis_cluster.url, key_prefix=prefix)
    try:
        for i in range(20):
            store.set(f"k{i:02d}", b"")
        assert store.scan("k1", limit=5) == ([f"k1{i}" for i in range(5)], "k14")
        for node in redis_cluster.nodes:
            with node.client() as client:
                assert not list(client.scan_iter(match=b"*\xffindex"))
    finally:
        store.close()


# Real expiry: Redis keeps its own time, so these use short TTLs and check PTTL -------------


def test_ttl_has_millisecond_precision_and_matches_the_record(
    store: RedisStore, raw: redis.Redis
) -> None:
    store.set("k", b"v", ttl=12.3456)
    assert 12_000 < raw.pttl("k") <= 12_346
    record = store.get("k")
    assert record is not None and record.expires is not None
    assert record.expires - time.time() == pytest.approx(12.3456, abs=0.5)
    store.set("k", b"v")
    assert raw.pttl("k") == -1
    assert store.get("k").expires is None  # type: ignore[union-attr]


def test_touch_extends_or_removes_expiry_of_live_keys_only(
    store: RedisStore, raw: redis.Redis
) -> None:
    version = store.set("k", b"v", ttl=5)
    assert store.touch("k", 300)
    assert 299_000 < raw.pttl("k") <= 300_000
    assert store.touch("k", None)
    assert raw.pttl("k") == -1
    assert store.get("k").version == version  # type: ignore[union-attr]
    assert not store.touch("missing", 10)
    assert not raw.exists("missing")
    with pytest.raises(ValueError):
        store.touch("k", 0)


def test_records_expire_on_the_server(store: RedisStore) -> None:
    version = store.set("k", b"v", ttl=0.05)
    wait_until(lambda: store.get("k") is None, "the key to expire", timeout=2)
    assert store.scan() == ([], None)
    assert not store.touch("k", 10)
    with pytest.raises(Conflict):
        store.set("k", b"v", if_version=version)
    store.set("k", b"new", if_version=ABSENT)


# Cluster ---------------------------------------------------------------------------------


def test_cluster_keys_in_every_slot_range_work(redis_cluster: RedisCluster) -> None:
    prefix = unique_prefix()
    store = RedisStore.from_url(redis_cluster.url, key_prefix=prefix)
    try:
        keys = [f"key{i:03d}" for i in range(60)]
        versions = {key: store.set(key, key.encode(), ttl=60) for key in keys}
        held = []
        for node in redis_cluster.nodes:
            with node.client() as client:  # SCAN on one node lists the keys it holds
                names = (name.decode() for name in client.scan_iter(count=1000))
                held.append({name[len(prefix) :] for name in names if name.startswith(prefix)})
        assert all(held) and set().union(*held) == set(keys)
        for key in keys:
            assert store.get(key).value == key.encode()  # type: ignore[union-attr]
            with pytest.raises(Conflict):
                store.set(key, b"x", if_version=ABSENT)
        assert store.scan(limit=100) == (keys, None)
        assert store.scan(after="key029", limit=10) == (keys[30:40], "key039")
        assert all(store.delete(key, if_version=versions[key]) for key in keys)
    finally:
        store.close()


# Outages ---------------------------------------------------------------------------------


def test_stopped_server_is_unavailable_and_recovery_needs_no_restart(
    redis_factory: Factory,
) -> None:
    server = redis_factory()
    store = RedisStore.from_url(server.url(), timeout=1)
    try:
        store.set("k", b"v")
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.get("k")
        assert isinstance(caught.value.__cause__, redis.ConnectionError)
        with pytest.raises(StoreUnavailable):
            store.set("k", b"v")
        assert time.monotonic() - started < 1
        server.start()
        store.set("k", b"back")
        assert store.get("k").value == b"back"  # type: ignore[union-attr]
    finally:
        store.close()


@pytest.mark.parametrize("warm", [True, False], ids=["pooled-connection", "new-connection"])
def test_hung_server_is_unavailable_within_the_timeout(redis_factory: Factory, warm: bool) -> None:
    server = redis_factory()
    store = RedisStore.from_url(server.url(), timeout=0.3)
    try:
        if warm:
            store.set("k", b"v")
        with server.frozen():
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                store.get("k")
            elapsed = time.monotonic() - started
        assert isinstance(caught.value.__cause__, redis.TimeoutError)
        assert 0.25 < elapsed < 2.0  # the timeout, not a hang (room for a busy machine)
        store.set("k", b"after")
        assert store.get("k").value == b"after"  # type: ignore[union-attr]
    finally:
        store.close()


# Scripts declare every key they touch ------------------------------------------------------

_CALL = re.compile(r"redis\.call\('(\w+)',\s*([^,)]+)")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_touch_only_the_keys_they_declare(name: str) -> None:
    # Redis requires it of scripts; proxies and managed services that route by key enforce it.
    calls = _CALL.findall(SCRIPTS[name])
    assert calls, "no redis.call found: the pattern no longer matches the scripts"
    undeclared = [(cmd, key) for cmd, key in calls if not re.fullmatch(r"KEYS\[\w+\]", key)]
    assert undeclared == []


def test_the_declared_keys_check_sees_an_undeclared_key() -> None:
    script = "local m = redis.call('ZRANDMEMBER', KEYS[1], 3)\nredis.call('EXISTS', unpack(m))"
    calls = _CALL.findall(script)
    assert [key for _, key in calls if not re.fullmatch(r"KEYS\[\w+\]", key)] == ["unpack(m"]


# Writes that replicas acknowledge (wait_replicas, ?wait=) ----------------------------------


@pytest.fixture
def replicated(redis_factory: Factory) -> tuple[RedisServer, RedisServer]:
    """A primary and a replica linked to it."""
    primary = redis_factory(*PRIMARY_ARGS)
    replica = redis_factory(*replica_args(primary))
    wait_until(lambda: replicating(primary, replica), "the replica to link to the primary")
    return primary, replica


def test_acknowledged_writes_are_on_the_replica_when_they_return(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = replicated
    store = RedisStore.from_url(primary.url(2) + "?wait=1&wait_timeout=1", timeout=2)
    try:
        with replica.client(db=2) as seen:
            version = store.set("k", b"v", ttl=60)
            assert seen.hmget("k", "v", "n") == [b"v", version.encode()]
            assert store.touch("k", None) and seen.ttl("k") == -1
            assert store.delete("k", if_version=version) and not seen.exists("k")
            with primary.client() as admin:
                admin.script_flush()  # as on a newly promoted primary: the scripts are gone
            store.set("k2", b"again")
            assert seen.hget("k2", "v") == b"again"
    finally:
        store.close()


def test_a_handed_in_client_waits_too(replicated: tuple[RedisServer, RedisServer]) -> None:
    primary, replica = replicated
    with primary.client(db=3) as client, replica.client(db=3) as seen:
        store = RedisStore(client, wait_replicas=1, wait_timeout=0.5)
        store.set("k", b"v")
        assert seen.hget("k", "v") == b"v"


@pytest.mark.parametrize("replica", ["none", "frozen"])
def test_an_unacknowledged_write_is_unavailable_within_the_wait_timeout(
    redis_factory: Factory, replica: str
) -> None:
    primary = redis_factory(*PRIMARY_ARGS)
    follower = redis_factory(*replica_args(primary)) if replica == "frozen" else None
    if follower is not None:
        wait_until(lambda: replicating(primary, follower), "the replica to link")
    store = RedisStore.from_url(primary.url() + "?wait=1&wait_timeout=0.3", timeout=2)
    try:
        with follower.frozen() if follower is not None else nullcontext():
            started = time.monotonic()  # the first write also loads its script: one deadline
            with pytest.raises(StoreUnavailable, match="0 of 1 replicas"):
                store.set("k", b"v")
            elapsed = time.monotonic() - started
            assert 0.25 < elapsed < 0.3 + 1.5  # the wait timeout, with room for a busy machine
            with pytest.raises(Conflict):  # nothing written: the conflict is reported as such
                store.set("k", b"w", if_version=ABSENT)
        assert store.get("k").value == b"v"  # type: ignore[union-attr]  # the primary has it
    finally:
        store.close()


def test_the_app_answers_503_when_no_replica_acknowledges(redis_factory: Factory) -> None:
    primary = redis_factory()
    url = primary.url() + "?wait=1&wait_timeout=0.3"
    app = create_app(SESSION_STORE=url, SESSION_STORE_TIMEOUT=1.0, SECRET_KEY="s")
    try:
        response = app.test_client().post("/login", data={"user": "ada"})
        assert response.status_code == 503, response.text
        assert "set-cookie" not in response.headers
    finally:
        store = SessionKeeper.state(app).store
        assert store is not None
        store.close()


@pytest.mark.parametrize(
    "query",
    [
        "wait=x",
        "wait=-1",
        "wait=1.5",
        "wait=1&wait=2",
        "wait=1&wait_timeout=0",
        "wait=1&wait_timeout=-1",
        "wait=1&wait_timeout=abc",
        "wait=1&wait_timeout=nan",
        "wait=1&wait_timeout=2",  # not below the store timeout: the read would time out first
        "wait_timeout=0.5",  # without wait=
    ],
)
@pytest.mark.parametrize("base", ["redis://127.0.0.1:6379/0", "redis+sentinel://127.0.0.1/s/0"])
def test_bad_wait_options_fail_at_start(base: str, query: str) -> None:
    with pytest.raises(ConfigError, match="wait"):
        store_from_url(f"{base}?{query}", timeout=2)


def test_wait_options_leave_the_others_to_redis_py_and_are_refused_on_a_cluster() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0?health_check_interval=5&wait=1")
    assert store._client is not None
    assert store._client.connection_pool.connection_kwargs["health_check_interval"] == 5
    store.close()
    with pytest.raises(ConfigError, match="query options"):
        store_from_url("redis+sentinel://127.0.0.1/s/0?wait=1&ssl=true")
    with pytest.raises(ConfigError, match="Cluster"):
        store_from_url("redis+cluster://127.0.0.1:7000?wait=1")
    store_from_url("redis+cluster://127.0.0.1:7000?wait=0").close()


@pytest.mark.parametrize(
    "options", [{"wait_replicas": -1}, {"wait_timeout": 0}, {"wait_replicas": True}]
)
def test_bad_wait_arguments_fail_at_once(
    redis_server: RedisServer, options: dict[str, object]
) -> None:
    with redis_server.client() as client, pytest.raises(ConfigError):
        RedisStore(client, **options)  # type: ignore[arg-type]


def test_a_cluster_client_refuses_wait_replicas(redis_cluster: RedisCluster) -> None:
    client = redis.RedisCluster(host="127.0.0.1", port=redis_cluster.nodes[0].port)
    try:
        with pytest.raises(ConfigError, match="Cluster"):
            RedisStore(client, wait_replicas=1)
    finally:
        client.close()
