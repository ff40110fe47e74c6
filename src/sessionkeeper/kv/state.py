"""What every part of the KV service shares: its limits, its state, and its JSON answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from flask import Response, current_app

from ..stores import Store
from ..wire.codec import dumps

__all__ = [
    "DEFAULT_STORE_PATH",
    "EXTENSION",
    "MAX_BODY_BYTES",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "PUBLIC_ENDPOINTS",
    "KvState",
    "Limits",
    "json_response",
    "state",
]

#: Where the service keeps its data when no store is given (relative to the working directory).
DEFAULT_STORE_PATH: Final = "kv.sqlite3"
#: Endpoints reachable without the token: load balancers probe health, clients read the schema.
PUBLIC_ENDPOINTS: Final = frozenset({"kv.healthz", "kv.openapi"})
MAX_KEY_BYTES: Final = 1024
MAX_VALUE_BYTES: Final = 1 << 20
MAX_BODY_BYTES: Final = 4 << 20
#: The key of the service's state in ``app.extensions``.
EXTENSION: Final = "sessionkeeper.kv"


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits, in bytes: a key (UTF-8), a stored value (its JSON), a request body."""

    max_key_bytes: int = MAX_KEY_BYTES
    max_value_bytes: int = MAX_VALUE_BYTES
    max_body_bytes: int = MAX_BODY_BYTES


@dataclass(frozen=True, slots=True)
class KvState:
    """What the views need: the store, the token (None: no auth) and the limits."""

    store: Store
    token: str | None
    limits: Limits


def state() -> KvState:
    """Return the current app's service state."""
    kv: KvState = current_app.extensions[EXTENSION]
    return kv


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Answer compact JSON in the canonical form, keys in the order given (never sorted)."""
    return Response(dumps(body), status, headers, mimetype="application/json")
