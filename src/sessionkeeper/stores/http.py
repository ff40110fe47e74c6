"""A store reached over HTTP: the KV service (``sessionkeeper kv serve``) as a Store.

Versions are the service's ETags; ``if_version`` travels as ``If-Match`` and
:data:`ABSENT` as ``If-None-Match: *``, so a 412 is a :class:`Conflict`. Values
travel as JSON (see :mod:`sessionkeeper.wire.codec`), so the service's dump of a
session shows it readably, and any bytes round-trip exactly.

The store speaks the protocol; a :class:`~sessionkeeper.wire.Transport` carries
it: pooled sockets by default, or any transport handed in (the service's WSGI
app in-process, for tests).
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, CorruptRecord, StoreError, StoreUnavailable
from ..wire.codec import (
    decode_value,
    dumps,
    etag_to_version,
    loads,
    query,
    request_headers,
    value_json,
    version_to_etag,
)
from ..wire.pool import SocketTransport
from ..wire.transport import DEFAULT_POOL, DEFAULT_TIMEOUT, Reply, Transport
from .base import ABSENT, DEFAULT_SCAN_LIMIT, Absent, Record, Store, Version, check_ttl
from .urls import redact

__all__ = ["HttpStore"]


class HttpStore(Store):
    """Keep records in the KV service at ``base_url``.

    Without ``transport`` the store builds a
    :class:`~sessionkeeper.wire.SocketTransport` to ``base_url`` (``timeout``
    bounds each request in seconds, ``pool`` idle connections are kept), owns it
    and closes it in :meth:`close`. A ``transport`` handed in carries every
    request instead (``base_url``, ``timeout`` and ``pool`` then go unused); it
    stays the caller's, who closes it after the store. ``token`` is the
    service's bearer token, sent over either.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: Transport | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        pool: int = DEFAULT_POOL,
    ) -> None:
        self._owned = transport is None
        # The service takes a bearer token, never URL credentials: the transport ignores user
        # information, so it is handed the redacted URL and its errors cannot show a password.
        shown = redact(base_url)
        self._transport = transport or SocketTransport(shown, timeout=timeout, pool=pool)
        self.url = self._transport.url or shown
        self._headers = request_headers(token)
        self._json_headers = {**self._headers, "Content-Type": "application/json"}

    @classmethod
    def from_url(
        cls, url: str, *, token: str | None = None, timeout: float | None = None, **_: object
    ) -> HttpStore:
        """Build from ``http://host:port`` (or ``https://``, with an optional base path)."""
        return cls(url, token=token, timeout=DEFAULT_TIMEOUT if timeout is None else timeout)

    def _call(
        self,
        method: str,
        target: str,
        key: str | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send a request (a JSON body as ``data``) and turn error answers into errors.

        A 404 passes only as the service's ``{key: null}`` for ``key``; any other
        404 means the URL does not lead to a KV service.
        """
        sent = self._headers if data is None else self._json_headers
        if headers:
            sent = {**sent, **headers}
        reply = self._transport.request(method, target, data, sent)
        if reply.status == 412:
            absent = headers is not None and "If-None-Match" in headers
            raise Conflict(key or "", "key exists") if absent else Conflict(key or "")
        if reply.status == 401:
            raise StoreError(
                f"the KV service at {self.url} refused the token: it is wrong or "
                "missing (set SESSION_KV_TOKEN to the service's token)"
            )
        if reply.status >= 500:
            raise StoreUnavailable(f"KV service {self.url}: {_message(reply)}")
        if reply.status == 404 and key is not None and _is_missing(reply, key):
            return reply
        if reply.status >= 400:
            raise StoreError(f"KV service {self.url} refused {method}: {_message(reply)}")
        return reply

    def get(self, key: str) -> Record | None:
        reply = self._call("GET", query(key=key), key)
        if reply.status == 404:
            return None
        try:
            value = decode_value(_json(reply)[key])
            version = etag_to_version(reply.headers["etag"])
            expires = reply.headers.get("kv-expires")
            return Record(value, version, None if expires is None else float(expires))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptRecord(f"KV service {self.url}: bad answer for {key!r}") from exc

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        check_ttl(ttl)
        headers = {}
        if if_version is ABSENT:
            headers["If-None-Match"] = "*"
        elif if_version is not None:
            headers["If-Match"] = version_to_etag(if_version)
        target = "/" if ttl is None else query(ttl=repr(float(ttl)))
        # The value's JSON is spliced in as it is: encoding it into a dict would encode it twice.
        data = f"{{{dumps(key)}:{value_json(bytes(value))}}}".encode("ascii")
        reply = self._call("POST", target, key, data, headers)
        if reply.status != 200 or "etag" not in reply.headers:
            raise StoreError(f"KV service {self.url}: unexpected answer {reply.status}")
        return etag_to_version(reply.headers["etag"])

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        headers = {} if if_version is None else {"If-Match": version_to_etag(if_version)}
        return self._call("DELETE", query(key=key), key, headers=headers).status == 200

    def touch(self, key: str, ttl: float | None) -> bool:
        check_ttl(ttl)
        target = query(key=key) if ttl is None else query(key=key, ttl=repr(float(ttl)))
        return self._call("PATCH", target, key).status == 204

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_SCAN_LIMIT
    ) -> tuple[list[str], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        params = {"prefix": prefix, "limit": str(limit)}
        if after is not None:
            params["after"] = after
        body = _json(self._call("GET", query(**params)))
        keys, cursor = body.get("keys"), body.get("next")
        if not isinstance(keys, list) or not (cursor is None or isinstance(cursor, str)):
            raise StoreError(f"KV service {self.url}: bad listing answer")
        return keys, cursor

    def clear_expired(self) -> int:
        """Ask the service to remove expired records (its store's own ``clear_expired``)."""
        reply = self._call("POST", "/clear-expired")
        cleared = _json(reply).get("cleared")
        if not isinstance(cleared, int):
            raise StoreError(f"KV service {self.url}: bad clear-expired answer")
        return cleared

    def close(self) -> None:
        """Close the transport if the store built it; one handed in stays open."""
        if self._owned:
            self._transport.close()


def _json(reply: Reply) -> dict[str, Any]:
    try:
        body = loads(reply.body)
    except ValueError as exc:
        raise StoreError(f"the KV service answered {reply.status} with no JSON") from exc
    if not isinstance(body, dict):
        raise StoreError(f"the KV service answered {reply.status} with a non-object")
    return body


def _is_missing(reply: Reply, key: str) -> bool:
    try:
        return _json(reply) == {key: None}
    except StoreError:
        return False


def _message(reply: Reply) -> str:
    try:
        return str(_json(reply).get("message", reply.status))
    except StoreError:
        return f"status {reply.status}"
