"""WSGITransport answers exactly what SocketTransport reads from the same app on a socket."""

from __future__ import annotations

import pytest

from conftest import FakeClock
from kv_servers import serve_for
from sessionkeeper.kv import create_app
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.wire import Reply, SocketTransport, Transport, WSGITransport

JSON = {"Content-Type": "application/json"}
#: A walk through the API, errors included; keys with slashes, spaces and non-ASCII.
SCRIPT: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("POST", "/", b'{"a/b c":{"x":[1,2]},"\xc3\xa9":1}', JSON),
    ("GET", "/?key=a%2Fb%20c", None, {}),
    ("GET", "/a/b%20c", None, {}),
    ("GET", "/%C3%A9", None, {}),
    ("GET", "/missing", None, {}),
    ("PATCH", "/?key=a%2Fb%20c&ttl=5", None, {}),
    ("GET", "/?prefix=a&limit=1", None, {}),
    ("POST", "/?ttl=30", b'{"n":1}', {**JSON, "If-None-Match": "*"}),
    ("POST", "/", b'{"n":2}', {**JSON, "If-None-Match": "*"}),
    ("GET", "/n", None, {"If-None-Match": '"3"'}),
    ("DELETE", "/?key=n", None, {"If-Match": '"9"'}),
    ("DELETE", "/?key=n", None, {}),
    ("POST", "/", b"not json", JSON),
    ("POST", "/clear-expired", None, {}),
    ("GET", "/healthz", None, {}),
]
#: Headers that tell servers apart, not answers.
SERVER_HEADERS = {"date", "server", "connection", "keep-alive"}


def walk(transport: Transport) -> list[tuple[int, dict[str, str], bytes]]:
    replies = [transport.request(*step) for step in SCRIPT]
    return [(r.status, _answer_headers(r), r.body) for r in replies]


def _answer_headers(reply: Reply) -> dict[str, str]:
    return {k: v for k, v in reply.headers.items() if k not in SERVER_HEADERS}


def test_in_process_and_socket_answers_are_the_same(
    request: pytest.FixtureRequest, clock: FakeClock
) -> None:
    in_process = walk(WSGITransport(create_app(MemoryStore(clock=clock))))
    sockets = SocketTransport(serve_for(request, MemoryStore(clock=clock)))
    over_sockets = walk(sockets)
    sockets.close()
    assert [status for status, _, _ in in_process] == [
        200, 200, 200, 200, 404, 204, 200, 200, 412, 304, 412, 200, 400, 200, 200,
    ]  # fmt: skip
    assert in_process == over_sockets


def test_a_base_path_is_part_of_the_request_path(clock: FakeClock) -> None:
    app = create_app(MemoryStore(clock=clock))
    assert WSGITransport(app, "http://localhost/").request("GET", "/healthz").status == 200
    assert WSGITransport(app, "http://localhost/kv").request("GET", "/healthz").status == 404


def test_the_store_over_an_in_process_service(clock: FakeClock) -> None:
    backing = MemoryStore(clock=clock)
    store = HttpStore("http://kv.test", transport=WSGITransport(create_app(backing)))
    version = store.set("k", b"\x00bytes", ttl=10)
    record = store.get("k")
    assert record is not None and (record.value, record.version) == (b"\x00bytes", version)
    assert backing.get("k") == record
