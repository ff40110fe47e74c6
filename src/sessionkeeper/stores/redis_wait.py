"""Writes that replicas acknowledge: the write script and ``WAIT`` on one connection.

``WAIT numreplicas timeout`` counts the replicas that have every earlier write *of its
own connection*, so both commands go down one connection, pipelined (no MULTI) in one
round trip. :class:`~sessionkeeper.stores.redis.RedisStore` owns the option and calls
:func:`acknowledged` with its :class:`~.redis_wire.ConnectionWire`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from ..errors import ConfigError, StoreUnavailable
from .redis_urls import DEFAULT_WAIT_TIMEOUT
from .redis_wire import Arg, ConnectionWire, Wire, packed, raised

__all__ = ["DEFAULT_WAIT_TIMEOUT", "acknowledged", "wait_ms", "written"]


def wait_ms(replicas: int, timeout: float) -> int:
    """Check the option and return ``timeout`` in whole milliseconds (``WAIT`` 0 never ends)."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ConfigError(f"wait_replicas must be a whole number >= 0, got {replicas!r}")
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"wait_timeout must be a number of seconds > 0, got {timeout!r}")
    return max(1, math.ceil(timeout * 1000))


def acknowledged(
    wire: ConnectionWire,
    name: str,
    keys: Sequence[Arg],
    args: Sequence[Arg],
    after: Sequence[bytes],
    replicas: int,
    timeout_ms: int,
) -> list[Any]:
    """Run the script ``name``, the packed commands ``after``, then ``WAIT``; return the
    replies of all but ``WAIT``, as :meth:`~.redis_wire.Wire.script` does.

    A reply above 0 means the script wrote (every write script of the store answers so);
    such a write that fewer than ``replicas`` replicas acknowledged within ``timeout_ms``
    raises :class:`StoreUnavailable`: the primary has applied it, but a failover now
    could lose it. A script that wrote nothing (a conflict, a missing key) needs no
    acknowledgement.
    """
    started = time.monotonic()
    wait = packed(b"WAIT", replicas, timeout_ms)
    *replies, acks = wire.run([wire.evalsha(name, keys, args), *after, wait])
    if isinstance(replies[0], NoScriptError):  # nothing ran: send the script itself
        left = timeout_ms - int((time.monotonic() - started) * 1000)  # one deadline for both
        wait = packed(b"WAIT", replicas, max(1, left))
        *replies, acks = wire.run([wire.eval(name, keys, args), *after, wait])
    reply = raised(replies[0])
    raised(acks)
    if isinstance(reply, int) and reply > 0 and acks < replicas:
        raise StoreUnavailable(
            f"Redis: {acks} of {replicas} replicas acknowledged a write "
            f"within {timeout_ms} ms; it may be lost in a failover"
        )
    return replies


def written(
    wire: Wire,
    name: str,
    keys: Sequence[Arg],
    args: Sequence[Arg],
    after: Sequence[bytes],
    replicas: int,
    timeout_ms: int,
) -> list[Any]:
    """Run a write script as :meth:`~.redis_wire.Wire.script` does, acknowledged by
    ``replicas`` replicas if there are any to wait for."""
    if not replicas:
        return wire.script(name, keys, args, after)
    assert isinstance(wire, ConnectionWire), "wait_replicas is refused on a Cluster"
    return acknowledged(wire, name, keys, args, after, replicas, timeout_ms)
