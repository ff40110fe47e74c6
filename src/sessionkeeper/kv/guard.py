"""Who may call the service: holders of its bearer token, or, without one, this machine only.

Any web page can make a browser send a "simple" request to 127.0.0.1 (a GET, or
a POST of ``text/plain`` or a form) with no CORS preflight, and DNS rebinding
lets it read the answers too. So a service with no token answers only requests
that come from loopback, are addressed to a loopback name (``Host``), and were
not sent by a page of another origin (``Origin``, ``Sec-Fetch-Site``); and it
takes writes only as ``application/json``, which no page can send cross-site
without a preflight that this service never grants.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache
from typing import Final, NamedTuple

from flask import request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from .state import PUBLIC_ENDPOINTS, KvState, state

__all__ = ["Caller", "authenticate", "check_access", "is_loopback"]

JSON: Final = "application/json"
#: ``Sec-Fetch-Site`` values of requests a page of another origin made the browser send.
FOREIGN_FETCH: Final = frozenset({"cross-site", "same-site"})
_NO_TOKEN: Final = "this service has no token, so it"  # noqa: S105 - text, not a secret
#: What a service without a token takes as the body of each writing endpoint: POST / writes
#: a JSON object; POST /clear-expired carries no body (or JSON).
_WRITE_TYPES: Final = {"kv.write": (JSON,), "kv.clear_expired": (JSON, "")}


@lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """Tell whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a host name may resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def host_name(host: str) -> str:
    """Return the name in a ``Host`` header, without its port (``[::1]:5100`` -> ``::1``)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class Caller(NamedTuple):
    """What the access rules look at, as plain values: the route, the peer and a few headers.

    ``host`` is the request's host as Werkzeug reads it (the default port dropped);
    header values are as they arrived, ``""`` (or None for ``Origin``) when absent.
    """

    method: str
    endpoint: str | None
    scheme: str
    host: str
    remote_addr: str
    mimetype: str
    authorization: str = ""
    fetch_site: str = ""
    origin: str | None = None


def authenticate() -> None:
    """Check the bearer token, or without one, that the request is this machine's own."""
    check_access(
        state(),
        Caller(
            method=request.method,
            endpoint=request.endpoint,
            scheme=request.scheme,
            host=request.host,
            remote_addr=request.remote_addr or "",
            mimetype=request.mimetype,
            authorization=request.headers.get("Authorization", ""),
            fetch_site=request.headers.get("Sec-Fetch-Site", ""),
            origin=request.headers.get("Origin"),
        ),
    )


def check_access(kv: KvState, caller: Caller) -> None:
    """Raise the 401 or 403 that ``caller`` earns from the service ``kv``, or return."""
    if kv.token is None:
        _local_only(kv.allow_remote, caller)
    elif caller.endpoint not in PUBLIC_ENDPOINTS:
        _bearer(kv.token, caller.authorization)


def _bearer(token: str, authorization: str) -> None:
    scheme, _, given = authorization.partition(" ")
    # Header text arrives latin-1 decoded; encoding it back yields the bytes that were sent.
    sent = given.strip().encode("latin-1", "replace")
    if scheme.lower() == "bearer" and hmac.compare_digest(sent, token.encode("utf-8")):
        return
    challenge = WWWAuthenticate("bearer", {"realm": "kv"})
    if given:
        challenge.parameters["error"] = "invalid_token"
    raise Unauthorized("a valid bearer token is required", www_authenticate=challenge)


def _local_only(allow_remote: bool, caller: Caller) -> None:
    if not allow_remote and not is_loopback(caller.remote_addr):
        raise Forbidden(
            f"{_NO_TOKEN} answers only requests from this machine; "
            "start it with a token (KV_TOKEN or --token-file) to serve other machines"
        )
    if not allow_remote and not is_loopback(host_name(caller.host)):
        raise Forbidden(
            f"{_NO_TOKEN} answers only requests addressed to localhost, 127.0.0.1 or [::1], "
            f"not to Host {caller.host!r} (a DNS rebinding page would use such a name)"
        )
    origin = caller.origin
    foreign = origin is not None and origin.lower() != f"{caller.scheme}://{caller.host}".lower()
    if caller.fetch_site.lower() in FOREIGN_FETCH or foreign:
        raise Forbidden(f"{_NO_TOKEN} refuses requests that a page of another site sent")
    expected = _WRITE_TYPES.get(caller.endpoint or "")
    if caller.method == "POST" and expected is not None and caller.mimetype not in expected:
        raise Forbidden(
            f"{_NO_TOKEN} takes writes only as {JSON} (a web page can send text/plain "
            "and forms to this machine without asking); start it with a token for forms"
        )
