"""How the Redis store talks to Redis: packed commands on connections used directly.

:class:`ConnectionWire` (one server: standalone or a Sentinel's primary) packs each
command once with hiredis and sends it on a redis-py connection with
``send_packed_command``/``read_response``, skipping the client's command layers (retry
wrapper, pool checkout, script wrapper, observability hooks). :class:`ClientWire` (a
Cluster, which routes each key to its node) goes through the client as usual. Both
answer :meth:`~Wire.read`, :meth:`~Wire.script` and :meth:`~Wire.command`, and raise
the package's errors (:func:`~.redis_urls.translate`).
"""

from __future__ import annotations

import hashlib
import os
import select
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import hiredis
import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.connection import Connection
from redis.exceptions import NoScriptError, ResponseError

from ..errors import StoreError
from .redis_scripts import READ_FIELDS
from .redis_urls import REDIS_ERRORS, translate

__all__ = ["Arg", "ClientWire", "ConnectionWire", "Wire", "packed", "raised"]

Arg = bytes | str | int


def packed(*args: Arg) -> bytes:
    """Return one command in the Redis protocol, packed by hiredis."""
    command: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]  # stub: a 1-tuple
    return command


class Wire:
    """Commands for the store; replies as redis-py gives them without decoding."""

    def read(self, key: bytes) -> tuple[list[Any], int]:
        """Return ``HMGET key v n`` and ``PTTL key``, run back to back in one round trip."""
        raise NotImplementedError

    def script(
        self, name: str, keys: Sequence[Arg], args: Sequence[Arg], after: Sequence[bytes] = ()
    ) -> list[Any]:
        """Run a script of the store, then the packed commands ``after`` in the same round
        trip; return every reply. A failing script raises; ``after``'s errors are values."""
        raise NotImplementedError

    def command(self, *args: Arg) -> Any:
        """Run one command; return its reply."""
        raise NotImplementedError

    def scan_iter(self, **options: Any) -> Iterator[bytes]:
        """Iterate SCAN over every primary (a Cluster's only: one server keeps an index)."""
        raise NotImplementedError

    def close(self) -> None:
        """Give back the connections this wire holds."""


class ConnectionWire(Wire):
    """Send on connections taken from ``client``'s pool, used directly.

    A caller takes a connection from this wire's idle list (or, when none is idle, from
    the pool) and puts it back after its call, so a call costs no pool checkout. The
    connections remain the pool's: :meth:`close` releases them to it, and whoever owns
    the client closes the pool. An idle connection that the server closed (or that has
    unread bytes) is reconnected before use, as the pool does; one that failed in use is
    disconnected, so no later call reads half a reply. Scripts go by EVALSHA; a server
    without one (flushed, or a newly promoted primary) gets it by EVAL, once.
    """

    def __init__(self, client: redis.Redis, scripts: Mapping[str, str]) -> None:
        self._pool = client.connection_pool
        self._idle: list[Connection] = []
        self._polls: dict[Connection, tuple[object, select.poll]] = {}
        self._pid = os.getpid()
        self._closed = False
        self._bodies = {name: body.encode() for name, body in scripts.items()}
        self._shas = {
            name: hashlib.sha1(b, usedforsecurity=False).hexdigest().encode()
            for name, b in self._bodies.items()
        }

    def _take(self) -> Connection:
        if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
            self._idle, self._polls, self._pid = [], {}, os.getpid()
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._pool.get_connection()
        sock = conn._sock
        if sock is not None:
            polled = self._polls.get(conn)
            if polled is None or polled[0] is not sock:
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                polled = self._polls[conn] = (sock, poller)
            if polled[1].poll(0):  # closed by the server while idle, or stray bytes
                conn.disconnect()
        if conn._sock is None:
            conn.connect()  # type: ignore[no-untyped-call]
        return conn

    def _put(self, conn: Connection) -> None:
        if self._closed:
            self._polls.pop(conn, None)
            self._pool.release(conn)
        else:
            self._idle.append(conn)

    def run(self, commands: Sequence[bytes]) -> list[Any]:
        """Send packed ``commands`` in one write; return their replies, errors as values."""
        if self._closed:
            raise StoreError("the Redis store is closed")
        try:
            conn = self._take()
        except REDIS_ERRORS as exc:
            raise translate(exc) from exc
        replies: list[Any] = []
        try:
            conn.send_packed_command([b"".join(commands)])  # type: ignore[no-untyped-call]
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except ResponseError as exc:  # a reply like any other: the connection is fine
                    replies.append(exc)
        except BaseException as exc:
            conn.disconnect()  # type: ignore[no-untyped-call]
            self._put(conn)
            if isinstance(exc, REDIS_ERRORS):
                raise translate(exc) from exc
            raise
        self._put(conn)
        return replies

    def evalsha(self, name: str, keys: Sequence[Arg], args: Sequence[Arg]) -> bytes:
        """Pack ``EVALSHA`` of the script ``name``."""
        return packed(b"EVALSHA", self._shas[name], len(keys), *keys, *args)

    def eval(self, name: str, keys: Sequence[Arg], args: Sequence[Arg]) -> bytes:
        """Pack ``EVAL`` of the script ``name`` (which also loads it on the server)."""
        return packed(b"EVAL", self._bodies[name], len(keys), *keys, *args)

    def read(self, key: bytes) -> tuple[list[Any], int]:
        fields, pttl = self.run([packed(b"HMGET", key, *READ_FIELDS), packed(b"PTTL", key)])
        return raised(fields), raised(pttl)

    def script(
        self, name: str, keys: Sequence[Arg], args: Sequence[Arg], after: Sequence[bytes] = ()
    ) -> list[Any]:
        replies = self.run([self.evalsha(name, keys, args), *after])
        if isinstance(replies[0], NoScriptError):
            replies = self.run([self.eval(name, keys, args), *after])
        raised(replies[0])
        return replies

    def command(self, *args: Arg) -> Any:
        return raised(self.run([packed(*args)])[0])

    def close(self) -> None:
        self._closed = True
        idle, self._idle, self._polls = self._idle, [], {}
        if self._pid == os.getpid():
            for conn in idle:
                self._pool.release(conn)


class ClientWire(Wire):
    """Send through a redis-py client (a Cluster's, which routes each key to its node).

    The client and its connections belong to its owner, who closes them.
    """

    def __init__(self, client: RedisCluster, scripts: Mapping[str, str]) -> None:
        self.client = client
        self._scripts: dict[str, Script] = {
            name: client.register_script(body) for name, body in scripts.items()
        }

    def read(self, key: bytes) -> tuple[list[Any], int]:
        try:
            pipe = self.client.pipeline(transaction=False)  # type: ignore[no-untyped-call]
            pipe.hmget(key, list(READ_FIELDS))
            pipe.pttl(key)
            fields, pttl = pipe.execute()
        except REDIS_ERRORS as exc:
            raise translate(exc) from exc
        return fields, pttl

    def script(
        self, name: str, keys: Sequence[Arg], args: Sequence[Arg], after: Sequence[bytes] = ()
    ) -> list[Any]:
        assert not after, "a Cluster client runs one command at a time"
        try:
            return [self._scripts[name](keys=keys, args=args, client=self.client)]  # type: ignore[arg-type]
        except REDIS_ERRORS as exc:
            raise translate(exc) from exc

    def command(self, *args: Arg) -> Any:
        try:
            return self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        except REDIS_ERRORS as exc:
            raise translate(exc) from exc

    def scan_iter(self, **options: Any) -> Iterator[bytes]:
        return self.client.scan_iter(**options)


def raised(reply: Any) -> Any:
    """Return ``reply``, or raise it as the package's error if it is a server error."""
    if isinstance(reply, Exception):
        raise translate(reply) from reply
    return reply
