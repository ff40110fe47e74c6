"""The counter lab on every session store, its course config names, its cURL flow and Procfile."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import sessionlab.counter
from lab_servers import Curl, server_side
from live_processes import command_line, descendants
from sessionkeeper import ConfigError, SessionKeeper
from sessionkeeper.cli import main as sessionkeeper_cli
from sessionlab.counter import DEFAULT_KV_URL, create_app

LAB_FOLDER = Path(sessionlab.counter.__file__).parent


@pytest.fixture
def app(build_lab: Callable[..., Flask]) -> Flask:
    return build_lab(create_app)


def token_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_each_visit_counts(client: FlaskClient) -> None:
    for expected in range(1, 5):
        page = client.get("/")
        assert page.status_code == 200
        assert f"Count: {expected}" in page.text


def test_reset_needs_the_csrf_token(client: FlaskClient) -> None:
    client.get("/")
    assert client.post("/reset").status_code == 400
    assert client.post("/reset", data={"csrf_token": "forged"}).status_code == 400
    assert "Count: 2" in client.get("/").text


def test_reset_clears_the_session_and_redirects(app: Flask, client: FlaskClient) -> None:
    page = client.get("/")
    client.get("/")
    old = client.get_cookie("session")
    assert old is not None
    answer = client.post("/reset", data={"csrf_token": token_of(page.text)})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"
    assert client.get_cookie("session") is None
    assert "Count: 1" in client.get("/").text
    new = client.get_cookie("session")
    assert new is not None and new.value != old.value  # a new session id (or a new count)


def test_server_side_cookie_stays_the_same_while_the_count_grows(
    app: Flask, client: FlaskClient
) -> None:
    first = client.get("/")
    set_cookies = [first.headers.getlist("Set-Cookie")]
    cookie = client.get_cookie("session")
    assert cookie is not None
    for _ in range(3):
        set_cookies.append(client.get("/").headers.getlist("Set-Cookie"))
    assert "Count: 5" in client.get("/").text
    if server_side(app):
        assert all(not headers for headers in set_cookies[1:])
        assert client.get_cookie("session") == cookie
        sid = cookie.value.rpartition(".")[0]
        assert len(sid) >= 43 and "." not in sid  # a bare signed id: no timestamp, no data
    else:  # the signed cookie carries the count: a new value on every visit
        values = [headers[0].split(";")[0] for headers in set_cookies]
        assert len(set(values)) == len(values)


def test_course_config_names_choose_the_store(tmp_path: Path) -> None:
    def store_of(**config: object) -> object:
        app = create_app({"SECRET_KEY": "k", **config}, instance_path=tmp_path)
        setting = app.config["SESSION_STORE"]
        store = SessionKeeper.state(app).store
        if store is not None:
            store.close()
        return setting

    assert store_of(USE_SESSION_STORE=False) == "cookie"
    assert store_of(USE_SESSION_STORE=True) == DEFAULT_KV_URL
    assert store_of(USE_SESSION_STORE=True, KV_URL="http://127.0.0.1:5999") == (
        "http://127.0.0.1:5999"
    )
    assert store_of(USE_SESSION_STORE=False, SESSION_STORE="memory://") == "memory://"
    assert store_of() == "sqlite:///sessions.db"
    with pytest.raises(ConfigError, match="USE_SESSION_STORE must be True or False"):
        store_of(USE_SESSION_STORE="yes")


def test_config_file_named_by_app_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.cfg").write_text('USE_SESSION_STORE = False\nSECRET_KEY = "from-the-file"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_CONFIG", "mine.cfg")
    app = create_app(instance_path=tmp_path / "instance")
    assert app.config["SESSION_STORE"] == "cookie"
    assert app.secret_key == "from-the-file"
    monkeypatch.setenv("FLASK_SESSION_STORE", "memory://")  # explicit settings win
    assert create_app(instance_path=tmp_path / "instance").config["SESSION_STORE"] == "memory://"


def test_shipped_counter_cfg_uses_the_kv_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_CONFIG", str(LAB_FOLDER / "counter.cfg"))
    app = create_app(instance_path=tmp_path)
    assert app.config["SESSION_STORE"] == "http://127.0.0.1:5100"
    token_file = tmp_path / "kv-token"  # created on first start, in the instance folder
    assert app.config["SESSION_KV_TOKEN"] == token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600
    SessionKeeper.state(app).store.close()  # type: ignore[union-attr]
    again = create_app(instance_path=tmp_path)
    assert again.config["SESSION_KV_TOKEN"] == app.config["SESSION_KV_TOKEN"]
    SessionKeeper.state(again).store.close()  # type: ignore[union-attr]
    cookie = create_app({"USE_SESSION_STORE": False}, instance_path=tmp_path / "cookie")
    assert not (tmp_path / "cookie" / "kv-token").exists()  # no service, no token
    assert cookie.config["SESSION_STORE"] == "cookie"


def test_the_labs_curl_flow(
    app: Flask, lab_store: str, run_on_socket: Callable[[Flask], str], curl: Curl
) -> None:
    url = run_on_socket(app)
    first = curl(f"{url}/")
    assert "Count: 1" in first.text
    cookie = curl.cookie("session")
    for expected in (2, 3):
        page = curl(f"{url}/")
        assert f"Count: {expected}" in page.text
        if server_side(app):
            assert page.set_cookies() == []
    if server_side(app):
        assert curl.cookie("session") == cookie
    if lab_store.startswith("http://"):  # sessionkeeper dump lists the live session
        assert cookie is not None
        key = "session:" + hashlib.sha256(cookie.rpartition(".")[0].encode()).hexdigest()
        dump = CliRunner().invoke(sessionkeeper_cli, ["dump", lab_store])
        assert dump.exit_code == 0, dump.output
        assert key in dump.output and '"count":3' in dump.output.replace(" ", "")
    reset = curl(f"{url}/reset", "-L", "-d", f"csrf_token={page.csrf_token()}")
    assert "Count: 1" in reset.text
    if server_side(app):
        assert curl.cookie("session") != cookie


def _free_base_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base: int = sock.getsockname()[1]
        if base + 100 > 65535:
            continue
        with socket.socket() as other:
            try:
                other.bind(("127.0.0.1", base + 100))
            except OSError:
                continue
        return base


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return str(answer.read().decode())


@pytest.fixture
def honcho(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``honcho start`` on copies of the lab's Procfile and counter.cfg, on free ports."""
    if shutil.which("honcho", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("honcho is not installed (the demo extra)")
    for name in ("Procfile", "counter.cfg"):
        shutil.copy(LAB_FOLDER / name, tmp_path / name)
    base = _free_base_port()
    # The interpreter comes from the folder's .env, as in the lab's folder; PATH has no venv.
    (tmp_path / ".env").write_text(f"PYTHON={sys.executable}\n")
    env = {
        **os.environ,
        "PATH": os.defpath,
        "FLASK_KV_URL": f"http://127.0.0.1:{base + 100}",
        "SESSIONLAB_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    command = [os.path.join(os.path.dirname(sys.executable), "honcho"), "start", "-p", str(base)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield process, base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # honcho and the servers it started
        process.wait(20)


def test_procfile_runs_the_app_and_the_service(
    honcho: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    process, base = honcho
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "honcho stopped"
        try:
            page = _get(f"http://127.0.0.1:{base}/")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert "Count: 1" in page
    # the count went to the service's store, kept in the instance folder
    assert (tmp_path / "instance" / "counter" / "kv.sqlite3").exists()
    assert _get(f"http://127.0.0.1:{base + 100}/healthz")
    token_file = tmp_path / "instance" / "counter" / "kv-token"  # one token, made on first start
    assert token_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(f"http://127.0.0.1:{base + 100}/?prefix=session:")
    assert refused.value.code == 401
    refused.value.close()
    token = token_file.read_text().strip()
    listing = urllib.request.Request(
        f"http://127.0.0.1:{base + 100}/?prefix=session:",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(listing, timeout=2) as answer:
        assert len(json.loads(answer.read())["keys"]) == 1
    for pid in descendants(process.pid):
        assert token not in command_line(pid), "a token on a command line is visible to every user"


def _lab(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sessionlab.counter", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )


def test_a_bad_store_url_fails_in_one_line_before_serving(tmp_path: Path) -> None:
    done = _lab(
        "--port", "1", FLASK_SESSION_STORE="nosuch://:pw@x", SESSIONLAB_INSTANCE_PATH=str(tmp_path)
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith("Error: unknown session store URL 'nosuch://:***@x'")


def test_a_busy_port_fails_in_one_line_before_serving(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = str(holder.getsockname()[1])
        done = _lab("--port", port, SESSIONLAB_INSTANCE_PATH=str(tmp_path))
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, lines
    assert "in use by another program" in lines[0]
