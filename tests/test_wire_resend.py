"""A write whose answer is lost is never resent: the session layer answers 503, never 500.

A proxy on a raw socket passes requests to the real KV app (in-process), except
that it applies one conditional write and then resets the connection instead of
answering. Had the client sent it again, the service would answer 412 for the
client's own write (a Conflict, once a 500).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask

from kv_servers import answer, read_request, reset
from session_app import create_app as session_app
from sessionkeeper.kv import create_app
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.wire import SocketTransport, WSGITransport


@dataclass
class LosingProxy:
    """Pass requests to ``kv``; apply the first one holding ``lose``, then reset instead."""

    kv: WSGITransport
    lose: bytes
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    seen: list[bytes] = field(default_factory=list)
    lost: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            while (raw := read_request(sock)) is not None:
                self.seen.append(raw)
                head, _, body = raw.partition(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ")
                headers = dict(line.split(": ", 1) for line in lines)
                headers.pop("Content-Length", None)
                reply = self.kv.request(method, target, body or None, headers)
                if self.lose in raw and not self.lost.is_set():
                    self.lost.set()
                    reset(sock, threading.Event())
                    return
                kept = {k: v for k, v in reply.headers.items() if k != "content-length"}
                sock.sendall(answer(reply.body, f"{reply.status} X", kept))

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


@pytest.fixture
def backing() -> MemoryStore:
    return MemoryStore()


def setup(backing: MemoryStore, lose: bytes) -> tuple[LosingProxy, Flask, SocketTransport]:
    proxy = LosingProxy(WSGITransport(create_app(backing)), lose)
    proxy.start()
    url = f"http://127.0.0.1:{proxy.listener.getsockname()[1]}"
    transport = SocketTransport(url)
    store = HttpStore(url, transport=transport)
    store.scan()  # a pooled connection, reused by the next request
    return proxy, session_app(SESSION_STORE=store, SECRET_KEY="k" * 32), transport


@pytest.fixture
def cleanup() -> Iterator[list[tuple[LosingProxy, SocketTransport]]]:
    made: list[tuple[LosingProxy, SocketTransport]] = []
    yield made
    for proxy, transport in made:
        transport.close()
        proxy.close()


def test_a_lost_create_is_a_503_and_the_next_login_works(
    backing: MemoryStore, cleanup: list[tuple[LosingProxy, SocketTransport]]
) -> None:
    proxy, app, transport = setup(backing, b"If-None-Match: *")
    cleanup.append((proxy, transport))
    client = app.test_client()
    response = client.post("/login", data={"user": "alice"})
    assert response.status_code == 503
    assert proxy.lost.is_set()
    creates = [raw for raw in proxy.seen if b"If-None-Match: *" in raw]
    assert len(creates) == 1, "the lost create was sent again"
    assert len(backing.scan()[0]) == 1  # applied, though its answer was lost
    assert client.post("/login", data={"user": "bob"}).status_code == 200
    assert client.get("/whoami").get_data(as_text=True) == "bob"


def test_a_lost_compare_and_set_is_a_503_and_the_session_stays_consistent(
    backing: MemoryStore, cleanup: list[tuple[LosingProxy, SocketTransport]]
) -> None:
    proxy, app, transport = setup(backing, b'"user":"mallory"')
    cleanup.append((proxy, transport))
    client = app.test_client()
    assert client.post("/login", data={"user": "alice"}).status_code == 200
    version = backing.get(backing.scan()[0][0])
    response = client.post("/login", data={"user": "mallory"})
    assert response.status_code == 503
    assert [b"If-Match" in raw for raw in proxy.seen if b'"user":"mallory"' in raw] == [True]
    assert version is not None and backing.get(backing.scan()[0][0]) != version  # applied
    assert client.post("/login", data={"user": "carol"}).status_code == 200
    assert client.get("/whoami").get_data(as_text=True) == "carol"
