"""CSRF protection kept on the session: a random token per session, checked on every POST.

Forms render ``{{ csrf_field() }}`` (a hidden ``csrf_token`` input). Every
unsafe request must come from this site (judged by ``Sec-Fetch-Site`` and
``Origin``) and, unless its view is :func:`exempt`, carry the session's token.
Exempt views are those a lab's own command-line flow posts to without a token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Final, TypeVar

from flask import Flask, current_app, request, session
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

__all__ = ["FIELD", "SESSION_KEY", "exempt", "from_this_site", "init_app", "token"]

FIELD: Final = "csrf_token"
SESSION_KEY: Final = "_csrf"
_EXEMPT_ATTR: Final = "_sessionlab_csrf_exempt"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

F = TypeVar("F", bound=Callable[..., object])


def exempt(view: F) -> F:
    """Let ``view`` accept unsafe requests without a token (still only from this site)."""
    setattr(view, _EXEMPT_ATTR, True)
    return view


def token() -> str:
    """The session's CSRF token, created on first use."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


def field() -> Markup:
    """A hidden form input carrying the token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token())


def from_this_site() -> bool:
    """Whether the browser says this request was started by this site (or by no site at all).

    Command-line clients send neither header and are let through; browsers send
    ``Origin`` on every cross-site POST, and modern ones ``Sec-Fetch-Site`` too.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin.lower() == request.host_url.rstrip("/").lower()


def _check() -> None:
    if request.method in _SAFE_METHODS or request.endpoint is None:
        return
    if not from_this_site():
        raise BadRequest("Cross-site requests are refused.")
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, _EXEMPT_ATTR, False):
        return
    sent = request.form.get(FIELD, "")
    expected = session.get(SESSION_KEY)
    if (
        not sent
        or not isinstance(expected, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise BadRequest(
            "The form is missing a valid CSRF token (it may have expired). "
            "Reload the page and try again."
        )


def init_app(app: Flask) -> None:
    """Check every unsafe request of ``app`` and give its templates ``csrf_field()``."""
    app.before_request(_check)
    app.jinja_env.globals["csrf_field"] = field
    app.jinja_env.globals["csrf_token"] = token
