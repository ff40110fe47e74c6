"""The one answer to a failed store or session save: a 503, as JSON or HTML to suit the client."""

from __future__ import annotations

import logging

from flask import Response, request
from markupsafe import escape

from ..errors import SessionError
from .record import dumps

__all__ = ["fail_response", "unavailable_response"]

log = logging.getLogger("sessionkeeper")


def unavailable_response(exc: Exception) -> tuple[str, int, dict[str, str]]:
    """A 503 answer for a failed store, as JSON or HTML to suit the client."""
    log.error("session store failed: %s", exc)
    message = "The session store is unavailable; please try again shortly."
    if isinstance(exc, SessionError):
        message = f"The session could not be saved: {exc}."
    headers = {"Retry-After": "1"}
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        headers["Content-Type"] = "text/html; charset=utf-8"
        body = (
            "<!doctype html><title>503 Service Unavailable</title>"
            f"<h1>Service Unavailable</h1><p>{escape(message)}</p>"
        )
        return body, 503, headers
    headers["Content-Type"] = "application/json"
    body = dumps({"error": "session_unavailable", "message": message})
    return body, 503, headers


def fail_response(response: Response, exc: Exception) -> None:
    """Turn an already-built response into the 503 for a failed save."""
    body, status, headers = unavailable_response(exc)
    response.set_data(body)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
