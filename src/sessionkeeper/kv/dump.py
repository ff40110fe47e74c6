"""``sessionkeeper dump URL``: print every key and value of a KV service, page by page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import click

from ..errors import ConfigError, StoreError
from ..stores.urls import redact
from ..wire import SocketTransport, Transport
from ..wire.codec import request_headers
from .options import TOKEN_ENVVAR, token_from, token_options

__all__ = ["PAGE", "dump"]

#: Keys listed per request while dumping.
PAGE = 1000


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
        raise click.ClickException(
            f"the service refused the token (set {TOKEN_ENVVAR} or --token-file)"
        )
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
@token_options(f"File holding the service's bearer token (else ${TOKEN_ENVVAR}).")
def dump(url: str, prefix: str, as_json: bool, token_file: Path | None) -> None:
    """Print every key and value of the KV service at URL, paging through large ones."""
    token = token_from(token_file, create=False)
    try:
        transport = SocketTransport(redact(url), timeout=10.0, pool=1)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc
    client = _Client(transport, request_headers(token))
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
