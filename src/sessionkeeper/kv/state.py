"""What every part of the KV service shares: its limits, its state, and its JSON answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from flask import Response, current_app
from werkzeug.exceptions import HTTPException

from ..errors import StoreError
from ..stores import Record, Store
from ..wire.codec import dumps, version_to_etag

__all__ = [
    "DEFAULT_STORE_PATH",
    "EXTENSION",
    "MAX_BODY_BYTES",
    "MAX_KEY_BYTES",
    "MAX_POST_KEYS",
    "MAX_VALUE_BYTES",
    "PUBLIC_ENDPOINTS",
    "UNAVAILABLE",
    "KvState",
    "Limits",
    "error_response",
    "json_response",
    "record_headers",
    "state",
    "unavailable",
]

logger = logging.getLogger("sessionkeeper.kv")

#: Where the service keeps its data when no store is given (relative to the working directory).
DEFAULT_STORE_PATH: Final = "kv.sqlite3"
#: Endpoints reachable without the token: load balancers probe health, clients read the schema.
PUBLIC_ENDPOINTS: Final = frozenset({"kv.healthz", "kv.openapi"})
MAX_KEY_BYTES: Final = 1024
MAX_VALUE_BYTES: Final = 1 << 20
MAX_BODY_BYTES: Final = 4 << 20
#: The most keys one ``POST /`` may set: each is a store write, so a request's work stays bounded.
MAX_POST_KEYS: Final = 1000
#: The key of the service's state in ``app.extensions``.
EXTENSION: Final = "sessionkeeper.kv"
#: The message of every 503: what failed goes to the log, never to the client.
UNAVAILABLE: Final = "the store failed; try again shortly"


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits per request: bytes of a key (UTF-8), a value (its JSON), a body; keys per POST."""

    max_key_bytes: int = MAX_KEY_BYTES
    max_value_bytes: int = MAX_VALUE_BYTES
    max_body_bytes: int = MAX_BODY_BYTES
    max_post_keys: int = MAX_POST_KEYS


@dataclass(frozen=True, slots=True)
class KvState:
    """What the views need: the store, the token (None: no auth) and the limits.

    ``allow_remote`` lets a service without a token answer other machines: only
    a factory told so in so many words sets it.
    """

    store: Store
    token: str | None
    limits: Limits
    allow_remote: bool = False


def state() -> KvState:
    """Return the current app's service state."""
    kv: KvState = current_app.extensions[EXTENSION]
    return kv


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Answer compact JSON in the canonical form, keys in the order given (never sorted)."""
    return Response(dumps(body), status, headers, mimetype="application/json")


def error_response(exc: HTTPException) -> Response:
    """Answer an HTTP error as JSON: its name, its description and its status."""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    body = {"error": exc.name, "message": exc.description or exc.name, "status": status}
    return json_response(body, status, headers)


def unavailable(exc: StoreError) -> Response:
    """Log what failed in the store; answer the fixed 503, which tells the client to retry."""
    logger.warning("store failed: %s", exc)
    body = {"error": "Service Unavailable", "message": UNAVAILABLE, "status": 503}
    return json_response(body, 503, {"Retry-After": "1"})


def record_headers(record: Record) -> dict[str, str]:
    """Return the headers that describe a record read: its ETag, and its expiry if it has one."""
    headers = {"ETag": version_to_etag(record.version)}
    if record.expires is not None:
        headers["KV-Expires"] = repr(record.expires)
    return headers
