"""Run the demo: the key-value service and the site, started together and stopped together.

Both run in their own process sessions, so Ctrl-C reaches only this
supervisor, which stops them with SIGTERM and waits for them. The service's
token and the admin password are kept in the instance folder (created 0600 on
first start) and reach the processes through a file or the environment, never
their command lines, which every local user can read.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Final

import click

from sessionkeeper.kv import secret_file

from ..common import instance_root
from ..serve import gunicorn_command
from .site import ADMIN_PASSWORD_ENVVAR, DOCS_PATH, KV_TOKEN_ENVVAR

__all__ = ["DOCS_PATH_ENVVAR", "free_port", "run"]

SITE_PORT: Final = 8000
KV_PORT: Final = 5100
START_TIMEOUT: Final = 30.0
#: Files of the instance folder that hold the demo's secrets.
KV_TOKEN_FILE: Final = "kv-token"  # noqa: S105 - a file name
ADMIN_PASSWORD_FILE: Final = "admin-password"  # noqa: S105 - a file name
#: Names the built documentation the site serves at ``/docs/`` (``--docs-path``).
DOCS_PATH_ENVVAR: Final = "SESSIONLAB_DOCS_PATH"


def free_port(preferred: int, taken: set[int] | None = None) -> int:
    """``preferred`` if nothing listens on it on 127.0.0.1, else a free port."""
    for candidate in (preferred, 0):
        if candidate in (taken or set()):
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise click.ClickException("no free port on 127.0.0.1")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _wait_ready(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            code = process.returncode
            raise click.ClickException(f"the {what} stopped at start (exit code {code})")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our own http URL
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        time.sleep(0.1)
    raise click.ClickException(f"the {what} did not answer {url} within {START_TIMEOUT:g}s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(
    *,
    port: int | None = None,
    kv_port: int | None = None,
    instance_path: str | None = None,
    docs_path: str | None = None,
) -> int:
    """Run the service and the site until Ctrl-C (or SIGTERM); return the exit code.

    The data is kept in ``instance_path``, else in ``demo/`` under the labs'
    instance root (``$SESSIONLAB_INSTANCE_PATH``, else ``./instance``). The site
    serves ``docs_path`` (else ``docs/_build/html`` in the working directory,
    where ``make docs`` builds it when run from the repository's root) at ``/docs/``.
    """
    instance = Path(instance_path or instance_root() / "demo").absolute()
    docs = Path(docs_path or DOCS_PATH).absolute()
    site_port = port or free_port(SITE_PORT)
    kv_port = kv_port or free_port(KV_PORT, {site_port})
    click.echo(f"SessionKeeper demo: http://127.0.0.1:{site_port}/")
    sys.stdout.flush()
    # Ctrl-C and SIGTERM stop the demo even when it was started with SIGINT ignored (as a
    # shell without job control starts `cmd &`, and every child of such a shell).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        instance.mkdir(parents=True, exist_ok=True)
        token = secret_file(instance / KV_TOKEN_FILE)
        admin_password = secret_file(
            instance / ADMIN_PASSWORD_FILE, lambda: secrets.token_urlsafe(12)
        )
        kv_url = f"http://127.0.0.1:{kv_port}"
        kv_store = f"sqlite:///{instance / 'kv.sqlite3'}"
        kv_command = [sys.executable, "-m", "sessionkeeper", "kv", "serve"]
        kv_command += ["--host", "127.0.0.1", "--port", str(kv_port), "--store", kv_store]
        kv_command += ["--token-file", str(instance / KV_TOKEN_FILE)]
        environment = {k: v for k, v in os.environ.items() if k != "KV_TOKEN"}
        processes.append(
            subprocess.Popen(kv_command, env=environment, start_new_session=True)  # noqa: S603
        )
        _prepare(kv_url, token, instance)
        _wait_ready(f"{kv_url}/healthz", processes[0], "key-value service")
        arguments = f"{kv_url!r}, {str(instance)!r}, docs_path={str(docs)!r}"
        spec = f"sessionlab.demo:create_site({arguments})"
        site = gunicorn_command(spec, "127.0.0.1", site_port)
        secrets_env = {KV_TOKEN_ENVVAR: token, ADMIN_PASSWORD_ENVVAR: admin_password}
        processes.append(
            subprocess.Popen(  # noqa: S603
                site, env={**environment, **secrets_env}, start_new_session=True
            )
        )
        _wait_ready(f"http://127.0.0.1:{site_port}/healthz", processes[1], "site")
        click.echo(
            f"Ready. Admin password (mailing list admin, /sessions): {admin_password}. "
            "Ctrl-C stops."
        )
        sys.stdout.flush()
        while all(process.poll() is None for process in processes):
            time.sleep(0.2)
        stopped = next(p for p in processes if p.returncode is not None)
        name = "key-value service" if stopped is processes[0] else "site"
        click.echo(f"The {name} stopped (exit code {stopped.returncode}).", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("Stopping.", err=True)
        return 0
    except click.ClickException as exc:
        exc.show()
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(processes)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _prepare(kv_url: str, token: str, instance: Path) -> None:
    """Migrate and seed the paywall's database before any server process opens it."""
    from ..paywall import create_app, prepare_database

    config = {"SESSION_STORE": kv_url, "SESSION_KV_TOKEN": token}
    app = create_app(config, instance_path=instance / "paywall")
    prepare_database(app)
