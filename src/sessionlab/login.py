"""The login lab (port 2224): log in with a name kept in the session, log out again.

The lab's cURL flow works as it did: ``curl -L -d username=Homer -c jar
http://127.0.0.1:2224/login`` then ``curl -b jar http://127.0.0.1:2224/``.
That POST carries no CSRF token, so it is guarded by refusing cross-site
requests instead. Logging in moves the session to a new id; logging out
destroys it on the server. Names may not hold control characters: a NUL, a line
break or a text-direction override would garble the page (U+202E shows the
rest of the line reversed).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from flask import Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from . import csrf
from .common import create_lab_app, destroy_session, regenerate_session
from .serve import lab_command

__all__ = ["PORT", "create_app"]

PORT: Final = 2224
MAX_NAME_LENGTH: Final = 64
#: Invisible characters that reorder text (bidi embeddings, overrides, isolates, marks).
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
CONTROL_MESSAGE: Final = (
    "A name cannot contain control characters (such as NUL, tab, line breaks "
    "or text-direction marks)."
)


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None
) -> Flask:
    """Build the login lab; ``config`` overrides the defaults and ``FLASK_*`` variables."""
    app = create_lab_app("login", __name__, config=config, instance_path=instance_path)
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", logout)
    return app


def index() -> ResponseReturnValue:
    """Say who is logged in, with a link to log out, or offer to log in."""
    username = session.get("username")
    return render_template(
        "login/index.html", username=username if isinstance(username, str) else None
    )


@csrf.exempt
def login() -> ResponseReturnValue:
    """Show the form; on POST, log in under a new session id and go back to the start."""
    if request.method == "GET":
        return render_template("login/form.html")
    sent = request.form.get("username", "")
    if any(_is_control(char) for char in sent):
        value = "".join(char for char in sent if not _is_control(char))[:MAX_NAME_LENGTH]
        return render_template("login/form.html", message=CONTROL_MESSAGE, value=value), 400
    name = sent.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        message = f"Please enter a name of 1 to {MAX_NAME_LENGTH} characters."
        return render_template("login/form.html", message=message, value=name), 400
    regenerate_session()
    session["username"] = name
    return redirect(url_for("index"), 303)


def _is_control(char: str) -> bool:
    # Zl and Zp are line breaks too (U+2028, U+2029).
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


def logout() -> ResponseReturnValue:
    """Destroy the session and go back to the start."""
    destroy_session()
    return redirect(url_for("index"))


if __name__ == "__main__":
    lab_command("sessionlab.login", PORT)()
