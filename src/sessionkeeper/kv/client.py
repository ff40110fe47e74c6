"""A small thread-safe pool of keep-alive HTTP/1.1 connections to one KV service.

A session load or save pays one round trip, so the client is built on sockets
directly: ``http.client`` was the cheapest of the usual clients, and the minimal
answer reader below costs less again.
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

#: Longest status or header line read from the service.
_MAX_LINE = 65536
#: Errors of a kept-alive connection that the server closed while it sat idle.
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer: status, headers (names lower-cased) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Connection:
    """One keep-alive HTTP/1.1 connection with a minimal answer reader.

    ``http.client`` parses headers through the ``email`` package, a seventh of a
    session load's time in profiles; the service's answers need only a status
    line, a few headers and a Content-Length (or chunked) body.
    """

    def __init__(self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(sock, server_hostname=host) if tls is not None else sock
        self._reader = self.sock.makefile("rb")

    def close(self) -> None:
        self._reader.close()
        self.sock.close()

    def _line(self) -> bytes:
        line = self._reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def exchange(self, head: bytes, body: bytes | None) -> tuple[int, dict[str, str], bytes, bool]:
        """Send one request; return status, headers (lower-cased names), body, will-close."""
        self.sock.sendall(head + body if body else head)
        status_line = self._line()
        if not status_line:
            raise http.client.RemoteDisconnected("the service closed the connection")
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/") or not rest[:3].isdigit():
            raise http.client.BadStatusLine(repr(status_line))
        status = int(rest[:3])
        headers: dict[str, str] = {}
        while (line := self._line()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        will_close = version == b"HTTP/1.0" or headers.get("connection", "").lower() == "close"
        if status in (204, 304) or status < 200:
            return status, headers, b"", will_close
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, headers, self._chunked(), will_close
        length = headers.get("content-length")
        if length is None:
            return status, headers, self._reader.read(), True
        data = self._reader.read(int(length))
        if len(data) != int(length):
            raise http.client.IncompleteRead(data, int(length) - len(data))
        return status, headers, data, will_close

    def _chunked(self) -> bytes:
        parts = []
        while size := int(self._line().split(b";")[0].strip() or b"0", 16):
            parts.append(self._reader.read(size))
            self._line()
        while self._line() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)


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
        self._host_header = parts.netloc.rpartition("@")[2]
        self.url = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.rstrip('/')}"
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._path = parts.path.rstrip("/")
        self._timeout = timeout
        self._pool = pool
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def _checkout(self) -> tuple[_Connection, bool]:
        while True:
            with self._lock:
                if not self._idle:
                    return _Connection(self.host, self.port, self._timeout, self._tls), False
                conn = self._idle.pop()
            # An idle socket that reads as ready holds an EOF (the server closed it) or junk.
            if not select.select([conn.sock], [], [], 0)[0]:
                return conn, True
            conn.close()

    def _checkin(self, conn: _Connection) -> None:
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
        all_headers["Content-Length"] = str(len(body or b""))
        lines = [f"{method} {self._path}{target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in all_headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in range(2):
            conn: _Connection | None = None
            reused = False
            try:
                conn, reused = self._checkout()
                status, names, data, will_close = conn.exchange(head, body)
            except _STALE as exc:
                if conn is not None:
                    conn.close()
                if reused and attempt == 0:
                    continue
                raise StoreUnavailable(f"KV service {self.url}: connection lost: {exc}") from exc
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if conn is not None:
                    conn.close()
                what = "timed out" if isinstance(exc, TimeoutError) else f"unreachable: {exc!r}"
                raise StoreUnavailable(f"KV service {self.url} {what}") from exc
            if will_close:
                conn.close()
            else:
                self._checkin(conn)
            return Reply(status, names, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the idle connections; connections in use close when their request ends."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
