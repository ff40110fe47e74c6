"""Failovers seen from the app: a primary killed (SIGKILL) and a replica promoted.

Behind Sentinel, the store writes with ``?wait=1`` so every session written before the
kill is on the replica; after the promotion the first requests may answer 503 (never
500) and within a bound they answer 200 with the sessions intact. In a Cluster, a dead
primary's replica takes over its slots and every shard's sessions read back.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from redis_servers import (
    PRIMARY_ARGS,
    RedisCluster,
    RedisServer,
    SentinelGroup,
    info,
    replica_args,
    replicating,
    wait_until,
)
from session_app import create_app
from sessionkeeper import SessionKeeper

pytestmark = pytest.mark.redis

#: SESSION_STORE_TIMEOUT: connect and read timeout of the store.
TIMEOUT = 1.0
#: How long a write waits for its replica (below TIMEOUT, as the URL parser insists).
WAIT_TIMEOUT = 0.5
#: Bound on the promotion after the kill: Sentinels see the primary down after 1 s,
#: agree and elect a leader, which promotes the replica (a few seconds; generous).
PROMOTION = 30.0
#: Bound on the first 200 after the promotion (the client asks a Sentinel again).
RECOVERY = 10.0
#: Time an answer may take beyond the store's own timeouts on a busy machine.
SLACK = 1.5
USERS = [f"user{i}" for i in range(8)]


@contextmanager
def keeper_app(url: str) -> Iterator[Flask]:
    """The test app on ``url``; its store is closed on exit."""
    app = create_app(SESSION_STORE=url, SESSION_STORE_TIMEOUT=TIMEOUT, SECRET_KEY="s")
    try:
        yield app
    finally:
        store = SessionKeeper.state(app).store
        assert store is not None
        store.close()


def answer(client: FlaskClient, method: str, path: str, **kwargs: object) -> TestResponse:
    """Send a request; a store outage may answer 503, any status but 200 or 503 fails."""
    response = client.open(path, method=method, **kwargs)  # type: ignore[arg-type]
    assert response.status_code in (200, 503), f"{method} {path}: {response.status_code}"
    if response.status_code == 503:
        assert "unavailable" in response.text
    return response


def logged_in(app: Flask) -> list[FlaskClient]:
    """One client per user, each logged in (a session written through the app)."""
    clients = []
    for user in USERS:
        client = app.test_client()
        assert answer(client, "POST", "/login", data={"user": user}).status_code == 200
        clients.append(client)
    return clients


def until_200(client: FlaskClient, method: str, path: str, **kwargs: object) -> float:
    """Send a request until it answers 200 (503s allowed meanwhile); return when it did."""
    deadline = time.monotonic() + RECOVERY
    while answer(client, method, path, **kwargs).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"{method} {path} still answers 503 {RECOVERY} s on", pytrace=False)
        time.sleep(0.05)
    return time.monotonic()


def test_sentinel_failover_keeps_acknowledged_sessions(redis_failover: SentinelGroup) -> None:
    group = redis_failover
    url = group.url(3, f"wait=1&wait_timeout={WAIT_TIMEOUT}")
    with keeper_app(url) as app:
        failover_keeps_sessions(group, app)


def failover_keeps_sessions(group: SentinelGroup, app: Flask) -> None:
    clients = logged_in(app)
    with group.replica.client(db=3) as replica:  # acknowledged: on the replica already
        assert len(replica.keys("session:*")) == len(USERS)

    killed = time.monotonic()
    group.primary.stop()  # SIGKILL
    promoted_at = first_200 = None
    unavailable = 0
    while promoted_at is None or first_200 is None:
        if first_200 is None:  # before it, the outage answers 503, never 500
            if answer(clients[0], "GET", "/whoami").status_code == 200:
                first_200 = time.monotonic()
            else:
                unavailable += 1
        if promoted_at is None and any(
            group.primary_port(s) == group.replica.port for s in group.sentinels
        ):
            promoted_at = time.monotonic()
        if promoted_at is None and time.monotonic() > killed + PROMOTION:
            pytest.fail(f"no Sentinel promoted the replica within {PROMOTION} s", pytrace=False)
        if promoted_at is not None and time.monotonic() > promoted_at + RECOVERY:
            pytest.fail(f"still 503 {RECOVERY} s after the promotion", pytrace=False)
        time.sleep(0.05)
    print(
        f"\nSentinel: kill -> promotion {promoted_at - killed:.2f} s, "
        f"kill -> first 200 {first_200 - killed:.2f} s, {unavailable} answers 503 before"
    )
    assert unavailable > 0  # the kill was seen: the outage is what this test is about
    wait_until(
        lambda: all(group.primary_port(s) == group.replica.port for s in group.sentinels),
        "all three Sentinels to name the replica",
        PROMOTION,
    )
    for user, client in zip(USERS, clients, strict=True):
        assert answer(client, "GET", "/whoami").text == user

    # Writes wait for a replica, and the new primary has none yet: 503, not lost silently.
    started = time.monotonic()
    newcomer = app.test_client()
    assert answer(newcomer, "POST", "/login", data={"user": "eve"}).status_code == 503
    assert time.monotonic() - started < WAIT_TIMEOUT + SLACK

    # The old primary comes back as a replica of the new one: writes are acknowledged again.
    group.primary.args = [*PRIMARY_ARGS, *replica_args(group.replica)]
    group.primary.start()
    wait_until(lambda: replicating(group.replica, group.primary), "the old primary to follow")
    assert answer(newcomer, "POST", "/login", data={"user": "eve"}).status_code == 200
    assert answer(newcomer, "GET", "/whoami").text == "eve"


def shard_sizes(nodes: list[RedisServer]) -> dict[int, int]:
    """The number of keys on each primary among ``nodes``, by port."""
    sizes = {}
    for node in nodes:
        if info(node).get("role") == "master":
            with node.client() as client:
                sizes[node.port] = int(client.dbsize())
    return sizes


def replicas_caught_up(nodes: list[RedisServer]) -> bool:
    """Whether every replica among ``nodes`` has all that its primary wrote."""
    offsets = {n.port: info(n).get("master_repl_offset") for n in nodes}
    replicas = [info(n) for n in nodes if info(n).get("role") == "slave"]
    return len(replicas) == 3 and all(
        r.get("master_link_status") == "up"
        and r.get("slave_repl_offset") == offsets[int(str(r["master_port"]))]
        for r in replicas
    )


def test_cluster_primary_failure_promotes_its_replica_and_keeps_every_shard(
    redis_cluster_replicas: RedisCluster,
) -> None:
    nodes = redis_cluster_replicas.nodes
    with keeper_app(redis_cluster_replicas.url) as app:
        clients: list[FlaskClient] = []
        users: list[str] = []
        while min(shard_sizes(nodes).values(), default=0) < 2:  # sessions on every shard
            assert len(users) < 200, f"sessions never reached every shard: {shard_sizes(nodes)}"
            users.append(f"user{len(users)}")
            clients.append(app.test_client())
            until_200(clients[-1], "POST", "/login", data={"user": users[-1]})
        wait_until(lambda: replicas_caught_up(nodes), "the replicas to have every session", 30)

        victim = next(n for n in nodes if info(n).get("role") == "master")
        heir = next(n for n in nodes if info(n).get("master_port") == victim.port)
        killed = time.monotonic()
        victim.stop()  # SIGKILL
        survivors = [n for n in nodes if n is not victim]

        turns = itertools.cycle(clients)

        unavailable = []

        def recovered() -> bool:
            status = answer(next(turns), "GET", "/whoami").status_code  # 503, never 500
            unavailable.extend([status] if status == 503 else [])
            if info(heir).get("role") != "master":
                return False
            for node in survivors:
                with node.client() as client:
                    if client.cluster("INFO").get("cluster_state") != "ok":
                        return False
            return True

        wait_until(recovered, f"the replica (port {heir.port}) to take over", PROMOTION)
        promoted_at = time.monotonic()
        first_200 = until_200(clients[0], "GET", "/whoami")
        print(
            f"\nCluster: kill -> promotion {promoted_at - killed:.2f} s, "
            f"kill -> first 200 {first_200 - killed:.2f} s, {len(unavailable)} answers 503 before"
        )
        assert unavailable  # requests met the dead shard
        for user, client in zip(users, clients, strict=True):
            assert until_200(client, "GET", "/whoami") and client.get("/whoami").text == user

        with heir.client() as client:
            before = int(client.dbsize())
        newcomers = 0
        while shard_sizes(survivors)[heir.port] == before:  # a new session on the heir too
            assert newcomers < 200, "no new session landed on the promoted replica"
            newcomer = app.test_client()
            response = answer(newcomer, "POST", "/login", data={"user": "eve"})
            assert response.status_code == 200
            assert answer(newcomer, "GET", "/whoami").text == "eve"
            newcomers += 1
