"""Writes that replicas acknowledge: the write script and ``WAIT`` on one connection.

``WAIT numreplicas timeout`` counts the replicas that have every earlier write *of its
own connection*, so both commands go down one connection, pipelined (no MULTI) in one
round trip. :class:`~sessionkeeper.stores.redis.RedisStore` owns the option and calls
:func:`acknowledged`; it translates redis-py's errors raised here into the package's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Final

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from ..errors import ConfigError, StoreUnavailable

__all__ = ["DEFAULT_WAIT_TIMEOUT", "acknowledged", "wait_ms"]

#: Seconds a write waits for its replicas before it is reported unavailable.
DEFAULT_WAIT_TIMEOUT: Final = 0.5


def wait_ms(replicas: int, timeout: float) -> int:
    """Check the option and return ``timeout`` in whole milliseconds (``WAIT`` 0 never ends)."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ConfigError(f"wait_replicas must be a whole number >= 0, got {replicas!r}")
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"wait_timeout must be a number of seconds > 0, got {timeout!r}")
    return max(1, math.ceil(timeout * 1000))


def acknowledged(
    client: redis.Redis,
    script: Script,
    keys: Sequence[str | bytes],
    args: Sequence[str | bytes | int],
    replicas: int,
    timeout_ms: int,
) -> Any:
    """Run ``script`` then ``WAIT``; return the script's reply.

    A reply above 0 means the script wrote (every write script of the store answers so);
    such a write that fewer than ``replicas`` replicas acknowledged within ``timeout_ms``
    raises :class:`StoreUnavailable`: the primary has applied it, but a failover now
    could lose it. A script that wrote nothing (a conflict, a missing key) needs no
    acknowledgement.
    """
    started = time.monotonic()
    reply, acks = _send(client, script.sha, keys, args, replicas, timeout_ms)
    if isinstance(reply, NoScriptError):  # nothing ran: load the script, send it again
        script.sha = client.script_load(script.script)
        left = timeout_ms - int((time.monotonic() - started) * 1000)  # one deadline for both
        reply, acks = _send(client, script.sha, keys, args, replicas, max(1, left))
    for result in (reply, acks):
        if isinstance(result, Exception):
            raise result
    if isinstance(reply, int) and reply > 0 and acks < replicas:
        raise StoreUnavailable(
            f"Redis: {acks} of {replicas} replicas acknowledged a write "
            f"within {timeout_ms} ms; it may be lost in a failover"
        )
    return reply


def _send(
    client: redis.Redis,
    sha: str,
    keys: Sequence[str | bytes],
    args: Sequence[str | bytes | int],
    replicas: int,
    timeout_ms: int,
) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    pipe.evalsha(sha, len(keys), *keys, *args)
    pipe.wait(replicas, timeout_ms)
    replies: list[Any] = pipe.execute(raise_on_error=False)
    return replies
