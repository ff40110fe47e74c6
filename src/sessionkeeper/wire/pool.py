"""The KV protocol over pooled keep-alive sockets: :class:`SocketTransport`."""

from __future__ import annotations

import ssl
import threading
import time
from urllib.parse import urlsplit

from ..errors import ConfigError, StoreError, StoreUnavailable
from .framing import Closed, Malformed
from .http11 import Connection
from .transport import DEFAULT_POOL, DEFAULT_TIMEOUT, MAX_ANSWER_BYTES, REPLAYABLE, Reply, Transport

__all__ = ["SocketTransport"]


class SocketTransport(Transport):
    """Send requests to the service at ``base_url`` over pooled keep-alive connections.

    Each request, its connecting, sending and whole answer, takes at most
    ``timeout`` seconds; answers over ``max_answer`` bytes are refused. An
    ``https://`` URL is verified with ``tls`` (default: the system's CAs). Up to
    ``pool`` idle connections are kept; more are opened when threads need them
    and closed after use. A connection is reused only after an answer that ended
    cleanly with nothing left over, and closed after any failure.

    A request is sent again, once, on a fresh connection, only when replaying it
    cannot give a wrong answer: its method is in
    :data:`~sessionkeeper.wire.transport.REPLAYABLE`, it went out on a reused
    idle connection, and that connection was closed or reset before any byte of
    the answer came back (the server closed it while it sat idle). Every other
    failure raises at once. The transport owns its connections: :meth:`close` it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        pool: int = DEFAULT_POOL,
        max_answer: int = MAX_ANSWER_BYTES,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"a KV service URL looks like http://host:port, not {base_url!r}")
        if timeout <= 0 or pool < 1 or max_answer < 1:
            raise ConfigError("a KV transport needs a positive timeout, pool and answer size")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ConfigError(f"bad port in KV service URL {base_url!r}") from exc
        netloc = parts.netloc.rpartition("@")[2]
        self.url = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        #: Connections opened so far (a pool that works keeps this small).
        self.opened = 0
        self._address = (parts.hostname, port)
        if parts.scheme == "https" and tls is None:
            tls = ssl.create_default_context()
        self._tls = tls if parts.scheme == "https" else None
        self._host = netloc
        self._path = parts.path.rstrip("/")
        self._timeout, self._pool, self._cap = timeout, pool, max_answer
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        deadline = time.monotonic() + self._timeout
        wire = self._request(method, target, body, headers or {})
        try:
            conn, reused = self._checkout(deadline)
            try:
                return self._exchange(conn, method, wire, deadline)
            except ConnectionError:
                # Closed or reset before any byte of the answer, on a connection that sat
                # idle: the server dropped it unasked. Only a replayable method is sent again.
                if not (reused and conn.received == 0 and method in REPLAYABLE):
                    raise
            return self._exchange(self._connect(deadline), method, wire, deadline)
        except (OSError, Malformed) as exc:
            raise self._translated(exc) from exc

    def close(self) -> None:
        """Close the idle connections; connections in use close when their request ends."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> bytes:
        lines = [f"{method} {self._path}{target} HTTP/1.1", f"Host: {self._host}"]
        lines.append(f"Content-Length: {len(body or b'')}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        text = "\r\n".join(lines) + "\r\n\r\n"
        if text.count("\n") != len(lines) + 1 or text.count("\r") != len(lines) + 1:
            raise ConfigError("a request header or target holds a line break")  # an injection
        head = text.encode("latin-1")
        return head + body if body else head

    def _connect(self, deadline: float) -> Connection:
        conn = Connection(self._address, deadline, self._tls, self._address[0])
        with self._lock:
            self.opened += 1
        return conn

    def _checkout(self, deadline: float) -> tuple[Connection, bool]:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(deadline), False
            if conn.idle_and_open():
                return conn, True
            conn.close()

    def _exchange(self, conn: Connection, method: str, wire: bytes, deadline: float) -> Reply:
        try:
            reply, reusable = conn.exchange(method, wire, deadline, self._cap)
        except BaseException:
            conn.close()
            raise
        if reusable:
            with self._lock:
                if len(self._idle) < self._pool:
                    self._idle.append(conn)
                    return reply
        conn.close()
        return reply

    def _translated(self, exc: OSError | Malformed) -> StoreError:
        """Return the store's error for what the network or the framing raised."""
        if isinstance(exc, TimeoutError):
            return StoreUnavailable(f"KV service {self.url} timed out")
        if isinstance(
            exc, Closed | ConnectionResetError | BrokenPipeError | ConnectionAbortedError
        ):
            return StoreUnavailable(f"KV service {self.url}: connection lost: {exc}")
        if isinstance(exc, OSError):
            return StoreUnavailable(f"KV service {self.url} unreachable: {exc!r}")
        return StoreError(f"KV service {self.url} sent a malformed answer: {exc}")
