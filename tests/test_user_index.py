"""The user index: list a user's live sessions and log them out everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient

from sessionkeeper import ConfigError, ServerSession, SessionKeeper
from sessionkeeper.stores import Store


@pytest.fixture
def keeper() -> SessionKeeper:
    return SessionKeeper()


def build_app(keeper: SessionKeeper, store: Store, clock: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", SESSION_STORE=store)
    keeper.clock = clock
    keeper.init_app(app)

    @app.get("/login/<user>")
    def login(user: str) -> str:
        assert isinstance(session, ServerSession)
        session.regenerate()
        session["user"] = user
        session.bind_user(user)
        return "ok"

    @app.get("/logout")
    def logout() -> str:
        assert isinstance(session, ServerSession)
        session.destroy()
        return "ok"

    @app.get("/unbind")
    def unbind() -> str:
        assert isinstance(session, ServerSession)
        session.unbind_user()
        return "ok"

    @app.get("/whoami")
    def whoami() -> Any:
        return jsonify(session.get("user"))

    @app.get("/mine")
    def mine() -> Any:
        return jsonify([info.id for info in keeper.sessions_of(session["user"])])

    @app.get("/everywhere")
    def everywhere() -> str:
        return str(keeper.revoke_user(session["user"], keep_current=True))

    return app


@pytest.fixture
def app(keeper: SessionKeeper, store: Store, clock: Any) -> Flask:
    return build_app(keeper, store, clock)


def logged_in(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    client.get(f"/login/{user}")
    return client


def test_sessions_of_lists_live_sessions_of_that_user_only(
    app: Flask, keeper: SessionKeeper
) -> None:
    alice = [logged_in(app, "alice") for _ in range(3)]
    logged_in(app, "bob")
    with app.app_context():
        infos = keeper.sessions_of("alice")
    assert len(infos) == 3
    assert all(info.user == "alice" and info.data == {"user": "alice"} for info in infos)
    assert all(info.created <= info.last_seen for info in infos)
    assert sorted(alice[0].get("/mine").json) == sorted(info.id for info in infos)


def test_destroyed_and_regenerated_sessions_leave_the_index(
    app: Flask, keeper: SessionKeeper
) -> None:
    first, second = logged_in(app, "alice"), logged_in(app, "alice")
    first.get("/logout")
    second.get("/login/alice")  # regenerate: the old id must not be listed
    with app.app_context():
        assert len(keeper.sessions_of("alice")) == 1


def test_unbound_session_leaves_the_index(app: Flask, keeper: SessionKeeper) -> None:
    client = logged_in(app, "alice")
    client.get("/unbind")
    with app.app_context():
        assert keeper.sessions_of("alice") == []
    assert client.get("/whoami").json == "alice"


@pytest.mark.needs_clock
def test_expired_sessions_are_never_listed(app: Flask, keeper: SessionKeeper, clock: Any) -> None:
    logged_in(app, "alice")
    clock.advance(31 * 60)  # past the idle timeout
    with app.app_context():
        assert keeper.sessions_of("alice") == []


def test_log_out_everywhere_keeps_the_current_session(app: Flask) -> None:
    here, elsewhere, bob = logged_in(app, "alice"), logged_in(app, "alice"), logged_in(app, "bob")
    assert here.get("/everywhere").text == "1"
    assert here.get("/whoami").json == "alice"
    assert elsewhere.get("/whoami").json is None
    assert bob.get("/whoami").json == "bob"


def test_revoke_user_logs_out_every_session(app: Flask, keeper: SessionKeeper) -> None:
    clients = [logged_in(app, "alice") for _ in range(2)]
    with app.app_context():
        assert keeper.revoke_user("alice") == 2
        assert keeper.sessions_of("alice") == []
    assert [c.get("/whoami").json for c in clients] == [None, None]


def test_user_index_needs_a_server_side_store() -> None:
    keeper = SessionKeeper()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "k"
    keeper.init_app(app)
    with app.app_context(), pytest.raises(ConfigError, match="SESSION_STORE"):
        keeper.sessions_of("alice")
