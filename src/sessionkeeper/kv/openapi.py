"""The OpenAPI 3.1 document of the KV service, written by hand to match ``views.py``."""

from __future__ import annotations

import copy
from typing import Any

from .openapi_parts import (
    COMPONENTS,
    ERROR,
    FORM,
    JSON,
    error,
    json_content,
    param,
    ref,
)
from .params import DEFAULT_PAGE, MAX_PAGE
from .state import MAX_POST_KEYS

__all__ = ["document"]

KEY_PATH = param("key", "path", "The key, URL-encoded; slashes allowed.", minLength=1)
KEY_QUERY = {
    **param("key", "query", "Any key, reserved names too.", minLength=1),
    "required": True,
}
LIMIT = {"type": "integer", "minimum": 1}
CONDITIONS = [ref("parameters", "IfMatch"), ref("parameters", "IfNoneMatch")]
TTL = [ref("parameters", "ttl"), ref("parameters", "KV-TTL")]
COMMON = {
    "400": ref("responses", "BadRequest"),
    "401": ref("responses", "Unauthorized"),
    "403": ref("responses", "Forbidden"),
    "503": ref("responses", "Unavailable"),
}
ONE_KEY = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "description": '{key: value}; bytes that are not canonical JSON show as {"$b64": ...}',
}
RECORD_HEADERS = {"ETag": ref("headers", "ETag"), "KV-Expires": ref("headers", "KV-Expires")}
FOUND = json_content("The key and its value.", ONE_KEY, headers=RECORD_HEADERS)
MISSING = json_content(
    "The key is missing: {key: null} (or no route: an error).", {"oneOf": [ONE_KEY, ERROR]}
)
TOO_LARGE = error("A key, value or body over its limit.")
PRECONDITION = error("If-Match or If-None-Match does not hold.")
NOT_MODIFIED = {"description": "If-None-Match names the current ETag."}
TOUCHED = {"description": "The key's expiry was reset (to none without a TTL)."}


def _key_operations(key: dict[str, Any]) -> dict[str, Any]:
    """The operations on one key, named by ``key`` (a path or a query parameter)."""
    one_key = {"404": MISSING, "413": TOO_LARGE, **COMMON}
    return {
        "get": {
            "summary": "Read a key",
            "parameters": [key, ref("parameters", "IfNoneMatch")],
            "responses": {"200": FOUND, "304": NOT_MODIFIED, **one_key},
        },
        "delete": {
            "summary": "Delete a key, answering its old value",
            "parameters": [key, *CONDITIONS],
            "responses": {
                "200": json_content("The key and its old value.", ONE_KEY),
                "412": PRECONDITION,
                **one_key,
            },
        },
        "patch": {
            "summary": "Reset a key's expiry without rewriting it (a touch)",
            "description": "An extension of the lab's API: no TTL removes the expiry.",
            "parameters": [key, *TTL],
            "responses": {"204": TOUCHED, **one_key},
        },
    }


LIST = {
    "summary": "List keys in order, or read the key given as ?key=",
    "parameters": [
        param("key", "query", "Read this key instead (the others are then ignored).", minLength=1),
        param("prefix", "query", "Only keys starting with this."),
        param("after", "query", "Only keys after this one (the previous page's next)."),
        param(
            "limit",
            "query",
            f"Page size (at most {MAX_PAGE}; {DEFAULT_PAGE} when not given); answers then "
            "have next. Without it, next appears only when there are more keys.",
            **LIMIT,
        ),
    ],
    "responses": {
        "200": json_content(
            "The keys (with next when limit or after is given, or more keys follow), "
            "or {key: value} for ?key=.",
            {
                "type": "object",
                "properties": {
                    "keys": {"type": "array", "items": {"type": "string"}},
                    "next": {"type": ["string", "null"]},
                },
            },
            headers=RECORD_HEADERS,
        ),
        "304": NOT_MODIFIED,
        "404": MISSING,
        "413": TOO_LARGE,
        **COMMON,
    },
}
WRITE = {
    "summary": "Set every key of the object to its value",
    "description": f"At most {MAX_POST_KEYS} keys per request (413 beyond; the limit is "
    "configurable). If-Match / If-None-Match need exactly one key. A value "
    '{"$b64": "<base64>"} stores those bytes. Form fields are taken only by a service '
    "with a token.",
    "parameters": [*TTL, *CONDITIONS],
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"type": "object"}},
            FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
    },
    "responses": {
        "200": json_content(
            "What was stored.", {"type": "object"}, headers={"ETag": ref("headers", "ETag")}
        ),
        "412": PRECONDITION,
        "413": TOO_LARGE,
        **COMMON,
    },
}
PUBLIC: dict[str, Any] = {"security": []}
HEALTH = {
    **PUBLIC,
    "summary": "Health: 200 while the store answers",
    "responses": {
        "200": json_content("Healthy.", {"type": "object"}),
        **{code: COMMON[code] for code in ("403", "503")},
    },
}
SCHEMA = {
    **PUBLIC,
    "summary": "This document",
    "responses": {"200": json_content("OpenAPI.", {}), "403": COMMON["403"]},
}
CLEARED = {"type": "object", "properties": {"cleared": {"type": "integer"}}}
CLEAR = {
    "summary": "Remove expired records now (the store's clear_expired)",
    "responses": {
        "200": json_content("How many were removed.", CLEARED),
        **{code: COMMON[code] for code in ("401", "403", "503")},
    },
}


def document() -> dict[str, Any]:
    """Return the OpenAPI document (a fresh dict: callers may change it)."""
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "SessionKeeper KV service",
            "version": "1",
            "description": "The counter lab's key-value API: JSON values under string keys, "
            "with TTLs, versions (ETags) and a bearer token. GET /healthz, GET /openapi.json "
            "and POST /clear-expired are routes, so keys named healthz or openapi.json are "
            "read with GET /?key=<key>; every key is reachable with ?key= on /.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/": {
                "get": LIST,
                "post": WRITE,
                "delete": _key_operations(KEY_QUERY)["delete"],
                "patch": _key_operations(KEY_QUERY)["patch"],
            },
            "/{key}": _key_operations(KEY_PATH),
            "/healthz": {"get": HEALTH},
            "/openapi.json": {"get": SCHEMA},
            "/clear-expired": {"post": CLEAR},
        },
        "components": COMPONENTS,
    }
    return copy.deepcopy(doc)
