"""The KV protocol in-process: :class:`WSGITransport` calls a WSGI app, no socket involved."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder, run_wsgi_app

from .transport import Reply, Transport

__all__ = ["WSGITransport"]


class WSGITransport(Transport):
    """Send each request straight to ``app``, such as ``sessionkeeper.kv.create_app(store)``.

    For tests that need the protocol but no network. The request looks as if it
    came from 127.0.0.1 to ``base_url``. What the app raises propagates (a Flask
    app answers errors itself). Nothing is held, so :meth:`close` does nothing;
    the app and its store belong to the caller.
    """

    def __init__(self, app: Any, base_url: str = "http://127.0.0.1") -> None:
        self.app = app
        self.url = base_url.rstrip("/")
        parts = urlsplit(self.url)
        # The base path belongs to the request path, as behind a socket: SCRIPT_NAME stays "".
        self._origin, self._root = f"{parts.scheme}://{parts.netloc}", parts.path

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        path, _, query = target.partition("?")
        builder = EnvironBuilder(
            path=self._root + path,
            base_url=self._origin,
            query_string=query,
            method=method,
            headers=list((headers or {}).items()),
            data=body or b"",
            content_type=(headers or {}).get("Content-Type"),
            environ_overrides={"REMOTE_ADDR": "127.0.0.1"},
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        answer, status, names = run_wsgi_app(self.app, environ, buffered=True)
        data = b"".join(answer)  # buffered: the app's iterable is already read and closed
        merged: dict[str, str] = {}
        for name, value in names.items():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Reply(int(status.split(" ", 1)[0]), merged, data)
