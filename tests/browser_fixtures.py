"""Fixtures for the browser tests: headless Chromium driven by Playwright, labs on real sockets.

``browser`` is one Chromium for the whole session; ``context`` and ``page`` are
fresh for each test (``new_context`` opens more, for a second user);
``serve_lab`` builds a lab in the test's own instance folder and serves it on
127.0.0.1. When a browser test fails, a screenshot, the HTML and the console
of each of its pages are saved under ``test-artifacts/<test>/`` at the root of
the repository, and the failure report names the folder.

Without Playwright or Chromium the browser tests skip, and fail when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Generator, Iterator
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from kv_servers import QuietHandler
from lab_servers import LabFactory, close_lab

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Ports Chromium refuses to connect to (net/base/port_util.cc), never handed to a lab.
UNSAFE_PORTS = frozenset(
    {1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95}
    | {101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161}
    | {179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563}
    | {587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060}
    | {5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080}
)
ARTIFACTS = "test-artifacts"
SQLITE_STORE = "sqlite:///sessions.db"  # in the lab's instance folder
TIMEOUT_MS = 10_000

_CONTEXTS = pytest.StashKey[list["BrowserContext"]]()
_CONSOLE = pytest.StashKey[list[str]]()


def _missing(message: str, *, module_level: bool = False) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=module_level)


def playwright_api() -> ModuleType:
    """Import ``playwright.sync_api`` for a test module: skip it without Playwright (fail in CI)."""
    try:
        return import_module("playwright.sync_api")
    except ImportError:
        _missing(
            "Playwright is not installed (pip install -e '.[dev]')",
            module_level=True,
        )


def chromium_path() -> str:
    """Where Debian's Chromium is; skip the test without it, or fail under CI."""
    path = shutil.which("chromium")
    if path is None:
        _missing("Chromium is not installed (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test session."""
    executable = chromium_path()
    api = playwright_api()
    playwright = api.sync_playwright().start()
    try:
        launched: Browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_context(
    browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[[], BrowserContext]]:
    """Open browser contexts (separate cookie jars) that close when the test ends."""
    contexts = request.node.stash.setdefault(_CONTEXTS, [])
    console = request.node.stash.setdefault(_CONSOLE, [])

    def record(message: ConsoleMessage) -> None:
        console.append(f"[{message.type}] {message.text} ({message.location['url']})")

    def record_error(error: Error) -> None:
        console.append(f"[pageerror] {error.message}\n{error.stack or ''}")

    def open_context() -> BrowserContext:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        context.on("console", record)
        context.on("weberror", lambda web_error: record_error(web_error.error))
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context: Callable[[], BrowserContext]) -> BrowserContext:
    """A fresh browser context: no cookies, no storage."""
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in the test's fresh context."""
    return context.new_page()


def _bind(app: Any) -> BaseWSGIServer:
    for _ in range(20):
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        if server.server_port not in UNSAFE_PORTS:
            return server
        server.server_close()
    raise RuntimeError("the system keeps handing out ports Chromium refuses")


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve WSGI apps on 127.0.0.1 (ports Chromium accepts) until the test ends."""
    running: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def start(app: Any) -> str:
        server = _bind(app)
        thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="lab-server", daemon=True
        )
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in reversed(running):
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def serve_lab(
    serve_app: Callable[[Any], str], tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., str]:
    """Build a lab with ``config`` on the session ``store`` and serve it; return its base URL.

    ``store`` is SQLite in the instance folder by default; ``None`` leaves the
    choice to the lab's own configuration. The URL has no trailing slash.
    """

    def start(factory: LabFactory, *, store: str | None = SQLITE_STORE, **config: Any) -> str:
        settings = config if store is None else {"SESSION_STORE": store, **config}
        app: Flask = factory(settings, instance_path=tmp_path / "instance")
        request.addfinalizer(lambda: close_lab(app))
        return serve_app(app)

    return start


def _artifact_folder(item: pytest.Item) -> Path:
    name = re.sub(r"[^\w.-]+", "_", f"{item.path.stem}.{item.name}").strip("_")
    return Path(item.config.rootpath, ARTIFACTS, name)


def _save_artifacts(item: pytest.Item, contexts: list[BrowserContext]) -> str:
    folder = _artifact_folder(item)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    failures = (playwright_api().Error, OSError)
    notes = []
    pages = [page for context in contexts for page in context.pages]
    for number, page in enumerate(pages, 1):
        try:
            page.screenshot(path=folder / f"page-{number}.png", full_page=True)
            html = page.content()
        except failures as exc:  # a crashed page must not hide the test's own failure
            notes.append(f"page {number} ({page.url}): could not be saved: {exc}")
            continue
        (folder / f"page-{number}.html").write_text(html, encoding="utf-8")
        notes.append(f"page {number}: {page.url}")
    console = item.stash.get(_CONSOLE, [])
    (folder / "console.txt").write_text("\n".join(console) + "\n", encoding="utf-8")
    return "\n".join([f"saved in {folder}", *notes])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Save what each page of a failed browser test showed, and name the folder in the report."""
    report = yield
    contexts = item.stash.get(_CONTEXTS, [])
    if report.failed and report.when in ("setup", "call") and contexts:
        report.sections.append(("browser artifacts", _save_artifacts(item, contexts)))
    elif report.passed and report.when == "call" and contexts:
        shutil.rmtree(_artifact_folder(item), ignore_errors=True)  # a past failure's, now stale
    return report
