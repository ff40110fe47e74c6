"""The one answer to a failed store or session save: a 503, as JSON or HTML to suit the client.

Clients get a fixed message; what failed (which can name hosts, files and
settings) goes to the ``sessionkeeper`` log only.
"""

from __future__ import annotations

import logging
from typing import Final

from flask import Response, request
from werkzeug.datastructures import Headers

from ..errors import SessionError
from .record import dumps

__all__ = ["fail_response", "unavailable_response"]

log = logging.getLogger("sessionkeeper")

STORE_DOWN: Final = "The session store is unavailable; please try again shortly."
NOT_SAVED: Final = "The session could not be saved; please try again shortly."


def unavailable_response(exc: Exception) -> Response:
    """A 503 answer for a failed store or save; the detail is logged, never sent."""
    log.error("session store failed: %s", exc)
    message = NOT_SAVED if isinstance(exc, SessionError) else STORE_DOWN
    headers = Headers({"Retry-After": "1", "Cache-Control": "no-store"})
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        body = (
            "<!doctype html><title>503 Service Unavailable</title>"
            f"<h1>Service Unavailable</h1><p>{message}</p>"
        )
        return Response(body, 503, headers, mimetype="text/html")
    body = dumps({"error": "session_unavailable", "message": message})
    return Response(body, 503, headers, mimetype="application/json")


def fail_response(response: Response, exc: Exception) -> None:
    """Make an already-built response the 503 for a failed save: nothing of the view's stays.

    Flask hands ``save_session`` the response to send, so it is emptied in
    place: the view's status, body and headers (``Location``, its cookies) go.
    """
    fresh = unavailable_response(exc)
    response.headers = fresh.headers
    response.status_code = fresh.status_code
    response.set_data(fresh.get_data())
    response.vary.add("Cookie")
