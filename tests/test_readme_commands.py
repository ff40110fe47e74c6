"""Every documented command runs as written, from the repository's root, with no virtualenv.

The commands are read from the README and the documentation pages: the ``sh`` block, or
the README table, that follows each comment holding :data:`MARKER`. A command added to
such a block is run here without a change to this file. The commands of one file run in
order, in one folder, as a reader types them: the servers a file starts keep running
until its last command, so ``curl localhost:2224/`` after ``python -m sessionlab.login``
reaches that lab.

The folder is a fresh one laid out like a checkout: ``.venv`` and ``client`` link to this
checkout's, ``src/sessionlab/counter`` is a copy (the counter's ``honcho start`` keeps its
instance folder in it). The environment is a plain shell's, without the virtualenv:
``PATH`` is :data:`os.defpath` (and npm's folder), no ``VIRTUAL_ENV``, ``HOME`` in the
folder, and no ``SESSIONLAB_INSTANCE_PATH``, so every instance folder lands where a
reader's would, inside the folder: nothing is written into the checkout.

Each command runs as written, on free ports: a server is given its port through its
documented option (``--port N``, appended or replaced) or environment (honcho's
``PORT``, with the counter's ``FLASK_KV_URL``; Vite picks a free port and prints it), and
a later command's URL on a documented port (``localhost:5100``) is pointed at the server
that took its place. A one-shot command must exit 0 and print what its check expects, or
the text its trailing comment quotes (``# "Logged in as Homer"``); a server must answer
its page. A line that keeps a command's output in a shell variable
(``token=$(curl ... | sed ...)``) must set it to something, and the file's later
commands see it, as in the reader's shell. ``dump`` with no server of its file behind its
URL talks to a ``kv serve`` this test starts with the token file it names. Servers are
stopped by their process group.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import importlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab_servers import CSRF_INPUT, curl_binary
from live_processes import LiveProcess, kv_service
from redis_servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
#: The comment that marks a block of commands this test runs.
MARKER = "commands: each runs as written (tests/test_readme_commands.py)"
#: The files whose marked blocks are run, relative to the root.
SOURCES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/**/*.rst"))]
BASH = shutil.which("bash") or "/bin/bash"
ONE_SHOT_TIMEOUT = 120.0
#: Programs of the virtualenv: without it activated, only a path to them runs them.
VENV_PROGRAMS = {"python", "python3", "pip", "flask", "sessionkeeper", "honcho", "gunicorn"}
VENV_PROGRAMS |= {"granian", "alembic", "pytest", "sphinx-build", "ruff", "mypy"}


@dataclass(frozen=True)
class Documented:
    """One documented command: where it is written, and the line as written."""

    source: str
    line: int
    command: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.command}"

    @property
    def code(self) -> str:
        """The command without its trailing comment."""
        return re.split(r"\s#\s", self.command, maxsplit=1)[0].rstrip()

    @property
    def quoted(self) -> str | None:
        """What the trailing comment promises the output holds: its text from the first ``"``.

        A comment that is one quoted phrase promises the phrase (``# "Logged in as Homer"``),
        one that only contains quotes promises its text as it stands (``# "views_left":2``).
        """
        parts = re.split(r"\s#\s", self.command, maxsplit=1)
        if len(parts) < 2 or '"' not in parts[1]:
            return None
        text = parts[1][parts[1].index('"') :].strip()
        phrase = re.fullmatch(r'"([^"]*)"', text)
        return phrase.group(1) if phrase else text


def _commands_of(lines: list[str], start: int, source: str) -> list[Documented]:
    """The commands of the block after the marker on line ``start`` (0-based)."""
    index = start + 1
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index == len(lines):
        raise AssertionError(f"{source}:{start + 1}: the marker is followed by no block")
    head = lines[index]
    found: list[tuple[int, str]] = []
    if head.startswith("```"):  # a Markdown fence
        index += 1
        while not lines[index].startswith("```"):
            found.append((index, lines[index]))
            index += 1
    elif head.startswith("|"):  # a Markdown table: the code span of each row's last cell
        for number, row in enumerate(lines[index:], index):
            if not row.startswith("|"):
                break
            span = re.search(r"`([^`]+)`\s*\|\s*$", row)
            if span is not None:
                found.append((number, span.group(1)))
    elif re.match(r"\s*\.\. code-block:: (sh|bash|console)\s*$", head):
        indent = len(head) - len(head.lstrip())
        for number, text in enumerate(lines[index + 1 :], index + 1):
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            found.append((number, text))
    else:
        raise AssertionError(f"{source}:{index + 1}: the marker is followed by {head!r}")
    commands = [
        Documented(source, number + 1, text.strip())
        for number, text in found
        if text.strip() and not text.strip().startswith(("#", ":"))
    ]
    assert commands, f"{source}:{start + 1}: a marked block without a command"
    return commands


def documented_commands(source: str) -> list[Documented]:
    """Every command of the marked blocks of ``source``, in the order they are written."""
    lines = (ROOT / source).read_text(encoding="utf-8").splitlines()
    commands: list[Documented] = []
    for number, line in enumerate(lines):
        if MARKER in line:
            commands += _commands_of(lines, number, source)
    return commands


MARKED = [source for source in SOURCES if documented_commands(source)]


def programs(command: str) -> list[str]:
    """The program each simple command of a shell line runs (after its variable assignments)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found, starts = [], True
    for token in lexer:
        if set(token) <= set("&|;()"):
            starts = True
        elif starts and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token):
            found.append(token)
            starts = False
    return found


def require(ready: bool, message: str) -> None:
    """Skip the test when ``ready`` is false, with ``message``; fail under CI."""
    if not ready:
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def plain_shell_env(folder: Path) -> dict[str, str]:
    """A shell's environment without the virtualenv: only the system's programs on PATH."""
    path = os.defpath.split(os.pathsep)
    npm = shutil.which("npm")
    if npm is not None and os.path.dirname(npm) not in path:
        path.append(os.path.dirname(npm))
    return {"PATH": os.pathsep.join(path), "HOME": str(folder / "home"), "LANG": "C.UTF-8"}


@dataclass
class ShellProcess(LiveProcess):
    """A documented server command, run by ``bash -c`` in ``cwd`` with exactly ``env``."""

    cwd: Path = field(default_factory=Path)

    def launch(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [BASH, "-c", self.argv[0]],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@dataclass
class Reader:
    """Someone typing a file's commands in order in ``folder``, in a plain shell."""

    folder: Path
    env: dict[str, str]
    #: documented port -> the port the server documented on it got here
    ports: dict[int, int] = field(default_factory=dict)
    servers: list[LiveProcess] = field(default_factory=list)

    def on_ports(self, command: str, ports: dict[int, int] | None = None) -> str:
        """``command`` with its URLs on documented ports pointed at the servers started here."""
        ports = {**self.ports, **(ports or {})}

        def moved(match: re.Match[str]) -> str:
            port = int(match.group(2))
            return f"{match.group(1)}:{ports.get(port, port)}"

        return re.sub(r"\b(localhost|127\.0\.0\.1):(\d+)\b", moved, command)

    def run(self, doc: Documented, *, ports: dict[int, int] | None = None) -> str:
        """Run a one-shot command; it must exit 0 and print what its comment quotes."""
        if "curl" in programs(doc.code):
            curl_binary()  # skips without curl, fails under CI
        process = subprocess.Popen(
            [BASH, "-c", self.on_ports(doc.command, ports)],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=ONE_SHOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(
                f"{doc}\nstill running after {ONE_SHOT_TIMEOUT:.0f} s: if it is a server, "
                "give it a check in SERVERS (tests/test_readme_commands.py)",
                pytrace=False,
            )
        text = output.decode("utf-8", "replace")
        assert process.returncode == 0, f"{doc}\nexited {process.returncode}:\n{text}"
        if doc.quoted is not None:
            assert doc.quoted in text, f"{doc}\ndid not print {doc.quoted!r}:\n{text}"
        return text

    def serve(
        self, doc: Documented, port: int, *, option: bool = True, env: dict[str, str] | None = None
    ) -> ShellProcess:
        """Start a server command on ``port`` and wait until it answers ``/healthz``.

        With ``option`` the port goes to its ``--port`` option (replaced, or appended);
        ``env`` adds environment variables.
        """
        command = doc.code
        if option:
            with_port, replaced = re.subn(r"--port[ =]\d+", f"--port {port}", command)
            command = with_port if replaced else f"{command} --port {port}"
        log = self.folder / "logs" / f"{Path(doc.source).stem}-{doc.line}.log"
        server = ShellProcess(
            [command], log, {**self.env, **(env or {})}, port=port, cwd=self.folder
        )
        self.servers.append(server)
        try:
            server.start()
        except RuntimeError as exc:  # it exited: say which documented command did
            failure = f"{doc}\n{exc}"
        else:
            return server
        pytest.fail(failure, pytrace=False)

    def stop(self) -> None:
        """Stop every server started, the last one first."""
        for server in reversed(self.servers):
            server.stop()


def _browser() -> urllib.request.OpenerDirector:
    """A client that keeps its cookies, as a browser does."""
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def _page(
    browser: urllib.request.OpenerDirector, url: str, form: dict[str, str] | None = None
) -> str:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    with browser.open(url, data=data, timeout=10) as answer:
        return str(answer.read().decode("utf-8"))


def _quest(url: str) -> None:
    browser = _browser()
    match = CSRF_INPUT.search(_page(browser, url + "/"))
    assert match is not None
    form = {"csrf_token": match.group(1), "neworcontinue": "newgame"}
    assert "You are in the Hall" in _page(browser, url + "/new/", form)


def _cookies(url: str) -> None:
    browser = _browser()
    _page(browser, url + "/set_cookie")
    assert "Hello World" in _page(browser, url + "/read_cookie")


def _paywall(url: str) -> None:
    articles = json.loads(_page(_browser(), url + "/articles"))
    assert articles and "title" in articles[0]


#: What each lab's page shows, checked once its server answers.
LAB_PAGES: dict[str, Callable[[str], None]] = {
    "quest": _quest,
    "cookies": _cookies,
    "paywall": _paywall,
    "login": lambda url: _expect(url + "/", "You are not logged in"),
    "mailing_list": lambda url: _expect(url + "/", 'name="email"'),
}


def _expect(url: str, text: str) -> None:
    page = _page(_browser(), url)
    assert text in page, f"{url} does not show {text!r}:\n{page[:2000]}"


def _any_page(url: str) -> None:
    _expect(url + "/", "<html")


def _documented_port(doc: Documented, default: int) -> int:
    match = re.search(r"--port[ =](\d+)", doc.code)
    return int(match.group(1)) if match else default


def _free_pair(gap: int) -> int:
    """A free port whose neighbour ``gap`` above is free too (honcho's next process type)."""
    while True:
        port = free_port()
        if port + gap > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + gap))
            except OSError:
                continue
        return port


def run_lab(reader: Reader, doc: Documented, match: re.Match[str]) -> None:
    """``python -m sessionlab.<lab>``: serves the lab, whose page shows what it should."""
    lab = match.group(1)
    module = importlib.import_module(f"sessionlab.{lab}")
    documented = _documented_port(doc, module.PORT)
    server = reader.serve(doc, free_port())
    reader.ports[documented] = server.port
    LAB_PAGES.get(lab, _any_page)(server.url)


def run_honcho(reader: Reader, doc: Documented, match: re.Match[str]) -> None:
    """The counter's ``honcho start``: the lab and its key-value service, the count counted."""
    from sessionlab import counter

    kv_port = urllib.parse.urlsplit(counter.DEFAULT_KV_URL).port
    assert kv_port is not None
    base = _free_pair(100)  # honcho numbers its processes' ports by hundreds
    env = {"PORT": str(base), "FLASK_KV_URL": f"http://127.0.0.1:{base + 100}"}
    server = reader.serve(doc, base, option=False, env=env)
    reader.ports.update({counter.PORT: base, kv_port: base + 100})
    browser = _browser()
    assert "Count: 1" in _page(browser, server.url + "/")
    assert "Count: 2" in _page(browser, server.url + "/")  # kept in the service
    health = _page(_browser(), f"http://127.0.0.1:{base + 100}/healthz")
    assert json.loads(health) == {"status": "ok"}


def run_kv(reader: Reader, doc: Documented, match: re.Match[str]) -> None:
    """``kv serve`` (or the service under ``flask run``): it answers on its port."""
    default = 5000 if "flask run" in doc.code else 5100
    server = reader.serve(doc, free_port())
    reader.ports[_documented_port(doc, default)] = server.port
    assert json.loads(_page(_browser(), server.url + "/healthz")) == {"status": "ok"}


def run_dump(reader: Reader, doc: Documented, match: re.Match[str]) -> None:
    """``dump URL --token-file F``: prints the keys of the service behind URL.

    When no server of the file serves that URL with that token file, a ``kv serve`` of
    this test does, on the token file the command names (made when missing).
    """
    port = int(match.group(1))
    token_file = reader.folder / match.group(2)
    if token_file.exists() and port in reader.ports:
        assert reader.run(doc).strip(), f"{doc}\nprinted nothing"
        return
    token_file.parent.mkdir(parents=True, exist_ok=True)
    helper = kv_service(
        reader.folder / "logs" / f"kv-for-line-{doc.line}",
        "memory://",
        "--token-file",
        str(token_file),
    )
    reader.servers.append(helper)
    helper.start()
    connection = helper.connection()
    try:
        body = json.dumps({"readme-check": "dumped"})
        headers = {
            "Authorization": f"Bearer {token_file.read_text().strip()}",
            "Content-Type": "application/json",
        }
        connection.request("POST", "/", body, headers)
        with connection.getresponse() as answer:
            assert answer.status == 200, answer.read()
            answer.read()
    finally:
        connection.close()
    output = reader.run(doc, ports={port: helper.port})
    assert "readme-check" in output and "dumped" in output, output


def run_vite(reader: Reader, doc: Documented, match: re.Match[str]) -> None:
    """``npm start --prefix client``: Vite's dev server serves the client, and the lab's API."""
    require(shutil.which("npm", path=reader.env["PATH"]) is not None, "npm is not installed")
    require(
        (ROOT / "client" / "node_modules").is_dir(),
        "client/node_modules is missing: make client installs it",
    )
    from sessionlab import paywall

    env = dict(reader.env)
    if paywall.PORT in reader.ports:
        env["PAYWALL_API"] = f"http://127.0.0.1:{reader.ports[paywall.PORT]}"
    log = reader.folder / "logs" / f"{Path(doc.source).stem}-{doc.line}.log"
    server = ShellProcess([doc.code], log, env, port=0, cwd=reader.folder)
    reader.servers.append(server)
    server.launch()
    found: list[str] = []

    def printed_its_url() -> bool:
        assert server.process is not None
        if server.process.poll() is not None:
            pytest.fail(f"{doc}\nexited:\n{log.read_text()[-2000:]}", pytrace=False)
        found[:] = re.findall(r"Local:\s+(http://\S+)", log.read_text(errors="replace"))
        return bool(found)

    wait_until(printed_its_url, f"{doc} to print its URL")
    url = found[0].rstrip("/")
    assert '<div id="root">' in _page(_browser(), url + "/")
    if "PAYWALL_API" in env:
        articles = json.loads(_page(_browser(), url + "/articles"))
        assert articles and "title" in articles[0]


def run_assignment(reader: Reader, doc: Documented, match: re.Match[str]) -> None:
    """``name=$(command)``: the value must not be empty, and the later commands see it.

    An empty value (a page without the token it should hold) would make the next command
    fail for a reason other than the one it shows.
    """
    name = match.group(1)
    value = reader.run(Documented(doc.source, doc.line, f'{doc.code} && printf %s "${name}"'))
    assert value, f"{doc}\nset {name} to nothing"
    reader.env[name] = value


#: Commands that serve until stopped, or need more than their own exit: pattern -> check.
SERVERS: list[tuple[re.Pattern[str], Callable[[Reader, Documented, re.Match[str]], None]]] = [
    (re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=\$\(.*\)$"), run_assignment),
    (re.compile(r"python -m sessionlab\.(\w+)(?:\s|$)"), run_lab),
    (re.compile(r"honcho start"), run_honcho),
    (re.compile(r"sessionkeeper kv serve|FLASK_APP=sessionkeeper\.kv \S*flask run"), run_kv),
    (re.compile(r"sessionkeeper dump \S+:(\d+)\S* --token-file (\S+)"), run_dump),
    (re.compile(r"npm start --prefix client"), run_vite),
]
#: What one-shot commands print: pattern of the command -> pattern of its output.
ONE_SHOTS = [
    (re.compile(r"\bdb upgrade\b"), r"database upgraded"),
    (re.compile(r"sessionlab\.paywall\.seed"), r"seeded \d+ users and \d+ articles"),
    (re.compile(r"\bsessions list\b"), r"no stored sessions|user=\S+ +created="),
    (re.compile(r"\bsessions stats\b"), r"sessions: \d+"),
]


def run_documented(reader: Reader, doc: Documented) -> None:
    """Run one command the way its kind needs, and check what it did."""
    for pattern, check in SERVERS:
        match = pattern.search(doc.code)
        if match is not None:
            check(reader, doc, match)
            return
    output = reader.run(doc)
    for pattern, printed in ONE_SHOTS:
        if pattern.search(doc.code):
            assert re.search(printed, output), f"{doc}\ndid not print {printed!r}:\n{output}"


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Reader]:
    """A reader in a fresh folder laid out like this checkout, in a plain shell."""
    require(
        (ROOT / ".venv" / "bin" / "python").exists(),
        "no .venv in the checkout: make demo or make test creates it",
    )
    folder = tmp_path / "checkout"
    (folder / "home").mkdir(parents=True)
    (folder / "logs").mkdir()
    for name in (".venv", "client"):
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    lab = Path("src", "sessionlab", "counter")
    ignore = shutil.ignore_patterns("__pycache__", "instance")
    shutil.copytree(ROOT / lab, folder / lab, ignore=ignore)
    reader = Reader(folder, plain_shell_env(folder))
    try:
        yield reader
    finally:
        reader.stop()


def test_the_readme_and_the_lab_pages_mark_their_commands() -> None:
    assert "README.md" in MARKED
    for page in ["counter", "paywall", "quest", "login", "cookies", "mailing-list"]:
        assert f"docs/labs/{page}.rst" in MARKED, page
    readme = [doc.code for doc in documented_commands("README.md")]
    assert any("honcho start" in command for command in readme)
    assert any(command.startswith(".venv/bin/sessionkeeper dump") for command in readme)


@pytest.mark.parametrize("source", SOURCES)
def test_no_documented_command_needs_an_activated_virtualenv(source: str) -> None:
    """A virtualenv's program is named by its path (``.venv/bin/flask``), never bare."""
    for doc in documented_commands(source):
        for program in programs(doc.code):
            assert program not in VENV_PROGRAMS, f"{doc}\nneeds an activated virtualenv"


@pytest.mark.parametrize("source", MARKED)
def test_the_documented_commands_run_as_written(reader: Reader, source: str) -> None:
    for doc in documented_commands(source):
        run_documented(reader, doc)
