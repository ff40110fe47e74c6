"""The demo site in Chromium: the way back to the index, the session inspector, the live sessions,
the documentation.

The site runs in-process (every lab mounted as ``sessionkeeper demo`` mounts
them) on a key-value service over a memory store. Screenshots of the index,
both counters' inspectors, a lab page and the documentation are written to
``test-artifacts/screenshots/`` (git-ignored).

The documentation test serves the checkout's ``docs/_build/html`` when it is
built (``make test`` builds it first), else builds it once for the session into
a temporary folder; under ``CI=true`` a missing build fails instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_fixtures import ARTIFACTS, TIMEOUT_MS, playwright_api
from kv_servers import serve_for
from lab_servers import close_lab
from sessionkeeper import MemoryStore
from sessionlab.demo import LABS, create_site
from sessionlab.demo.site import DOCS_PATH
from sessionlab.paywall import create_app as paywall_app
from sessionlab.paywall import prepare_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Response

expect = playwright_api().expect
pytestmark = pytest.mark.browser
PASSWORD = "demo admin password"


@pytest.fixture
def serve_site(
    serve_app: Callable[[Any], str], tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., str]:
    """Serve the demo site on a KV service of its own (``create_site``'s options given to the
    call); return its base URL."""

    def start(**options: Any) -> str:
        instance = tmp_path / "demo"
        paywall = paywall_app({"SESSION_STORE": "cookie"}, instance_path=instance / "paywall")
        prepare_database(paywall, random_seed=1)
        close_lab(paywall)
        kv_url = serve_for(request, MemoryStore())
        return serve_app(create_site(kv_url, str(instance), admin_password=PASSWORD, **options))

    return start


@pytest.fixture
def site(serve_site: Callable[..., str], tmp_path: Path) -> str:
    """The demo site, without documentation; its base URL."""
    return serve_site(docs_path=tmp_path / "no-docs")


@pytest.fixture(scope="session")
def built_docs(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built documentation: the checkout's, else built once into a temporary folder."""
    docs = Path(pytestconfig.rootpath, "docs")
    checkout = pytestconfig.rootpath / DOCS_PATH
    if (checkout / "index.html").is_file():
        return checkout
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"no {DOCS_PATH.as_posix()}: `make test` builds it before pytest", pytrace=False
        )
    sphinx = Path(sys.executable).with_name("sphinx-build")
    if not sphinx.is_file():
        pytest.skip("Sphinx is not installed (pip install -e '.[docs]')")
    html = tmp_path_factory.mktemp("docs") / "html"
    command = [str(sphinx), "-q", "-b", "html", str(docs), str(html)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return html


@pytest.fixture
def screenshots(pytestconfig: pytest.Config) -> Path:
    """Where the tests leave their screenshots."""
    folder = Path(pytestconfig.rootpath, ARTIFACTS, "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def inspector(page: Page) -> Locator:
    """Open the page's session inspector and return it."""
    panel = page.locator("details[data-inspector]")
    expect(panel).not_to_have_attribute("open", "")  # collapsed until asked
    panel.locator("summary").click()
    return panel


def shown(panel: Locator, name: str) -> str:
    return " ".join(panel.locator(f'[data-field="{name}"]').inner_text().split())


def test_every_lab_and_the_admin_page_lead_back_to_the_index(page: Page, site: str) -> None:
    page.goto(site + "/")
    for lab in LABS:
        page.get_by_role("link", name=lab.title, exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(site + lab.prefix) + "/"))
        page.get_by_role("link", name="← All labs").click()
        expect(page).to_have_url(site + "/")

    page.goto(site + "/mailing-list/admin/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.get_by_role("link", name="Back to the mailing list").click()
    expect(page).to_have_url(site + "/mailing-list/")
    page.get_by_role("link", name="← All labs").click()
    expect(page).to_have_url(site + "/")


def test_both_counters_side_by_side_in_one_browser(
    new_context: Callable[[], Any], site: str, screenshots: Path
) -> None:
    context = new_context()
    server, cookie = context.new_page(), context.new_page()
    set_cookies: list[str] = []
    server_cookies: list[str] = []
    for count in (1, 2, 3):
        cookie.goto(site + "/counter-cookie/")
        expect(cookie.get_by_text("Count:")).to_have_text(f"Count: {count}")
        panel = inspector(cookie)
        assert shown(panel, "mode").startswith("signed cookie")
        set_cookies.append(shown(panel, "set-cookie"))
        assert shown(panel, "payload").startswith(f'{{"count":{count}}}')

        server.goto(site + "/counter/")
        expect(server.get_by_text("Count:")).to_have_text(f"Count: {count}")
        panel = inspector(server)
        assert shown(panel, "mode").startswith("server store (HttpStore)")
        operations = shown(panel, "operations")
        assert "set session" in operations
        if count > 1:
            assert "get session" in operations
            assert shown(panel, "set-cookie").startswith("none sent")
            server_cookies.append(shown(panel, "cookie"))
    assert len(set(set_cookies)) == 3  # a new Set-Cookie on every refresh (point 3)
    assert all(value.startswith("counter_cookie_session=") for value in set_cookies)
    assert len(server_cookies) == 2 and len(set(server_cookies)) == 1  # the same id (point 9)
    cookie.screenshot(path=screenshots / "counter-cookie-inspector.png", full_page=True)
    server.screenshot(path=screenshots / "counter-server-inspector.png", full_page=True)


def test_a_read_only_request_on_the_server_sends_no_cookie(page: Page, site: str) -> None:
    page.goto(site + "/login/login")
    page.get_by_label("Name").fill("Homer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as Homer")).to_be_visible()
    page.reload()
    panel = inspector(page)
    assert shown(panel, "set-cookie") == "none sent: nothing changed"
    assert shown(panel, "operations") == "get session"
    assert "Homer" not in panel.inner_text()  # the record's key and size, not its data


def test_the_index_and_a_lab_page(page: Page, site: str, screenshots: Path) -> None:
    page.goto(site + "/")
    expect(page.get_by_role("link", name="Counter (signed cookie)")).to_be_visible()
    page.screenshot(path=screenshots / "demo-index.png", full_page=True)
    page.goto(site + "/quest/")
    page.get_by_role("button", name="New game").click()
    move = page.get_by_role("button", name="Go")
    table = page.locator("table").bounding_box()
    button = move.bounding_box()
    assert table is not None and button is not None
    assert button["y"] >= table["y"] + table["height"] + 8  # the form keeps its distance
    inspector(page)
    page.screenshot(path=screenshots / "quest-lab.png", full_page=True)


@pytest.fixture
def admin_page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page that sends the admin password."""
    context = browser.new_context(
        http_credentials={"username": "admin", "password": PASSWORD},
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def test_the_live_sessions_fit_a_phone(admin_page: Page, site: str, screenshots: Path) -> None:
    admin_page.goto(site + "/login/login")
    admin_page.get_by_label("Name").fill("A very long name " * 3)
    admin_page.get_by_role("button", name="Log in").click()
    admin_page.goto(site + "/mailing-list/")
    admin_page.get_by_label("Email").fill("someone.with.a.long.address@mail.example.org")
    admin_page.get_by_role("button", name="Sign up").click()
    admin_page.goto(site + "/sessions")
    when = admin_page.locator("td.when time").first
    line = admin_page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
    box = when.bounding_box()
    assert box is not None and box["height"] < 2 * line  # one line per date
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 390
    cells = admin_page.locator("td.data")
    assert cells.count() == 2
    for cell in cells.all():  # the data wraps inside its cell, on screen
        fits = cell.evaluate(
            "c => c.scrollWidth <= c.clientWidth && c.getBoundingClientRect().right <= 390"
        )
        assert fits
    admin_page.screenshot(path=screenshots / "live-sessions-390px.png", full_page=True)


def test_the_index_links_to_the_documentation(
    page: Page, serve_site: Callable[..., str], built_docs: Path, screenshots: Path
) -> None:
    site = serve_site(docs_path=built_docs)
    failed: list[str] = []

    def record(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", record)
    page.goto(site + "/")
    page.get_by_role("link", name="Documentation", exact=True).click()
    expect(page).to_have_url(site + "/docs/")
    expect(page).to_have_title(re.compile(r"^SessionKeeper\b"))
    expect(page.locator(".body h1")).to_have_text(re.compile(r"^SessionKeeper"))
    styled = page.evaluate("[...document.styleSheets].filter(sheet => sheet.href).length")
    assert styled > 0  # the theme's style sheets came from /docs/_static/
    page.screenshot(path=screenshots / "docs-page.png", full_page=True)
    page.locator(".body").get_by_role("link", name="The labs", exact=True).first.click()
    expect(page).to_have_url(site + "/docs/labs/index.html")
    expect(page.locator(".body h1")).to_have_text(re.compile(r"^The labs"))
    assert failed == []  # every page, style sheet, script and image was there
