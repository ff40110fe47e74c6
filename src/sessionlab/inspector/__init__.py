"""The session inspector: a panel on every lab page showing what this request did to its session.

The panel can only be filled once the response is final: the library saves
the session (and leaves its :class:`sessionkeeper.Inspection` in the WSGI
environ, under :data:`sessionkeeper.server.inspect.ENVIRON_KEY`) after the page
was rendered. So :class:`Inspector` wraps the lab's WSGI app: it buffers HTML
answers, replaces the :data:`PLACEHOLDER` comment the base template renders
with the panel, and fixes ``Content-Length``. Other answers pass untouched.

A 503 HTML answer that is not one of the labs' pages is the library's answer
to a failed save (it replaces the response in place, after every hook of the
app): the inspector renders the labs' 503 page in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from flask import Flask
from werkzeug.datastructures import Headers

from sessionkeeper import Inspection, SessionKeeper
from sessionkeeper.server.inspect import ENVIRON_KEY

from ..errors import NOT_SAVED, unavailable_page
from .facts import Mode, Panel, describe

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PLACEHOLDER", "Inspector", "install", "mode_of"]

#: Where the base template wants the panel.
PLACEHOLDER: Final = b"<!-- sessionlab:inspector -->"
TEMPLATE: Final = "inspector.html"


def mode_of(app: Flask) -> Mode:
    """Say how ``app`` keeps its sessions: signed or encrypted cookie, or which store."""
    name = app.session_interface.get_cookie_name(app)
    store = SessionKeeper.state(app).store
    if store is not None:
        return Mode("server", name, type(store).__name__)
    return Mode("encrypted" if app.config.get("SESSION_COOKIE_ENCRYPT") else "signed", name)


class Inspector:
    """WSGI middleware putting the session panel into the HTML pages of ``app``."""

    def __init__(self, wsgi_app: WSGIApplication, app: Flask) -> None:
        self.wsgi_app, self.app = wsgi_app, app
        self.mode = mode_of(app)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started: list[tuple[str, list[tuple[str, str]], Any]] = []
        written: list[bytes] = []

        def catch(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started.append((status, headers, exc_info))
            return written.append

        body = self.wsgi_app(environ, catch)
        if not started or not _is_html(started[-1][1]) or environ["REQUEST_METHOD"] == "HEAD":
            return _passed(body, started, written, start_response)
        try:
            data = b"".join([*written, *body])
        finally:
            if hasattr(body, "close"):
                body.close()
        status, headers, exc_info = started[-1]
        if PLACEHOLDER not in data and status.startswith("503"):
            data = self.unavailable(environ)
        if PLACEHOLDER in data:
            data = data.replace(PLACEHOLDER, self.panel(environ, headers).encode(), 1)
        fixed = Headers(headers)
        fixed["Content-Length"] = str(len(data))
        fixed.setdefault("Cache-Control", "private, no-store")  # the panel is this visit's own
        start_response(status, fixed.to_wsgi_list(), exc_info)
        return [data]

    def panel(self, environ: WSGIEnvironment, headers: list[tuple[str, str]]) -> str:
        """Render the panel of one request (its own cookie and record only)."""
        found = environ.get(ENVIRON_KEY)
        panel: Panel = describe(
            self.mode,
            str(environ.get("HTTP_COOKIE", "")),
            headers,
            found if isinstance(found, Inspection) else None,
        )
        return self.app.jinja_env.get_template(TEMPLATE).render(panel=panel)

    def unavailable(self, environ: WSGIEnvironment) -> bytes:
        """Render the labs' 503 page for a save that failed after the view answered."""
        with self.app.request_context(environ):
            return unavailable_page(self.app, NOT_SAVED).encode()


def _is_html(headers: list[tuple[str, str]]) -> bool:
    kind = next((v for k, v in headers if k.lower() == "content-type"), "")
    return kind.split(";")[0].strip().lower() == "text/html"


def _passed(
    body: Iterable[bytes],
    started: list[tuple[str, list[tuple[str, str]], Any]],
    written: list[bytes],
    start_response: StartResponse,
) -> Iterable[bytes]:
    if started:
        start_response(*started[-1])
    if not written:
        return body
    return _chain(written, body)


def _chain(first: list[bytes], body: Iterable[bytes]) -> Iterator[bytes]:
    try:
        yield from first
        yield from body
    finally:
        if hasattr(body, "close"):
            body.close()


def install(app: Flask) -> None:
    """Wrap ``app``'s WSGI app in an :class:`Inspector` (the app sets ``SESSION_INSPECT``)."""
    app.wsgi_app = Inspector(app.wsgi_app, app)  # type: ignore[method-assign]
