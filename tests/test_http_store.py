"""HttpStore beyond the contract suite (which runs it as the "http" kind): wire format,
connections, and how failures of the service reach the caller.

Tests of the protocol reach the KV app in-process (``WSGITransport``); tests of
connections reach it on a real socket (``kv_servers``). Nothing is mocked.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FakeClock
from kv_servers import serve_for
from sessionkeeper.errors import ConfigError, Conflict, StoreError, StoreUnavailable
from sessionkeeper.kv import create_app
from sessionkeeper.stores import ABSENT, store_from_url
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.stores.sqlite import SqliteStore
from sessionkeeper.wire import WSGITransport
from sessionkeeper.wire.codec import decode_value, encode_value, etag_to_version, version_to_etag

TOKEN = "s3cret-token"


@pytest.fixture
def backing(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def url(request: pytest.FixtureRequest, backing: MemoryStore) -> str:
    return serve_for(request, backing, token=TOKEN)


@pytest.fixture
def kv(backing: MemoryStore) -> WSGITransport:
    """The KV app over ``backing``, called in-process."""
    return WSGITransport(create_app(backing, token=TOKEN))


@pytest.fixture
def http_store(kv: WSGITransport) -> HttpStore:
    return HttpStore("http://kv.test", transport=kv, token=TOKEN)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def raw_get(kv: WSGITransport, key: str) -> Any:
    return json.loads(kv.request("GET", f"/{key}", headers=AUTH).body)


# The JSON codec -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@given(st.binary())
@settings(database=None)
def test_any_bytes_round_trip(data: bytes) -> None:
    assert decode_value(json.loads(json.dumps(encode_value(data)))) == data


@given(json_values)
@settings(max_examples=200, database=None)
def test_json_values_travel_as_themselves(value: Any) -> None:
    data = decode_value(value)
    shown = encode_value(data)
    if not (isinstance(value, dict) and list(value) == ["$b64"]):
        assert shown == value
    assert decode_value(shown) == data


@given(st.text())
@settings(database=None)
def test_every_version_survives_an_etag(version: str) -> None:
    etag = version_to_etag(version)
    assert etag.startswith('"') and etag.endswith('"') and '"' not in etag[1:-1]
    assert etag_to_version(etag) == version


# Wire format --------------------------------------------------------------------------------


def test_sessions_are_readable_in_the_service(http_store: HttpStore, kv: WSGITransport) -> None:
    http_store.set("session:ab12", b'{"user":"alice","views":3}')
    http_store.set("blob", b"\x00\x01 not json")
    assert raw_get(kv, "session:ab12") == {"session:ab12": {"user": "alice", "views": 3}}
    assert raw_get(kv, "blob") == {"blob": {"$b64": "AAEgbm90IGpzb24="}}


def test_what_the_lab_clients_wrote_reads_back(http_store: HttpStore, kv: WSGITransport) -> None:
    headers = {"Content-Type": "application/json", **AUTH}
    assert kv.request("POST", "/", b'{"counter": {"n": 1}}', headers).status == 200
    record = http_store.get("counter")
    assert record is not None and record.value == b'{"n":1}'


def test_versions_and_expiry_come_from_the_service(
    http_store: HttpStore, backing: MemoryStore, clock: FakeClock
) -> None:
    version = http_store.set("k", b"1", ttl=2.5)
    record = backing.get("k")
    assert record is not None and (record.version, record.expires) == (version, clock() + 2.5)
    with pytest.raises(Conflict, match="key exists"):
        http_store.set("k", b"2", if_version=ABSENT)


def test_from_url_takes_the_extension_options(url: str, clock: FakeClock, tmp_path: Path) -> None:
    store = store_from_url(url, token=TOKEN, timeout=1.5, clock=clock, instance_path=tmp_path)
    assert isinstance(store, HttpStore)
    store.set("k", b"v")
    store.close()


@pytest.mark.parametrize("bad", ["http://", "ftp://host", "http://host:99999"])
def test_bad_urls_fail_at_configuration(bad: str) -> None:
    with pytest.raises(ConfigError):
        HttpStore(bad)


# Connections --------------------------------------------------------------------------------


class ListingHandler(BaseHTTPRequestHandler):
    """Answer every GET with an empty listing, counting connections.

    With ``close_silently`` it closes each connection after one answer without
    saying so, as servers do with idle keep-alive connections.
    """

    protocol_version = "HTTP/1.1"
    close_silently = False
    connections = 0

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1

    def do_GET(self) -> None:
        body = b'{"keys":[],"next":null}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.close_silently

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def listing_server(close_silently: bool) -> Iterator[tuple[str, type[ListingHandler]]]:
    handler = type("Handler", (ListingHandler,), {"close_silently": close_silently})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(("close_silently", "connections"), [(False, 1), (True, 5)])
def test_connections_are_kept_alive_and_replaced_when_closed(
    close_silently: bool, connections: int
) -> None:
    with listing_server(close_silently) as (url, handler):
        store = HttpStore(url)
        for _ in range(5):
            assert store.scan() == ([], None)
        store.close()
    assert handler.connections == connections


class ChunkedHandler(BaseHTTPRequestHandler):
    """Answer every GET with a listing sent in chunks, as a proxy in front may."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in (b'{"keys":["a",', b'"b"],"next":null}'):
            self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_chunked_answers_are_read_and_the_connection_kept() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChunkedHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        store = HttpStore(f"http://127.0.0.1:{server.server_port}")
        for _ in range(3):
            assert store.scan() == (["a", "b"], None)
        store.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_threads_share_the_pool(url: str) -> None:
    http_store = HttpStore(url, token=TOKEN)

    def work(n: int) -> None:
        for i in range(20):
            http_store.set(f"t{n}/{i}", b"%d" % i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys, cursor = http_store.scan("t", limit=1000)
    assert (len(keys), cursor) == (120, None)
    http_store.close()


# Failures -----------------------------------------------------------------------------------


def test_wrong_or_missing_token_is_a_store_error(kv: WSGITransport) -> None:
    for token in (None, "wrong"):
        store = HttpStore("http://kv.test", transport=kv, token=token)
        with pytest.raises(StoreError, match="refused the token") as caught:
            store.get("k")
        assert not isinstance(caught.value, StoreUnavailable)
        assert TOKEN not in str(caught.value)


def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        store = HttpStore(f"http://127.0.0.1:{port}")
        with pytest.raises(StoreUnavailable) as caught:
            store.get("k")
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_a_silent_service_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts into the backlog, never answers
        store = HttpStore(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.2)
        with pytest.raises(StoreUnavailable, match="timed out") as caught:
            store.set("k", b"v")
        assert isinstance(caught.value.__cause__, TimeoutError)
        store.close()


def in_process(app: Any, base_url: str = "http://localhost") -> HttpStore:
    return HttpStore(base_url, transport=WSGITransport(app, base_url))


def test_a_failing_backing_store_is_unavailable(tmp_path: Path) -> None:
    backing = SqliteStore(tmp_path / "kv.db")
    store = in_process(create_app(backing))
    store.set("k", b"v")
    backing.close()
    with pytest.raises(StoreUnavailable, match="store failed"):
        store.get("k")


def test_values_over_the_service_limit_are_refused() -> None:
    store = in_process(create_app(MemoryStore(), max_value_bytes=16))
    with pytest.raises(StoreError, match="16-byte limit"):
        store.set("k", b"x" * 100)


def test_a_url_that_leads_elsewhere_fails_loudly(backing: MemoryStore) -> None:
    store = in_process(create_app(backing), "http://kv.test/not/the/service")
    with pytest.raises(StoreError, match="refused GET"):
        store.get("k")


def test_a_url_that_leads_elsewhere_fails_loudly_over_sockets(url: str) -> None:
    store = HttpStore(url + "/not/the/service", token=TOKEN)
    with pytest.raises(StoreError, match="refused GET"):
        store.get("k")
    store.close()
