"""One keep-alive HTTP/1.1 connection with a strict answer reader, under one deadline.

Written by hand because it was measured: h11 doubled a session load's client
CPU (about 125 against 50 us a round trip). Strict where the first reader was
not, and tested against a hostile peer: Content-Length is digits only and
capped before reading, chunk sizes are hex digits and each chunk ends in CRLF,
a body cut short is an error, interim (1xx) answers are skipped, a
``Transfer-Encoding`` other than ``chunked`` is refused, and any byte past the
answer makes the connection unusable.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from typing import Final

from .framing import (
    MAX_HEAD,
    MAX_LINE,
    AnswerTooLarge,
    Closed,
    Malformed,
    chunk_size,
    content_length,
    fields,
    status_line,
    tokens,
)
from .transport import Reply

__all__ = ["Connection"]

_READ: Final = 65536


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class Connection:
    """A socket to ``address`` and the bytes read from it but not yet used.

    ``received`` counts the bytes of the current answer read so far: a request
    may be replayed elsewhere only while it is 0.
    """

    def __init__(
        self,
        address: tuple[str, int],
        deadline: float,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        sock = socket.create_connection(address, timeout=_remaining(deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=server_hostname)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.received = 0
        self._buf = bytearray()
        self._deadline = deadline
        # poll, unlike select.select, takes descriptors >= 1024 (busy workers get there).
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def idle_and_open(self) -> bool:
        """Tell whether the idle connection can carry a request: nothing to read, no EOF.

        An idle connection that reads as ready holds an EOF (the server closed
        it), a reset, or bytes nobody asked for: none of these may be reused.
        """
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return False  # decrypted bytes nobody asked for, which poll cannot see
        return not self._poll.poll(0)

    def close(self) -> None:
        """Close the socket (again is harmless)."""
        self.sock.close()

    def exchange(
        self, method: str, request: bytes, deadline: float, cap: int
    ) -> tuple[Reply, bool]:
        """Send ``request``; return the final answer and whether the socket may be reused.

        Raise :class:`Closed`, :class:`Malformed`, ``TimeoutError`` or ``OSError``;
        the caller closes the connection after any of them.
        """
        self.received, self._deadline = 0, deadline
        self.sock.settimeout(_remaining(deadline))
        self.sock.sendall(request)
        version, status, headers = self._head()
        while status < 200:  # 100 Continue, 103 Early Hints: the final answer follows
            if status == 101:
                raise Malformed("101 Switching Protocols, which nobody asked for")
            version, status, headers = self._head()
        coding, length = headers.get("transfer-encoding"), headers.get("content-length")
        keep = version == b"1" and "close" not in tokens(headers.get("connection", ""))
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif coding is not None:
            if coding.strip().lower() != "chunked" or length is not None:
                raise Malformed(f"Transfer-Encoding {coding!r} (with Content-Length {length})")
            body = self._chunked(cap)
        elif length is not None:
            body = self._take(content_length(length, cap))
        else:
            body, keep = self._until_eof(cap), False
        return Reply(status, headers, body), keep and not self._buf

    def _fill(self) -> None:
        self.sock.settimeout(_remaining(self._deadline))
        data = self.sock.recv(_READ)
        if not data:
            raise Closed("the connection closed before the answer was complete")
        self.received += len(data)
        self._buf += data

    def _until(self, end: bytes, limit: int) -> bytes:
        """Take the bytes before ``end`` (consumed too), at most ``limit`` of them."""
        start = 0
        while (found := self._buf.find(end, start)) < 0:
            if len(self._buf) > limit:
                raise Malformed(f"no {end!r} within {limit} bytes")
            start = max(0, len(self._buf) - len(end) + 1)
            self._fill()
        if found > limit:
            raise Malformed(f"no {end!r} within {limit} bytes")
        data = bytes(self._buf[:found])
        del self._buf[: found + len(end)]
        return data

    def _take(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._fill()
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def _head(self) -> tuple[bytes, int, dict[str, str]]:
        first, *lines = self._until(b"\r\n\r\n", MAX_HEAD).split(b"\r\n")
        version, status = status_line(first)
        return version, status, fields(lines)

    def _chunked(self, cap: int) -> bytes:
        parts, total = [], 0
        while True:
            size = chunk_size(self._until(b"\r\n", MAX_LINE))
            if size == 0:
                break
            total += size
            if total > cap:
                raise AnswerTooLarge(f"the answer is over {cap} bytes")
            parts.append(self._take(size))
            if self._take(2) != b"\r\n":
                raise Malformed("a chunk not followed by CRLF")
        trailers = 0
        while line := self._until(b"\r\n", MAX_LINE):  # trailers: checked, then dropped
            fields([line])
            trailers += len(line)
            if trailers > MAX_HEAD:
                raise Malformed(f"trailers over {MAX_HEAD} bytes")
        return b"".join(parts)

    def _until_eof(self, cap: int) -> bytes:
        while True:
            if len(self._buf) > cap:
                raise AnswerTooLarge(f"the answer is over {cap} bytes")
            try:
                self._fill()
            except Closed:
                break
        data = bytes(self._buf)
        self._buf.clear()
        return data
