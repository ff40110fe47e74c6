"""The reusable parts of the KV service's OpenAPI document: builders and components."""

from __future__ import annotations

from typing import Any

from .params import MAX_TTL

__all__ = [
    "COMPONENTS",
    "ERROR",
    "FORM",
    "JSON",
    "TTL_SCHEMA",
    "error",
    "json_content",
    "param",
    "ref",
]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ERROR = {"$ref": "#/components/schemas/Error"}


def json_content(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Describe a JSON answer with ``schema``."""
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def error(description: str, **extra: Any) -> dict[str, Any]:
    """Describe an error answer (the Error schema)."""
    return json_content(description, ERROR, **extra)


def param(name: str, where: str, description: str, **schema: Any) -> dict[str, Any]:
    """Describe a parameter (a string unless ``schema`` says more)."""
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": "string", **schema},
    }


def ref(kind: str, name: str) -> dict[str, str]:
    """Point at a component."""
    return {"$ref": f"#/components/{kind}/{name}"}


TTL_SCHEMA = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TTL}
COMPONENTS = {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error", "message", "status"],
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "status": {"type": "integer"},
            },
        }
    },
    "parameters": {
        "ttl": param("ttl", "query", "Seconds to live (fractions allowed).", **TTL_SCHEMA),
        "KV-TTL": param("KV-TTL", "header", "Seconds to live, instead of ?ttl=.", **TTL_SCHEMA),
        "IfMatch": param("If-Match", "header", "Write only at this ETag (412 otherwise)."),
        "IfNoneMatch": param("If-None-Match", "header", "*: write only if absent; GET: 304."),
    },
    "headers": {
        "ETag": {"description": "The value's version.", "schema": {"type": "string"}},
        "KV-Expires": {"description": "Expiry, epoch seconds.", "schema": {"type": "string"}},
    },
    "responses": {
        "BadRequest": error("Malformed JSON, a body that is not an object, a bad parameter."),
        "Unauthorized": error(
            "The bearer token is missing or wrong.",
            headers={"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        ),
        "Forbidden": error(
            "Without a token: not from this machine, another site's page, or not JSON."
        ),
        "Unavailable": error("The store failed (a fixed message; the detail is logged)."),
    },
}
