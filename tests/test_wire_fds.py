"""A busy worker holds over 1024 descriptors: pooled connections must still be reused.

``select.select`` refuses descriptors >= 1024; the transport checks idle
connections with ``poll``.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest

from kv_servers import answer, raw_server
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.wire import SocketTransport

HIGH = 1024


@pytest.fixture
def descriptors_above_1024() -> Iterator[None]:
    """Take every descriptor below 1024 (raising the soft limit within the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = HIGH + 256
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard limit on open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    held: list[int] = []
    try:
        while not held or held[-1] < HIGH:
            held.append(os.open(os.devnull, os.O_RDONLY))
        probe = held.pop()  # the lowest free descriptor is now this one, at least 1024
        os.close(probe)
        assert probe >= HIGH
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("descriptors_above_1024")
def test_a_connection_above_descriptor_1024_is_reused() -> None:
    listing = answer(b'{"keys":["a"],"next":null}')
    with raw_server([listing, listing, listing]) as server:
        transport = SocketTransport(server.url)
        store = HttpStore(server.url, transport=transport)
        for _ in range(3):
            assert store.scan() == (["a"], None)
        assert transport.opened == 1 and len(server.peers[0].requests) == 3
        transport.close()
        assert server.peers[0].closed_by_client.wait(5)
