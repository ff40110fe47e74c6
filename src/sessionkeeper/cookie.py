"""Sessions kept in the cookie: Flask's signed cookie, or an encrypted one.

Both share Flask's ``SecureCookieSession`` and its save rules; they differ only
in how the session dict becomes a cookie value (:meth:`encode`) and back
(:meth:`decode`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadData

from ._cookies import CookieDefaults, client_address, security_log

__all__ = ["CookieSessionInterface", "SignedCookieSessionInterface"]


class CookieSessionInterface(CookieDefaults, SecureCookieSessionInterface):
    """Flask's cookie session with secure defaults, logged rejections and a size check."""

    def encode(self, app: Flask, data: dict[str, Any]) -> str:
        """Turn the session data into a cookie value."""
        raise NotImplementedError

    def decode(self, app: Flask, value: str, max_age: int) -> dict[str, Any]:
        """Turn a cookie value back into session data; raise ``BadData`` if it cannot be trusted."""
        raise NotImplementedError

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            return self.session_class(self.decode(app, value, max_age))
        except BadData as exc:
            security_log.warning(
                "rejected session cookie from %s: %s", client_address(), type(exc).__name__
            )
            return self.session_class()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        if not session:
            if session.modified:
                self.delete_session_cookie(app, response)
            return
        if not self.should_set_cookie(app, session):
            return
        value = self.encode(app, dict(session))
        self.set_session_cookie(app, response, value, self.get_expiration_time(app, session))


class SignedCookieSessionInterface(CookieSessionInterface):
    """Flask's own signed cookie (readable by the client, not forgeable)."""

    def encode(self, app: Flask, data: dict[str, Any]) -> str:
        serializer = self.get_signing_serializer(app)
        assert serializer is not None  # the extension refuses to start without SECRET_KEY
        return serializer.dumps(data)

    def decode(self, app: Flask, value: str, max_age: int) -> dict[str, Any]:
        serializer = self.get_signing_serializer(app)
        assert serializer is not None
        data: dict[str, Any] = serializer.loads(value, max_age=max_age)
        return data
