"""The benchmark app: the same routes under every session variant.

The variant comes from the environment, so a production server can build the app
with ``app:create_app`` (Granian ``--factory``, gunicorn ``'app:create_app()'``):

- ``BENCH_VARIANT``: one of :data:`VARIANTS`;
- ``BENCH_URL``: the store URL of server-side variants (a Redis URL for
  Flask-Session on Redis, a SQLAlchemy URL for Flask-Session on SQLAlchemy,
  a memcached URL for Flask-Session on Memcached,
  a SessionKeeper store URL for the SessionKeeper stores; ``sk-redis-cache``
  adds ``cache=1`` to its Redis URL).

Routes: ``/ping`` touches no session, ``/read`` reads one key, ``/incr`` is a
read-modify-write of one key; ``/put/<key>``, ``/keys``, ``/seed`` and
``/incr-locked`` (``/incr`` under SessionKeeper's per-session lock, where there is
one) serve the lost-update check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, session
from flask.sessions import SessionInterface, SessionMixin

#: Every variant, in report order.
VARIANTS = (
    "none",
    "flask-cookie",
    "fs-redis",
    "fs-sqlalchemy",
    "fs-sqlalchemy-postgresql",
    "fs-memcached",
    "sk-cookie",
    "sk-encrypted",
    "sk-sqlite",
    "sk-redis",
    "sk-redis-cache",
    "sk-kv",
    "sk-postgresql",
    "sk-memcached",
)

SECRET = "bench-secret-key-not-for-production"


class _Scratch(dict[str, Any], SessionMixin):
    """A session that is never loaded nor saved."""


class NoSessionInterface(SessionInterface):
    """Open nothing, save nothing: what a request costs with no session at all."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        return _Scratch()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def _none(app: Flask) -> None:
    app.session_interface = NoSessionInterface()


def _flask_cookie(app: Flask) -> None:
    """Flask's built-in signed cookie: nothing to configure."""


def _flask_session_redis(app: Flask) -> None:
    import redis
    from flask_session import Session

    app.config["SESSION_TYPE"] = "redis"
    app.config["SESSION_REDIS"] = redis.Redis.from_url(os.environ["BENCH_URL"])
    Session(app)


def _flask_session_sqlalchemy(app: Flask) -> None:
    from flask_session import Session
    from flask_sqlalchemy import SQLAlchemy

    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_URL"]
    app.config["SESSION_TYPE"] = "sqlalchemy"
    app.config["SESSION_SQLALCHEMY"] = SQLAlchemy(app)
    Session(app)


def _flask_session_memcached(app: Flask) -> None:
    from flask_session import Session
    from pymemcache.client.base import PooledClient  # type: ignore[import-untyped]

    host, _, port = os.environ["BENCH_URL"].removeprefix("memcached://").partition(":")
    app.config["SESSION_TYPE"] = "memcached"
    app.config["SESSION_MEMCACHED"] = PooledClient((host, int(port)))
    Session(app)


def _sessionkeeper(
    store: str | None = None, *, encrypt: bool = False, query: str = ""
) -> Callable[[Flask], None]:
    def configure(app: Flask) -> None:
        from sessionkeeper import SessionKeeper

        url = store or os.environ["BENCH_URL"]
        if query:
            url += ("&" if "?" in url else "?") + query
        app.config["SESSION_STORE"] = url
        app.config["SESSION_COOKIE_ENCRYPT"] = encrypt
        SessionKeeper(app)

    return configure


CONFIGURE: dict[str, Callable[[Flask], None]] = {
    "none": _none,
    "flask-cookie": _flask_cookie,
    "fs-redis": _flask_session_redis,
    "fs-sqlalchemy": _flask_session_sqlalchemy,
    "fs-sqlalchemy-postgresql": _flask_session_sqlalchemy,
    "fs-memcached": _flask_session_memcached,
    "sk-cookie": _sessionkeeper("cookie"),
    "sk-encrypted": _sessionkeeper("cookie", encrypt=True),
    "sk-sqlite": _sessionkeeper(),
    "sk-redis": _sessionkeeper(),
    "sk-redis-cache": _sessionkeeper(query="cache=1"),
    "sk-kv": _sessionkeeper(),
    "sk-postgresql": _sessionkeeper(),
    "sk-memcached": _sessionkeeper(),
}


def create_app(variant: str | None = None) -> Flask:
    """Build the app for ``variant`` (default: ``$BENCH_VARIANT``)."""
    variant = variant or os.environ["BENCH_VARIANT"]
    app = Flask(__name__)
    app.secret_key = SECRET
    CONFIGURE[variant](app)

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.get("/read")
    def read() -> str:
        return str(session.get("n", 0))

    @app.get("/incr")
    def incr() -> str:
        session["n"] = n = session.get("n", 0) + 1
        return str(n)

    def incr_locked() -> str:
        return incr()

    if variant.startswith("sk-") and variant not in ("sk-cookie", "sk-encrypted"):
        from sessionkeeper.server import locked

        incr_locked = locked(incr_locked)
    app.add_url_rule("/incr-locked", view_func=incr_locked)

    @app.get("/seed")
    def seed() -> str:
        session["n"] = 0
        return "0"

    @app.get("/put/<key>")
    def put(key: str) -> str:
        session[f"k-{key}"] = 1
        return "ok"

    @app.get("/keys")
    def keys() -> Response:
        names = sorted(k[2:] for k in session if k.startswith("k-"))
        return Response(json.dumps(names), mimetype="application/json")

    return app
