"""``sessionkeeper kv serve`` and ``sessionkeeper dump``: run a KV service, print one.

Neither takes a token on its command line, where ``ps`` shows it to every local
user: both read ``KV_TOKEN`` or ``--token-file``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError
from ..stores.urls import redact
from .dump import dump
from .guard import is_loopback
from .options import TOKEN_ENVVAR, token_from, token_options
from .ports import PortTaken
from .server import ServeOptions, run
from .state import MAX_BODY_BYTES, MAX_KEY_BYTES, MAX_POST_KEYS, MAX_VALUE_BYTES, Limits

__all__ = ["dump", "kv"]


@click.group()
def kv() -> None:
    """The key-value service."""


@kv.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5100, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--store",
    "store_url",
    default="sqlite:///kv.sqlite3",
    show_default=True,
    help="Store URL: sqlite:///path.db, redis://host:port/db, memory://.",
)
@token_options(
    f"File holding the bearer token clients must send (else ${TOKEN_ENVVAR}); created with a "
    "random token, mode 0600, if missing. A token is required beyond loopback."
)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM) and key: beyond loopback, the token and "
    "every session otherwise travel in clear.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--max-key-bytes", default=MAX_KEY_BYTES, show_default=True, type=click.IntRange(1))
@click.option(
    "--max-value-bytes", default=MAX_VALUE_BYTES, show_default=True, type=click.IntRange(1)
)
@click.option("--max-body-bytes", default=MAX_BODY_BYTES, show_default=True, type=click.IntRange(1))
@click.option("--max-post-keys", default=MAX_POST_KEYS, show_default=True, type=click.IntRange(1))
def serve(
    host: str,
    port: int,
    store_url: str,
    token_file: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int,
    max_key_bytes: int,
    max_value_bytes: int,
    max_body_bytes: int,
    max_post_keys: int,
) -> None:
    """Serve the key-value API under a production server (Granian)."""
    limits = Limits(max_key_bytes, max_value_bytes, max_body_bytes, max_post_keys)
    token = token_from(token_file, create=True)
    options = ServeOptions(host, port, store_url, token, workers, limits, tls_cert, tls_key)
    auth = "bearer token required" if token else "no token (this machine only)"
    clear = "" if tls_cert or is_loopback(host) else "; plain HTTP beyond loopback (see --tls-cert)"

    def announce() -> None:
        click.echo(
            f"kv: serving {redact(store_url)} on {options.url} with {workers} worker(s); "
            f"{auth}{clear}",
            err=True,
        )

    try:
        run(options, announce)
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from exc  # one line: nothing wrong with the options
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
