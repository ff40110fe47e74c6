"""``sessionkeeper demo``: the key-value service and every lab on one site, stopped by Ctrl-C."""

from __future__ import annotations

import base64
import functools
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from werkzeug.test import Client, TestResponse

from live_processes import command_line, descendants
from sessionkeeper.cli import PLUGIN_GROUP, main
from sessionlab.demo import cli as demo_cli
from sessionlab.demo import create_site, free_port
from sessionlab.demo.cli import demo as demo_command
from sessionlab.demo.runner import DOCS_PATH_ENVVAR

START_TIMEOUT = 60.0


class Demo:
    """A running ``sessionkeeper demo`` and everything it printed so far."""

    def __init__(
        self, process: subprocess.Popen[str], port: int, kv_port: int, instance: Path
    ) -> None:
        self.process, self.port, self.kv_port, self.instance = process, port, kv_port, instance
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
    instance = tmp_path / "instance"
    command += ["--instance-path", str(instance)]
    environment = {k: v for k, v in os.environ.items() if k != DOCS_PATH_ENVVAR}  # the default
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**environment, "PYTHONUNBUFFERED": "1"},
    )
    running = Demo(process, port, kv_port, instance)
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

    def fetch(
        path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        asked = urllib.request.Request(demo.url + path, data=data, headers=headers or {})
        with opener.open(asked, timeout=10) as answer:
            assert answer.status == 200, path
            return str(answer.read().decode())

    index = fetch("/")
    prefixes = ("/paywall/", "/login/", "/quest/", "/mailing-list/", "/counter/", "/cookies/")
    for prefix in (*prefixes, "/counter-cookie/"):
        assert f'href="{prefix}"' in index
        with urllib.request.urlopen(demo.url + prefix, timeout=10) as answer:  # another visitor
            assert '<a href="/" data-home>' in answer.read().decode()  # every lab leads back
    assert "data-home" not in index
    assert '"id":1' in fetch("/paywall/articles/1").replace(" ", "")  # migrated and seeded
    assert "You are not logged in" in fetch("/login/")
    assert 'value="newgame"' in fetch("/quest/new/")
    assert 'name="email"' in fetch("/mailing-list/")
    assert "Count: 1" in fetch("/counter/")
    assert "Count: 2" in fetch("/counter/")
    cookie_counter = fetch("/counter-cookie/")
    assert "Count: 1" in cookie_counter and "signed cookie" in cookie_counter
    assert "There is no cookie named flask_tutorial: visit /cookies/set_cookie." in fetch(
        "/cookies/read_cookie"
    )
    assert "first visit" in fetch("/cookies/")
    assert "Logged in as Homer" in fetch("/login/login", {"username": "Homer"})
    assert {cookie.name: cookie.path for cookie in jar if cookie.name.endswith("_session")} == {
        "paywall_session": "/paywall",
        "login_session": "/login",
        "counter_session": "/counter",
        "counter_cookie_session": "/counter-cookie",
    }  # the quest's and the mailing list's form pages keep their CSRF nonce out of the session
    password = (demo.instance / "admin-password").read_text().strip()
    admin = {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}
    sessions = fetch("/sessions", headers=admin)
    assert "&#34;username&#34;: &#34;Homer&#34;" in sessions
    assert "&#34;count&#34;: 2" in sessions
    assert "Counter (signed cookie)" not in sessions  # nothing of it is stored
    assert re.search(r'<td class="when"><time datetime="[^"]+" title="[^"]+ UTC">', sessions)

    assert 'href="/docs/">Documentation</a>' in index
    with pytest.raises(urllib.error.HTTPError) as unbuilt:  # nothing in its working directory
        urllib.request.urlopen(demo.url + "/docs/", timeout=10)
    with unbuilt.value as answer:
        assert answer.code == 404 and "make docs" in answer.read().decode()
    built = demo.instance.parent / "docs" / "_build" / "html"  # where `make docs` puts it
    built.mkdir(parents=True)
    (built / "index.html").write_text("<h1>SessionKeeper</h1>", encoding="utf-8")
    assert fetch("/docs/") == "<h1>SessionKeeper</h1>"  # looked up again on every request

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(30) == 0
    assert not _listening(demo.port) and not _listening(demo.kv_port)


def test_the_demo_shows_no_visitor_data_to_strangers_and_no_secret_to_local_users(
    demo: Demo,
) -> None:
    demo.wait_for("Ready.")
    visitor = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    form = urllib.parse.urlencode({"username": "visitor@mail.example"}).encode()
    with visitor.open(demo.url + "/login/login", data=form, timeout=10) as answer:
        assert "visitor@mail.example" in answer.read().decode()

    def stranger(headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        asked = urllib.request.Request(demo.url + "/sessions", headers=headers)
        try:
            with urllib.request.urlopen(asked, timeout=10) as answer:
                return answer.status, answer.read().decode(), dict(answer.headers)
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code, refused.read().decode(), dict(refused.headers)

    wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:guess").decode()}
    for headers in ({}, wrong):
        status, page, answer_headers = stranger(headers)
        assert status == 401 and "visitor@mail.example" not in page and "username" not in page
        assert answer_headers["WWW-Authenticate"].startswith("Basic ")

    token = (demo.instance / "kv-token").read_text().strip()
    password = (demo.instance / "admin-password").read_text().strip()
    started = descendants(demo.process.pid)
    assert len(started) >= 4  # the supervisor, the service (and its worker), gunicorn (and its)
    for pid in started:
        argv = command_line(pid)
        assert token not in argv and password not in argv, argv
    for name in ("kv-token", "admin-password", "secret-key"):
        assert (demo.instance / name).stat().st_mode & 0o777 == 0o600, name

    refused = urllib.request.Request(f"http://127.0.0.1:{demo.kv_port}/?prefix=session:")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(refused, timeout=10)
    assert caught.value.code == 401
    caught.value.close()
    refused.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(refused, timeout=10) as answer:
        assert json.loads(answer.read())["keys"]


def test_demo_is_a_command_of_the_sessionkeeper_script_through_its_entry_point() -> None:
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0, listing.output
    assert re.search(r"^\s+demo\s+Run the demo site", listing.output, re.MULTILINE)
    usage = runner.invoke(main, ["demo", "--help"], prog_name="sessionkeeper")
    assert usage.exit_code == 0, usage.output
    assert "Usage: sessionkeeper demo [OPTIONS]" in usage.output
    for option in ("--port", "--kv-port", "--instance-path", "--docs-path"):
        assert option in usage.output
    assert main.get_command(click.Context(main), "demo") is demo_command


def test_the_docs_path_reaches_the_runner_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(demo_cli, "run", lambda **options: asked.append(options) or 0)
    monkeypatch.delenv(DOCS_PATH_ENVVAR, raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["demo"]).exit_code == 0
    assert runner.invoke(main, ["demo", "--docs-path", "site/html"]).exit_code == 0
    from_environment = runner.invoke(main, ["demo"], env={DOCS_PATH_ENVVAR: "built"})
    assert from_environment.exit_code == 0
    assert [options["docs_path"] for options in asked] == [None, "site/html", "built"]


Get = Callable[[str], TestResponse]


@pytest.fixture
def docs_site(tmp_path: Path) -> Callable[[Path], Get]:
    """Build the demo site serving the documentation in a folder; return its ``GET``.

    The answers are read whole (their files closed). The key-value service is
    never reached: no request here touches a session.
    """

    def build(docs_path: Path) -> Get:
        site = create_site("http://127.0.0.1:9", str(tmp_path / "instance"), docs_path=docs_path)
        return functools.partial(Client(site).get, buffered=True)

    return build


@pytest.fixture
def built_docs(tmp_path: Path) -> Path:
    """A small built site in ``html/``, with a secret file beside it that must stay out of reach."""
    html = tmp_path / "html"
    (html / "labs").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "index.html").write_text("<h1>SessionKeeper</h1>", encoding="utf-8")
    (html / "labs" / "index.html").write_text("<h1>The labs</h1>", encoding="utf-8")
    (html / "_static" / "basic.css").write_text("body { margin: 0 }", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    return html


def test_the_site_serves_the_built_documentation_at_docs(
    docs_site: Callable[[Path], Get], built_docs: Path
) -> None:
    get = docs_site(built_docs)
    first = get("/docs/")
    assert first.status_code == 200 and first.mimetype == "text/html"
    assert first.get_data(as_text=True) == "<h1>SessionKeeper</h1>"
    assert get("/docs/index.html").get_data(as_text=True) == "<h1>SessionKeeper</h1>"
    for nested in ("/docs/labs/", "/docs/labs/index.html"):
        answer = get(nested)
        assert answer.status_code == 200 and answer.get_data(as_text=True) == "<h1>The labs</h1>"
    style = get("/docs/_static/basic.css")
    assert style.status_code == 200 and style.mimetype == "text/css"
    for folder, slashed in (("/docs", "/docs/"), ("/docs/labs", "/docs/labs/")):
        moved = get(folder)  # relative links resolve from the folder, not its parent
        assert moved.status_code in (302, 308) and moved.location.endswith(slashed), folder
    missing = get("/docs/no-such-page.html")
    assert missing.status_code == 404 and "<h1>404 Not Found</h1>" in missing.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/docs/../secret.txt",
        "/docs/%2e%2e/secret.txt",
        "/docs/..%2fsecret.txt",
        "/docs/%2e%2e%2fsecret.txt",
        "/docs/labs/../../secret.txt",
        "/docs/%2e%2e/",
        "/docs/%2e%2e",
        "/docs/%5c..%5csecret.txt",
    ],
)
def test_the_documentation_never_serves_a_file_outside_its_folder(
    docs_site: Callable[[Path], Get], built_docs: Path, path: str
) -> None:
    answer = docs_site(built_docs)(path)  # the test client sends the path as it is
    assert answer.status_code == 404, answer.location
    assert "top secret" not in answer.get_data(as_text=True)


def test_without_a_built_documentation_docs_says_how_to_build_it(
    docs_site: Callable[[Path], Get], tmp_path: Path
) -> None:
    folder = tmp_path / "not-built"
    get = docs_site(folder)
    for path in ("/docs/", "/docs/index.html"):
        hint = get(path)
        assert hint.status_code == 404 and hint.mimetype == "text/html"
        assert "<code>make docs</code>" in hint.get_data(as_text=True)
    assert 'href="/docs/">Documentation</a>' in get("/").get_data(as_text=True)
    folder.mkdir()
    (folder / "index.html").write_text("<h1>SessionKeeper</h1>", encoding="utf-8")
    assert get("/docs/").status_code == 200  # built while the site runs: served at once


def test_the_library_does_not_import_the_labs() -> None:
    code = (
        "import sys\n"
        "from sessionkeeper.cli import main\n"
        "try:\n"
        "    main(['kv', '--help'], prog_name='sessionkeeper')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sessionlab'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_a_broken_plugin_is_reported_and_the_rest_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = list(metadata.entry_points(group=PLUGIN_GROUP))
    fakes = [
        metadata.EntryPoint("broken", "no_such_module_here:command", PLUGIN_GROUP),
        metadata.EntryPoint("odd", "os:sep", PLUGIN_GROUP),
        metadata.EntryPoint("kv", "no_such_module_here:kv", PLUGIN_GROUP),  # ours wins
    ]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [*real, *fakes])
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0, listing.output
    assert "broken  (broken: ModuleNotFoundError" in listing.output
    assert "odd     (broken: os:sep is a str, not a command)" in listing.output
    assert re.search(r"^\s+demo\s+Run the demo site", listing.output, re.MULTILINE)
    for args in (["broken"], ["broken", "--help", "--port", "1"]):
        failed = runner.invoke(main, args)
        assert failed.exit_code == 1
        assert (
            "Error: the 'broken' command could not be loaded from no_such_module_here:command:"
            in failed.output
        )
        assert "No module named 'no_such_module_here'" in failed.output
    assert runner.invoke(main, ["kv", "--help"]).exit_code == 0
