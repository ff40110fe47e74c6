"""Store outages seen from the app: 503s within the timeout, untouched routes served, recovery.

The stores are real and really fail: a redis-server shut down or frozen with SIGSTOP,
and the KV service (``sessionkeeper kv serve``) stopped or frozen. The app is built
once per test and never restarted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from live_processes import kv_service
from redis_servers import RedisServer
from session_app import create_app
from sessionkeeper import SessionKeeper

TIMEOUT = 1.0
#: Time an answer may take beyond the store timeout (Python, Flask and the test client).
SLACK = 1.5  # generous: a busy machine; a missing timeout would hang for ever


@dataclass
class Outage:
    """A store URL and two ways for it to fail; each context restores the store on exit."""

    url: str
    down: Callable[[], AbstractContextManager[None]]
    hung: Callable[[], AbstractContextManager[None]]


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "http"])
def outage(
    request: pytest.FixtureRequest, redis_factory: Callable[[], RedisServer], tmp_path: Path
) -> Iterator[Outage]:
    if request.param == "redis":
        server = redis_factory()

        @contextmanager
        def redis_down() -> Iterator[None]:
            server.shutdown()
            yield
            server.start()

        yield Outage(server.url(), redis_down, server.frozen)
        return
    kv = kv_service(tmp_path / "kv", f"sqlite:///{tmp_path / 'kv' / 'kv.db'}").start()

    @contextmanager
    def kv_down() -> Iterator[None]:
        kv.stop()
        yield
        kv.start()

    try:
        yield Outage(kv.url, kv_down, kv.frozen)
    finally:
        kv.stop()


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.fixture
def app(outage: Outage) -> Iterator[Flask]:
    app = create_app(SESSION_STORE=outage.url, SESSION_STORE_TIMEOUT=TIMEOUT, SECRET_KEY="s")
    yield app
    store = SessionKeeper.state(app).store
    assert store is not None
    store.close()


@pytest.mark.parametrize("mode", ["down", "hung"])
def test_outage_gives_503s_spares_other_routes_and_recovers(
    app: Flask, outage: Outage, mode: str
) -> None:
    ada: FlaskClient = app.test_client()
    assert ada.post("/login", data={"user": "ada"}).status_code == 200
    assert ada.get("/whoami").text == "ada"
    bob = app.test_client()

    with outage.down() if mode == "down" else outage.hung():
        healthz, elapsed = timed(lambda: ada.get("/healthz"))
        assert healthz.status_code == 200 and elapsed < TIMEOUT  # type: ignore[attr-defined]

        load, elapsed = timed(lambda: ada.get("/whoami", headers={"Accept": "application/json"}))
        assert load.status_code == 503, load.text  # type: ignore[attr-defined]
        assert load.json["error"] == "session_unavailable"  # type: ignore[attr-defined]
        assert "session store is unavailable" in load.json["message"]  # type: ignore[attr-defined]
        assert elapsed < TIMEOUT + SLACK

        save, elapsed = timed(lambda: bob.post("/login", data={"user": "bob"}))
        assert save.status_code == 503, save.text  # type: ignore[attr-defined]
        assert "set-cookie" not in save.headers  # type: ignore[attr-defined]
        assert elapsed < TIMEOUT + SLACK

        page = ada.get("/whoami", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert page.mimetype == "text/html" and "unavailable" in page.text

    assert ada.get("/whoami").text == "ada"  # the first request after the outage succeeds
    assert bob.post("/login", data={"user": "bob"}).status_code == 200
    assert bob.get("/whoami").text == "bob"
