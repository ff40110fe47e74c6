"""What every lab shares: config layers, the instance secret key, error pages, session helpers."""

from __future__ import annotations

import http.cookiejar
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask, session

from lab_servers import close_lab
from sessionkeeper import MemoryStore, ServerSession, SessionKeeper
from sessionlab.common import (
    INSTANCE_ENVVAR,
    create_lab_app,
    destroy_session,
    instance_root,
    instance_secret_key,
    regenerate_session,
)
from sessionlab.demo import free_port


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Flask]:
    app = create_lab_app("demo-lab", __name__, instance_path=tmp_path / "instance")

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    @app.get("/set/<value>")
    def set_value(value: str) -> str:
        session["value"] = value
        return "ok"

    yield app
    close_lab(app)


def test_no_config_at_all_means_sqlite_sessions_and_a_kept_random_key(
    lab: Flask, tmp_path: Path
) -> None:
    assert lab.config["SESSION_STORE"] == "sqlite:///sessions.db"
    key_file = tmp_path / "instance" / "secret-key"
    assert lab.secret_key == key_file.read_text().strip()
    assert len(lab.secret_key) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    client = lab.test_client()
    client.get("/set/kept")
    assert (tmp_path / "instance" / "sessions.db").exists()
    again = create_lab_app("demo-lab", __name__, instance_path=tmp_path / "instance")
    try:
        assert again.secret_key == lab.secret_key

        @again.get("/get")
        def get() -> str:
            return str(session.get("value"))

        restarted = again.test_client()
        cookie = client.get_cookie("session")
        assert cookie is not None
        restarted.set_cookie("session", cookie.value)
        assert restarted.get("/get").text == "kept"  # sessions survive a restart
    finally:
        close_lab(again)


def test_the_instance_folder_is_in_the_working_directory_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(INSTANCE_ENVVAR, raising=False)
    config = {"SECRET_KEY": "k", "SESSION_STORE": "memory://"}
    app = create_lab_app("some-lab", __name__, config=config)
    assert app.instance_path == str(tmp_path / "instance" / "some-lab")
    assert instance_root() == tmp_path / "instance"
    monkeypatch.setenv(INSTANCE_ENVVAR, str(tmp_path / "elsewhere"))
    app = create_lab_app("some-lab", __name__, config=config)
    assert app.instance_path == str(tmp_path / "elsewhere" / "some-lab")
    app = create_lab_app("some-lab", __name__, config=config, instance_path="given")
    assert app.instance_path == str(tmp_path / "given")


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(instance_secret_key(str(tmp_path))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret-key"]  # no drafts left behind


def test_config_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_SESSION_STORE", "memory://")
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    app = create_lab_app("x", __name__, instance_path=tmp_path, defaults={"A": 1})
    assert app.config["SESSION_STORE"] == "memory://"
    assert app.secret_key == "from-env"
    assert app.config["A"] == 1
    assert not (tmp_path / "secret-key").exists()
    store = MemoryStore()
    app = create_lab_app("x", __name__, instance_path=tmp_path, config={"SESSION_STORE": store})
    assert SessionKeeper.state(app).store is store


def test_errors_are_clean_html_or_json(lab: Flask) -> None:
    client = lab.test_client()
    page = client.get("/missing")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "404 Not Found" in page.text
    answer = client.get("/missing", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json is not None
    assert answer.json["error"] == "Not Found" and answer.json["status"] == 404
    crash = client.get("/boom")
    assert crash.status_code == 500
    assert "500 Internal Server Error" in crash.text
    assert "RuntimeError" not in crash.text and "a bug" not in crash.text


def test_healthz_touches_no_session(lab: Flask) -> None:
    answer = lab.test_client().get("/healthz")
    assert answer.json == {"status": "ok"}
    assert "Cookie" not in answer.vary


@pytest.mark.parametrize("store", ["cookie", "memory://"])
def test_session_helpers(tmp_path: Path, store: str) -> None:
    app = create_lab_app("x", __name__, instance_path=tmp_path, config={"SESSION_STORE": store})
    with app.test_request_context():
        session["user"] = "homer"
        session["_csrf"] = "token"
        regenerate_session()
        assert dict(session) == {"user": "homer"}
        destroy_session()
        assert dict(session) == {}
        assert isinstance(session, ServerSession) == (store != "cookie")


@contextmanager
def lab_process(module: str, port: int, instance: Path) -> Iterator[str]:
    """``python -m MODULE --port PORT`` with no configuration but its instance folder."""
    env = {**os.environ, "SESSIONLAB_INSTANCE_PATH": str(instance)}
    env = {k: v for k, v in env.items() if not k.startswith("FLASK_")}
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"{module} exited with {process.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{module} did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_python_m_runs_a_lab_whose_sessions_survive_a_restart(tmp_path: Path) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    port = free_port(0)
    form = urllib.parse.urlencode({"username": "Homer"}).encode()
    with (
        lab_process("sessionlab.login", port, tmp_path) as url,
        opener.open(f"{url}/login", data=form, timeout=5) as answer,
    ):
        assert "Logged in as Homer" in answer.read().decode()
    assert (tmp_path / "login" / "secret-key").exists()
    assert (tmp_path / "login" / "sessions.db").exists()
    with (
        lab_process("sessionlab.login", port, tmp_path) as url,
        opener.open(f"{url}/", timeout=5) as answer,
    ):
        assert "Logged in as Homer" in answer.read().decode()
