"""The counter lab (port 5000; its key-value service on 5100): a per-session visit count.

Its config file, named by ``APP_CONFIG`` (see ``counter.cfg``), uses the
course's names: ``USE_SESSION_STORE = False`` keeps the count in the signed
cookie, whose value changes on every visit; ``True`` keeps it in the key-value
service at ``KV_URL``, and the cookie then holds a signed session id that stays
the same while the count grows. ``SESSION_STORE``, when set explicitly, wins.
``KV_TOKEN_FILE`` names the service's token file (relative to the lab's
instance folder, created with a random token, mode 0600, on first start); the
app sends that token as ``SESSION_KV_TOKEN``.
``../../../.venv/bin/honcho start`` in this folder runs the app and the service
from the Procfile, both on the token in ``instance/counter/kv-token``.

From the command line, ``curl -b jar -c jar http://127.0.0.1:5000/`` counts;
the Reset form wants its CSRF token and the cookie that goes with it::

    curl -b jar -c jar http://127.0.0.1:5000/ | grep csrf_token
    curl -b jar -c jar -d csrf_token=TOKEN http://127.0.0.1:5000/reset
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from flask import Config, Flask, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue

from sessionkeeper import ConfigError, locked
from sessionkeeper.kv import secret_file

from ..common import create_lab_app, destroy_session, instance_root

__all__ = [
    "CONFIG_ENVVAR",
    "DEFAULT_KV_URL",
    "PORT",
    "create_app",
    "kv_token_from_file",
    "legacy_store",
]

PORT: Final = 5000
DEFAULT_KV_URL: Final = "http://127.0.0.1:5100"
CONFIG_ENVVAR: Final = "APP_CONFIG"


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None
) -> Flask:
    """Build the counter lab; ``config`` overrides ``APP_CONFIG``'s file and ``FLASK_*``."""
    instance = Path(instance_path).absolute() if instance_path else instance_root() / "counter"

    def adjust(config: Config, explicit: set[str]) -> None:
        legacy_store(config, explicit)
        kv_token_from_file(config, instance)

    app = create_lab_app(
        "counter",
        __name__,
        config=config,
        instance_path=instance,
        config_envvar=CONFIG_ENVVAR,
        adjust=adjust,
    )
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/reset", "reset", reset, methods=["POST"])
    return app


def legacy_store(config: Config, explicit: set[str]) -> None:
    """Map the course's ``USE_SESSION_STORE`` and ``KV_URL`` onto ``SESSION_STORE``."""
    if "SESSION_STORE" in explicit or "USE_SESSION_STORE" not in config:
        return
    use = config["USE_SESSION_STORE"]
    if not isinstance(use, bool):
        raise ConfigError(f"USE_SESSION_STORE must be True or False, got {use!r}")
    kv_url = config.get("KV_URL") or DEFAULT_KV_URL
    if use and not isinstance(kv_url, str):
        raise ConfigError(f"KV_URL must be the key-value service's URL, got {kv_url!r}")
    config["SESSION_STORE"] = kv_url if use else "cookie"


def kv_token_from_file(config: Config, instance: Path) -> None:
    """Set ``SESSION_KV_TOKEN`` from ``KV_TOKEN_FILE`` when the sessions go to the service."""
    name, store = config.get("KV_TOKEN_FILE"), config.get("SESSION_STORE")
    if not name or config.get("SESSION_KV_TOKEN"):
        return
    if isinstance(store, str) and store.startswith(("http://", "https://")):
        config["SESSION_KV_TOKEN"] = secret_file(instance / os.fspath(name))


@locked
def index() -> ResponseReturnValue:
    """Count this visit and show the count."""
    count = session.get("count")
    count = count + 1 if isinstance(count, int) and not isinstance(count, bool) else 1
    session["count"] = count
    return render_template("counter/index.html", count=count)


def reset() -> ResponseReturnValue:
    """End the session, so the next visit starts again at 1 (with a new session id)."""
    destroy_session()
    return redirect(url_for("index"), 303)
