"""CSRF protection that stores nothing: a signed double-submit token, checked on every POST.

Forms render ``{{ csrf_field() }}`` (a hidden ``csrf_token`` input). The token
is an HMAC, under the app's ``SECRET_KEY``, of a random nonce kept in a small
cookie of its own (the session cookie's name plus ``_csrf``: HttpOnly,
SameSite=Lax, Secure over HTTPS, the session cookie's path and domain). A page
with a form therefore writes nothing into the session, and an anonymous visitor
leaves no session record behind (Django's CVE-2015-5143 was the opposite). A
POST must send back both the field and the cookie; another site can read
neither, and cannot compute the one from the other without the key.

Every unsafe request must also come from this site, judged by ``Sec-Fetch-Site``
and ``Origin``. Behind a proxy that terminates TLS the app sees ``http://``
while browsers send ``Origin: https://…``: either let the app see the original
scheme and host (``SESSIONLAB_PROXY_FIX = 1``, which applies Werkzeug's
``ProxyFix`` and also makes the cookies Secure), or list the public origins in
``SESSIONLAB_TRUSTED_ORIGINS`` (``["https://labs.example.org"]``).

:func:`exempt` views accept a POST without a token (a lab's own command-line
flow posts to them); :func:`renew` gives the browser a new nonce at login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

__all__ = [
    "FIELD",
    "SESSION_KEY",
    "browser_key",
    "cookie_name",
    "exempt",
    "from_this_site",
    "init_app",
    "renew",
    "token",
]

FIELD: Final = "csrf_token"
#: Where earlier versions kept the token, in the session; dropped at login.
SESSION_KEY: Final = "_csrf"
TRUSTED_ORIGINS: Final = "SESSIONLAB_TRUSTED_ORIGINS"
FORM_REFUSED: Final = (
    "The form is missing a valid CSRF token (it may have expired). Reload the page and "
    "try again. From the command line, GET the form first and send its csrf_token field "
    "and the cookie back (curl -c jar URL, then curl -b jar -d csrf_token=... URL)."
)
_EXEMPT_ATTR: Final = "_sessionlab_csrf_exempt"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_NONCE: Final = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_NEW_NONCE: Final = "_sessionlab_csrf_new"
_RENDERED: Final = "_sessionlab_csrf_rendered"

F = TypeVar("F", bound=Callable[..., object])


def exempt(view: F) -> F:
    """Let ``view`` accept unsafe requests without a token (still only from this site)."""
    setattr(view, _EXEMPT_ATTR, True)
    return view


def cookie_name(app: Flask) -> str:
    """Name the cookie that carries the nonce: the session cookie's name plus ``_csrf``."""
    return f"{app.session_interface.get_cookie_name(app)}_csrf"


def _sent_nonce() -> str | None:
    value = request.cookies.get(cookie_name(current_app))
    return value if value is not None and _NONCE.fullmatch(value) else None


def _nonce() -> str:
    fresh: str | None = g.get(_NEW_NONCE)
    if fresh is not None:
        return fresh
    sent = _sent_nonce()
    if sent is not None:
        return sent
    return renew()


def renew() -> str:
    """Give this browser a new nonce (sent with the response), so older tokens stop working."""
    fresh = secrets.token_urlsafe(32)
    setattr(g, _NEW_NONCE, fresh)
    return fresh


def _sign(key: str | bytes, nonce: str) -> str:
    raw = key.encode() if isinstance(key, str) else key
    digest = hmac.digest(raw, b"sessionlab.csrf\0" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token() -> str:
    """Return this browser's CSRF token, starting a nonce cookie if it has none."""
    setattr(g, _RENDERED, True)
    return _sign(current_app.config["SECRET_KEY"], _nonce())


def field() -> Markup:
    """Return a hidden form input carrying the token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token())


def browser_key() -> str | None:
    """Return an opaque name of this browser (a hash of its nonce), or None without one."""
    nonce = _sent_nonce()
    return None if nonce is None else hashlib.sha256(nonce.encode()).hexdigest()[:32]


def _trusted_origins(value: object) -> set[str]:
    items: Iterable[object] = ()
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, Iterable):
        items = value
    return {str(item).rstrip("/").lower() for item in items}


def from_this_site() -> bool:
    """Tell whether the browser says this request was started by this site (or by no site).

    Command-line clients send neither header and are let through; browsers send
    ``Origin`` on every cross-site POST, and modern ones ``Sec-Fetch-Site`` too.
    This site is the request's own origin and any of ``SESSIONLAB_TRUSTED_ORIGINS``.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    own = request.host_url.rstrip("/").lower()
    return origin == own or origin in _trusted_origins(current_app.config.get(TRUSTED_ORIGINS))


def _valid(sent: str) -> bool:
    nonce = _sent_nonce()
    if not sent or nonce is None:
        return False
    keys = [
        current_app.config["SECRET_KEY"],
        *(current_app.config.get("SECRET_KEY_FALLBACKS") or ()),
    ]
    return any(hmac.compare_digest(sent.encode(), _sign(key, nonce).encode()) for key in keys)


def _check() -> None:
    if request.method in _SAFE_METHODS or request.endpoint is None:
        return
    if not from_this_site():
        raise BadRequest("Cross-site requests are refused.")
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, _EXEMPT_ATTR, False):
        return
    if not _valid(request.form.get(FIELD, "")):
        raise BadRequest(FORM_REFUSED)


def _send_nonce(response: Response) -> Response:
    app = current_app
    if g.get(_RENDERED):
        response.vary.add("Cookie")  # the page holds this browser's token
    fresh: str | None = g.get(_NEW_NONCE)
    if fresh is not None:
        interface = app.session_interface
        response.set_cookie(
            cookie_name(app),
            fresh,
            path=interface.get_cookie_path(app),
            domain=interface.get_cookie_domain(app),
            secure=request.is_secure or interface.get_cookie_secure(app),
            httponly=True,
            samesite="Lax",
        )
    return response


def init_app(app: Flask) -> None:
    """Check every unsafe request of ``app`` and give its templates ``csrf_field()``."""
    app.before_request(_check)
    app.after_request(_send_nonce)
    app.jinja_env.globals["csrf_field"] = field
    app.jinja_env.globals["csrf_token"] = token
