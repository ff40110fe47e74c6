"""``sessionkeeper kv serve`` and ``sessionkeeper dump``: run a KV service, print one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import click

from ..errors import ConfigError, StoreError
from ..wire import SocketTransport, Transport
from ..wire.codec import request_headers
from .server import ServeOptions, redact, run
from .state import MAX_BODY_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES, Limits

__all__ = ["dump", "kv"]

#: Keys listed per request while dumping.
PAGE = 1000


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
@click.option(
    "--token",
    envvar="KV_TOKEN",
    show_envvar=True,
    help="Bearer token clients must send; required beyond loopback. Prefer the variable.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--max-key-bytes", default=MAX_KEY_BYTES, show_default=True, type=click.IntRange(1))
@click.option(
    "--max-value-bytes", default=MAX_VALUE_BYTES, show_default=True, type=click.IntRange(1)
)
@click.option("--max-body-bytes", default=MAX_BODY_BYTES, show_default=True, type=click.IntRange(1))
def serve(
    host: str,
    port: int,
    store_url: str,
    token: str | None,
    workers: int,
    max_key_bytes: int,
    max_value_bytes: int,
    max_body_bytes: int,
) -> None:
    """Serve the key-value API under a production server (Granian)."""
    limits = Limits(max_key_bytes, max_value_bytes, max_body_bytes)
    options = ServeOptions(host, port, store_url, token or None, workers, limits)
    auth = "bearer token required" if options.token else "no token (loopback only)"
    click.echo(
        f"kv: serving {redact(store_url)} on http://{host}:{port} with {workers} worker(s); {auth}",
        err=True,
    )
    try:
        run(options)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


class _Client(NamedTuple):
    transport: Transport
    headers: dict[str, str]


def _pages(client: _Client, prefix: str) -> Iterator[list[str]]:
    after: str | None = None
    while True:
        query = {"prefix": prefix, "limit": str(PAGE)}
        if after is not None:
            query["after"] = after
        _, body = _answer(client, "/?" + urlencode(query, quote_via=quote), 200)
        yield body["keys"]
        after = body.get("next")
        if after is None:
            return


def _answer(client: _Client, target: str, *expected: int) -> tuple[int, dict[str, Any]]:
    reply = client.transport.request("GET", target, headers=client.headers)
    if reply.status == 401:
        raise click.ClickException("the service refused the token (set --token or KV_TOKEN)")
    if reply.status not in expected:
        raise click.ClickException(
            f"{client.transport.url} answered {reply.status} to GET {target}"
        )
    try:
        body: dict[str, Any] = json.loads(reply.body)
    except ValueError as exc:
        raise click.ClickException(
            f"{client.transport.url} answered something that is not JSON"
        ) from exc
    return reply.status, body


def _entries(client: _Client, prefix: str) -> Iterator[tuple[str, Any]]:
    for keys in _pages(client, prefix):
        for key in keys:
            target = "/?" + urlencode({"key": key}, quote_via=quote)
            status, body = _answer(client, target, 200, 404)
            if status == 200:  # a 404 is a key removed since it was listed
                yield key, body[key]


@click.command()
@click.argument("url")
@click.option("--prefix", default="", help="Only keys starting with this.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of every key.")
@click.option("--token", envvar="KV_TOKEN", show_envvar=True, help="The service's bearer token.")
def dump(url: str, prefix: str, as_json: bool, token: str | None) -> None:
    """Print every key and value of the KV service at URL, paging through large ones."""
    try:
        transport = SocketTransport(url, timeout=10.0, pool=1)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc
    client = _Client(transport, request_headers(token or None))
    try:
        if as_json:
            click.echo("{", nl=False)
            for index, (key, value) in enumerate(_entries(client, prefix)):
                separator = "," if index else ""
                click.echo(f"{separator}\n  {json.dumps(key)}: {json.dumps(value)}", nl=False)
            click.echo("\n}")
        else:
            for key, value in _entries(client, prefix):
                click.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        transport.close()
