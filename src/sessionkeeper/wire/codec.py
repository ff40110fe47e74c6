"""The KV protocol itself: how stored bytes travel as JSON, and ETags as store versions.

A store keeps bytes. The service keeps each key's value as its compact JSON
encoding, so what a client POSTs is what it reads back and what a dump shows.
Bytes that are not exactly that canonical encoding (binary data, JSON with other
spacing) travel as ``{"$b64": "<base64>"}``, so any bytes round-trip exactly.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache, partial
from typing import Any, Final
from urllib.parse import quote

__all__ = [
    "TAG",
    "decode_value",
    "encode_value",
    "etag_to_version",
    "query",
    "request_headers",
    "value_json",
    "version_to_etag",
    "written_json",
]

#: The one key of the object that carries bytes which are not canonical JSON.
TAG: Final = "$b64"

_SAFE_VERSION = re.compile(r"[0-9A-Za-z._:-]+")
# Keys come back (a session is read, then written): each is percent-encoded once.
_quoted = lru_cache(maxsize=4096)(partial(quote, safe=""))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads and json.dumps build a new decoder or encoder per call when given options.
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parse strict JSON: NaN and Infinity are refused, as RFC 8259 does.

    Bytes and text are read as :func:`json.loads` reads them (bytes in UTF-8, -16
    or -32; a byte order mark only on bytes).
    """
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def dumps(value: Any) -> str:
    """Encode ``value`` as compact, ASCII-only JSON (the canonical form)."""
    return _ENCODER.encode(value)


def _is_tagged(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and TAG in value


def _canonical(data: bytes) -> tuple[bool, Any]:
    """Tell whether ``data`` is the canonical JSON of an untagged value, and that value."""
    try:
        text = data.decode("utf-8")
        value = loads(text)
        return dumps(value) == text and not _is_tagged(value), value
    except ValueError:  # not UTF-8, not JSON, a float out of range or an int too long
        return False, None


def _tag(data: bytes) -> dict[str, str]:
    return {TAG: base64.b64encode(data).decode("ascii")}


def encode_value(data: bytes) -> Any:
    """Return the JSON value that shows ``data``: the value itself if canonical, else a tag."""
    canonical, value = _canonical(data)
    return value if canonical else _tag(data)


def value_json(data: bytes) -> str:
    """Return ``dumps(encode_value(data))``, the JSON that shows ``data``, encoding it once."""
    canonical, _ = _canonical(data)
    return data.decode("ascii") if canonical else dumps(_tag(data))


def written_json(value: Any, data: bytes) -> str:
    """Return the JSON that shows ``data``, the bytes :func:`decode_value` made of ``value``.

    An untagged value stands for its own canonical encoding, which ``data`` is.
    """
    return value_json(data) if _is_tagged(value) else data.decode("ascii")


def decode_value(value: Any) -> bytes:
    """Return the bytes a JSON value stands for; the inverse of :func:`encode_value`.

    Raise ValueError for a malformed tag or a value JSON cannot encode.
    """
    if _is_tagged(value):
        encoded = value[TAG]
        if not isinstance(encoded, str):
            raise ValueError(f"{TAG} must be a base64 string")
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"{TAG} is not valid base64: {exc}") from exc
    return dumps(value).encode("ascii")


def version_to_etag(version: str) -> str:
    """Quote a store version as a strong ETag; versions with unusual characters are encoded."""
    if _SAFE_VERSION.fullmatch(version):
        return f'"{version}"'
    encoded = base64.urlsafe_b64encode(version.encode("utf-8")).decode("ascii")
    return f'"~{encoded}"'


def etag_to_version(etag: str) -> str:
    """Return the store version a strong ETag (quoted or not) stands for."""
    tag = etag.strip()
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if tag.startswith("~"):
        try:
            return base64.urlsafe_b64decode(tag[1:]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return tag
    return tag


def query(**params: str) -> str:
    """Return the target ``/?name=value&...``, each value percent-encoded (``/`` and ``+`` too)."""
    return "/?" + "&".join(f"{name}={_quoted(value)}" for name, value in params.items())


def request_headers(token: str | None) -> dict[str, str]:
    """Return the headers every request to the service carries: JSON wanted, the bearer token."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
