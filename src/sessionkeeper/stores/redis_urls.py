"""Build redis-py clients from store URLs, with timeouts and without hidden retries.

``redis://``, ``rediss://`` and ``unix://`` go to :meth:`redis.Redis.from_url` (its query
options apply). ``redis+cluster://[user:pass@]host:port[,host:port]`` names startup nodes
of a Redis Cluster; ``redis+sentinel://[user:pass@]host:port[,host:port]/service[/db]``
names Sentinels and the monitored service (the credentials are the primary's).

Every form but the Cluster's also takes ``?wait=N[&wait_timeout=SECONDS]`` (each write
waits until N replicas acknowledge it, see :mod:`.redis_wait`) and
``?cache=1[&cache_size=N]`` (reads from memory, see :mod:`.redis_cache`);
:func:`store_options` reads and removes those before the rest of the URL is parsed.

Clients never retry: a retried write may already have been applied (a compare-and-set
would then report a false conflict), and retries multiply the time an outage takes to
be reported. A connection the server closed is still replaced before use by the pool.
:func:`translated` turns redis-py's errors into the package's, for the Redis store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterError, ReadOnlyError, RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from ..errors import ConfigError, StoreError, StoreUnavailable
from .urls import redact

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_WAIT_TIMEOUT",
    "REDIS_ERRORS",
    "Client",
    "build_client",
    "store_options",
    "translate",
    "translated",
]

Client = redis.Redis | RedisCluster

#: Seconds a write waits for its replicas before it is reported unavailable.
DEFAULT_WAIT_TIMEOUT: Final = 0.5
#: Records a process keeps in its client-side cache.
DEFAULT_CACHE_SIZE: Final = 10_000


_UNAVAILABLE: Final = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterError,
    RedisClusterException,
    ReadOnlyError,
)


#: Everything redis-py raises (a Cluster's setup errors are not RedisErrors).
REDIS_ERRORS: Final = (redis.RedisError, RedisClusterException)


def translate(exc: Exception) -> StoreError:
    """Return the package's error for a redis-py error (the caller raises it ``from exc``)."""
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(f"Redis is unavailable: {exc}")
    return StoreError(f"Redis failed: {exc}")


@contextmanager
def translated() -> Iterator[None]:
    """Raise redis-py's errors as the package's own, chained to the cause."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise translate(exc) from exc


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _nodes(netloc: str, default_port: int) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    """Split ``[user:pass@]host:port[,host:port]`` into credentials and addresses."""
    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes = []
    for item in hosts.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or host.endswith(":"):  # no port given (or a bare IPv6 address)
            host, port = item, str(default_port)
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise ConfigError(f"bad host:port {item!r} in Redis URL")
        nodes.append((host, int(port)))
    return unquote(username) or None, unquote(password) or None, nodes


_OPTIONS: Final = ("wait", "wait_timeout", "cache", "cache_size")


def store_options(url: str, timeout: float) -> tuple[str, dict[str, Any]]:
    """Return ``url`` without the store's own query options, and those as keyword arguments.

    ``wait``/``wait_timeout`` give ``wait_replicas``/``wait_timeout`` (the read ``timeout``
    bounds the second: a longer one would never be reached); ``cache`` (0 or 1) and
    ``cache_size`` give ``cache``/``cache_size``. Neither is offered on a Cluster.
    """
    head, _, tail = url.partition("?")
    query, hash_sign, fragment = tail.partition("#")
    found: dict[str, str] = {}
    rest = []
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        if name not in _OPTIONS:
            rest.append(item)
        elif name in found:
            raise ConfigError(f"{name}= is given twice in Redis URL {redact(url)!r}")
        else:
            found[name] = unquote(value)
    cluster = head.lower().startswith("redis+cluster:")
    wait, wait_timeout = found.get("wait", "0"), found.get("wait_timeout")
    if not wait.isdigit():
        raise ConfigError(f"wait= takes a number of replicas (0 or more), got {wait!r}")
    if int(wait) == 0 and wait_timeout is not None:
        raise ConfigError("wait_timeout= needs wait= (the number of replicas) in the Redis URL")
    if int(wait) and cluster:
        raise ConfigError("wait= is not supported on a Redis Cluster; remove it from the URL")
    try:
        seconds = DEFAULT_WAIT_TIMEOUT if wait_timeout is None else float(wait_timeout)
    except ValueError:
        seconds = -1.0
    if int(wait) and not 0 < seconds < timeout:
        raise ConfigError(
            f"wait_timeout= takes seconds above 0 and below the store timeout ({timeout} s, "
            f"SESSION_STORE_TIMEOUT), got {wait_timeout!r}"
        )
    cache, size = found.get("cache", "0"), found.get("cache_size", str(DEFAULT_CACHE_SIZE))
    if cache not in ("0", "1") or not size.isdigit() or int(size) < 1:
        raise ConfigError(f"cache= takes 0 or 1 and cache_size= a number of records, got {query!r}")
    if cache == "1" and cluster:
        raise ConfigError("cache=1 is not supported on a Redis Cluster; remove it from the URL")
    options = {"wait_replicas": int(wait), "wait_timeout": seconds}
    options.update(cache=cache == "1", cache_size=int(size))
    rebuilt = head + ("?" + "&".join(rest) if rest else "") + hash_sign + fragment
    return rebuilt, options


def build_client(
    url: str, timeout: float
) -> tuple[Client | Callable[[], Client], Callable[[], None] | None]:
    """Return a client for ``url`` (or a function building it on first use) and an extra closer.

    A Cluster client connects as it is built, so it is built on first use: an app can
    start while its store is down. The closer releases Sentinel connections.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    socket: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if scheme in ("redis", "rediss", "unix"):
        try:
            client = redis.Redis.from_url(url, retry=_no_retry(), **socket)
            pool = client.connection_pool
            pool.connection_class(**pool.connection_kwargs)  # unknown query options fail now
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad Redis URL {redact(url)!r}: {exc}") from exc
        return client, None
    if parts.query:
        raise ConfigError(f"{scheme}:// URLs take no query options; hand in a client instead")
    if scheme == "redis+cluster":
        username, password, nodes = _nodes(parts.netloc, 6379)
        if parts.path.strip("/") not in ("", "0"):
            raise ConfigError("a Redis Cluster has only database 0; remove the path from the URL")
        startup = [ClusterNode(h, p) for h, p in nodes]  # type: ignore[no-untyped-call]

        def cluster() -> Client:
            return RedisCluster(
                startup_nodes=startup,
                username=username,
                password=password,
                retry=_no_retry(),
                **socket,
            )

        return cluster, None
    if scheme == "redis+sentinel":
        username, password, nodes = _nodes(parts.netloc, 26379)
        service, _, db = parts.path.strip("/").partition("/")
        if not service or not (db or "0").isdigit():
            raise ConfigError(
                f"bad Sentinel URL {redact(url)!r}: expected redis+sentinel://host:port/service[/db]"
            )
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            nodes, sentinel_kwargs={"retry": _no_retry(), **socket}, **socket
        )
        primary: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            service, db=int(db or 0), username=username, password=password, retry=_no_retry()
        )

        def close_sentinels() -> None:
            for client in sentinel.sentinels:
                client.close()

        return primary, close_sentinels
    raise ConfigError(f"not a Redis URL: {redact(url)!r}")
