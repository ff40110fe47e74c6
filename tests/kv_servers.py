"""Servers on real sockets for the tests: the KV service, and a hostile raw peer.

:func:`serve` runs any WSGI app on 127.0.0.1 on a free port until the context
ends; :func:`serve_for` does the same until a fixture's request finishes.
:class:`RawServer` answers with scripted bytes, broken ones included.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sessionkeeper.kv import create_app
from sessionkeeper.stores import Store


class QuietHandler(WSGIRequestHandler):
    """Log nothing (the tests assert on answers), and keep connections alive as servers do."""

    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def _start(app: Any) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="kv-server", daemon=True
    )
    thread.start()
    return server, thread


def _stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 while the context lasts; yield its base URL."""
    server, thread = _start(app)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        _stop(server, thread)


def serve_for(request: pytest.FixtureRequest, store: Store, **options: Any) -> str:
    """Serve the KV app over ``store`` until ``request`` ends; return its base URL."""
    server, thread = _start(create_app(store, **options))
    request.addfinalizer(lambda: _stop(server, thread))
    return f"http://127.0.0.1:{server.server_port}"


#: What a raw server sends for one request: bytes, or a function that does it on the socket.
Answer = bytes | Callable[[socket.socket, threading.Event], None]


def answer(
    body: bytes = b"{}", status: str = "200 OK", headers: dict[str, str] | None = None
) -> bytes:
    """Frame a well-formed HTTP/1.1 answer with a Content-Length."""
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    fields.update(headers or {})
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode("latin-1") + body


def reset(sock: socket.socket, stop: threading.Event) -> None:
    """Abort the connection with a TCP reset, sending no byte of an answer."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def then_close(data: bytes) -> Answer:
    """Send ``data``, then close the connection (FIN), whatever the client expects."""

    def send(sock: socket.socket, stop: threading.Event) -> None:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    return send


@dataclass
class Peer:
    """One accepted connection: the requests it read, and whether the client closed it."""

    requests: list[bytes] = field(default_factory=list)
    closed_by_client: threading.Event = field(default_factory=threading.Event)
    unexpected: list[bytes] = field(default_factory=list)


def read_request(sock: socket.socket) -> bytes | None:
    """Read one request (head and Content-Length body); return all of it, None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


class RawServer:
    """A plain socket server on 127.0.0.1 that plays one script per accepted connection.

    Connection ``i`` answers its requests with ``scripts[i]`` in order; a request
    beyond its script is recorded as unexpected (the client reused a connection it
    should have dropped) and the connection is closed. Once every script has been
    played, connections are refused.
    """

    def __init__(self, *scripts: list[Answer]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.peers = [Peer() for _ in scripts]
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._scripts = scripts
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    @property
    def url(self) -> str:
        """The base URL of the server."""
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    @property
    def accepted(self) -> int:
        """How many connections were accepted and played."""
        return sum(1 for peer in self.peers if peer.requests or peer.closed_by_client.is_set())

    def _accept(self) -> None:
        for peer, script in zip(self.peers, self._scripts, strict=True):
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed before every script was played
            self._socks.append(sock)
            thread = threading.Thread(target=self._play, args=(sock, peer, script), daemon=True)
            thread.start()
            self._threads.append(thread)
        self.listener.close()

    def _play(self, sock: socket.socket, peer: Peer, script: list[Answer]) -> None:
        try:
            for item in script:
                head = read_request(sock)
                if head is None:
                    peer.closed_by_client.set()
                    return
                peer.requests.append(head)
                if isinstance(item, bytes):
                    sock.sendall(item)
                else:
                    item(sock, self.stop)
            if sock.fileno() == -1:
                return
            extra = read_request(sock)
            if extra is None:
                peer.closed_by_client.set()
            else:
                peer.unexpected.append(extra)
        except OSError:
            peer.closed_by_client.set()
        finally:
            sock.close()

    def close(self) -> None:
        """Stop tricklers, stop accepting, and wait for the connections' threads."""
        self.stop.set()
        for sock in [self.listener, *self._socks]:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept or recv
        self.listener.close()
        for thread in self._threads:
            thread.join(10)


@contextmanager
def raw_server(*scripts: list[Answer]) -> Iterator[RawServer]:
    """Run a :class:`RawServer` for the context."""
    server = RawServer(*scripts)
    try:
        yield server
    finally:
        server.close()
