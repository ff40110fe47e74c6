"""A socket with a read buffer, non-blocking, where every wait ends at one deadline."""

from __future__ import annotations

import math
import select
import socket
import ssl
import time
from typing import Final

from .framing import AnswerTooLarge, Closed, Malformed

__all__ = ["BufferedSocket"]

_READ: Final = 65536


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class BufferedSocket:
    """A connection to ``address`` and the bytes read from it but not yet used.

    :meth:`begin` starts an exchange under a deadline; ``received`` counts the
    bytes read since, so a request may be replayed elsewhere only while it is 0.
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
            # Non-blocking, waits in poll: a deadline per request costs no syscall to set.
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.received = 0
        self._buf = bytearray()
        self._deadline = deadline
        self._tls = tls is not None
        self._sent = False
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
        self._poll.register(self.sock, select.POLLIN)
        return not self._poll.poll(0)

    def close(self) -> None:
        """Close the socket (again is harmless)."""
        self.sock.close()

    def begin(self, deadline: float) -> None:
        """Start an exchange: waits from now on end at ``deadline``."""
        self.received, self._deadline = 0, deadline

    @property
    def leftover(self) -> bool:
        """Tell whether bytes were read that nothing has used."""
        return bool(self._buf)

    def _wait(self, events: int) -> None:
        self._poll.register(self.sock, events)
        if not self._poll.poll(max(1, math.ceil(_remaining(self._deadline) * 1000))):
            raise TimeoutError("timed out")

    def send(self, data: bytes) -> None:
        """Send all of ``data``."""
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except (BlockingIOError, ssl.SSLWantWriteError):
                self._wait(select.POLLOUT)
            except ssl.SSLWantReadError:
                self._wait(select.POLLIN)
        self._sent = True

    def _fill(self) -> None:
        if self._sent and not self._tls:
            self._wait(select.POLLIN)  # the answer cannot be there yet: skip a recv that fails
        self._sent = False
        while True:
            try:
                data = self.sock.recv(_READ)
                break
            except (BlockingIOError, ssl.SSLWantReadError):
                self._wait(select.POLLIN)
            except ssl.SSLWantWriteError:
                self._wait(select.POLLOUT)
        if not data:
            raise Closed("the connection closed before the answer was complete")
        self.received += len(data)
        self._buf += data

    def until(self, end: bytes, limit: int) -> bytes:
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

    def take(self, size: int) -> bytes:
        """Take the next ``size`` bytes."""
        while len(self._buf) < size:
            self._fill()
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def until_eof(self, cap: int) -> bytes:
        """Take every byte until the peer closes, at most ``cap`` of them."""
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
