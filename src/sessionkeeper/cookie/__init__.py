"""Sessions kept in the cookie: Flask's signed cookie, or an AES-GCM encrypted one.

Both are Flask's own ``SecureCookieSessionInterface``; they change only the
serializer it asks for (:meth:`get_signing_serializer`), adding the size check,
the security log and, for :class:`EncryptedCookieSessionInterface`, encryption.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from .base import (
    CheckedSerializer,
    CookieDefaults,
    add_vary_cookie,
    check_cookie_settings,
    client_address,
    cookie_value,
    security_log,
)

__all__ = [
    "CookieDefaults",
    "SignedCookieSessionInterface",
    "add_vary_cookie",
    "check_cookie_settings",
    "client_address",
    "cookie_value",
    "security_log",
]


class SignedCookieSessionInterface(CookieDefaults, SecureCookieSessionInterface):
    """Flask's own signed cookie (readable by the client, not forgeable), checked for size."""

    def get_signing_serializer(self, app: Flask) -> CheckedSerializer | None:  # type: ignore[override]
        inner = super().get_signing_serializer(app)
        return None if inner is None else CheckedSerializer(inner, self, app)
