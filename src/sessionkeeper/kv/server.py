"""Run the KV service under Granian, the production server chosen by measurement.

On two cores Granian answered the service's GET and POST about twice as fast as
gunicorn's sync workers, and kept its connections alive (gunicorn's sync worker
does not), which the pooled HTTP store relies on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .app import create_app
from .state import Limits

__all__ = ["ServeOptions", "check_exposure", "is_loopback", "redact", "run"]

#: Threads per worker running requests; store calls are short, so a few keep the cores busy.
THREADS = 16
#: Connections a worker accepts at once (idle keep-alive ones included).
BACKPRESSURE = 1024


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``sessionkeeper kv serve`` was asked for."""

    host: str
    port: int
    store_url: str
    token: str | None
    workers: int
    limits: Limits


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


def check_exposure(options: ServeOptions) -> None:
    """Refuse to serve without a token beyond loopback, or one memory store to many workers."""
    if options.token is None and not is_loopback(options.host):
        raise ConfigError(
            f"refusing to listen on {options.host} without a token: anyone who can reach it "
            "could read and change every session; set KV_TOKEN (or --token), "
            "or listen on 127.0.0.1"
        )
    if options.workers > 1 and options.store_url.lower().startswith("memory:"):
        raise ConfigError(
            "a memory:// store lives inside one process; with several workers each would "
            "hold different data: use --workers 1 or a shared store such as sqlite:///kv.sqlite3"
        )


def redact(url: str) -> str:
    """Hide the password of a URL (``redis://:secret@host``) for display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def build_app(options: ServeOptions) -> Any:
    """Build the app inside a worker process, so each process opens its own store."""
    limits = options.limits
    return create_app(
        options.store_url,
        token=options.token,
        max_key_bytes=limits.max_key_bytes,
        max_value_bytes=limits.max_value_bytes,
        max_body_bytes=limits.max_body_bytes,
    )


def run(options: ServeOptions) -> None:
    """Serve until interrupted (SIGINT or SIGTERM stop the workers gracefully)."""
    check_exposure(options)
    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError as exc:
        raise ConfigError(
            "serving needs Granian: install sessionkeeper with the server extra, "
            "'sessionkeeper[server]'"
        ) from exc
    server = Granian(
        "sessionkeeper.kv:create_app",  # shown in logs; the loader below builds the app
        address=options.host,
        port=options.port,
        interface=Interfaces.WSGI,
        workers=options.workers,
        blocking_threads=THREADS,
        # Granian counts kept-alive connections against backpressure: leave room for every
        # client pool, while THREADS bound the requests actually running.
        backpressure=BACKPRESSURE,
        log_access=False,
    )
    server.serve(target_loader=partial(build_app, options), wrap_loader=False)
