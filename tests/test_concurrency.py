"""Overlapping requests of one session lose nothing: patch saves, and locking when asked."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask, jsonify, request, session
from werkzeug.serving import WSGIRequestHandler, make_server

from sessionkeeper import LockTimeout, SaveConflict, ServerSession, SessionKeeper
from sessionkeeper.server import ServerSessionInterface, locked
from sessionkeeper.stores import Store


def build_app(store: Store, clock: Any, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", SESSION_STORE=store, **config)
    SessionKeeper(app, clock=clock)

    @app.get("/set/<key>")
    def set_key(key: str) -> str:
        session[key] = True
        return "ok"

    @app.get("/incr")
    def incr() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.get("/incr-locked")
    @locked
    def incr_locked() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.get("/read")
    def read() -> Any:
        return jsonify(dict(session))

    return app


def open_session(app: Flask, cookie: str) -> ServerSession:
    """Open (not yet load) a session as a request carrying ``cookie`` would."""
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
        opened = app.session_interface.open_session(app, request._get_current_object())  # type: ignore[attr-defined]
    assert isinstance(opened, ServerSession)
    return opened


def save(app: Flask, opened: ServerSession) -> None:
    with app.test_request_context("/"):
        app.session_interface.save_session(app, opened, app.response_class())


def start_session(app: Flask) -> str:
    client = app.test_client()
    client.get("/set/start")
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_interleaved_saves_of_disjoint_keys_both_survive(store: Store, clock: Any) -> None:
    app = build_app(store, clock)
    cookie = start_session(app)
    first, second = open_session(app, cookie), open_session(app, cookie)
    first["cart"] = ["apple"]  # both load the same version...
    second["csrf"] = "token"
    save(app, first)  # ...the first save wins the version,
    save(app, second)  # the second conflicts, reloads and re-applies its own key.
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/read").json == {"start": True, "cart": ["apple"], "csrf": "token"}


def test_interleaved_delete_and_set_merge(store: Store, clock: Any) -> None:
    app = build_app(store, clock)
    cookie = start_session(app)
    first, second = open_session(app, cookie), open_session(app, cookie)
    del first["start"]
    second["other"] = 1
    save(app, first)
    save(app, second)
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/read").json == {"other": 1}


def test_interleaved_saves_after_destroy_do_not_resurrect(store: Store, clock: Any) -> None:
    app = build_app(store, clock)
    cookie = start_session(app)
    first, second = open_session(app, cookie), open_session(app, cookie)
    first.destroy()
    second["late"] = 1
    save(app, first)
    save(app, second)
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/read").json == {}


def test_with_locking_the_second_request_sees_the_first_write(store: Store, clock: Any) -> None:
    app = build_app(store, clock, SESSION_LOCKING=True)
    interface = app.session_interface
    assert isinstance(interface, ServerSessionInterface)
    cookie = start_session(app)
    waiting, go = threading.Event(), threading.Event()

    def wait_for_the_test(_: float) -> None:
        waiting.set()
        go.wait(5)

    interface.locker.sleep = wait_for_the_test
    first = open_session(app, cookie)
    first["n"] = first.get("n", 0) + 1  # loads, taking the lock
    second = open_session(app, cookie)
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(second.get("n", 0)))
    reader.start()
    assert waiting.wait(5)  # the second request is waiting for the lock...
    assert not seen
    save(app, first)  # ...until the first saves and releases it
    go.set()
    reader.join(5)
    assert seen == [1]
    second["n"] = seen[0] + 1
    save(app, second)
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/read").json["n"] == 2


def test_lock_wait_is_bounded_and_ends_in_a_503(
    store: Store, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(store, clock, SESSION_LOCKING=True, SESSION_LOCK_TIMEOUT=0.05)
    cookie = start_session(app)
    holder = open_session(app, cookie)
    holder.get("n")  # holds the lock and never saves
    client = app.test_client()
    client.set_cookie("session", cookie)
    with caplog.at_level(logging.ERROR, logger="sessionkeeper"):
        response = client.get("/incr")
    assert response.status_code == 503
    assert response.json["message"] == "The session could not be saved; please try again shortly."
    assert any("SESSION_LOCK_TIMEOUT" in r.getMessage() for r in caplog.records)
    save(app, holder)
    assert client.get("/incr").text == "1"


def test_lock_timeout_error_names_the_setting(store: Store, clock: Any) -> None:
    app = build_app(store, clock, SESSION_LOCKING=True, SESSION_LOCK_TIMEOUT=0.01)
    cookie = start_session(app)
    open_session(app, cookie).get("n")
    with app.test_request_context(), pytest.raises(LockTimeout, match="SESSION_LOCK_TIMEOUT"):
        open_session(app, cookie).get("n")


def test_save_conflict_past_the_deadline_is_a_clear_error(store: Store, clock: Any) -> None:
    app = build_app(store, clock, SESSION_SAVE_DEADLINE=0.001)
    interface = app.session_interface
    assert isinstance(interface, ServerSessionInterface)
    cookie = start_session(app)
    loser = open_session(app, cookie)
    loser["mine"] = 1
    assert loser.id_hash is not None
    key = interface.keys.record(loser.id_hash)
    original_get = store.get
    first = original_get(key)
    assert first is not None
    store.set(key, first.value, ttl=60)  # another request wrote since we loaded

    def get_while_others_write(key: str) -> Any:
        record = original_get(key)
        if record is not None:  # another request writes between our reload and our retry
            store.set(key, record.value, ttl=60)
        return record

    interface.locker.sleep = lambda _: None
    store.get = get_while_others_write  # type: ignore[method-assign]
    try:
        with pytest.raises(SaveConflict, match="SESSION_SAVE_DEADLINE"):
            interface.commit(loser)
    finally:
        store.get = original_get  # type: ignore[method-assign]


# Real concurrency over a real socket ------------------------------------------------------


class KeepAlive(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as production servers answer; no access log."""

    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve(store: Store, clock: Any) -> Iterator[Any]:
    servers = []

    def start(**config: Any) -> tuple[int, Flask]:
        # Generous deadlines: these tests are about losing nothing, and the servers of
        # every part share one busy interpreter here; speed is measured in bench/.
        config = {"SESSION_SAVE_DEADLINE": 30, "SESSION_LOCK_TIMEOUT": 30, **config}
        app = build_app(store, clock, **config)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.server_port, app

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def hammer(port: int, cookie: str, paths: list[str]) -> list[int]:
    local = threading.local()

    def one(path: str) -> int:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.conn.request("GET", path, headers={"Cookie": f"session={cookie}"})
        response = local.conn.getresponse()
        response.read()
        return response.status

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, paths))


def test_100_concurrent_requests_setting_distinct_keys_keep_all_100(serve: Any) -> None:
    port, app = serve()
    cookie = start_session(app)
    statuses = hammer(port, cookie, [f"/set/k{i}" for i in range(100)])
    assert statuses == [200] * 100
    client = app.test_client()
    client.set_cookie("session", cookie)
    data = client.get("/read").json
    assert sorted(data) == sorted([f"k{i}" for i in range(100)] + ["start"])


def test_100_concurrent_increments_with_locking_end_at_100(serve: Any) -> None:
    port, app = serve(SESSION_LOCKING=True)
    cookie = start_session(app)
    assert hammer(port, cookie, ["/incr"] * 100) == [200] * 100
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/read").json["n"] == 100


def test_locked_decorator_serialises_one_view(serve: Any) -> None:
    port, app = serve()
    cookie = start_session(app)
    assert hammer(port, cookie, ["/incr-locked"] * 100) == [200] * 100
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/read").json["n"] == 100
