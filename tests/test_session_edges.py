"""Server-side sessions where Flask, overlapping requests and failing saves push them."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from flask import Flask, redirect, request, session
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue

from sessionkeeper import ConfigError, Inspection, ServerSession, SessionKeeper, StoreUnavailable
from sessionkeeper.server.inspect import ENVIRON_KEY
from sessionkeeper.stores import Store
from sessionkeeper.stores.memory import MemoryStore


def build_app(store: Store, clock: Any, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", SESSION_STORE=store, **config)
    seen: dict[str, bool] = {}
    app.extensions["seen"] = seen

    @app.teardown_request
    def remember_accessed(exc: BaseException | None) -> None:
        # Registered before SessionKeeper's teardown, so it runs after it.
        # The private attribute: Flask's own property would mark the session accessed.
        opened = request_ctx._get_current_object()._session  # type: ignore[attr-defined]
        seen["accessed"] = opened.accessed

    SessionKeeper(app, clock=clock)

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.get("/set/<key>/<value>")
    def set_key(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.get("/permanent/<flag>")
    def permanent(flag: str) -> str:
        session.permanent = flag == "on"
        return "ok"

    @app.get("/read")
    def read() -> dict[str, Any]:
        return dict(session)

    @app.get("/set-and-redirect")
    def set_and_redirect() -> ResponseReturnValue:
        session["x"] = 1
        response = redirect("/elsewhere")
        response.set_cookie("view-cookie", "from-the-view")
        return response

    @app.get("/expire-during/<int:seconds>")
    def expire_during(seconds: int) -> str:
        session.get("a")
        clock.advance(seconds)
        return "ok"

    return app


def cookie_header(response: Any) -> str:
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie"]
    assert len(cookies) == 1, cookies
    return str(cookies[0])


@pytest.fixture
def memory(clock: Any) -> MemoryStore:
    return MemoryStore(clock=clock)


def test_making_an_existing_session_permanent_resends_the_cookie(
    memory: MemoryStore, clock: Any
) -> None:
    client = build_app(memory, clock).test_client()
    first = cookie_header(client.get("/set/a/1"))
    assert "Expires" not in first
    made_permanent = cookie_header(client.get("/permanent/on"))
    assert "Expires=" in made_permanent
    assert made_permanent.split(";")[0] == first.split(";")[0]  # the same id
    back = cookie_header(client.get("/permanent/off"))
    assert "Expires" not in back
    assert client.get("/read").json["a"] == "1"


def test_a_request_that_never_touches_the_session_leaves_it_unaccessed(
    memory: MemoryStore, clock: Any
) -> None:
    app = build_app(memory, clock, SESSION_LOCKING=True)
    client = app.test_client()
    client.get("/set/a/1")
    client.get("/ping")
    assert app.extensions["seen"]["accessed"] is False
    client.get("/read")
    assert app.extensions["seen"]["accessed"] is True


def test_regenerate_keeps_a_write_made_through_the_old_id_meanwhile(
    store: Store, clock: Any
) -> None:
    app = build_app(store, clock)
    regenerated = threading.Event()
    overlap_done = threading.Event()

    @app.get("/login")
    def login() -> str:
        session.get("a")
        assert isinstance(session, ServerSession)
        session.regenerate()
        session["user"] = "alice"
        regenerated.set()
        assert overlap_done.wait(10)  # another request writes through the old id now
        return "ok"

    client = app.test_client()
    client.get("/set/a/1")
    old_cookie = client.get_cookie("session")
    assert old_cookie is not None
    other = app.test_client()
    other.set_cookie("session", old_cookie.value)

    def overlapping() -> None:
        assert regenerated.wait(10)
        assert other.get("/set/cart/book").status_code == 200
        overlap_done.set()

    thread = threading.Thread(target=overlapping)
    thread.start()
    response = client.get("/login")
    thread.join(10)
    assert response.status_code == 200
    assert client.get("/read").json == {"a": "1", "cart": "book", "user": "alice"}
    assert other.get("/read").json == {}  # the old id is dead


def test_a_failed_save_answers_a_fresh_503_with_a_fixed_message(
    memory: MemoryStore, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(memory, clock)
    client = app.test_client()

    def failing_set(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("store at 10.0.0.7:6379 refused (SESSION_STORE)")

    memory.set = failing_set  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="sessionkeeper"):
        response = client.get("/set-and-redirect", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert "Location" not in response.headers
    assert "view-cookie" not in str(response.headers)
    assert "10.0.0.7" not in response.text and "SESSION_" not in response.text
    assert "The session store is unavailable" in response.text
    assert response.headers["Retry-After"] == "1"
    assert any("10.0.0.7" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("touch_interval", [0, 60])
def test_a_request_crossing_the_absolute_timeout_ends_the_session(
    memory: MemoryStore, clock: Any, touch_interval: int
) -> None:
    app = build_app(
        memory,
        clock,
        SESSION_TOUCH_INTERVAL=touch_interval,
        SESSION_ABSOLUTE_TIMEOUT=3600,
        SESSION_IDLE_TIMEOUT=3000,
    )
    client = app.test_client()
    client.get("/set/a/1")
    clock.advance(2999)
    client.get("/read")  # still live, and touched
    response = client.get("/expire-during/700")  # loads live, saves past the absolute timeout
    assert response.status_code == 200
    assert "session=;" in cookie_header(response)
    assert [k for k in memory.scan("session:")[0]] == []


def test_an_invalid_cookie_setting_fails_at_start(memory: MemoryStore, clock: Any) -> None:
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SAMESITE"):
        build_app(memory, clock, SESSION_COOKIE_SAMESITE="sometimes")
    assert memory.scan("")[0] == []


def test_user_bound_session_crossing_the_absolute_timeout_is_not_indexed(
    memory: MemoryStore, clock: Any
) -> None:
    app = build_app(memory, clock, SESSION_ABSOLUTE_TIMEOUT=3600, SESSION_IDLE_TIMEOUT=3000)

    @app.get("/bind-late")
    def bind_late() -> str:
        assert isinstance(session, ServerSession)
        session.bind_user(request.args["user"])
        clock.advance(700)
        return "ok"

    client = app.test_client()
    client.get("/set/a/1")
    clock.advance(2999)
    client.get("/read")
    assert client.get("/bind-late?user=alice").status_code == 200
    assert memory.scan("session-user:")[0] == []


def test_inspection_reports_the_store_operations_and_the_record(
    memory: MemoryStore, clock: Any
) -> None:
    app = build_app(memory, clock, SESSION_INSPECT=True)
    seen: list[Any] = []

    def keep(environ: dict[str, Any], start_response: Any) -> Any:
        body = app_wsgi(environ, start_response)
        seen.append(environ.get(ENVIRON_KEY))
        return body

    app_wsgi, app.wsgi_app = app.wsgi_app, keep  # type: ignore[method-assign]
    client = app.test_client()
    client.get("/ping")
    assert seen.pop() is None  # never touched: nothing to report
    client.get("/set/a/1")
    created = seen.pop()
    assert isinstance(created, Inspection)
    assert created.operations == ("set session",)
    assert created.store == "MemoryStore" and created.size and created.size > 0
    assert created.idle_expires == pytest.approx(clock() + 1800)
    assert created.absolute_expires == pytest.approx(clock() + 12 * 3600)
    assert memory.get(f"session:{created.id_hash}") is not None
    client.get("/read")
    assert seen.pop().operations == ("get session",)  # unchanged, touched under a minute ago
    clock.advance(120)
    client.get("/read")
    assert seen.pop().operations == ("get session", "touch session")
    client.get("/set/a/2")
    assert seen.pop().operations == ("get session", "set session")
