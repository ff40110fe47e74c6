"""The demo site as one WSGI app: every lab under its own prefix, an index, the live sessions.

Each lab keeps its sessions in the key-value service under its own key prefix
and cookie (name and path), so the labs never read each other's sessions.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from sessionkeeper import SessionInfo, SessionKeeper

from ..common import TEMPLATES, instance_secret_key

__all__ = ["LABS", "Lab", "create_site"]

SESSIONS_PER_LAB: Final = 50
#: Session keys not shown on the live sessions page: the CSRF token older versions kept there.
#: A session holding nothing else is not listed at all: it carries no real data.
HIDDEN_KEYS: Final = frozenset({"_csrf"})


@dataclass(frozen=True, slots=True)
class Lab:
    """A lab as the site mounts it."""

    name: str
    module: str
    prefix: str
    title: str
    summary: str


LABS: Final = (
    Lab("paywall", "sessionlab.paywall", "/paywall", "Paywall", "Three free articles a session."),
    Lab("login", "sessionlab.login", "/login", "Login", "Log in and out; a new id at login."),
    Lab("quest", "sessionlab.quest", "/quest", "Quest", "A text adventure kept in the session."),
    Lab(
        "mailing_list",
        "sessionlab.mailing_list",
        "/mailing-list",
        "Mailing list",
        "Sign up, unregister, an admin page.",
    ),
    Lab("counter", "sessionlab.counter", "/counter", "Counter", "A count per session; reset."),
    Lab("cookies", "sessionlab.cookies", "/cookies", "Cookies", "Set, read, delete a cookie."),
)


def create_site(
    kv_url: str, instance_path: str, admin_password: str | None = None
) -> DispatcherMiddleware:
    """Mount every lab, sessions in the KV service at ``kv_url``, on one WSGI app."""
    apps: dict[str, Flask] = {}
    for lab in LABS:
        config: dict[str, Any] = {
            "SESSION_STORE": kv_url,
            "SESSION_KEY_PREFIX": f"session:{lab.name}:",
            "SESSION_COOKIE_NAME": f"{lab.name}_session",
            "SESSION_COOKIE_PATH": lab.prefix,
        }
        if lab.name == "mailing_list" and admin_password:
            config["ADMIN_PASSWORD"] = admin_password
        module = importlib.import_module(lab.module)
        apps[lab.name] = module.create_app(config, instance_path=Path(instance_path, lab.name))
    index = _index_app(apps, instance_path)
    return DispatcherMiddleware(index, {lab.prefix: apps[lab.name] for lab in LABS})


def _index_app(apps: dict[str, Flask], instance_path: str) -> Flask:
    app = Flask(__name__, instance_path=os.path.abspath(instance_path), static_folder=None)
    app.template_folder = TEMPLATES
    app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    app.add_template_filter(_timestamp, "timestamp")

    @app.get("/")
    def index() -> ResponseReturnValue:
        return render_template("demo/index.html", labs=LABS)

    @app.get("/sessions")
    def sessions() -> ResponseReturnValue:
        listing = {lab.title: _live_sessions(apps[lab.name]) for lab in LABS}
        return render_template("demo/sessions.html", listing=listing)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"status": "ok"}

    @app.errorhandler(HTTPException)
    def error(exc: HTTPException) -> ResponseReturnValue:
        code = exc.code or 500
        return render_template("error.html", error=exc, code=code), code

    return app


def _timestamp(seconds: float) -> str:
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M:%S} UTC"


def _live_sessions(app: Flask) -> list[tuple[SessionInfo, str]]:
    admin = SessionKeeper.state(app).admin
    if admin is None:
        return []
    ids, _ = admin.ids(limit=SESSIONS_PER_LAB)
    found = []
    for id_hash in ids:
        info = admin.info(id_hash)
        if info is not None and not info.data.keys() <= HIDDEN_KEYS:
            shown = {k: "(hidden)" if k in HIDDEN_KEYS else v for k, v in info.data.items()}
            found.append((info, json.dumps(shown, default=str, ensure_ascii=False)))
    return found
