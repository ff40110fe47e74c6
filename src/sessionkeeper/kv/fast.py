"""The hot requests of the KV service answered in front of Flask: one key read, written or touched.

:class:`FastPath` answers ``GET`` and ``PATCH`` of one key (``/?key=K`` or
``/<key>``) and a ``POST /`` of one key (``?ttl=``/``KV-TTL``, one ``If-Match``
ETag or ``If-None-Match: *``) from the WSGI environ, with the rules of
:mod:`.guard`, the parsers of :mod:`.params` and the protocol's codec. Every
other request (another route, a header it does not handle, anything malformed
or refused) goes to the Flask app, which words the answer. Its answers are
Flask's, byte for byte (``tests/test_kv_fast.py`` compares them).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import unquote

from flask import Flask, Response
from werkzeug.sansio.utils import get_host

from ..errors import Conflict, StoreError
from ..wire.codec import decode_value, dumps, loads, value_json, version_to_etag, written_json
from .guard import JSON, Caller, check_access
from .params import check_key, direct_condition, not_at_version, parse_ttl
from .state import EXTENSION, KvState, error_response, record_headers, unavailable

__all__ = ["FastPath"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Answer = tuple[str, list[tuple[str, str]], bytes]

# Werkzeug's status lines, which the fast path's answers must repeat.
_OK: Final = "200 OK"
_TOUCHED: Final = "204 NO CONTENT"
_MISSING: Final = "404 NOT FOUND"
#: A touch answers no body, with the content type Flask gives an empty response.
_TOUCH_HEADERS: Final = (("Content-Type", "text/html; charset=utf-8"),)
#: The endpoints of ``/<key>``; a path that another route's prefix begins is not a key.
_KEYS: Final = frozenset({"kv.read", "kv.key_route"})


class _Unhandled(Exception):
    """The request is not one the fast path answers: the Flask app will."""


def _unquote(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text
    return unquote(text.replace("+", " "), errors="strict")  # as parse_qsl, but strict


def _query(text: str) -> dict[str, str]:
    """Read a plain query string as Werkzeug would: ASCII, ``name=value`` parts, no name twice."""
    if not text:
        return {}
    if not text.isascii():
        raise _Unhandled
    pairs: dict[str, str] = {}
    for part in text.split("&"):
        name, equals, value = part.partition("=")
        name = _unquote(name)
        if not equals or name in pairs:
            raise _Unhandled
        pairs[name] = _unquote(value)
    return pairs


def _keyed(key: str, value: str) -> bytes:
    """Encode ``{key: value}`` as ``dumps`` would, given the JSON of the value."""
    return f"{{{dumps(key)}:{value}}}".encode("ascii")


def _json_answer(status: str, body: bytes, headers: list[tuple[str, str]]) -> Answer:
    headers += [("Content-Type", JSON), ("Content-Length", str(len(body)))]
    return status, headers, body


def _missing(key: str) -> Answer:
    return _json_answer(_MISSING, dumps({key: None}).encode("ascii"), [])


class FastPath:
    """A WSGI app that answers the hot requests itself and hands the rest to ``app``'s.

    ``app`` is the service's Flask app (see :func:`.app.create_app`); the fast path
    wraps its ``wsgi_app`` as it is now.
    """

    def __init__(self, app: Flask) -> None:
        self.app: WSGIApp = app.wsgi_app
        self.kv: KvState = app.extensions[EXTENSION]
        rules = list(app.url_map.iter_rules())
        #: Paths that ``/<key>`` never means: other routes (``/healthz``, ``/static/...``).
        self.routes = frozenset(rule.rule for rule in rules if not rule.arguments)
        others = [rule.rule for rule in rules if rule.arguments and rule.endpoint not in _KEYS]
        self.prefixes = tuple(rule.partition("<")[0] for rule in others)
        self.handlers: dict[str, Callable[[Environ], Answer | Response]] = {
            "GET": self._read,
            "POST": self._write,
            "PATCH": self._touch,
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        handler = self.handlers.get(environ.get("REQUEST_METHOD", ""))
        if handler is None or environ.get("SCRIPT_NAME"):
            return self.app(environ, start_response)
        try:
            answer = handler(environ)
        except StoreError as exc:
            answer = unavailable(exc)
        except Exception:  # not handled here, refused, malformed, or a bug: Flask answers it
            return self.app(environ, start_response)
        if isinstance(answer, Response):
            return answer(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _target(self, environ: Environ) -> tuple[str, dict[str, str], bool]:
        """Return the key a request names, its query, and whether the key came as ``?key=``."""
        query = _query(environ.get("QUERY_STRING", ""))
        path: str = environ.get("PATH_INFO", "")
        if path == "/" and "key" in query:
            return query["key"], query, True
        keyed = path[:1] == "/" and path[1:2] not in ("", "/") and path not in self.routes
        if keyed and not path.startswith(self.prefixes):
            return path[1:].encode("latin-1").decode("utf-8"), query, False
        raise _Unhandled

    def _allow(self, environ: Environ, endpoint: str, mimetype: str = "") -> None:
        """Apply :func:`.guard.check_access` to the request, as Flask's ``before_request`` does."""
        scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
        if host is None:
            raise _Unhandled  # Werkzeug would fall back on SERVER_NAME
        caller = Caller(
            environ["REQUEST_METHOD"],
            endpoint,
            scheme,
            get_host(scheme, host),
            environ.get("REMOTE_ADDR") or "",
            mimetype,
            environ.get("HTTP_AUTHORIZATION", ""),
            environ.get("HTTP_SEC_FETCH_SITE", ""),
            environ.get("HTTP_ORIGIN"),
        )
        check_access(self.kv, caller)

    def _read(self, environ: Environ) -> Answer:
        key, _, by_query = self._target(environ)
        if "HTTP_IF_NONE_MATCH" in environ:
            raise _Unhandled  # a 304 is Flask's to answer
        self._allow(environ, "kv.list_or_read" if by_query else "kv.read")
        check_key(key, self.kv.limits.max_key_bytes)
        record = self.kv.store.get(key)
        if record is None:
            return _missing(key)
        body = _keyed(key, value_json(record.value))
        return _json_answer(_OK, body, list(record_headers(record).items()))

    def _touch(self, environ: Environ) -> Answer:
        key, query, by_query = self._target(environ)
        self._allow(environ, "kv.keyed_by_query" if by_query else "kv.key_route")
        check_key(key, self.kv.limits.max_key_bytes)
        ttl = parse_ttl(query.get("ttl"), environ.get("HTTP_KV_TTL"))
        if self.kv.store.touch(key, ttl):
            return _TOUCHED, list(_TOUCH_HEADERS), b""
        return _missing(key)

    def _write(self, environ: Environ) -> Answer | Response:
        limits = self.kv.limits
        size: str = environ.get("CONTENT_LENGTH", "")
        if (
            environ.get("PATH_INFO") != "/"
            or environ.get("CONTENT_TYPE") != JSON
            or "HTTP_TRANSFER_ENCODING" in environ
            or not (size.isascii() and size.isdigit() and int(size) <= limits.max_body_bytes)
        ):
            raise _Unhandled
        query = _query(environ.get("QUERY_STRING", ""))
        self._allow(environ, "kv.write", JSON)
        data = environ["wsgi.input"].read(int(size))
        environ["wsgi.input"] = io.BytesIO(data)  # should Flask answer, it reads the body again
        body = loads(data)
        if len(data) != int(size) or not isinstance(body, dict) or len(body) != 1:
            raise _Unhandled
        ((key, value),) = body.items()
        ttl = parse_ttl(query.get("ttl"), environ.get("HTTP_KV_TTL"))
        condition = direct_condition(
            environ.get("HTTP_IF_MATCH"), environ.get("HTTP_IF_NONE_MATCH")
        )
        if condition is False:
            raise _Unhandled  # checked against a read: Flask's to do
        check_key(key, limits.max_key_bytes)
        stored = decode_value(value)
        if len(stored) > limits.max_value_bytes:
            raise _Unhandled
        try:
            version = self.kv.store.set(key, stored, ttl=ttl, if_version=condition)
        except Conflict:
            return error_response(not_at_version(key))
        headers = [("ETag", version_to_etag(version))]
        return _json_answer(_OK, _keyed(key, written_json(value, stored)), headers)
