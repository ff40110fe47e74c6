"""What every lab shares: the app factory plumbing and the session helpers.

A lab's ``create_app`` calls :func:`create_lab_app`, which layers the config
(the lab's defaults, an optional config file, ``FLASK_*`` environment
variables, then the caller's mapping), keeps a random secret key in the
instance folder (``./instance/<lab>`` unless told otherwise), installs
SessionKeeper, CSRF protection, clean error pages and the session inspector.

``SESSIONLAB_HOME`` (a URL, unset when a lab runs alone) puts a link back to it
on every page: the demo sets it to its index. ``SESSIONLAB_INSPECTOR = False``
leaves the session inspector out.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from flask import Config, Flask, session
from flask.typing import ResponseReturnValue
from jinja2.bccache import Bucket, BytecodeCache
from werkzeug.middleware.proxy_fix import ProxyFix

from sessionkeeper import ServerSession, SessionKeeper
from sessionkeeper.kv.tokens import secret_file

from . import csrf, errors, inspector

__all__ = [
    "INSTANCE_ENVVAR",
    "TEMPLATES",
    "create_lab_app",
    "destroy_session",
    "instance_root",
    "instance_secret_key",
    "regenerate_session",
]

#: The Jinja templates of every lab, one folder per lab beside a shared ``base.html``.
TEMPLATES: Final = str(Path(__file__).with_name("templates"))
#: Names a folder to keep every lab's instance folder in, instead of ``./instance``.
INSTANCE_ENVVAR: Final = "SESSIONLAB_INSTANCE_PATH"
SECRET_KEY_FILE: Final = "secret-key"  # noqa: S105 - a file name, not a secret

#: Settings every lab starts from: the embedded SQLite session store in the instance folder,
#: and what the session inspector needs to know of each request.
BASE_DEFAULTS: Final[Mapping[str, Any]] = {
    "SESSION_STORE": "sqlite:///sessions.db",
    "SESSION_INSPECT": True,
    "MAX_CONTENT_LENGTH": 1 << 20,
    "SESSIONLAB_JSON_ERRORS": False,
    "SESSIONLAB_HOME": None,
    "SESSIONLAB_INSPECTOR": True,
}


class _SharedBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory for every lab app of the process (the demo has six)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CACHE: Final = _SharedBytecodeCache()


def create_lab_app(
    lab: str,
    import_name: str,
    *,
    defaults: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    instance_path: str | os.PathLike[str] | None = None,
    config_envvar: str | None = None,
    adjust: Callable[[Config, set[str]], None] | None = None,
) -> Flask:
    """Build a lab's Flask app with its sessions, CSRF protection and error pages.

    Its instance folder (secret key, SQLite files) is ``instance_path``, or the
    lab's folder under :func:`instance_root`: ``$SESSIONLAB_INSTANCE_PATH``, else
    ``instance/`` in the working directory (never the installed package's folder).

    Config layers, later ones winning: :data:`BASE_DEFAULTS`, ``defaults``, the
    Python file named by the ``config_envvar`` environment variable (relative to
    the working directory), ``FLASK_*``
    environment variables, then ``config``. ``adjust(config, explicit)`` may then
    rewrite the result; ``explicit`` names the keys set by the environment or ``config``.
    Behind TLS-terminating proxies, ``SESSIONLAB_PROXY_FIX = n`` (the proxy count, never
    set without one) applies Werkzeug's ``ProxyFix`` trusting n ``X-Forwarded-*`` values.
    """
    app = Flask(import_name, instance_path=_instance_path(lab, instance_path), static_folder=None)
    app.template_folder = TEMPLATES
    app.jinja_options = {**app.jinja_options, "bytecode_cache": _TEMPLATE_CACHE}
    app.config.update(BASE_DEFAULTS)
    app.config.update(defaults or {})
    if config_envvar and os.environ.get(config_envvar):
        # A relative path is taken from the working directory, where the user typed it.
        app.config.from_pyfile(os.path.abspath(os.environ[config_envvar]))
    app.config.from_prefixed_env()
    app.config.update(config or {})
    explicit = set(config or {}) | {
        name.removeprefix("FLASK_").partition("__")[0]
        for name in os.environ
        if name.startswith("FLASK_")
    }
    if adjust is not None:
        adjust(app.config, explicit)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    SessionKeeper(app)
    csrf.init_app(app)
    if (n := int(app.config.get("SESSIONLAB_PROXY_FIX") or 0)) > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    errors.init_app(app)
    if app.config["SESSIONLAB_INSPECTOR"]:
        inspector.install(app)
    app.add_url_rule("/healthz", "healthz", _healthz)
    return app


def instance_root() -> Path:
    """Return the folder that holds one instance folder per lab (and the demo's).

    ``$SESSIONLAB_INSTANCE_PATH`` when set, else ``instance/`` in the working
    directory: an installed lab must not write into site-packages, nor a lab run
    from a checkout into ``src/``.
    """
    return Path(os.environ.get(INSTANCE_ENVVAR) or "instance").absolute()


def _instance_path(lab: str, given: str | os.PathLike[str] | None) -> str:
    if given is not None:
        return os.path.abspath(given)
    return str(instance_root() / lab)


def instance_secret_key(instance_path: str) -> str:
    """Read the secret key kept in the instance folder, creating a random one on first start.

    The file is created 0600 and linked into place, so processes starting
    together all end up with the same complete key.
    """
    return secret_file(Path(instance_path, SECRET_KEY_FILE), lambda: secrets.token_hex(32))


def _healthz() -> ResponseReturnValue:
    return {"status": "ok"}


def regenerate_session() -> None:
    """Give the session a new id at a privilege change (login), keeping its data.

    Server-side sessions move to a new id; a cookie session has no id to fix.
    The CSRF nonce is renewed either way, so a token seen before login stops working.
    """
    if isinstance(session, ServerSession):
        session.regenerate()
    session.pop(csrf.SESSION_KEY, None)
    csrf.renew()


def destroy_session() -> None:
    """End the session (logout): delete it from the store, or clear the cookie session."""
    if isinstance(session, ServerSession):
        session.destroy()
    else:
        session.clear()
