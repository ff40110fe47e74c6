"""Records read from Redis, kept in memory and coherent through server-assisted invalidation.

The cache has one connection of its own, built from the store client's pool settings
(same address, credentials, TLS, database and Sentinel discovery), speaking RESP3 and
registered with ``CLIENT TRACKING ON BCAST PREFIX <key prefix>``: Redis then pushes on
it the name of every key under the prefix that any client changes, deletes, expires or
evicts. The cache owns that connection and closes it in :meth:`TrackingCache.close`.

Coherence: Redis sends a write's invalidation in the same pass of its event loop as the
write's reply, and to the sockets before it (it writes the client queued last first), so
once a writer has its answer the invalidation is on its way to every tracking connection;
on one host it is already in their socket. Every lookup first drains that socket without
blocking, so a read that causally follows a write anywhere (another worker, host, or
``flask sessions revoke``) never gets the older record. A fill notes the count of
invalidations before its read from Redis and is kept only if none arrived meanwhile (one
that a concurrent lookup drained would otherwise be lost). Limits: across a network a
lost packet delays an invalidation by a retransmission; FLUSHDB's comes just *after*
its reply; a process that reads nothing leaves its invalidations queued in Redis (a
lookup that finds more than :data:`MAX_BACKLOG` drops the cache and reconnects).

While the connection is down the cache is empty and bypassed; a later lookup reconnects
(at most once a second while that fails). A PING every second, answered within the
store timeout, finds a connection that died without closing.
"""

from __future__ import annotations

import os
import select
import ssl
import threading
import time
from collections import OrderedDict
from typing import Any, Final

import hiredis
import redis
from redis.connection import AbstractConnection

from ..errors import ConfigError
from .base import Clock, Record
from .redis_wire import packed

__all__ = ["TrackingCache"]

#: Seconds between attempts to reconnect a tracking connection that failed to connect.
RETRY_INTERVAL: Final = 1.0
#: Seconds between PINGs on the tracking connection.
HEARTBEAT: Final = 1.0
#: Bytes of invalidations one lookup applies; past that, dropping the cache is cheaper.
MAX_BACKLOG: Final = 4 << 20
_PING: Final = packed(b"PING")


class TrackingCache:
    """An LRU of up to ``size`` records under ``prefix``, valid while tracking is up.

    Thread-safe: every method holds one lock, and the tracking socket is only read with
    it held, so an invalidation is applied before any lookup after it was read.
    """

    def __init__(self, client: redis.Redis, prefix: bytes, size: int, clock: Clock) -> None:
        self._pool = client.connection_pool
        self._prefix, self._size, self._clock = prefix, size, clock
        self._timeout = float(self._pool.connection_kwargs.get("socket_timeout") or 2.0)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, Record] = OrderedDict()
        self._epoch = 0  # invalidations applied so far
        self._conn: AbstractConnection | None = None
        self._sock: Any = None
        self._poll = select.poll()
        self._reader = hiredis.Reader()
        self._retry_at = self._ping_at = 0.0
        self._pong_due: float | None = None
        self._pid = os.getpid()
        self._closed = False

    def lookup(self, key: bytes) -> tuple[Record | None, int | None]:
        """Return the live cached record of ``key`` (or None), and the stamp :meth:`fill`
        needs, or None when the cache is down and must not be filled."""
        with self._lock:
            if not self._ready():
                return None, None
            record = self._entries.get(key)
            if record is not None:
                if record.expires is not None and record.expires <= self._clock():
                    del self._entries[key]
                    return None, self._epoch
                self._entries.move_to_end(key)
            return record, self._epoch

    def fill(self, key: bytes, record: Record, stamp: int) -> None:
        """Keep ``record``, read from Redis after :meth:`lookup` gave ``stamp``, unless an
        invalidation arrived since."""
        with self._lock:
            if stamp != self._epoch or self._conn is None:
                return
            self._entries[key] = record
            self._entries.move_to_end(key)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        """Drop ``key`` (this process wrote it), and keep any fill under way from landing."""
        with self._lock:
            self._entries.pop(key, None)
            self._epoch += 1

    def close(self) -> None:
        """Close the tracking connection and empty the cache. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._down()

    @property
    def connected(self) -> bool:
        """Whether the tracking connection is up (the cache serves and fills)."""
        return self._conn is not None

    def _ready(self) -> bool:
        if self._pid != os.getpid():  # a forked child: close its copy of the parent's socket
            self._pid = os.getpid()
            self._down()
        if self._conn is None and not self._connect():
            return False
        return self._drain()

    def _connect(self) -> bool:
        now = time.monotonic()
        if self._closed or now < self._retry_at:
            return False
        self._retry_at = now + RETRY_INTERVAL
        conn = self._pool.connection_class(**{**self._pool.connection_kwargs, "protocol": 3})
        command = [b"CLIENT", b"TRACKING", b"ON", b"BCAST"]
        if self._prefix:  # no PREFIX: every key
            command += [b"PREFIX", self._prefix]
        reader = hiredis.Reader()
        try:
            conn.connect()
            sock = conn._sock
            sock.sendall(packed(*command))
            reply = reader.gets()
            while reply is False:
                chunk = sock.recv(4096)
                if not chunk:
                    raise redis.ConnectionError("Redis closed the tracking connection")
                reader.feed(chunk)
                reply = reader.gets()
        except redis.ResponseError as exc:  # HELLO 3 refused: older than Redis 6
            conn.disconnect()
            raise ConfigError(f"cache=1 needs Redis 6.0 or later (CLIENT TRACKING): {exc}") from exc
        except (redis.RedisError, OSError):
            conn.disconnect()
            return False
        if reply != b"OK":
            conn.disconnect()
            raise ConfigError(f"Redis refused CLIENT TRACKING for cache=1: {reply!r}")
        sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._conn, self._sock, self._reader = conn, sock, reader
        self._ping_at, self._pong_due = now + HEARTBEAT, None
        self._entries.clear()
        self._epoch += 1
        return True

    def _drain(self) -> bool:
        """Apply every invalidation waiting on the socket; False if the connection is gone."""
        sock, received = self._sock, 0
        try:
            while self._poll.poll(0) or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                chunk = sock.recv(65536)
                received += len(chunk)
                if not chunk or received > MAX_BACKLOG:
                    return self._down()
                self._reader.feed(chunk)
                while (message := self._reader.gets()) is not False:
                    if not self._apply(message):
                        return self._down()
            now = time.monotonic()
            if self._pong_due is not None and now > self._pong_due:
                return self._down()
            if self._pong_due is None and now >= self._ping_at:
                sock.send(_PING)  # a few bytes on an idle socket: never a partial send
                self._ping_at, self._pong_due = now + HEARTBEAT, now + self._timeout
        except (BlockingIOError, ssl.SSLWantReadError):
            pass  # nothing more to read yet (a TLS record not complete)
        except (OSError, hiredis.ProtocolError):
            return self._down()
        return True

    def _apply(self, message: object) -> bool:
        if isinstance(message, hiredis.PushNotification):
            if len(message) == 2 and message[0] == b"invalidate":
                keys = message[1]
                if keys is None:  # FLUSHDB, FLUSHALL
                    self._entries.clear()
                else:
                    for key in keys:
                        self._entries.pop(key, None)
                self._epoch += 1
            return True
        if message == b"PONG":
            self._pong_due = None
            return True
        return False  # an error reply, or one we never asked for: start afresh

    def _down(self) -> bool:
        conn, self._conn, self._sock = self._conn, None, None
        self._entries.clear()
        self._epoch += 1
        if conn is not None:
            self._retry_at = 0.0  # a broken connection reconnects on the next lookup
            conn.disconnect()  # type: ignore[no-untyped-call]
        return False
