"""A small app with server-side sessions, for tests that run it in-process or as a process.

As a process: ``python session_app.py PORT`` with ``SESSION_STORE`` and ``SECRET_KEY``
in the environment; it serves on 127.0.0.1 until terminated.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask, request, session

from sessionkeeper import SessionKeeper


def create_app(**config: Any) -> Flask:
    """Build the app; ``config`` overrides (tests pass SESSION_STORE, timeouts...)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY"), SESSION_STORE=os.environ.get("SESSION_STORE")
    )
    app.config.update(config)
    SessionKeeper(app)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"  # never touches the session

    @app.post("/login")
    def login() -> str:
        session["user"] = request.form["user"]
        return "logged in"

    @app.get("/whoami")
    def whoami() -> str:
        return str(session.get("user", "anonymous"))

    @app.post("/logout")
    def logout() -> str:
        session.clear()
        return "logged out"

    return app


if __name__ == "__main__":
    from werkzeug.serving import make_server

    make_server("127.0.0.1", int(sys.argv[1]), create_app(), threaded=True).serve_forever()
