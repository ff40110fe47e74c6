"""The routes of the KV service; ``openapi.py`` documents each one."""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest

from ..errors import Conflict
from ..wire.codec import decode_value, encode_value, loads, version_to_etag
from .openapi import document
from .params import (
    DEFAULT_PAGE,
    MAX_PAGE,
    check_key,
    conditional_delete,
    not_at_version,
    scan_limit,
    too_large,
    too_large_post,
    ttl_param,
    write_condition,
)
from .state import json_response, record_headers, state

__all__ = ["bp"]

bp = Blueprint("kv", __name__)

FORM_TYPES: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _missing(key: str) -> Response:
    return json_response({key: None}, 404)


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while the store answers (a read of the key ``healthz``)."""
    state().store.get("healthz")
    return json_response({"status": "ok"})


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3.1 document of this API."""
    return json_response(document())


@bp.post("/clear-expired")
def clear_expired() -> Response:
    """Remove expired records from the store now; answer how many."""
    return json_response({"cleared": state().store.clear_expired()})


@bp.get("/")
def list_or_read() -> Response:
    """List keys (``prefix``, ``after``, ``limit``), or read the key given as ``?key=`` instead.

    A page holds ``limit`` keys (at most :data:`MAX_PAGE`), else :data:`DEFAULT_PAGE`;
    ``next`` is in the answer when there are more, or whenever ``limit`` or ``after`` is given.
    """
    if "key" in request.args:
        return read(request.args["key"])
    paged = "limit" in request.args or "after" in request.args
    limit = scan_limit(MAX_PAGE) if "limit" in request.args else DEFAULT_PAGE
    prefix, after = request.args.get("prefix", ""), request.args.get("after")
    keys, cursor = state().store.scan(prefix, after=after, limit=limit)
    body: dict[str, Any] = {"keys": keys}
    if paged or cursor is not None:
        body["next"] = cursor
    return json_response(body)


@bp.post("/")
def write() -> Response:
    """Set every key of a JSON object (or form fields) to its value; answer what was stored."""
    limits = state().limits
    if request.mimetype in FORM_TYPES:
        items: dict[str, Any] = dict(request.form.items())
    else:
        items = _json_object(request.get_data(cache=False))
    if len(items) > limits.max_post_keys:
        raise too_large_post(len(items), limits.max_post_keys)
    ttl = ttl_param()
    conditional = "If-Match" in request.headers or "If-None-Match" in request.headers
    if conditional and len(items) != 1:
        raise BadRequest("If-Match and If-None-Match need a body with exactly one key")
    encoded: dict[str, bytes] = {}
    for key, value in items.items():
        check_key(key)
        try:
            encoded[key] = data = decode_value(value)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"the value of {key!r} cannot be stored: {exc}") from exc
        if len(data) > limits.max_value_bytes:
            raise too_large(f"the value of {key!r}", len(data), limits.max_value_bytes)
    store = state().store
    headers: dict[str, str] = {}
    for key, data in encoded.items():
        condition = write_condition(key) if conditional else None
        try:
            version = store.set(key, data, ttl=ttl, if_version=condition)
        except Conflict as exc:
            raise not_at_version(key) from exc
        headers["ETag"] = version_to_etag(version)
    if len(encoded) != 1:
        headers.clear()
    return json_response({k: encode_value(v) for k, v in encoded.items()}, 200, headers)


@bp.route("/", methods=["DELETE", "PATCH"])
def keyed_by_query() -> Response:
    """Delete or touch the key given as ``?key=`` (any key, reserved names included)."""
    if "key" not in request.args:
        raise BadRequest("give the key in the path or as ?key=")
    return key_route(request.args["key"])


@bp.get("/<key:key>")
def read(key: str) -> Response:
    """Answer ``{key: value}`` with its ETag, 304 if ``If-None-Match`` has it, 404 if missing."""
    check_key(key)
    record = state().store.get(key)
    if record is None:
        return _missing(key)
    headers = record_headers(record)
    if request.if_none_match.contains_weak(headers["ETag"][1:-1]):
        return Response(status=304, headers=headers)
    return json_response({key: encode_value(record.value)}, 200, headers)


@bp.route("/<key:key>", methods=["DELETE", "PATCH"])
def key_route(key: str) -> Response:
    """DELETE removes the key (answering its old value); PATCH resets its TTL (a touch)."""
    check_key(key)
    store = state().store
    if request.method == "PATCH":
        if store.touch(key, ttl_param()):
            return Response(status=204)
        return _missing(key)
    old = conditional_delete(key)
    if old is None:
        return _missing(key)
    return json_response({key: encode_value(old.value)})


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        body = loads(data)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
    return body
