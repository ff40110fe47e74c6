"""The paywall lab's React client in Chromium: alone, and under ``/paywall/`` in the demo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from browser_fixtures import playwright_api
from kv_servers import serve_for
from lab_servers import close_lab
from sessionkeeper.stores.sqlite import SqliteStore
from sessionlab import paywall
from sessionlab.demo import create_site

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect
pytestmark = pytest.mark.browser

CLIENT = Path(__file__).parents[1] / "client"
PAYWALL_MESSAGE = "Maximum pageview limit reached"


@pytest.fixture(scope="session")
def client_dist() -> Path:
    """The built React client; built with npm outside CI when missing (``make test`` builds it)."""
    dist = CLIENT / "dist"
    if (dist / "index.html").is_file():
        return dist
    if os.environ.get("CI") == "true":
        pytest.fail(f"{dist} is not built: run `make client`", pytrace=False)
    npm = shutil.which("npm")
    if npm is None or not (CLIENT / "node_modules").is_dir():
        pytest.skip(f"{dist} is not built and cannot be here: run `make client`")
    subprocess.run([npm, "run", "build", "--silent"], cwd=CLIENT, check=True, timeout=300)
    return dist


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated and seeded articles database, built once and copied for each test."""
    folder = tmp_path_factory.mktemp("paywall-db")
    path = folder / "paywall.db"
    app = paywall.create_app(
        {"SESSION_STORE": "cookie", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"},
        instance_path=folder,
    )
    paywall.prepare_database(app, random_seed=7)
    close_lab(app)
    return path


@pytest.fixture
def lab_url(
    serve_lab: Callable[..., str], client_dist: Path, seeded_database: Path, tmp_path: Path
) -> str:
    """The paywall lab alone, on the SQLite session store, serving the client at ``/``."""
    database = tmp_path / "paywall.db"
    shutil.copy(seeded_database, database)
    return serve_lab(
        paywall.create_app,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}",
        PAYWALL_CLIENT_DIR=str(client_dist),
    )


@pytest.fixture
def demo_url(
    serve_app: Callable[[Any], str],
    client_dist: Path,
    seeded_database: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """The demo site in this process, sessions in a KV service on a real socket."""
    instance = tmp_path / "demo"
    (instance / "paywall").mkdir(parents=True)
    shutil.copy(seeded_database, instance / "paywall" / "paywall.db")
    monkeypatch.setenv("FLASK_PAYWALL_CLIENT_DIR", str(client_dist))
    kv = SqliteStore(tmp_path / "kv.db")
    request.addfinalizer(kv.close)
    kv_url = serve_for(request, kv)
    site: DispatcherMiddleware = create_site(kv_url, str(instance))
    yield serve_app(site)
    for app in site.mounts.values():
        assert isinstance(app, Flask)
        close_lab(app)


def open_article(page: Page, index: int) -> str:
    """Click the title of the ``index``-th article and return that title."""
    link = page.get_by_test_id("article-link").nth(index)
    title = link.inner_text()
    link.click()
    return title


def read_article(page: Page, index: int) -> None:
    """Open an article from the list, see it, and go back to the list."""
    title = open_article(page, index)
    expect(page.get_by_test_id("article-title")).to_have_text(title)
    expect(page.get_by_test_id("article-content")).not_to_be_empty()
    expect(page).to_have_url(re.compile(rf"#/articles/{index + 1}$"))
    page.get_by_role("link", name="← All articles").click()
    expect(page.get_by_test_id("article-list")).to_be_visible()


def three_articles_then_paywall_then_clear(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("article-item")).to_have_count(100)
    for index in range(3):
        read_article(page, index)

    open_article(page, 3)
    paywall_screen = page.get_by_test_id("paywall")
    expect(paywall_screen.get_by_role("heading")).to_have_text(PAYWALL_MESSAGE)
    expect(page.get_by_test_id("article")).to_have_count(0)

    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_test_id("cleared")).to_contain_text("Page views cleared")
    expect(page.get_by_test_id("article-list")).to_be_visible()

    title = open_article(page, 3)
    expect(page.get_by_test_id("article-title")).to_have_text(title)
    expect(page.get_by_test_id("cleared")).to_have_count(0)


def test_three_articles_then_the_paywall_and_clear_lets_you_read_again(
    page: Page, lab_url: str
) -> None:
    three_articles_then_paywall_then_clear(page, lab_url + "/")


def test_the_client_works_under_the_demo_sites_prefix(
    page: Page, context: BrowserContext, demo_url: str
) -> None:
    three_articles_then_paywall_then_clear(page, demo_url + "/paywall")
    assert page.url == f"{demo_url}/paywall/#/articles/4"  # redirected to the prefix's root
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert set(cookies) == {"paywall_session"}
    assert cookies["paywall_session"]["path"] == "/paywall"
