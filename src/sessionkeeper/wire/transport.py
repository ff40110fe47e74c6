"""The seam between a KV client and the service: send one request, get one :class:`Reply`.

A transport carries requests to one service; the client above it (``HttpStore``,
``sessionkeeper dump``) speaks the KV protocol, so it runs unchanged over sockets
(:class:`~sessionkeeper.wire.pool.SocketTransport`) or in-process
(:class:`~sessionkeeper.wire.wsgi.WSGITransport`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_POOL",
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "REPLAYABLE",
    "Reply",
    "Transport",
]

#: Seconds one request may take, connecting, sending and reading the whole answer.
DEFAULT_TIMEOUT: Final = 2.0
#: Idle keep-alive connections kept per transport.
DEFAULT_POOL: Final = 16
#: The largest answer read; above the service's own body limit and a full listing page.
MAX_ANSWER_BYTES: Final = 16 << 20
#: Methods of the KV protocol whose replay cannot turn into a wrong answer: GET reads,
#: PATCH is a touch (setting the same expiry twice answers 204 both times). A POST is
#: not replayable: a conditional write the service applied answers 412 the second
#: time (the caller's own write reported as a conflict), an unconditional one writes
#: twice, perhaps over a newer write. A DELETE the service applied answers 404 (or
#: 412 with If-Match) the second time, reporting "nothing deleted" for a delete that
#: happened.
REPLAYABLE: Final = frozenset({"GET", "HEAD", "PATCH"})


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer: status, headers (names lower-cased, repeats joined) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Transport:
    """Send requests to one KV service; subclasses implement :meth:`request`.

    ``url`` names the service in messages. Failures of the network or of the
    answer's framing raise :class:`~sessionkeeper.errors.StoreError` (usually
    :class:`~sessionkeeper.errors.StoreUnavailable`), never anything else.
    """

    url: str = ""

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send ``method target`` (a path and query under the service's root); read the answer."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the transport holds (its connections); the default holds nothing."""
