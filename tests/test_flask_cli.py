"""``flask sessions``: every command, through Click's runner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, session

from redis_servers import free_port
from sessionkeeper import MemoryStore, ServerSession, SessionKeeper
from sessionkeeper.stores.memcached import NO_SCAN


@pytest.fixture
def app(clock: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE=MemoryStore(clock=clock))
    SessionKeeper(app, clock=clock)

    @app.get("/login/<user>")
    def login(user: str) -> str:
        assert isinstance(session, ServerSession)
        session["user"] = user
        session.bind_user(user)
        return "ok"

    @app.get("/whoami")
    def whoami() -> str:
        return str(session.get("user"))

    return app


def ids(output: str) -> list[str]:
    return re.findall(r"^([0-9a-f]{64})", output, re.MULTILINE)


def login(app: Flask, user: str) -> Any:
    client = app.test_client()
    client.get(f"/login/{user}")
    return client


def test_list_pages_through_sessions_by_hashed_id(app: Flask) -> None:
    for i in range(5):
        login(app, f"user{i}")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["sessions", "list", "--limit", "3"])
    assert first.exit_code == 0
    assert len(ids(first.output)) == 3
    cursor = re.search(r"--after ([0-9a-f]{64})", first.output)
    assert cursor is not None
    second = runner.invoke(args=["sessions", "list", "--after", cursor.group(1)])
    assert len(ids(second.output)) == 2
    assert "next page" not in second.output
    assert set(ids(first.output)).isdisjoint(ids(second.output))


def test_show_and_revoke_one_session(app: Flask) -> None:
    client = login(app, "alice")
    runner = app.test_cli_runner()
    (id_hash,) = ids(runner.invoke(args=["sessions", "list"]).output)
    shown = runner.invoke(args=["sessions", "show", id_hash])
    assert shown.exit_code == 0
    assert "user:      alice" in shown.output and '"user": "alice"' in shown.output
    assert runner.invoke(args=["sessions", "revoke", id_hash]).exit_code == 0
    assert client.get("/whoami").text == "None"
    missing = runner.invoke(args=["sessions", "show", id_hash])
    assert missing.exit_code != 0 and "no live session" in missing.output


def test_revoke_user(app: Flask) -> None:
    alice, bob = login(app, "alice"), login(app, "bob")
    login(app, "alice")
    result = app.test_cli_runner().invoke(args=["sessions", "revoke-user", "alice"])
    assert result.output.strip() == "revoked 2 session(s) of alice"
    assert alice.get("/whoami").text == "None"
    assert bob.get("/whoami").text == "bob"


def test_clear_expired_reports_how_many(app: Flask, clock: Any) -> None:
    login(app, "alice")
    login(app, "bob")
    runner = app.test_cli_runner()
    clock.advance(3600)  # past the idle timeout: the sessions expire
    assert (
        runner.invoke(args=["sessions", "clear-expired"]).output == "removed 2 expired record(s)\n"
    )
    clock.advance(12 * 3600)  # past the absolute timeout: their user-index entries too
    assert (
        runner.invoke(args=["sessions", "clear-expired"]).output == "removed 2 expired record(s)\n"
    )
    assert (
        runner.invoke(args=["sessions", "clear-expired"]).output == "removed 0 expired record(s)\n"
    )


def test_stats(app: Flask) -> None:
    login(app, "alice")
    login(app, "bartholomew")
    result = app.test_cli_runner().invoke(args=["sessions", "stats"])
    lines = dict(line.split(": ") for line in result.output.strip().splitlines())
    assert lines["sessions"] == "2"
    assert int(lines["largest bytes"]) > 0
    assert int(lines["total bytes"]) > int(lines["largest bytes"])


def test_cookie_mode_says_there_is_nothing_stored() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "k"
    SessionKeeper(app)
    result = app.test_cli_runner().invoke(args=["sessions", "list"])
    assert result.exit_code != 0 and "kept in cookies" in result.output


def test_list_says_when_nothing_is_stored(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["sessions", "list"])
    assert result.exit_code == 0
    assert result.output == "no stored sessions\n"


#: Every ``flask sessions`` command, with the arguments it needs.
EVERY_COMMAND = [
    ["list"],
    ["show", "ab" * 32],
    ["revoke", "ab" * 32],
    ["revoke-user", "ada"],
    ["clear-expired"],
    ["stats"],
    ["init-db"],
]


def store_app(url: str) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE=url, SESSION_STORE_TIMEOUT=1)
    SessionKeeper(app)
    return app


@pytest.fixture
def memcached_app(memcached_server: Any) -> Iterator[Flask]:
    app = store_app(f"{memcached_server.url}?prefix={memcached_server.fresh_prefix()}")
    yield app
    SessionKeeper.state(app).store.close()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "command", [["list"], ["stats"], ["revoke-user", "ada"]], ids=lambda command: command[0]
)
def test_a_store_that_cannot_list_keys_is_a_one_line_error(
    memcached_app: Flask, command: list[str]
) -> None:
    result = memcached_app.test_cli_runner().invoke(args=["sessions", *command])
    assert isinstance(result.exception, SystemExit)  # Click's exit, not the StoreError
    assert result.exit_code == 1
    assert result.output == f"Error: {NO_SCAN}\n"


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda command: command[0])
def test_a_store_that_is_down_is_a_one_line_error_without_its_password(
    command: list[str],
) -> None:
    app = store_app(f"postgresql://ops:hunter2@127.0.0.1:{free_port()}/sessions")
    result = app.test_cli_runner().invoke(args=["sessions", *command])
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    line = "Error: SQL store postgresql+psycopg://ops:***@127.0.0.1:"
    assert result.output.startswith(line) and "Connection refused" in result.output
    assert result.output.count("\n") == 1 and "hunter2" not in result.output
    SessionKeeper.state(app).store.close()  # type: ignore[union-attr]
