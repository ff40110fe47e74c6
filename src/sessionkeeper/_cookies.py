"""Cookie handling shared by every session interface: secure defaults and the size check."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask, Response, has_request_context, request
from flask.sessions import SessionInterface
from werkzeug.http import dump_cookie

from .errors import CookieTooLarge

#: Tampered, expired, unknown or undecodable cookies are reported here (never their values).
security_log = logging.getLogger("sessionkeeper.security")


def client_address() -> str:
    """The peer address of the current request, for security log lines."""
    return (request.remote_addr or "-") if has_request_context() else "-"


class CookieDefaults(SessionInterface):
    """Flask's cookie hooks with secure defaults: Secure whenever the request is HTTPS."""

    max_cookie_size = 4093

    def get_cookie_secure(self, app: Flask) -> bool:
        """Mark the cookie Secure when configured, or when this request came over HTTPS."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure
        )

    def set_session_cookie(
        self, app: Flask, response: Response, value: str, expires: datetime | None
    ) -> None:
        """Set the session cookie, refusing one that browsers would silently drop."""
        header = dump_cookie(
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
        if len(header) > self.max_cookie_size:
            raise CookieTooLarge(len(header), self.max_cookie_size)
        response.headers.add("Set-Cookie", header)
        response.vary.add("Cookie")

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
        response.vary.add("Cookie")
