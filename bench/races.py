"""Lost updates: 100 concurrent requests on one session, from 16 client threads.

The client threads share one cookie jar, as a browser's tabs do: each request
carries the jar's current cookie, and a ``Set-Cookie`` in the answer replaces it.
A server-side session keeps one id, so only the server decides what survives; a
cookie session survives only in the last cookie the jar kept.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from client import Client

THREADS = 16
REQUESTS = 100


@dataclass(frozen=True)
class LostUpdates:
    """How many of 100 distinct keys, and of 100 increments, the session kept.

    ``locked_increments`` counts increments under SessionKeeper's per-session lock
    (``@locked``), for the variants that have one.
    """

    keys: int
    increments: int
    locked_increments: int | None
    failed: int = 0
    """Requests answered with an error (a 503 says the save failed: an honest loss)."""
    sample: str = ""


class _Jar:
    def __init__(self, cookie: str | None) -> None:
        self.cookie = cookie
        self.lock = threading.Lock()

    def take(self) -> str | None:
        with self.lock:
            return self.cookie

    def keep(self, cookie: str | None) -> None:
        if cookie is not None:
            with self.lock:
                self.cookie = cookie


def _race(port: int, paths: list[str], failures: list[str]) -> str | None:
    """Seed a session, send ``paths`` concurrently on it; return the jar's final cookie.

    Answers other than 200 are added to ``failures``.
    """
    seeder = Client(port)
    jar = _Jar(seeder.get("/seed").cookie)
    seeder.close()
    todo = list(reversed(paths))
    todo_lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker() -> None:
        client = Client(port)
        barrier.wait()
        try:
            while True:
                with todo_lock:
                    if not todo:
                        return
                    path = todo.pop()
                answer = client.get(path, jar.take())
                if answer.status != 200:
                    failures.append(f"{answer.status} {answer.body[:160].decode(errors='replace')}")
                jar.keep(answer.cookie)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return jar.take()


def lost_updates(port: int, *, lockable: bool) -> LostUpdates:
    """Run the races against the app server on ``port`` (the locked one if ``lockable``)."""
    client = Client(port)
    failures: list[str] = []
    try:
        cookie = _race(port, [f"/put/{i:03d}" for i in range(REQUESTS)], failures)
        keys = json.loads(client.get("/keys", cookie).body)
        counts = []
        for path in ("/incr", "/incr-locked") if lockable else ("/incr",):
            cookie = _race(port, [path] * REQUESTS, failures)
            counts.append(int(client.get("/read", cookie).body))
    finally:
        client.close()
    locked = counts[1] if lockable else None
    sample = failures[0] if failures else ""
    return LostUpdates(len(keys), counts[0], locked, len(failures), sample)
