"""What every session interface shares: secure cookie defaults, the size check, the security log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from flask import Flask, Request, Response, has_request_context, request
from flask.sessions import SessionInterface
from itsdangerous import BadData, BadSignature
from werkzeug.http import dump_cookie

from ..errors import ConfigError, CookieTooLarge

__all__ = [
    "CheckedSerializer",
    "CookieDefaults",
    "add_vary_cookie",
    "check_cookie_settings",
    "client_address",
    "cookie_value",
    "security_log",
]

#: Tampered, expired, unknown or undecodable cookies are reported here (never their values).
security_log = logging.getLogger("sessionkeeper.security")

#: Any date: every ``Expires`` attribute has the same length.
_SOME_DATE: Final = datetime(2000, 1, 1, tzinfo=UTC)


def client_address() -> str:
    """The peer address of the current request, for security log lines."""
    return (request.remote_addr or "-") if has_request_context() else "-"


def cookie_value(request: Request, name: str) -> str | None:
    """The value of cookie ``name`` (the first one), or None; parses only what it needs.

    Werkzeug parses every cookie of the request into a MultiDict; a session
    needs one of them, so a plain value is cut out of the header directly.
    Quoted values, and requests whose cookies were already parsed, go through
    Werkzeug.
    """
    if "cookies" in request.__dict__:  # parsed already (a cached property)
        return request.cookies.get(name) or None
    for part in request.environ.get("HTTP_COOKIE", "").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if value.startswith('"'):
                return request.cookies.get(name) or None
            return value or None
    return None


def add_vary_cookie(response: Response) -> None:
    """Add ``Vary: Cookie``: the answer depends on the session (Flask CVE-2023-30861)."""
    if response.headers.getlist("Vary"):  # getlist: a missing header raises nothing
        response.vary.add("Cookie")
    else:
        response.headers.add("Vary", "Cookie")


class CookieDefaults(SessionInterface):
    """Flask's cookie hooks with secure defaults: Secure whenever the request is HTTPS."""

    max_cookie_size = 4093

    def get_cookie_secure(self, app: Flask) -> bool:
        """Mark the cookie Secure when configured, or when this request came over HTTPS."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure
        )

    def session_cookie(self, app: Flask, value: str, expires: datetime | None) -> str:
        """The ``Set-Cookie`` header for ``value``, with the attributes of every session cookie."""
        return dump_cookie(
            self.get_cookie_name(app),
            value,
            expires=expires,
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
            max_size=0,
        )

    def set_session_cookie(
        self, app: Flask, response: Response, value: str, expires: datetime | None
    ) -> None:
        """Set the session cookie, refusing one that browsers would silently drop."""
        header = self.session_cookie(app, value, expires)
        if len(header) > self.max_cookie_size:
            raise CookieTooLarge(len(header), self.max_cookie_size)
        response.headers.add("Set-Cookie", header)
        add_vary_cookie(response)

    def delete_session_cookie(self, app: Flask, response: Response) -> None:
        """Expire the session cookie with the same attributes it was set with."""
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )
        add_vary_cookie(response)


def check_cookie_settings(app: Flask, interface: CookieDefaults) -> None:
    """Fail at start, not at the first response, on cookie settings Werkzeug refuses."""
    try:
        interface.session_cookie(app, "probe", _SOME_DATE)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"the session cookie settings are invalid: {exc}; SESSION_COOKIE_SAMESITE must be "
            f"'Strict', 'Lax' or 'None', got {app.config.get('SESSION_COOKIE_SAMESITE')!r}"
        ) from exc


class Serializer(Protocol):
    """What Flask's cookie session asks of ``get_signing_serializer``."""

    def dumps(self, obj: Any) -> str: ...

    def loads(self, s: str, max_age: int | None = None) -> Any: ...


class CheckedSerializer:
    """A cookie serializer that refuses oversized cookies and logs rejected ones.

    Flask's cookie session turns the session into a value with ``dumps`` and
    back with ``loads``; wrapping that pair is all cookie mode changes of Flask.
    """

    def __init__(self, inner: Serializer, interface: CookieDefaults, app: Flask) -> None:
        self.inner, self.interface, self.app = inner, interface, app

    def dumps(self, obj: Any) -> str:
        value = self.inner.dumps(obj)
        # A permanent session (Flask keeps the flag in the data) carries an Expires attribute.
        expires = _SOME_DATE if isinstance(obj, dict) and obj.get("_permanent") else None
        size = len(self.interface.session_cookie(self.app, "", expires)) + len(value)
        limit = self.interface.max_cookie_size
        if size > limit:
            raise CookieTooLarge(size, limit)
        return value

    def loads(self, s: str, max_age: int | None = None) -> Any:
        try:
            return self.inner.loads(s, max_age=max_age)
        except BadData as exc:
            security_log.warning(
                "rejected session cookie from %s: %s", client_address(), type(exc).__name__
            )
            raise BadSignature("the session cookie cannot be trusted") from exc
