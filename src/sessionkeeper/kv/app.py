"""The KV service as a Flask app: any Store served over the counter lab's HTTP API."""

from __future__ import annotations

import logging
from typing import Final

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, PreconditionFailed
from werkzeug.routing import PathConverter

from ..errors import Conflict, StoreError
from ..stores import Store, store_from_url
from ..stores.sqlite import SqliteStore
from .guard import authenticate
from .state import (
    DEFAULT_STORE_PATH,
    EXTENSION,
    MAX_BODY_BYTES,
    MAX_KEY_BYTES,
    MAX_POST_KEYS,
    MAX_VALUE_BYTES,
    KvState,
    Limits,
    json_response,
)
from .views import bp

__all__ = ["UNAVAILABLE", "create_app"]

logger = logging.getLogger("sessionkeeper.kv")
#: The message of every 503: what failed goes to the log, never to the client.
UNAVAILABLE: Final = "the store failed; try again shortly"


class KeyConverter(PathConverter):
    """Match a key in the path: like ``path``, slashes included, and newlines too."""

    regex = r"[^/][\s\S]*?"


def create_app(
    store: Store | str | None = None,
    *,
    token: str | None = None,
    max_key_bytes: int = MAX_KEY_BYTES,
    max_value_bytes: int = MAX_VALUE_BYTES,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_post_keys: int = MAX_POST_KEYS,
    allow_remote_without_token: bool = False,
) -> Flask:
    """Build the service around ``store`` (a Store, a store URL, or None for ``kv.sqlite3``).

    With ``token`` every route but ``/healthz`` and ``/openapi.json`` needs
    ``Authorization: Bearer <token>``. Without one the service answers only this
    machine: requests from and addressed to loopback, sent by no page of another
    site, writing JSON (see :mod:`.guard`); ``allow_remote_without_token=True``
    drops the first two checks, handing every session to whoever can connect.
    The caller owns ``store`` and closes it.
    """
    limits = Limits(max_key_bytes, max_value_bytes, max_body_bytes, max_post_keys)
    if min(max_key_bytes, max_value_bytes, max_body_bytes, max_post_keys) < 1:
        raise ValueError(f"limits must be positive, got {limits}")
    if store is None:
        store = SqliteStore(DEFAULT_STORE_PATH)
    elif isinstance(store, str):
        store = store_from_url(store)

    app = Flask("sessionkeeper.kv")
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = limits.max_body_bytes
    app.url_map.merge_slashes = False  # "a//b" is a key of its own, not a redirect
    app.url_map.converters["key"] = KeyConverter
    app.extensions[EXTENSION] = KvState(store, token or None, limits, allow_remote_without_token)
    app.register_blueprint(bp)
    app.before_request(authenticate)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(Conflict, _conflict)
    return app


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    body = {"error": exc.name, "message": exc.description or exc.name, "status": status}
    return json_response(body, status, headers)


def _store_error(exc: StoreError) -> Response:
    logger.warning("store failed: %s", exc)
    body = {"error": "Service Unavailable", "message": UNAVAILABLE, "status": 503}
    return json_response(body, 503, {"Retry-After": "1"})


def _conflict(exc: Conflict) -> Response:
    return _http_error(PreconditionFailed(str(exc)))
