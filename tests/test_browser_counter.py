"""The counter lab in Chromium: a count per browser, and what its session cookie holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser_fixtures import playwright_api
from kv_servers import serve_for
from sessionkeeper.stores.sqlite import SqliteStore
from sessionlab import counter

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect
pytestmark = pytest.mark.browser


def visit(page: Page, url: str, count: int) -> None:
    """Load the counter and see ``count``."""
    page.goto(url + "/")
    expect(page.get_by_text("Count:")).to_have_text(f"Count: {count}")


def session_cookie(context: BrowserContext) -> str:
    """The value of the session cookie ``context`` holds."""
    values = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "session"]
    assert len(values) == 1, context.cookies()
    return values[0]


def test_two_browsers_keep_separate_counts(
    page: Page, new_context: Callable[[], BrowserContext], serve_lab: Callable[..., str]
) -> None:
    url = serve_lab(counter.create_app)
    other = new_context().new_page()
    for count in (1, 2, 3):
        visit(page, url, count)
    visit(other, url, 1)
    visit(page, url, 4)
    visit(other, url, 2)


def test_with_the_kv_store_the_cookie_stays_the_same_until_reset(
    page: Page,
    context: BrowserContext,
    serve_lab: Callable[..., str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    kv = SqliteStore(tmp_path / "kv.db")
    request.addfinalizer(kv.close)
    url = serve_lab(
        counter.create_app, store=None, USE_SESSION_STORE=True, KV_URL=serve_for(request, kv)
    )
    visit(page, url, 1)
    first = session_cookie(context)
    for count in (2, 3):
        visit(page, url, count)
        assert session_cookie(context) == first
    assert len(kv.scan()[0]) == 1  # the session is kept in the key-value service

    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_text("Count:")).to_have_text("Count: 1")
    assert session_cookie(context) != first


def test_with_the_cookie_store_the_cookie_changes_on_every_visit(
    page: Page, context: BrowserContext, serve_lab: Callable[..., str], tmp_path: Path
) -> None:
    url = serve_lab(counter.create_app, store=None, USE_SESSION_STORE=False)
    values = []
    for count in (1, 2, 3):
        visit(page, url, count)
        values.append(session_cookie(context))
    assert len(set(values)) == 3
    assert not (tmp_path / "instance" / "sessions.db").exists()  # no server-side store
