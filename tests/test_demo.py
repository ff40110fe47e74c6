"""``sessionkeeper demo``: the key-value service and every lab on one site, stopped by Ctrl-C."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionlab.demo import free_port

START_TIMEOUT = 60.0


class Demo:
    """A running ``sessionkeeper demo`` and everything it printed so far."""

    def __init__(self, process: subprocess.Popen[str], port: int, kv_port: int) -> None:
        self.process, self.port, self.kv_port = process, port, kv_port
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(text in line for line in self.lines):
            output = "".join(self.lines)
            assert self.process.poll() is None, f"demo exited early:\n{output}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{output}"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port(0)
    kv_port = free_port(0, {port})
    script = Path(sys.executable).with_name("sessionkeeper")
    command = [str(script), "demo", "--port", str(port), "--kv-port", str(kv_port)]
    command += ["--instance-path", str(tmp_path / "instance")]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = Demo(process, port, kv_port)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        running.reader.join(5)
        if process.stdout is not None:
            process.stdout.close()


def test_demo_serves_every_lab_and_stops_cleanly_on_ctrl_c(demo: Demo) -> None:
    demo.wait_for("Ready.")
    urls = re.findall(r"https?://[^\s)]+", "".join(demo.lines))
    assert urls[0].rstrip("/") == demo.url  # the site's URL comes before any other

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def fetch(path: str, form: dict[str, str] | None = None) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with opener.open(demo.url + path, data=data, timeout=10) as answer:
            assert answer.status == 200, path
            return str(answer.read().decode())

    index = fetch("/")
    for prefix in ("/paywall/", "/login/", "/quest/", "/mailing-list/", "/counter/", "/cookies/"):
        assert f'href="{prefix}"' in index
    assert '"id":1' in fetch("/paywall/articles/1").replace(" ", "")  # migrated and seeded
    assert "You are not logged in" in fetch("/login/")
    assert 'value="newgame"' in fetch("/quest/new/")
    assert 'name="email"' in fetch("/mailing-list/")
    assert "Count: 1" in fetch("/counter/")
    assert "first visit" in fetch("/cookies/")
    assert "Logged in as Homer" in fetch("/login/login", {"username": "Homer"})
    assert {cookie.name: cookie.path for cookie in jar if cookie.name.endswith("_session")} == {
        "paywall_session": "/paywall",
        "login_session": "/login",
        "quest_session": "/quest",  # its form's CSRF token
        "mailing_list_session": "/mailing-list",
        "counter_session": "/counter",
    }
    sessions = fetch("/sessions")
    assert "&#34;username&#34;: &#34;Homer&#34;" in sessions
    assert "&#34;count&#34;: 1" in sessions
    assert "&#34;_csrf&#34;: &#34;(hidden)&#34;" in sessions

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(30) == 0
    assert not _listening(demo.port) and not _listening(demo.kv_port)
