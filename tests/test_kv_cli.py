"""``sessionkeeper dump`` and ``sessionkeeper kv serve``, including a kill -9 of the service."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FakeClock
from kv_servers import serve_for
from sessionkeeper.cli import main
from sessionkeeper.errors import StoreError
from sessionkeeper.kv import dump as kv_dump
from sessionkeeper.kv.guard import is_loopback
from sessionkeeper.stores.http import HttpStore
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.stores.urls import redact

TOKEN = "dump-token"
START_TIMEOUT = 20.0


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("KV_TOKEN", raising=False)
    return CliRunner()


@pytest.fixture
def served(request: pytest.FixtureRequest, clock: FakeClock) -> str:
    backing = MemoryStore(clock=clock)
    for key, value in [("b", b'"two"'), ("a", b"1"), ("sess:x", b'{"n":1}'), ("bin", b"\xff")]:
        backing.set(key, value)
    return serve_for(request, backing, token=TOKEN)


# dump ---------------------------------------------------------------------------------------


def test_dump_prints_every_key_and_value(runner: CliRunner, served: str) -> None:
    result = runner.invoke(main, ["dump", served], env={"KV_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "a: 1",
        'b: "two"',
        'bin: {"$b64": "/w=="}',
        'sess:x: {"n": 1}',
    ]


def test_dump_json_and_prefix(runner: CliRunner, served: str, tmp_path: Path) -> None:
    result = runner.invoke(main, ["dump", served, "--json"], env={"KV_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "a": 1,
        "b": "two",
        "bin": {"$b64": "/w=="},
        "sess:x": {"n": 1},
    }
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with_file = ["--token-file", str(token_file)]
    result = runner.invoke(main, ["dump", served, "--json", "--prefix", "sess:", *with_file])
    assert json.loads(result.output) == {"sess:x": {"n": 1}}
    result = runner.invoke(main, ["dump", served, "--json", "--prefix", "none", *with_file])
    assert json.loads(result.output) == {}


def test_dump_pages_through_large_services(
    runner: CliRunner, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kv_dump, "PAGE", 2)
    store = HttpStore(served, token=TOKEN)
    for i in range(7):
        store.set(f"p{i}", b"%d" % i)
    store.close()
    result = runner.invoke(main, ["dump", served, "--prefix", "p"], env={"KV_TOKEN": TOKEN})
    assert result.output.splitlines() == [f"p{i}: {i}" for i in range(7)]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_dump_with_a_bad_token_fails_clearly(
    runner: CliRunner, served: str, token: str | None
) -> None:
    result = runner.invoke(main, ["dump", served], env={"KV_TOKEN": token})
    assert result.exit_code == 1
    assert "refused the token" in result.output and "Traceback" not in result.output


def test_dump_of_an_unreachable_service_fails_clearly(runner: CliRunner) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        result = runner.invoke(main, ["dump", f"http://127.0.0.1:{sock.getsockname()[1]}"])
    assert result.exit_code == 1
    assert "unreachable" in result.output and "Traceback" not in result.output


def test_dump_rejects_a_bad_url(runner: CliRunner) -> None:
    result = runner.invoke(main, ["dump", "not-a-url"])
    assert result.exit_code == 2
    assert "http://host:port" in result.output


# serve: option checks -----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "kv.example"])  # noqa: S104
def test_serve_refuses_to_expose_without_a_token(runner: CliRunner, host: str) -> None:
    result = runner.invoke(main, ["kv", "serve", "--host", host])
    assert result.exit_code == 2
    assert f"refusing to listen on {host} without a token" in result.output
    assert "KV_TOKEN" in result.output


def test_serve_refuses_a_memory_store_in_many_workers(runner: CliRunner) -> None:
    result = runner.invoke(main, ["kv", "serve", "--store", "memory://", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 1" in result.output


@pytest.mark.parametrize(
    "option", [["--port", "70000"], ["--workers", "0"], ["--max-key-bytes", "0"]]
)
def test_serve_validates_numbers(runner: CliRunner, option: list[str]) -> None:
    assert runner.invoke(main, ["kv", "serve", *option]).exit_code == 2


def test_loopback_and_redaction() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.org", ""]))  # noqa: S104
    assert redact("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert redact("redis://user:pw@host") == "redis://user:***@host"
    assert redact("sqlite:///kv.sqlite3") == "sqlite:///kv.sqlite3"


# serve: a real process, killed -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[[], tuple[subprocess.Popen[bytes], str]]]:
    """Start ``sessionkeeper kv serve`` in ``tmp_path`` (default store: ./kv.sqlite3)."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        log = (tmp_path / f"serve-{len(started)}.log").open("wb")
        code = "from sessionkeeper.cli import main; main()"
        process = subprocess.Popen(
            [sys.executable, "-c", code, "kv", "serve", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "KV_TOKEN": TOKEN},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers die with it
        )
        log.close()
        started.append(process)
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(port):
            assert process.poll() is None, (tmp_path / f"serve-{len(started) - 1}.log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    for log in tmp_path.glob("serve-*.log"):
        assert TOKEN not in log.read_text(), "the token must never be logged"


def test_acknowledged_writes_survive_kill_9(
    start_service: Callable[[], tuple[subprocess.Popen[bytes], str]], tmp_path: Path
) -> None:
    process, url = start_service()
    acknowledged: list[str] = []
    stopped = threading.Event()

    def write() -> None:
        store = HttpStore(url, token=TOKEN, timeout=5)
        try:
            for i in range(1_000_000):
                key = f"k{i:07d}"
                store.set(key, json.dumps({"i": i}).encode())
                acknowledged.append(key)
        except StoreError:
            stopped.set()
        finally:
            store.close()

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 300 and time.monotonic() < deadline and writer.is_alive():
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    writer.join(10)
    assert stopped.is_set() and len(acknowledged) >= 300

    _, url = start_service()
    store = HttpStore(url, token=TOKEN)
    for key in acknowledged:
        record = store.get(key)
        assert record is not None, f"{key} was acknowledged, then lost"
        assert json.loads(record.value) == {"i": int(key[1:])}
    store.close()
    assert (tmp_path / "kv.sqlite3").exists()
