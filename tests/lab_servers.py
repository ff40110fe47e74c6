"""Fixtures for the labs: each lab on every session store, on a real socket, driven by curl.

``lab_store`` is parametrised over :data:`LAB_STORES`; ``build_lab`` builds a
lab's app on it in a fresh instance folder and closes what it opened;
``run_on_socket`` runs an app on 127.0.0.1; :class:`Curl` runs the labs' command-line
steps with a cookie jar. To run the labs on another store, add it to
:data:`LAB_STORES` and to :func:`lab_store`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kv_servers import serve, serve_for
from sessionkeeper import MemoryStore, SessionKeeper

LAB_STORES = ["cookie", "sqlite", "kv", "redis"]
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class LabFactory(Protocol):
    def __call__(
        self, config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str]
    ) -> Flask: ...


@pytest.fixture(params=LAB_STORES)
def lab_store(request: pytest.FixtureRequest) -> str:
    """A ``SESSION_STORE`` value: the signed cookie, SQLite, the KV service, Redis."""
    kind: str = request.param
    if kind == "cookie":
        return "cookie"
    if kind == "sqlite":
        return "sqlite:///sessions.db"  # in the lab's instance folder
    if kind == "kv":
        return serve_for(request, MemoryStore())
    if kind == "redis":
        url: str = request.getfixturevalue("redis_server").fresh_url()
        return url
    raise AssertionError(kind)


def close_lab(app: Flask) -> None:
    """Close the session store and the database connections a lab opened."""
    store = SessionKeeper.state(app).store
    if store is not None:
        store.close()
    database = app.extensions.get("sqlalchemy")
    if database is not None:
        with app.app_context():
            database.engine.dispose()


@pytest.fixture
def build_lab(
    lab_store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., Flask]:
    """Build a lab's app on ``lab_store`` in ``tmp_path/instance``; ``config`` adds settings."""

    def build(factory: LabFactory, **config: Any) -> Flask:
        settings = {"SESSION_STORE": lab_store, "TESTING": True, **config}
        app = factory(settings, instance_path=tmp_path / "instance")
        request.addfinalizer(lambda: close_lab(app))
        return app

    return build


@pytest.fixture
def run_on_socket() -> Iterator[Callable[[Flask], str]]:
    """Serve apps on 127.0.0.1 until the test ends; return each one's base URL."""
    stack: list[Any] = []

    def start(app: Flask) -> str:
        context = serve(app)
        stack.append(context)
        url: str = context.__enter__()
        return url

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@dataclass(frozen=True)
class Reply:
    """A curl answer: the final status, its headers, and the body."""

    status: int
    headers: list[tuple[str, str]]
    text: str

    def header(self, name: str) -> str | None:
        """The last value of header ``name``."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None

    def set_cookies(self) -> list[str]:
        """Every Set-Cookie header of the final answer."""
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def csrf_token(self) -> str:
        """The CSRF token of the page's first form."""
        match = CSRF_INPUT.search(self.text)
        assert match is not None, f"no csrf_token in {self.text[:500]}"
        return match.group(1)


def curl_binary() -> str:
    """Path of curl; skip the test without it, or fail under CI."""
    path = shutil.which("curl")
    if path is None:
        message = "curl is not installed (Debian: apt-get install curl)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


class Curl:
    """Run curl as a user following a lab's steps would, one cookie jar per user."""

    def __init__(self, jar: Path) -> None:
        self.binary = curl_binary()
        self.jar = jar

    def raw(self, *args: str) -> Reply:
        """Run ``curl -sS -i ARGS`` and parse the last answer (after any redirects)."""
        done = subprocess.run(
            [self.binary, "-sS", "-i", "--max-time", "10", *args],
            capture_output=True,
            check=True,
            timeout=20,
        )
        output = done.stdout.decode("utf-8", "replace")
        head, _, body = output.partition("\r\n\r\n")
        while body.startswith("HTTP/"):
            head, _, body = body.partition("\r\n\r\n")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = [
            (n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])
        ]
        return Reply(status, headers, body)

    def __call__(self, url: str, *args: str) -> Reply:
        """Request ``url`` sending and saving this user's cookies."""
        return self.raw("-b", str(self.jar), "-c", str(self.jar), *args, url)

    def cookie(self, name: str) -> str | None:
        """The value of cookie ``name`` in the jar."""
        if not self.jar.exists():
            return None
        for line in self.jar.read_text().splitlines():
            fields = line.removeprefix("#HttpOnly_").split("\t")
            if not line.startswith("# ") and len(fields) == 7 and fields[5] == name:
                return fields[6]
        return None


@pytest.fixture
def curl(tmp_path: Path) -> Curl:
    """A curl user with an empty cookie jar."""
    return Curl(tmp_path / "jar.txt")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client for the ``app`` fixture of the test module."""
    return app.test_client()


def server_side(app: Flask) -> bool:
    """Whether the lab keeps its sessions in a server-side store."""
    return app.config["SESSION_STORE"] != "cookie"
