"""The KV service against what a review found: forged sessions, exposure, leaks, unbounded work.

Each test sends the requests an attacker (or an unlucky operator) would, to a
real ``sessionkeeper kv serve`` where the finding was about the process.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from live_processes import BIN, LiveProcess, command_line, descendants, kv_service
from sessionkeeper import ConfigError, store_from_url
from sessionkeeper.cli import main
from sessionkeeper.kv import create_app, secret_file
from sessionkeeper.kv.app import UNAVAILABLE
from sessionkeeper.kv.openapi import document
from sessionkeeper.kv.params import DEFAULT_PAGE
from sessionkeeper.kv.state import MAX_POST_KEYS
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.stores.sqlite import SqliteStore
from sessionkeeper.wire import SocketTransport
from test_wire_tls import self_signed

SECRET = "s3cret-pw"
HTTPIE = {"User-Agent": "HTTPie/3.2.4", "Accept": "application/json, */*;q=0.5"}


def call(method: str, url: str, **options: Any) -> requests.Response:
    """Send one request as a student's script would, with ``requests``."""
    return requests.request(method, url, timeout=10, **options)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveProcess]:
    """``kv serve`` with no token, as ``make demo`` and the counter's Procfile ran it."""
    live = kv_service(tmp_path_factory.mktemp("kv"), "memory://").start()
    yield live
    live.stop()


def send(
    live: LiveProcess, method: str, target: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, Any]]:
    connection = live.connection()
    try:
        fields = {name.replace("_", "-"): value for name, value in headers.items()}
        connection.request(method, target, body=body or None, headers=fields)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


def forged_session() -> tuple[str, bytes]:
    key = "session:" + hashlib.sha256(b"an id the attacker chose").hexdigest()
    return key, json.dumps({key: {"c": time.time(), "d": {"admin": True}}}).encode()


# 1. Any web page can forge sessions through a service with no token --------------------------


def test_a_cross_site_text_plain_post_cannot_forge_a_session(service: LiveProcess) -> None:
    key, body = forged_session()
    status, answer = send(
        service,
        "POST",
        "/",
        body,
        Content_Type="text/plain",
        Origin="https://evil.example",
        Sec_Fetch_Site="cross-site",
    )
    assert status == 403 and answer["status"] == 403 and "another site" in answer["message"]
    assert send(service, "GET", "/?key=" + key)[0] == 404  # nothing was written


@pytest.mark.parametrize(
    "headers",
    [
        {"Content_Type": "text/plain"},  # a page that sends no Origin (an old browser)
        {"Content_Type": "application/x-www-form-urlencoded"},
        {"Content_Type": "multipart/form-data; boundary=x"},
        {"Content_Type": "application/json", "Origin": "http://localhost:8000"},
        {"Content_Type": "application/json", "Origin": "null"},
        {"Content_Type": "application/json", "Sec_Fetch_Site": "same-site"},
        {"Content_Type": "application/json", "Sec_Fetch_Site": "cross-site"},
    ],
)
def test_every_simple_or_foreign_write_is_refused(
    service: LiveProcess, headers: dict[str, str]
) -> None:
    key, body = forged_session()
    status, answer = send(service, "POST", "/", body, **headers)
    assert (status, answer["status"]) == (403, 403)
    assert send(service, "GET", "/?key=" + key)[0] == 404


def test_a_rebound_host_reads_and_writes_nothing(service: LiveProcess) -> None:
    call("POST", service.url, json={"session:victim": {"d": {"email": "a@b.example"}}})
    for method, target, body in [
        ("GET", "/?prefix=session:", b""),
        ("GET", "/session:victim", b""),
        ("DELETE", "/session:victim", b""),
        ("POST", "/", forged_session()[1]),
        ("GET", "/healthz", b""),
    ]:
        status, answer = send(
            service,
            method,
            target,
            body,
            Host=f"rebind.evil.example:{service.port}",
            Content_Type="application/json",
        )
        assert status == 403, (method, target)
        assert "victim" not in json.dumps(answer) and "Host" in answer["message"]
    assert call("GET", service.url + "/session:victim").status_code == 200


def test_the_course_httpie_calls_and_requests_reads_still_work(service: LiveProcess) -> None:
    url = f"http://localhost:{service.port}"  # http localhost:5000 foo=bar, as the course has it
    assert call("POST", url, json={"foo": "bar"}, headers=HTTPIE).json() == {"foo": "bar"}
    for name, link in [("twitter", "https://twitter.com/ProfAvery"), ("github", "https://gh")]:
        assert call("POST", url, json={name: link}, headers=HTTPIE).status_code == 200
    assert call("GET", url + "/foo", headers=HTTPIE).json() == {"foo": "bar"}
    assert call("GET", url + "/" + "github").json()["github"] == "https://gh"
    assert call("GET", url + "?prefix=f", headers=HTTPIE).json() == {"keys": ["foo"]}
    assert call("DELETE", url + "/foo", headers=HTTPIE).json() == {"foo": "bar"}
    assert call("GET", url + "/foo", headers={"Accept": "text/plain"}).json() == {"foo": None}
    same_origin = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
    assert call("POST", url, json={"k": 1}, headers=same_origin).status_code == 200
    typed = {"Sec-Fetch-Site": "none"}  # the address bar
    assert call("GET", f"http://127.0.0.1:{service.port}/k", headers=typed).json() == {"k": 1}
    assert call("POST", url + "/clear-expired").json() == {"cleared": 0}  # no body at all


def test_a_token_service_still_takes_forms() -> None:
    client = create_app(MemoryStore(), token="t").test_client()
    auth = {"Authorization": "Bearer t"}
    assert client.post("/", data={"a": "1"}, headers=auth).get_json() == {"a": "1"}
    assert client.post("/", data={"a": "1"}).status_code == 401


# 2. The app itself enforces "a token beyond loopback" ---------------------------------------


def test_without_a_token_the_app_refuses_other_machines() -> None:
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    client = create_app(MemoryStore()).test_client()
    status = client.get("/?prefix=", environ_base=remote, headers={"Host": "192.0.2.1"})
    assert status.status_code == 403 and "from this machine" in status.get_json()["message"]
    assert (
        client.get("/healthz", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    )
    opened = create_app(MemoryStore(), allow_remote_without_token=True).test_client()
    answer = opened.get("/?prefix=", environ_base=remote, headers={"Host": "kv.lan:5100"})
    assert answer.get_json() == {"keys": []}
    assert opened.post("/", data="{}", content_type="text/plain").status_code == 403
    locked = create_app(MemoryStore(), token="t").test_client()
    auth = {"Authorization": "Bearer t", "Host": "kv.lan"}
    assert locked.get("/?prefix=", environ_base=remote, headers=auth).status_code == 200


def test_kv_serve_speaks_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    live = kv_service(tmp_path, "memory://", "--tls-cert", str(cert), "--tls-key", str(key))
    live.tls = trust
    live.start()
    try:
        assert live.url.startswith("https://")
        transport = SocketTransport(live.url, tls=trust)
        store = HttpStore(live.url, transport=transport)
        store.set("k", b'"over tls"')
        record = store.get("k")
        assert record is not None and record.value == b'"over tls"'
        store.close()
        transport.close()  # handed in: the store leaves it open
        plain = http.client.HTTPConnection("127.0.0.1", live.port, timeout=5)
        with pytest.raises((OSError, http.client.HTTPException)):
            plain.request("GET", "/healthz")
            plain.getresponse()
        plain.close()
    finally:
        live.stop()
    assert "https://127.0.0.1:" in live.log.read_text()


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    result = CliRunner().invoke(main, ["kv", "serve", "--tls-cert", str(cert)])
    assert result.exit_code == 2 and "both --tls-cert and --tls-key" in result.output


# 3. Errors leak no internals ----------------------------------------------------------------


def test_a_failing_store_answers_a_fixed_503_and_logs_the_detail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "no-such-folder"
    client = create_app(SqliteStore(folder / "kv.sqlite3")).test_client()
    with caplog.at_level(logging.WARNING, "sessionkeeper.kv"):
        for response in (client.get("/healthz"), client.get("/k"), client.post("/", json={"k": 1})):
            assert response.status_code == 503
            assert response.get_json()["message"] == UNAVAILABLE
            assert str(tmp_path) not in response.text and "sqlite" not in response.text.lower()
    assert "unable to open database file" in caplog.text and str(folder) in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        f"nosuch://:{SECRET}@host/0",
        f"sqlite://user:{SECRET}@host/kv.db",
        f"http://user:{SECRET}@127.0.0.1:99999",
        f"http://user:{SECRET}@",
    ],
)
def test_configuration_errors_never_show_a_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        store_from_url(url)
    assert SECRET not in str(caught.value) and "***" in str(caught.value)
    result = CliRunner().invoke(main, ["kv", "serve", "--port", "0", "--store", url])
    assert result.exit_code == 2 and SECRET not in result.output


def test_errors_of_an_http_store_show_no_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        store = HttpStore(f"http://user:{SECRET}@127.0.0.1:{sock.getsockname()[1]}", timeout=1)
        with pytest.raises(Exception) as caught:
            store.get("k")
    assert SECRET not in str(caught.value) and SECRET not in store.url
    store.close()


# 4. Bounded work per request ----------------------------------------------------------------


def test_a_listing_without_limit_is_one_page_with_a_next_cursor() -> None:
    backing = MemoryStore()
    keys = [f"session:{i:05d}" for i in range(DEFAULT_PAGE + 1)]
    for key in keys:
        backing.set(key, b"1")
    client = create_app(backing).test_client()
    first = client.get("/?prefix=session:").get_json()
    assert first == {"keys": keys[:DEFAULT_PAGE], "next": keys[DEFAULT_PAGE - 1]}
    rest = client.get("/", query_string={"prefix": "session:", "after": first["next"]})
    assert rest.get_json() == {"keys": keys[DEFAULT_PAGE:], "next": None}
    assert client.get("/?prefix=session:0000").get_json() == {"keys": keys[:10]}


def test_a_post_of_too_many_keys_is_413_and_writes_nothing() -> None:
    backing = MemoryStore()
    client = create_app(backing).test_client()
    response = client.post("/", json={f"k{i}": i for i in range(MAX_POST_KEYS + 1)})
    assert response.status_code == 413
    assert f"{MAX_POST_KEYS}-key limit" in response.get_json()["message"]
    assert backing.scan(limit=1) == ([], None)
    assert client.post("/", json={f"k{i}": i for i in range(MAX_POST_KEYS)}).status_code == 200
    small = create_app(MemoryStore(), max_post_keys=2).test_client()
    assert small.post("/", json={"a": 1, "b": 2, "c": 3}).status_code == 413


def test_the_limits_are_documented() -> None:
    doc = document()
    listing = {p["name"]: p for p in doc["paths"]["/"]["get"]["parameters"]}
    assert f"{DEFAULT_PAGE} when not given" in listing["limit"]["description"]
    assert f"At most {MAX_POST_KEYS} keys" in doc["paths"]["/"]["post"]["description"]
    guide = (Path(__file__).parents[1] / "docs" / "kv-api.rst").read_text()
    assert f"{MAX_POST_KEYS} keys" in guide and "--max-post-keys" in guide


# 5. One service per port --------------------------------------------------------------------


def serve_on(port: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "sessionkeeper"), "kv", "serve", "--port", str(port), "--store", "memory://"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_a_second_service_on_a_port_in_use_fails_at_start(
    service: LiveProcess, tmp_path: Path
) -> None:
    assert call("POST", service.url, json={"first": 1}).status_code == 200
    second = serve_on(service.port, tmp_path)
    lines = (second.stdout + second.stderr).strip().splitlines()
    assert second.returncode == 1 and len(lines) == 1, lines
    assert f"cannot start the key-value service on 127.0.0.1:{service.port}" in lines[0]
    for _ in range(20):  # every request still reaches the first service
        assert call("GET", service.url + "/first").json() == {"first": 1}


def test_a_port_another_program_holds_fails_in_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        result = serve_on(holder.getsockname()[1], tmp_path)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, lines
    assert "in use by another program" in lines[0] and "serving" not in lines[0]


# The token: from the environment or a file, never the command line --------------------------


def test_a_token_on_the_command_line_is_refused(tmp_path: Path) -> None:
    for command in (["kv", "serve"], ["dump", "http://127.0.0.1:1"]):
        result = CliRunner().invoke(main, [*command, "--token", "x"])
        assert result.exit_code == 2 and "visible to every local user" in result.output
        token_file = tmp_path / "token"
        token_file.write_text("y\n")
        both = [*command, "--token-file", str(token_file)]
        result = CliRunner().invoke(main, both, env={"KV_TOKEN": "x"})
        assert result.exit_code == 2 and "KV_TOKEN or --token-file, not both" in result.output


def test_serve_creates_its_token_file_0600_and_requires_it(tmp_path: Path) -> None:
    token_file = tmp_path / "instance" / "kv-token"
    live = kv_service(tmp_path, "memory://", "--token-file", str(token_file)).start()
    try:
        token = token_file.read_text().strip()
        assert len(token) >= 43 and token_file.stat().st_mode & 0o777 == 0o600
        assert call("GET", live.url + "/k").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert call("GET", live.url + "/k", headers=auth).status_code == 404
        assert live.process is not None
        assert all(token not in command_line(pid) for pid in descendants(live.process.pid))
    finally:
        live.stop()
    assert token not in live.log.read_text()


def test_secret_files_are_created_0600_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        calls.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: pytest.fail("chmod after writing"))
    old_umask = os.umask(0)  # even with no umask to narrow it
    try:
        results: list[str] = []
        threads = [
            threading.Thread(target=lambda: results.append(secret_file(tmp_path / "token")))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        os.umask(old_umask)
    assert len(set(results)) == 1 and len(results) == 8  # racing creators agree
    created = [c for c in calls if c[1] & os.O_CREAT]
    assert created and all(flags & os.O_EXCL and mode == 0o600 for _, flags, mode in created)
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]  # no draft left behind
