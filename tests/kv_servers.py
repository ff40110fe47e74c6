"""The KV service on a real socket for the tests: a Werkzeug server in a background thread.

:func:`serve` runs any WSGI app on 127.0.0.1 on a free port until the context
ends; :func:`serve_for` does the same until a fixture's request finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sessionkeeper.kv import create_app
from sessionkeeper.stores import Store


class QuietHandler(WSGIRequestHandler):
    """Log nothing (the tests assert on answers), and keep connections alive as servers do."""

    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def _start(app: Any) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="kv-server", daemon=True
    )
    thread.start()
    return server, thread


def _stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 while the context lasts; yield its base URL."""
    server, thread = _start(app)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        _stop(server, thread)


def serve_for(request: pytest.FixtureRequest, store: Store, **options: Any) -> str:
    """Serve the KV app over ``store`` until ``request`` ends; return its base URL."""
    server, thread = _start(create_app(store, **options))
    request.addfinalizer(lambda: _stop(server, thread))
    return f"http://127.0.0.1:{server.server_port}"
