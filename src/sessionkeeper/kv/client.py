"""A small thread-safe pool of keep-alive ``http.client`` connections to one KV service.

``http.client`` costs the least per round trip of the Python HTTP clients, and a
session load or save pays one round trip, so the pool is built on it directly.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ConfigError, StoreUnavailable

__all__ = ["KvClient", "Reply"]

#: Errors of a kept-alive connection that the server closed while it sat idle.
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer: status, headers (names lower-cased) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TlsConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class KvClient:
    """Send requests to the service at ``base_url`` over pooled keep-alive connections.

    Up to ``pool`` idle connections are kept; more are opened when threads need
    them and closed after use. The client owns its connections: :meth:`close` them.
    Connection failures and timeouts raise :class:`~sessionkeeper.errors.StoreUnavailable`.
    """

    def __init__(
        self, base_url: str, *, token: str | None = None, timeout: float = 2.0, pool: int = 16
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"a KV service URL looks like http://host:port, not {base_url!r}")
        if timeout <= 0 or pool < 1:
            raise ConfigError("the KV client needs a positive timeout and pool size")
        try:
            self.port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ConfigError(f"bad port in KV service URL {base_url!r}") from exc
        self.host = parts.hostname
        self.url = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.rstrip('/')}"
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._path = parts.path.rstrip("/")
        self._timeout = timeout
        self._pool = pool
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def _new(self) -> http.client.HTTPConnection:
        if self._tls is not None:
            return _TlsConnection(self.host, self.port, timeout=self._timeout, context=self._tls)
        return _Connection(self.host, self.port, timeout=self._timeout)

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                if not self._idle:
                    return self._new(), False
                conn = self._idle.pop()
            # An idle socket that reads as ready holds an EOF (the server closed it) or junk.
            if conn.sock is not None and not select.select([conn.sock], [], [], 0)[0]:
                return conn, True
            conn.close()

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._pool:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send ``method target`` (a path with query, under the base URL) and read the answer.

        A request that finds its reused connection closed by the server is sent
        again once on a new connection, as browsers do.
        """
        all_headers = {**self._headers, **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        for attempt in range(2):
            conn, reused = self._checkout()
            try:
                conn.request(method, self._path + target, body, all_headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE as exc:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise StoreUnavailable(f"KV service {self.url}: connection lost: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                what = "timed out" if isinstance(exc, TimeoutError) else f"unreachable: {exc!r}"
                raise StoreUnavailable(f"KV service {self.url} {what}") from exc
            if response.will_close:
                conn.close()
            else:
                self._checkin(conn)
            names = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, names, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the idle connections; connections in use close when their request ends."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
