"""The labs' error pages: HTML for browsers, JSON for API clients, a 503 with a hint.

Every lab answers errors with ``error.html`` (styled like its other pages) or,
when the client asks for JSON, a small JSON object. ``SESSIONLAB_JSON_ERRORS``
picks the answer when the client states no preference: False (the default)
for HTML, True for an API (the paywall) that still shows a browser a page.

A failing session store (:class:`sessionkeeper.StoreError`, or the session
layer giving up, :class:`sessionkeeper.SessionError`) answers 503 with
``Retry-After: 1``; the page names the kind of store and what usually brings
it back, never its address. JSON clients get the library's own 503 answer.
"""

from __future__ import annotations

import logging
from typing import Final

from flask import Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from sessionkeeper import SessionError, SessionKeeper, StoreError
from sessionkeeper.server.unavailable import unavailable_response

__all__ = ["init_app", "store_hint", "unavailable_page", "wants_json"]

log = logging.getLogger("sessionlab")

STORE_DOWN: Final = "The session store is unavailable; please try again shortly."
NOT_SAVED: Final = "The session could not be saved; please try again shortly."
#: What usually brings a store back, by the store's class name.
HINTS: Final = {
    "HttpStore": Markup(
        "The sessions live in the key-value service: is it running? "
        "Start it with <code>sessionkeeper kv serve</code>."
    ),
    "SqliteStore": Markup(
        "The sessions live in a SQLite file in the instance folder: "
        "check that the folder exists and is writable."
    ),
    "RedisStore": Markup("The sessions live in Redis: is redis-server running and reachable?"),
    "MemcachedStore": Markup("The sessions live in Memcached: is memcached running and reachable?"),
}


def wants_json() -> bool:
    """Tell whether to answer this request's error as JSON rather than as a page."""
    if current_app.config["SESSIONLAB_JSON_ERRORS"]:
        best = request.accept_mimetypes.best_match(["application/json", "text/html"])
        return best != "text/html"
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def store_hint(app: Flask) -> Markup:
    """Name the app's kind of session store and say what usually brings it back."""
    store = SessionKeeper.state(app).store
    if store is None:
        return Markup("The sessions live in the cookie; the server could not handle this one.")
    kind = type(store).__name__
    found = HINTS.get(kind)
    if found is not None:
        return found
    return Markup("The sessions live in a {}: is it running and reachable?").format(kind)


def unavailable_page(app: Flask, message: str) -> str:
    """Render the labs' 503 page with ``message`` and the store's hint (in a request context)."""
    error = ServiceUnavailable(message)
    return render_template("error.html", error=error, code=503, hint=store_hint(app))


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    # Keep the error's own headers: Allow on a 405, Retry-After on a 429.
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if wants_json():
        return jsonify(error=exc.name, message=exc.description, status=code), code, headers
    return render_template("error.html", error=exc, code=code), code, headers


def _store_error(exc: StoreError | SessionError) -> ResponseReturnValue:
    if wants_json():
        return unavailable_response(exc)  # logs the detail itself
    log.error("session store failed: %s", exc)
    message = NOT_SAVED if isinstance(exc, SessionError) else STORE_DOWN
    headers = {"Retry-After": "1", "Cache-Control": "no-store"}
    return unavailable_page(current_app, message), 503, headers


def init_app(app: Flask) -> None:
    """Answer ``app``'s HTTP errors and store failures with the labs' pages (or JSON)."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _http_error)
    # Replaces SessionKeeper's handlers (registered first) for the same classes.
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(SessionError, _store_error)
