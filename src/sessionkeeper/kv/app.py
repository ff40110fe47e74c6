"""The KV service as a Flask app: any Store served over the counter lab's HTTP API."""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, PreconditionFailed
from werkzeug.routing import PathConverter

from ..errors import Conflict, StoreError
from ..stores import Store, store_from_url
from ..stores.sqlite import SqliteStore
from .fast import FastPath
from .guard import authenticate
from .state import (
    DEFAULT_STORE_PATH,
    EXTENSION,
    MAX_BODY_BYTES,
    MAX_KEY_BYTES,
    MAX_POST_KEYS,
    MAX_VALUE_BYTES,
    UNAVAILABLE,
    KvState,
    Limits,
    error_response,
    unavailable,
)
from .views import bp

__all__ = ["UNAVAILABLE", "create_app"]


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
    fast: bool = True,
) -> Flask:
    """Build the service around ``store`` (a Store, a store URL, or None for ``kv.sqlite3``).

    With ``token`` every route but ``/healthz`` and ``/openapi.json`` needs
    ``Authorization: Bearer <token>``. Without one the service answers only this
    machine: requests from and addressed to loopback, sent by no page of another
    site, writing JSON (see :mod:`.guard`); ``allow_remote_without_token=True``
    drops the first two checks, handing every session to whoever can connect.
    With ``fast`` (the default) the hot requests (one key read, written or
    touched) are answered by :class:`.fast.FastPath` in front of Flask, with the
    same answers; ``fast=False`` leaves every request to Flask.
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
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(StoreError, unavailable)
    app.register_error_handler(Conflict, _conflict)
    if fast:
        app.wsgi_app = FastPath(app)  # type: ignore[method-assign]
    return app


def _conflict(exc: Conflict) -> Response:
    return error_response(PreconditionFailed(str(exc)))
