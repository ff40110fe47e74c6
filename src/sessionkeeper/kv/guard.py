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
from typing import Final

from flask import request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from .state import PUBLIC_ENDPOINTS, state

__all__ = ["authenticate", "is_loopback"]

JSON: Final = "application/json"
#: ``Sec-Fetch-Site`` values of requests a page of another origin made the browser send.
FOREIGN_FETCH: Final = frozenset({"cross-site", "same-site"})
_NO_TOKEN: Final = "this service has no token, so it"  # noqa: S105 - text, not a secret


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


def authenticate() -> None:
    """Check the bearer token, or without one, that the request is this machine's own."""
    kv = state()
    if kv.token is None:
        _local_only(kv.allow_remote)
    elif request.endpoint not in PUBLIC_ENDPOINTS:
        _bearer(kv.token)


def _bearer(token: str) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Header text arrives latin-1 decoded; encoding it back yields the bytes that were sent.
    sent = given.strip().encode("latin-1", "replace")
    if scheme.lower() == "bearer" and hmac.compare_digest(sent, token.encode("utf-8")):
        return
    challenge = WWWAuthenticate("bearer", {"realm": "kv"})
    if given:
        challenge.parameters["error"] = "invalid_token"
    raise Unauthorized("a valid bearer token is required", www_authenticate=challenge)


def _local_only(allow_remote: bool) -> None:
    if not allow_remote and not is_loopback(request.remote_addr or ""):
        raise Forbidden(
            f"{_NO_TOKEN} answers only requests from this machine; "
            "start it with a token (KV_TOKEN or --token-file) to serve other machines"
        )
    if not allow_remote and not is_loopback(host_name(request.host)):
        raise Forbidden(
            f"{_NO_TOKEN} answers only requests addressed to localhost, 127.0.0.1 or [::1], "
            f"not to Host {request.host!r} (a DNS rebinding page would use such a name)"
        )
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    origin = request.headers.get("Origin")
    own = f"{request.scheme}://{request.host}".lower()
    if fetch_site in FOREIGN_FETCH or (origin is not None and origin.lower() != own):
        raise Forbidden(f"{_NO_TOKEN} refuses requests that a page of another site sent")
    # POST / writes a JSON object; POST /clear-expired carries no body (or JSON).
    expected = {"kv.write": (JSON,), "kv.clear_expired": (JSON, "")}.get(request.endpoint or "")
    if request.method == "POST" and expected is not None and request.mimetype not in expected:
        raise Forbidden(
            f"{_NO_TOKEN} takes writes only as {JSON} (a web page can send text/plain "
            "and forms to this machine without asking); start it with a token for forms"
        )
