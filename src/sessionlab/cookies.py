"""The cookies lab: set, read and delete a cookie, and remember the time of the last visit.

Cookie values come from the client, so they are shown escaped and a value that
does not parse is treated as absent. Cookies are HttpOnly and SameSite=Lax,
Secure over HTTPS, and scoped to the lab's mount point.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from flask import Flask, Response, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .common import create_lab_app
from .serve import lab_command

__all__ = ["COOKIE_NAME", "COOKIE_VALUE", "LAST_VISIT", "PORT", "create_app"]

PORT: Final = 5002
COOKIE_NAME: Final = "flask_tutorial"
COOKIE_VALUE: Final = "Hello World"
LAST_VISIT: Final = "last_visit"
KEEP_FOR: Final = timedelta(days=365)


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None
) -> Flask:
    """Build the cookies lab; ``config`` overrides the defaults and ``FLASK_*`` variables."""
    app = create_lab_app("cookies", __name__, config=config, instance_path=instance_path)
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/set_cookie", "set_cookie", set_cookie)
    app.add_url_rule("/read_cookie", "read_cookie", read_cookie)
    app.add_url_rule("/delete_cookie", "delete_cookie", delete_cookie)
    app.add_url_rule("/logout", "logout", logout)
    return app


def _page(title: str, message: str) -> Response:
    return make_response(render_template("cookies/page.html", title=title, message=message))


def _cookie_options() -> dict[str, Any]:
    return {
        "path": request.script_root or "/",
        "secure": request.is_secure,
        "httponly": True,
        "samesite": "Lax",
    }


def last_visit() -> datetime | None:
    """The time of the last visit from its cookie, or None if absent or unreadable."""
    value = request.cookies.get(LAST_VISIT, "")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def index() -> ResponseReturnValue:
    """Show the time of the last visit, and remember this one."""
    previous = last_visit()
    if previous is None:
        message = "Welcome! This is your first visit."
    else:
        message = f"Welcome back! Your last visit was {previous:%Y-%m-%d %H:%M:%S} UTC."
    response = _page("Cookies lab", message)
    now = datetime.now(UTC).replace(microsecond=0)
    response.set_cookie(LAST_VISIT, now.isoformat(), max_age=KEEP_FOR, **_cookie_options())
    return response


def set_cookie() -> ResponseReturnValue:
    """Set the tutorial's cookie."""
    response = _page("Cookie set", f"The cookie {COOKIE_NAME} is set to: {COOKIE_VALUE}")
    response.set_cookie(COOKIE_NAME, COOKIE_VALUE, max_age=KEEP_FOR, **_cookie_options())
    return response


def read_cookie() -> ResponseReturnValue:
    """Show the tutorial cookie's value, escaped by the template."""
    value = request.cookies.get(COOKIE_NAME)
    if value is None:
        where = url_for("set_cookie")
        return _page("No cookie", f"There is no cookie named {COOKIE_NAME}: visit {where}.")
    return _page("Cookie value", f"The value of the cookie {COOKIE_NAME} is: {value}")


def delete_cookie() -> ResponseReturnValue:
    """Delete the tutorial cookie."""
    response = _page("Cookie deleted", f"The cookie {COOKIE_NAME} is deleted.")
    response.delete_cookie(COOKIE_NAME, **_cookie_options())
    return response


def logout() -> ResponseReturnValue:
    """Forget the last visit."""
    response = _page("Logged out", "Successfully logged out")
    response.delete_cookie(LAST_VISIT, **_cookie_options())
    return response


if __name__ == "__main__":
    lab_command("sessionlab.cookies", PORT)()
