"""The KV service as a Flask app: any Store served over the counter lab's HTTP API."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, Response, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import HTTPException, PreconditionFailed, Unauthorized
from werkzeug.routing import PathConverter

from ..errors import Conflict, StoreError
from ..stores import Store, store_from_url
from ..stores.sqlite import SqliteStore
from .state import (
    DEFAULT_STORE_PATH,
    EXTENSION,
    MAX_BODY_BYTES,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    PUBLIC_ENDPOINTS,
    KvState,
    Limits,
    json_response,
    state,
)
from .views import bp

__all__ = ["create_app"]

logger = logging.getLogger("sessionkeeper.kv")


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
) -> Flask:
    """Build the service around ``store`` (a Store, a store URL, or None for ``kv.sqlite3``).

    With ``token`` every route but ``/healthz`` and ``/openapi.json`` needs
    ``Authorization: Bearer <token>``. The caller owns ``store`` and closes it.
    """
    if store is None:
        store = SqliteStore(DEFAULT_STORE_PATH)
    elif isinstance(store, str):
        store = store_from_url(store)
    limits = Limits(max_key_bytes, max_value_bytes, max_body_bytes)
    if min(limits.max_key_bytes, limits.max_value_bytes, limits.max_body_bytes) < 1:
        raise ValueError(f"limits must be positive, got {limits}")

    app = Flask("sessionkeeper.kv")
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = limits.max_body_bytes
    app.url_map.merge_slashes = False  # "a//b" is a key of its own, not a redirect
    app.url_map.converters["key"] = KeyConverter
    app.extensions[EXTENSION] = KvState(store, token or None, limits)
    app.register_blueprint(bp)
    app.before_request(_authenticate)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(Conflict, _conflict)
    return app


def _authenticate() -> None:
    token = state().token
    if token is None or request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Header text arrives latin-1 decoded; encoding it back yields the bytes that were sent.
    sent = given.strip().encode("latin-1", "replace")
    if scheme.lower() == "bearer" and hmac.compare_digest(sent, token.encode("utf-8")):
        return
    challenge = WWWAuthenticate("bearer", {"realm": "kv"})
    if given:
        challenge.parameters["error"] = "invalid_token"
    raise Unauthorized("a valid bearer token is required", www_authenticate=challenge)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    body = {"error": exc.name, "message": exc.description or exc.name, "status": status}
    return json_response(body, status, headers)


def _store_error(exc: StoreError) -> Response:
    logger.warning("store failed: %s", exc)
    body = {"error": "Service Unavailable", "message": f"the store failed: {exc}", "status": 503}
    return json_response(body, 503, {"Retry-After": "1"})


def _conflict(exc: Conflict) -> Response:
    return _http_error(PreconditionFailed(str(exc)))
