"""A minimal keep-alive HTTP client that behaves like a browser with one session cookie."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

COOKIE_NAME = "session"


@dataclass(frozen=True)
class Answer:
    """Status, body and the new session cookie (``session=...``) if the answer set one."""

    status: int
    body: bytes
    cookie: str | None


class Client:
    """One connection to an app server; reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str, cookie: str | None = None) -> Answer:
        """``GET path`` carrying ``cookie`` (a ``name=value`` pair)."""
        headers = {"Cookie": cookie} if cookie else {}
        for attempt in range(2):
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # gunicorn's sync workers close every connection
                if attempt:
                    raise
        if response.will_close:
            self.conn.close()
        new = None
        for name, value in response.getheaders():
            pair = value.split(";", 1)[0].strip()
            if name.lower() == "set-cookie" and pair.startswith(COOKIE_NAME + "="):
                new = pair if pair != COOKIE_NAME + "=" else None
        return Answer(response.status, body, new)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def make_sessions(port: int, count: int) -> list[str]:
    """Create ``count`` sessions (one ``/incr`` each); return their cookies (none: empty)."""
    client = Client(port)
    try:
        cookies = []
        for _ in range(count):
            answer = client.get("/incr")
            if answer.status != 200:
                raise RuntimeError(f"/incr on port {port} answered {answer.status}")
            if answer.cookie is not None:
                cookies.append(answer.cookie)
        return cookies
    finally:
        client.close()
