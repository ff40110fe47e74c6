"""The pool against a real ``sessionkeeper kv serve`` (Granian keeps connections alive).

Connections are counted from both ends: the transport's own count, and the
kernel's table of established TCP connections (``/proc/net/tcp``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from live_processes import LiveProcess, kv_service
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.wire import SocketTransport


def established(port: int) -> set[tuple[int, int]]:
    """Established loopback TCP connections to ``port``: (client port, server port) pairs."""
    pairs = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, remote = (int(end.rsplit(":", 1)[1], 16) for end in fields[1:3])
                if fields[3] == "01" and remote == port:  # 01: ESTABLISHED, seen from the client
                    pairs.add((local, remote))
    return pairs


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveProcess]:
    live = kv_service(tmp_path_factory.mktemp("kv"), "memory://").start()
    yield live
    live.stop()


@pytest.fixture
def transport(service: LiveProcess) -> Iterator[SocketTransport]:
    opened = SocketTransport(service.url)
    yield opened
    opened.close()


def test_fifty_requests_use_one_connection(
    service: LiveProcess, transport: SocketTransport
) -> None:
    store = HttpStore(service.url, transport=transport)
    store.set("pool:first", b"0")
    first = established(service.port)
    assert len(first) == 1
    for i in range(49):
        if i % 2:
            store.set(f"pool:{i}", b"%d" % i)
        else:
            assert store.get("pool:first") is not None
    assert transport.opened == 1
    assert established(service.port) == first  # the same client port: the same connection


def test_threads_share_a_bounded_pool(service: LiveProcess, transport: SocketTransport) -> None:
    store = HttpStore(service.url, transport=transport)
    start = threading.Barrier(4)

    def work(n: int) -> None:
        start.wait(5)
        for i in range(25):
            store.set(f"threads:{n}:{i}", b"1")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert 1 <= transport.opened <= 4
    assert len(established(service.port)) == transport.opened
    assert len(store.scan("threads:", limit=1000)[0]) == 100


def test_an_injected_transport_outlives_the_store(
    service: LiveProcess, transport: SocketTransport
) -> None:
    HttpStore(service.url, transport=transport).set("owned", b"1")
    HttpStore(service.url, transport=transport).close()
    assert HttpStore(service.url, transport=transport).get("owned") is not None
    assert transport.opened == 1
    transport.close()
    assert established(service.port) == set()


def test_a_restarted_service_gets_a_new_connection(tmp_path: Path) -> None:
    live = kv_service(tmp_path, f"sqlite:///{tmp_path / 'kv.db'}").start()
    transport = SocketTransport(live.url)
    try:
        store = HttpStore(live.url, transport=transport)
        store.set("k", b"1")
        live.stop()
        live.start()  # the pooled connection's server is gone
        record = store.get("k")
        assert record is not None and record.value == b"1"
        assert transport.opened == 2
    finally:
        transport.close()
        live.stop()
