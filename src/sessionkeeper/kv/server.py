"""Run the KV service under Granian, the production server chosen by measurement.

On two cores Granian answered the service's GET and POST about twice as fast as
gunicorn's sync workers, and kept its connections alive (gunicorn's sync worker
does not), which the pooled HTTP store relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .app import create_app
from .guard import is_loopback
from .ports import check_port_free
from .state import EXTENSION, Limits

__all__ = ["ServeOptions", "check_exposure", "run"]

#: Threads per worker running requests; store calls are short, so a few keep the cores busy.
THREADS = 16
#: Connections a worker accepts at once (idle keep-alive ones included).
BACKPRESSURE = 1024


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``sessionkeeper kv serve`` was asked for (``tls_cert`` and ``tls_key`` go together)."""

    host: str
    port: int
    store_url: str
    token: str | None
    workers: int
    limits: Limits
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def url(self) -> str:
        """The URL clients reach the service at."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"


def check_exposure(options: ServeOptions) -> None:
    """Refuse to serve without a token beyond loopback, or one memory store to many workers."""
    if options.token is None and not is_loopback(options.host):
        raise ConfigError(
            f"refusing to listen on {options.host} without a token: anyone who can reach it "
            "could read and change every session; set KV_TOKEN (or --token-file), "
            "or listen on 127.0.0.1"
        )
    if options.workers > 1 and options.store_url.lower().startswith("memory:"):
        raise ConfigError(
            "a memory:// store lives inside one process; with several workers each would "
            "hold different data: use --workers 1 or a shared store such as sqlite:///kv.sqlite3"
        )
    if (options.tls_cert is None) != (options.tls_key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")


def build_app(options: ServeOptions) -> Any:
    """Build the app inside a worker process, so each process opens its own store."""
    limits = options.limits
    return create_app(
        options.store_url,
        token=options.token,
        max_key_bytes=limits.max_key_bytes,
        max_value_bytes=limits.max_value_bytes,
        max_body_bytes=limits.max_body_bytes,
        max_post_keys=limits.max_post_keys,
    )


def run(options: ServeOptions, announce: Callable[[], None] | None = None) -> None:
    """Check the options and the port, call ``announce``, then serve until interrupted.

    SIGINT or SIGTERM stop the workers gracefully. Every check that can fail
    runs before ``announce``, so a service that says it serves does.
    """
    check_exposure(options)
    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError as exc:
        raise ConfigError(
            "serving needs Granian: install sessionkeeper with the server extra, "
            "'sessionkeeper[server]'"
        ) from exc
    # Build the app once here, so a bad store URL fails in one line, not in every worker.
    build_app(options).extensions[EXTENSION].store.close()
    check_port_free(options.host, options.port, "the key-value service")
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
        ssl_cert=options.tls_cert,
        ssl_key=options.tls_key,
    )
    if announce is not None:
        announce()
    server.serve(target_loader=partial(build_app, options), wrap_loader=False)
