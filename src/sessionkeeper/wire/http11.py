"""One keep-alive HTTP/1.1 connection, framed by h11, every step under one deadline.

h11 checks what a hand reader got wrong: Content-Length is digits only, chunk
sizes and the CRLF after each chunk are verified, a body cut short is an error,
interim (1xx) answers are told apart from the final one, and a
``Transfer-Encoding`` other than ``chunked`` is refused.
"""

from __future__ import annotations

import select
import socket
import ssl
import time

import h11

from .transport import Reply

__all__ = ["AnswerTooLarge", "Closed", "Connection"]

#: Bytes asked of the socket per read.
_READ = 65536
#: The longest status line plus headers accepted.
_MAX_HEAD = 65536


class Closed(ConnectionError):
    """The service closed the connection before the answer was complete."""


class AnswerTooLarge(ValueError):
    """The answer is over the transport's size cap."""


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class Connection:
    """A socket to ``address`` and the h11 state of the exchanges on it.

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
        self._eof = False
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        # poll, unlike select.select, takes descriptors >= 1024 (busy workers get there).
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def idle_and_open(self) -> bool:
        """Tell whether the idle connection can carry a request: nothing to read, no EOF.

        An idle connection that reads as ready holds an EOF (the server closed
        it), a reset, or bytes nobody asked for: none of these may be reused.
        """
        return not self._poll.poll(0)

    def close(self) -> None:
        """Close the socket (again is harmless)."""
        self.sock.close()

    def exchange(self, events: list[h11.Event], deadline: float, cap: int) -> tuple[Reply, bool]:
        """Send one request's events; return the final answer and whether to reuse the socket.

        Interim (1xx) answers are skipped. Raise :class:`Closed`, :class:`AnswerTooLarge`,
        ``h11.ProtocolError``, ``TimeoutError`` or ``OSError``; the caller closes the
        connection after any of them.
        """
        self.received = 0
        wire = b"".join(self._h11.send(event) or b"" for event in events)
        self.sock.settimeout(_remaining(deadline))
        self.sock.sendall(wire)
        response: h11.Response | None = None
        parts: list[bytes] = []
        size = 0
        while True:
            event = self._next(deadline)
            if isinstance(event, h11.Response):
                response = event
                length = dict(event.headers).get(b"content-length")
                if length is not None and int(length) > cap:
                    raise AnswerTooLarge(f"the answer announces {int(length)} bytes")
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > cap:
                    raise AnswerTooLarge(f"the answer is over {cap} bytes")
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
        assert response is not None
        return _reply(response, b"".join(parts)), self._reusable()

    def _next(self, deadline: float) -> h11.Event:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._eof:
                    raise Closed("the connection closed in the middle of the answer") from exc
                raise
            if event is h11.NEED_DATA:
                self.sock.settimeout(_remaining(deadline))
                data = self.sock.recv(_READ)
                self._eof = not data
                self.received += len(data)
                self._h11.receive_data(data)
            elif isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue, 103 Early Hints: the final answer follows
            elif isinstance(event, h11.ConnectionClosed):
                raise Closed("the connection closed before the answer")
            elif isinstance(event, h11.Event):
                return event
            else:  # PAUSED: a protocol switch nobody asked for
                raise h11.RemoteProtocolError(f"unexpected {event.__name__}")

    def _reusable(self) -> bool:
        """Start the next cycle if the exchange ended cleanly with nothing left over."""
        conn = self._h11
        leftover, closed = conn.trailing_data
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return False
        if leftover or closed:
            return False  # bytes past the answer would be read as the next request's
        conn.start_next_cycle()
        return True


def _reply(response: h11.Response, body: bytes) -> Reply:
    headers: dict[str, str] = {}
    for name, value in response.headers:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Reply(response.status_code, headers, body)
