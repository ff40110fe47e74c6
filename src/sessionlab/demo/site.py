"""The demo site as one WSGI app: every lab under its own prefix, an index, the live sessions.

Each lab keeps its sessions in the key-value service under its own key prefix
and cookie (name and path), so the labs never read each other's sessions; the
counter runs twice, at ``/counter`` on the service and at ``/counter-cookie`` in
a signed cookie, so the two lessons can be seen side by side. Every lab page
links back to the index (``SESSIONLAB_HOME``).

The site also serves the built documentation at ``/docs/``: the static files of
``docs_path`` (``docs/_build/html`` in the working directory by default, where
``make docs`` builds it in a checkout), looked up on each request, so a build
made while the site runs shows at once; until then ``/docs/`` says how to build it.

The live sessions page shows what every visitor's session holds (an e-mail
address, a user name), so it is behind the admin password (HTTP Basic, any user
name): the page exists to show the data, and only who started the demo knows
the password. Secrets come as arguments or from the environment
(``SESSIONLAB_ADMIN_PASSWORD``, ``SESSION_KV_TOKEN``), never from a command line.
"""

from __future__ import annotations

import importlib
import json
import os
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from flask import Flask, redirect, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, HTTPException, NotFound, Unauthorized
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.security import check_password_hash, generate_password_hash, safe_join

from sessionkeeper import SessionInfo, SessionKeeper

from ..common import TEMPLATES, instance_secret_key

__all__ = ["ADMIN_PASSWORD_ENVVAR", "DOCS_PATH", "KV_TOKEN_ENVVAR", "LABS", "Lab", "create_site"]

SESSIONS_PER_LAB: Final = 50
#: The environment variables :func:`create_site` reads the secrets from when not given them.
ADMIN_PASSWORD_ENVVAR: Final = "SESSIONLAB_ADMIN_PASSWORD"  # noqa: S105 - a variable's name
KV_TOKEN_ENVVAR: Final = "SESSION_KV_TOKEN"  # noqa: S105 - a variable's name
#: Where ``make docs`` builds the documentation, relative to the root of a checkout.
DOCS_PATH: Final = Path("docs", "_build", "html")
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
    cookie: bool = False
    """Keep the sessions in a signed cookie instead of the key-value service."""


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
    Lab(
        "counter",
        "sessionlab.counter",
        "/counter",
        "Counter (server store)",
        "A count per session, kept in the key-value service: the cookie stays the same.",
    ),
    Lab(
        "counter_cookie",
        "sessionlab.counter",
        "/counter-cookie",
        "Counter (signed cookie)",
        "The same counter kept in the cookie: a new Set-Cookie on every visit.",
        cookie=True,
    ),
    Lab("cookies", "sessionlab.cookies", "/cookies", "Cookies", "Set, read, delete a cookie."),
)


def create_site(
    kv_url: str,
    instance_path: str,
    admin_password: str | None = None,
    kv_token: str | None = None,
    docs_path: str | os.PathLike[str] | None = None,
) -> DispatcherMiddleware:
    """Mount every lab, sessions in the KV service at ``kv_url``, on one WSGI app.

    ``admin_password`` (else ``$SESSIONLAB_ADMIN_PASSWORD``) opens the mailing
    list's admin page and the live sessions page; ``kv_token`` (else
    ``$SESSION_KV_TOKEN``) is the service's bearer token. ``docs_path`` (else
    ``docs/_build/html`` in the working directory) is the built documentation
    served at ``/docs/``; it need not exist yet.
    """
    admin_password = admin_password or os.environ.get(ADMIN_PASSWORD_ENVVAR) or None
    kv_token = kv_token or os.environ.get(KV_TOKEN_ENVVAR) or None
    apps: dict[str, Flask] = {}
    for lab in LABS:
        config: dict[str, Any] = {
            "SESSION_STORE": "cookie" if lab.cookie else kv_url,
            "SESSION_KV_TOKEN": kv_token,
            "SESSION_KEY_PREFIX": f"session:{lab.name}:",
            "SESSION_COOKIE_NAME": f"{lab.name}_session",
            "SESSION_COOKIE_PATH": lab.prefix,
            "SESSIONLAB_HOME": "/",
        }
        if lab.name == "mailing_list" and admin_password:
            config["ADMIN_PASSWORD"] = admin_password
        module = importlib.import_module(lab.module)
        apps[lab.name] = module.create_app(config, instance_path=Path(instance_path, lab.name))
    password_hash = generate_password_hash(admin_password) if admin_password else None
    docs = Path(docs_path if docs_path is not None else DOCS_PATH).absolute()
    index = _index_app(apps, instance_path, password_hash, docs)
    return DispatcherMiddleware(index, {lab.prefix: apps[lab.name] for lab in LABS})


def _check_admin(password_hash: str | None) -> None:
    """Let the request through only with the admin password (HTTP Basic, any user name)."""
    if password_hash is None:
        raise Forbidden("The live sessions page is disabled: the site has no admin password.")
    given = request.authorization
    sent = given.password if given is not None and given.type == "basic" else None
    if not sent or not check_password_hash(password_hash, sent):
        challenge = WWWAuthenticate("basic", {"realm": "SessionKeeper demo", "charset": "UTF-8"})
        raise Unauthorized(
            "The live sessions page needs the admin password (printed when the demo starts).",
            www_authenticate=challenge,
        )


def _index_app(
    apps: dict[str, Flask], instance_path: str, password_hash: str | None, docs: Path
) -> Flask:
    app = Flask(__name__, instance_path=os.path.abspath(instance_path), static_folder=None)
    app.template_folder = TEMPLATES
    app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    app.add_template_filter(_timestamp, "timestamp")

    @app.get("/")
    def index() -> ResponseReturnValue:
        return render_template("demo/index.html", labs=LABS)

    @app.get("/sessions")
    def sessions() -> ResponseReturnValue:
        _check_admin(password_hash)
        listing = {lab.title: _live_sessions(apps[lab.name]) for lab in LABS if not lab.cookie}
        return render_template("demo/sessions.html", listing=listing)

    @app.get("/docs/", defaults={"name": ""})
    @app.get("/docs/<path:name>")
    def docs_page(name: str) -> ResponseReturnValue:
        if not docs.is_dir():
            return _no_docs()
        found = safe_join(str(docs), name)  # None for a name that leaves the folder
        if found is None:
            raise NotFound()
        if os.path.isdir(found):
            if name and not name.endswith("/"):  # relative links resolve from the folder
                return redirect(url_for("docs_page", name=f"{name}/"))
            name = posixpath.join(name, "index.html")
        return send_from_directory(docs, name)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"status": "ok"}

    @app.errorhandler(HTTPException)
    def error(exc: HTTPException) -> ResponseReturnValue:
        code = exc.code or 500
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return render_template("error.html", error=exc, code=code), code, headers

    return app


def _no_docs() -> ResponseReturnValue:
    """Say how to build the documentation: a 404, since nothing is served here yet."""
    error = NotFound("The documentation is not built yet.")
    hint = Markup(  # the folder itself stays on the server: a page shows no server paths
        "Run <code>make docs</code> in the repository, then reload this page; "
        "or start the demo with <code>--docs-path</code> naming a built site."
    )
    return render_template("error.html", error=error, code=404, hint=hint), 404


def _timestamp(seconds: float) -> Markup:
    """A compact date (``01 Dec 14:03``), the full one in its ``datetime`` and title."""
    when = datetime.fromtimestamp(seconds, UTC)
    full = f"{when:%Y-%m-%d %H:%M:%S} UTC"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        when.isoformat(), full, f"{when:%d %b %H:%M}"
    )


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
