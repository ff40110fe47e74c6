"""Run a lab, or the demo site, under gunicorn: the labs' production server.

``python -m sessionlab.<lab>`` prepares what the lab needs (the paywall's
database), builds the app once to check its configuration and checks that the
port is free, then replaces itself with gunicorn serving the lab's
``create_app()``: a mistake fails in one line here, not in a worker's traceback.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from importlib import metadata

import click

from sessionkeeper import SessionKeeper, SessionKeeperError
from sessionkeeper.kv import check_port_free

__all__ = ["check_app", "gunicorn_command", "lab_command"]


def gunicorn_command(spec: str, host: str, port: int, *, threads: int = 8) -> list[str]:
    """The command that serves the WSGI app ``spec`` (``module:factory()``) under gunicorn."""
    # gunicorn 25.1+ opens a control socket at one path per user: servers side by side clash.
    version = tuple(int(part) for part in re.findall(r"\d+", metadata.version("gunicorn"))[:2])
    extra = ["--no-control-socket"] if version >= (25, 1) else []
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        str(threads),
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        *extra,
        spec,
    ]


def check_app(module: str) -> None:
    """Build ``module``'s app once, as a worker would, and close what it opened.

    A configuration mistake (a bad ``FLASK_SESSION_STORE``) raises here.
    """
    app = importlib.import_module(module).create_app()
    store = SessionKeeper.state(app).store
    if store is not None:
        store.close()


def lab_command(module: str, port: int, prepare: Callable[[], None] | None = None) -> click.Command:
    """Build the ``python -m sessionlab.<lab>`` command: prepare, then exec gunicorn."""

    @click.command(name=module)
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
    @click.option("--port", type=click.IntRange(1, 65535), default=port, show_default=True)
    def command(host: str, port: int) -> None:
        """Serve the lab under gunicorn, on the embedded SQLite store unless configured."""
        try:
            if prepare is not None:
                prepare()
            check_app(module)
            check_port_free(host, port, module)
        except SessionKeeperError as exc:
            raise click.ClickException(str(exc)) from exc
        argv = gunicorn_command(f"{module}:create_app()", host, port)
        click.echo(f"{module}: serving on http://{host}:{port}/ under gunicorn", err=True)
        os.execv(argv[0], argv)  # noqa: S606 - replaces this process with the server

    return command
