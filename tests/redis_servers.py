"""Real Redis servers for the tests, started on 127.0.0.1 and stopped by pid.

Fixtures: ``redis_server`` (one standalone server for the session), ``redis_cluster``
(three primaries forming a Cluster), ``redis_sentinel`` (a primary and one Sentinel
watching it), ``redis_factory`` (throwaway servers a test may stop, restart or
freeze), and for failover tests, which kill servers, ``redis_failover`` (a primary, a
replica and three Sentinels with short timeouts) and ``redis_cluster_replicas`` (three
primaries with a replica each), both built afresh for each test. Shared servers are
never flushed: tests isolate themselves with a fresh database
(:meth:`RedisServer.fresh_url`) or a unique key prefix (:func:`unique_prefix`).

Without ``redis-server`` these fixtures skip, or fail when ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

START_TIMEOUT = 60.0  # generous: CI machines can be busy
_counter = itertools.count(1)


def unique_prefix() -> str:
    """Return a key prefix no other test uses; glob characters in it exercise escaping."""
    return f"t{next(_counter)}*?[x]\\:"


def require(binary: str) -> str:
    """Return the path of ``binary``; skip the test without it, or fail under CI."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def free_port() -> int:
    """Return a loopback port that is free, and whose cluster bus port (+10000) is too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port > 55535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def wait_until(ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    """Poll ``ready`` until it returns True; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(0.01)


@dataclass
class RedisServer:
    """A redis-server process of our own: its port, directory and command line."""

    directory: Path
    args: list[str] = field(default_factory=list)
    argv: list[str] | None = None  # replaces the whole command line (a Sentinel)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _dbs: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_path(self) -> Path:
        """The Unix socket the server also listens on."""
        return self.directory / "redis.sock"

    def url(self, db: int = 0) -> str:
        """Return the ``redis://`` URL of database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_db(self) -> int:
        """Return a database number no other test of this session has used."""
        return next(self._dbs)

    def fresh_url(self) -> str:
        """Return the URL of a database no other test of this session has used."""
        return self.url(self.fresh_db())

    def client(self, db: int = 0) -> redis.Redis:
        """Return a new client of database ``db`` (the caller closes it)."""
        return redis.Redis(
            port=self.port, db=db, socket_timeout=5, socket_connect_timeout=5, retry=_no_retry()
        )

    def command(self) -> list[str]:
        """Return the command line that starts this server."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.argv is not None:
            return self.argv
        return [
            require("redis-server"),
            *["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            *["--port", str(self.port), "--dir", str(self.directory)],
            *["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"],
            *["--databases", "10000"],
            *self.args,
        ]

    def start(self) -> RedisServer:
        """Start the server (again, on the same port) and wait until it answers PING."""
        command = self.command()
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            log = (self.directory / "redis.log").read_text(errors="replace")
            pytest.fail(f"redis-server exited:\n{log[-2000:]}", pytrace=False)
        try:
            with redis.Redis(port=self.port, socket_timeout=0.5, retry=_no_retry()) as probe:
                return bool(probe.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Stop the server by its pid, at once: it keeps nothing on disk to flush."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.kill()  # SIGKILL works on a frozen (SIGSTOPped) process too
        process.wait()

    def shutdown(self) -> None:
        """Stop the server as an operator would (SHUTDOWN SAVE): a later start keeps the data."""
        assert self.process is not None
        with self.client() as client:
            client.shutdown(save=True)  # returns once the server has closed the connection
        self.process.wait(10)
        self.process = None

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Suspend the process (SIGSTOP): it accepts connections but never answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            if self.process is not None:
                os.kill(self.process.pid, signal.SIGCONT)


@dataclass
class RedisCluster:
    """Three primaries sharing the 16384 slots."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)


@dataclass
class RedisSentinel:
    """A primary and one Sentinel monitoring it as ``service``."""

    primary: RedisServer
    sentinel: RedisServer
    service: str = "sessions"

    def url(self, db: int = 0) -> str:
        """Return the ``redis+sentinel://`` URL of database ``db`` of the primary."""
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{self.service}/{db}"

    def fresh_url(self) -> str:
        """Return the URL of a database of the primary no other test has used."""
        return self.url(self.primary.fresh_db())


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One standalone redis-server for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 3-primary Redis Cluster for the whole session (forming one takes about 2 s)."""
    base = tmp_path_factory.mktemp("redis-cluster")
    cluster_args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
    nodes = [RedisServer(base / f"node{i}", cluster_args) for i in range(3)]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [require("redis-cli"), "--cluster", "create"]
            + [f"127.0.0.1:{n.port}" for n in nodes]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )

        def formed() -> bool:
            for node in nodes:
                with node.client() as client:
                    if client.cluster("INFO").get("cluster_state") != "ok":
                        return False
            return True

        wait_until(formed, "the Redis Cluster to form")
        yield RedisCluster(nodes)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinel]:
    """A primary and a Sentinel (``redis-sentinel``, else ``redis-server --sentinel``)."""
    base = tmp_path_factory.mktemp("redis-sentinel")
    primary = RedisServer(base / "primary")
    sentinel = RedisServer(base / "sentinel")
    setup = RedisSentinel(primary, sentinel)
    try:
        primary.start()
        conf = sentinel.directory / "sentinel.conf"
        sentinel.directory.mkdir(parents=True)
        conf.write_text(
            f"bind 127.0.0.1\nport {sentinel.port}\ndir {sentinel.directory}\n"
            f"sentinel monitor {setup.service} 127.0.0.1 {primary.port} 1\n"
        )
        binary = shutil.which("redis-sentinel")
        sentinel.argv = (
            [binary, str(conf)] if binary else [require("redis-server"), str(conf), "--sentinel"]
        )
        sentinel.start()
        yield setup
    finally:
        sentinel.stop()
        primary.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start throwaway servers (extra command-line arguments allowed) that this test may
    stop, restart or freeze."""
    servers: list[RedisServer] = []

    def start(*args: str) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}", list(args))
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def info(server: RedisServer, section: str = "replication") -> dict[str, object]:
    """Return ``INFO section`` of a server, or {} if it does not answer."""
    try:
        with server.client() as client:
            return dict(client.info(section))
    except redis.RedisError:
        return {}


def replicating(primary: RedisServer, replica: RedisServer) -> bool:
    """Whether ``replica`` follows ``primary`` and has every write so far, a probe included.

    A replica reports its link up before the primary streams writes to it (after a
    diskless sync the primary waits up to a second for its first acknowledgement), so
    only a write seen arriving shows the link works: a PUBLISH, which outside a Cluster
    goes down the replication stream and touches no key.
    """
    try:
        with primary.client() as client:
            client.publish("replication-probe", "")
    except redis.RedisError:
        return False
    offset, theirs = info(primary).get("master_repl_offset"), info(replica)
    if theirs.get("master_link_status") != "up" or theirs.get("master_port") != primary.port:
        return False
    caught_up = theirs.get("slave_repl_offset")
    return isinstance(offset, int) and isinstance(caught_up, int) and caught_up >= offset > 0


#: Arguments for a server that replicas will follow: it streams its first copy to a new
#: replica at once, instead of waiting 5 s for others to join (Redis's default).
PRIMARY_ARGS = ["--repl-diskless-sync-delay", "0"]


def replica_args(primary: RedisServer) -> list[str]:
    """The arguments that start a server as a replica of ``primary``."""
    return ["--replicaof", "127.0.0.1", str(primary.port)]


@dataclass
class SentinelGroup:
    """A primary, its replica and three Sentinels (quorum 2) monitoring them as ``service``."""

    primary: RedisServer
    replica: RedisServer
    sentinels: list[RedisServer]
    service: str = "sessions"

    def url(self, db: int = 0, query: str = "") -> str:
        """Return the ``redis+sentinel://`` URL naming all three Sentinels."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/{db}" + (f"?{query}" if query else "")

    def primary_port(self, sentinel: RedisServer) -> int | None:
        """The port of the primary that ``sentinel`` names (None if it does not answer)."""
        try:
            with sentinel.client() as client:
                reply = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        except redis.RedisError:
            return None
        return int(reply[1]) if reply else None

    def watching(self) -> bool:
        """Whether every Sentinel knows the other two and sees the replica linked."""
        for sentinel in self.sentinels:
            with sentinel.client() as client:
                peers = client.sentinel_sentinels(self.service)
                replicas = client.sentinel_slaves(self.service)
            if len(peers) != len(self.sentinels) - 1:
                return False
            if not any(
                r["port"] == self.replica.port
                and r["master-link-status"] == "ok"
                and not r["is_sdown"]
                and not r["is_disconnected"]
                for r in replicas
            ):
                return False
        return True


@pytest.fixture
def redis_failover(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A primary, a replica and three Sentinels that fail over 1 s after the primary dies.

    The test may kill any of them; all are stopped by pid afterwards.
    """
    require("redis-sentinel")
    primary = RedisServer(tmp_path / "primary", PRIMARY_ARGS)
    replica = RedisServer(tmp_path / "replica", [*PRIMARY_ARGS, *replica_args(primary)])
    sentinels = [RedisServer(tmp_path / f"sentinel{i}") for i in range(3)]
    group = SentinelGroup(primary, replica, sentinels)
    try:
        primary.start()
        replica.start()
        wait_until(lambda: replicating(primary, replica), "the replica to link to the primary")
        for sentinel in sentinels:  # the primary lists the replica in the first INFO they read
            conf = sentinel.directory / "sentinel.conf"
            sentinel.directory.mkdir(parents=True)
            conf.write_text(
                f"bind 127.0.0.1\nport {sentinel.port}\ndir {sentinel.directory}\n"
                f"sentinel monitor {group.service} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {group.service} 1000\n"
                f"sentinel failover-timeout {group.service} 5000\n"
            )
            sentinel.argv = [require("redis-sentinel"), str(conf)]
            sentinel.start()
        wait_until(group.watching, "the Sentinels to find each other and the replica")
        yield group
    finally:
        for server in [*sentinels, replica, primary]:
            server.stop()


@pytest.fixture
def redis_cluster_replicas(tmp_path: Path) -> Iterator[RedisCluster]:
    """A Cluster of three primaries with one replica each, failing over after 1 s.

    ``nodes`` lists the servers in the order given to ``redis-cli``, which makes the first
    three the primaries (ask each its role: which replica follows which may vary). The
    test may kill any.
    """
    cluster_args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "1000", *PRIMARY_ARGS]
    nodes = [RedisServer(tmp_path / f"node{i}", cluster_args) for i in range(6)]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [require("redis-cli"), "--cluster", "create"]
            + [f"127.0.0.1:{n.port}" for n in nodes]
            + ["--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )

        def formed() -> bool:
            for node in nodes:
                with node.client() as client:
                    if client.cluster("INFO").get("cluster_state") != "ok":
                        return False
            return all(info(n).get("master_link_status") == "up" for n in nodes[3:])

        wait_until(formed, "the Redis Cluster and its replicas to form")
        yield RedisCluster(nodes)
    finally:
        for node in nodes:
            node.stop()
