"""One keep-alive HTTP/1.1 connection with a strict answer reader, under one deadline.

Written by hand because it was measured: framed by h11, a get cost the client
about 130 us of CPU, against about 55 us here (``bench/kv_client_cost.py``),
and the store pays it on every session load and save. Strict where the first reader was
not, and tested against a hostile peer: Content-Length is digits only and
capped before reading, chunk sizes are hex digits and each chunk ends in CRLF,
a body cut short is an error, interim (1xx) answers are skipped, a
``Transfer-Encoding`` other than ``chunked`` is refused, and any byte past the
answer makes the connection unusable.
"""

from __future__ import annotations

from .framing import (
    MAX_HEAD,
    MAX_LINE,
    AnswerTooLarge,
    Malformed,
    chunk_size,
    content_length,
    fields,
    status_line,
    tokens,
)
from .sockets import BufferedSocket
from .transport import Reply

__all__ = ["Connection"]


class Connection(BufferedSocket):
    """One keep-alive connection: send a request, read its answer."""

    def exchange(
        self, method: str, request: bytes, deadline: float, cap: int
    ) -> tuple[Reply, bool]:
        """Send ``request``; return the final answer and whether the socket may be reused.

        Raise :class:`Closed`, :class:`Malformed`, ``TimeoutError`` or ``OSError``;
        the caller closes the connection after any of them.
        """
        self.begin(deadline)
        self.send(request)
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
            body = self.take(content_length(length, cap))
        else:
            body, keep = self.until_eof(cap), False
        return Reply(status, headers, body), keep and not self.leftover

    def _head(self) -> tuple[bytes, int, dict[str, str]]:
        first, *lines = self.until(b"\r\n\r\n", MAX_HEAD).split(b"\r\n")
        version, status = status_line(first)
        return version, status, fields(lines)

    def _chunked(self, cap: int) -> bytes:
        parts, total = [], 0
        while True:
            size = chunk_size(self.until(b"\r\n", MAX_LINE))
            if size == 0:
                break
            total += size
            if total > cap:
                raise AnswerTooLarge(f"the answer is over {cap} bytes")
            parts.append(self.take(size))
            if self.take(2) != b"\r\n":
                raise Malformed("a chunk not followed by CRLF")
        trailers = 0
        while line := self.until(b"\r\n", MAX_LINE):  # trailers: checked, then dropped
            fields([line])
            trailers += len(line)
            if trailers > MAX_HEAD:
                raise Malformed(f"trailers over {MAX_HEAD} bytes")
        return b"".join(parts)
