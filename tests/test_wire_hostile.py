"""SocketTransport against a hostile peer: every broken answer the old hand reader mis-read.

Each test scripts the bytes a raw socket server sends (``kv_servers.RawServer``)
and asserts the exact outcome: which error, whether the connection was closed and
never reused, and that the next request gets its own answer on a new connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kv_servers import Answer, RawServer, answer, raw_server, reset, then_close
from sessionkeeper.errors import StoreError, StoreUnavailable
from sessionkeeper.stores import ABSENT
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.wire import SocketTransport

#: The raw servers and transports a test started, closed after it.
Run = list[tuple[RawServer, SocketTransport]]


def written(key: str, version: str) -> bytes:
    """The service's answer to a one-key POST: the value and its ETag."""
    return answer(b'{"%s":1}' % key.encode(), headers={"ETag": f'"{version}"'})


@pytest.fixture
def run() -> Iterator[Run]:
    opened: Run = []
    yield opened
    for server, transport in opened:
        transport.close()
        server.close()


def start(
    run: Run, *scripts: list[Answer], timeout: float = 2.0, max_answer: int = 1 << 20
) -> tuple[RawServer, SocketTransport, HttpStore]:
    server = RawServer(*scripts)
    transport = SocketTransport(server.url, timeout=timeout, max_answer=max_answer)
    run.append((server, transport))
    return server, transport, HttpStore(server.url, transport=transport)


def assert_dropped(server: RawServer, index: int) -> None:
    """Connection ``index`` was closed by the client and carried no request past its script."""
    peer = server.peers[index]
    assert peer.closed_by_client.wait(5), f"connection {index} was left open"
    assert peer.unexpected == []


# Interim answers ----------------------------------------------------------------------------


def test_interim_answers_are_skipped_and_the_final_one_read(run: Run) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    server, transport, store = start(run, [interim + written("alice", "va"), written("bob", "vb")])
    assert store.set("alice", b"1") == "va"
    assert store.set("bob", b"1") == "vb"
    assert (transport.opened, len(server.peers[0].requests)) == (1, 2)


# Bytes past the answer ----------------------------------------------------------------------


def test_bytes_past_content_length_close_the_connection(run: Run) -> None:
    forged = written("bob", "forged-by-alice")
    server, transport, store = start(run, [written("alice", "va") + forged], [written("bob", "vb")])
    assert store.set("alice", b"1") == "va"
    assert store.set("bob", b"1") == "vb"
    assert transport.opened == 2
    assert_dropped(server, 0)


def test_bytes_arriving_after_the_answer_close_the_idle_connection(run: Run) -> None:
    sent = threading.Event()

    def late_junk(sock: socket.socket, stop: threading.Event) -> None:
        sock.sendall(written("alice", "va"))
        sock.sendall(written("bob", "forged"))
        sent.set()

    server, transport, store = start(run, [late_junk], [written("bob", "vb")])
    assert store.set("alice", b"1") == "va"
    assert sent.wait(5)
    assert store.set("bob", b"1") == "vb"
    assert transport.opened == 2
    assert_dropped(server, 0)


# Chunked bodies -----------------------------------------------------------------------------

CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_chunked_body_cut_short_is_unavailable(run: Run) -> None:
    cut = then_close(CHUNKED + b"100\r\n" + b'{"keys":["a"],"n' + b"x")
    server, transport, store = start(run, [cut], [answer(b'{"keys":["b"],"next":null}')])
    with pytest.raises(StoreUnavailable, match="connection lost"):
        store.scan()
    assert store.scan() == (["b"], None)
    assert transport.opened == 2
    assert_dropped(server, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the chunk's data
        b"+5\r\nhello\r\n0\r\n\r\n",  # a sign in the size
        b"0x5\r\nhello\r\n0\r\n\r\n",  # a prefix in the size
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"5 5\r\nhello\r\n0\r\n\r\n",  # two numbers
    ],
)
def test_malformed_chunks_are_refused(run: Run, body: bytes) -> None:
    server, _, store = start(run, [CHUNKED + body], [answer(b'{"keys":[],"next":null}')])
    with pytest.raises(StoreError, match="malformed") as caught:
        store.scan()
    assert not isinstance(caught.value, StoreUnavailable)
    assert store.scan() == ([], None)
    assert_dropped(server, 0)


@pytest.mark.parametrize("coding", ["xchunkedx", "gzip", "chunked, gzip"])
def test_unknown_transfer_encodings_are_refused(run: Run, coding: str) -> None:
    head = answer(b"", headers={"Transfer-Encoding": coding})
    head = head.replace(b"Content-Length: 0\r\n", b"")
    server, _, store = start(run, [head + b"5\r\nhello\r\n0\r\n\r\n"], [answer(b"[]")])
    with pytest.raises(StoreError, match="malformed"):
        store.scan()
    assert_dropped(server, 0)


def test_an_answer_over_the_cap_is_refused_while_it_arrives(run: Run) -> None:
    body = b"".join(b"258\r\n" + b"x" * 600 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
    server, _, store = start(run, [CHUNKED + body], max_answer=1000)
    with pytest.raises(StoreError, match="1000 bytes"):
        store.scan()
    assert_dropped(server, 0)


# Content-Length -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["+1_6", "1_6", "-1", " 16 16", "0x10", "16, 17"])
def test_malformed_content_lengths_are_refused(run: Run, length: str) -> None:
    bad = answer(b'{"keys":[],"n":1}'[:16], headers={"Content-Length": length})
    server, transport, store = start(run, [bad], [answer(b'{"keys":["ok"],"next":null}')])
    with pytest.raises(StoreError, match="malformed") as caught:
        store.scan()
    assert not isinstance(caught.value, StoreUnavailable)
    assert store.scan() == (["ok"], None)
    assert transport.opened == 2
    assert_dropped(server, 0)


def test_a_huge_content_length_is_refused_before_reading(run: Run) -> None:
    huge = answer(b"x" * 100, headers={"Content-Length": str(10**15)})
    server, _, store = start(run, [huge])
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"malformed.*announces"):
        store.scan()
    assert time.monotonic() - started < 2
    assert_dropped(server, 0)


@pytest.mark.parametrize("status_line", [b"HTTP/1.1 abc OK", b"HTTP/9 200 OK", b"SPAM"])
def test_a_garbled_status_line_is_refused(run: Run, status_line: bytes) -> None:
    server, _, store = start(run, [status_line + b"\r\nContent-Length: 0\r\n\r\n"])
    with pytest.raises(StoreError, match="malformed"):
        store.scan()
    assert_dropped(server, 0)


@pytest.mark.parametrize("pad", [b" " * 60_000 + b"\x00", b"\t " * 30_000 + b"\r"])
def test_a_field_built_to_make_the_reader_backtrack_is_refused_at_once(
    run: Run, pad: bytes
) -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Pad:" + pad + b"\r\nContent-Length: 0\r\n\r\n"
    server, _, store = start(run, [head])
    started = time.process_time()
    with pytest.raises(StoreError, match="malformed"):
        store.scan()
    assert time.process_time() - started < 0.5  # the first reader took hours on this
    assert_dropped(server, 0)


# Deadline -----------------------------------------------------------------------------------


def trickle(head: bytes, pieces: list[bytes]) -> Answer:
    """Send ``head``, then one piece every half second until the server stops."""

    def send(sock: socket.socket, stop: threading.Event) -> None:
        sock.sendall(head)
        for piece in pieces:
            if stop.wait(0.5):
                return
            sock.sendall(piece)

    return send


@pytest.mark.parametrize(
    "slow",
    [
        trickle(b"HTTP/1.1 200 OK\r\n", [b"X-Slow-%d: 1\r\n" % i for i in range(12)]),
        trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", [b"x"] * 12),
    ],
    ids=["headers", "body"],
)
def test_one_deadline_covers_the_whole_answer(run: Run, slow: Answer) -> None:
    _, _, store = start(run, [slow], timeout=1.0)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="timed out") as caught:
        store.scan()
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3, elapsed
    assert isinstance(caught.value.__cause__, TimeoutError)


# Connections the server ends ----------------------------------------------------------------


@pytest.mark.parametrize(
    "ending",
    [
        answer(b'{"keys":[],"next":null}', headers={"Connection": "close"}),
        answer(b'{"keys":[],"next":null}').replace(b"HTTP/1.1", b"HTTP/1.0"),
    ],
    ids=["connection-close", "http-1.0"],
)
def test_an_answer_that_ends_the_connection_is_not_reused(run: Run, ending: bytes) -> None:
    server, transport, store = start(run, [ending], [answer(b'{"keys":[],"next":null}')])
    assert store.scan() == ([], None)
    assert store.scan() == ([], None)
    assert transport.opened == 2
    assert_dropped(server, 0)


LISTING = answer(b'{"keys":[],"next":null}')
RECORD = answer(b'{"k":1}', headers={"ETag": '"v1"'})


@pytest.mark.parametrize(
    ("call", "second"),
    [
        (lambda store: store.get("k"), RECORD),
        (lambda store: store.touch("k", 10), answer(b"", "204 No Content")),
    ],
    ids=["get", "touch"],
)
def test_a_replayable_request_is_resent_once_after_an_idle_reset(
    run: Run, call: Callable[[HttpStore], Any], second: bytes
) -> None:
    server, transport, store = start(run, [LISTING, reset], [second])
    assert store.scan() == ([], None)
    result = call(store)
    assert result is True or result.version == "v1"
    assert [len(peer.requests) for peer in server.peers] == [2, 1]
    assert transport.opened == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda store: store.set("k", b"1", if_version=ABSENT),
        lambda store: store.set("k", b"1", if_version="v0"),
        lambda store: store.set("k", b"1"),
        lambda store: store.delete("k", if_version="v1"),
        lambda store: store.delete("k"),
    ],
    ids=["create", "compare-and-set", "set", "conditional-delete", "delete"],
)
def test_a_write_is_never_resent(run: Run, call: Callable[[HttpStore], Any]) -> None:
    would_conflict = answer(b'{"status":412}', "412 Precondition Failed")
    server, _, store = start(run, [LISTING, reset], [would_conflict])
    assert store.scan() == ([], None)
    with pytest.raises(StoreUnavailable, match="connection lost"):
        call(store)
    assert server.accepted == 1 and len(server.peers[0].requests) == 2


def test_a_read_is_not_resent_once_the_answer_began(run: Run) -> None:
    server, _, store = start(run, [LISTING, then_close(b"HTTP/1.1 200 OK\r\n")], [RECORD])
    assert store.scan() == ([], None)
    with pytest.raises(StoreUnavailable, match="connection lost"):
        store.get("k")
    assert server.accepted == 1


def test_a_fresh_connection_is_not_resent(run: Run) -> None:
    server, transport, store = start(run, [reset], [RECORD])
    with pytest.raises(StoreUnavailable, match="connection lost"):
        store.get("k")
    assert (server.accepted, transport.opened) == (1, 1)


def test_closing_the_transport_closes_its_idle_connections() -> None:
    with raw_server([LISTING]) as server:
        transport = SocketTransport(server.url)
        assert HttpStore(server.url, transport=transport).scan() == ([], None)
        transport.close()
        assert_dropped(server, 0)
