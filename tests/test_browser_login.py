"""The login lab in Chromium: log in, stay logged in across a reload, log out for good."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from browser_fixtures import playwright_api
from sessionlab import login

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect
pytestmark = pytest.mark.browser


def session_cookie(context: BrowserContext) -> str | None:
    """The value of the lab's session cookie in ``context``, if it has one."""
    values = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "session"]
    return values[0] if values else None


def test_log_in_reload_and_log_out(
    page: Page, context: BrowserContext, serve_lab: Callable[..., str]
) -> None:
    url = serve_lab(login.create_app)
    page.goto(url + "/")
    expect(page.get_by_text("You are not logged in")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    assert session_cookie(context) is None  # the form's CSRF token needs no session
    page.get_by_label("Name").fill("Homer")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + "/")
    expect(page.get_by_text("Logged in as Homer")).to_be_visible()
    logged_in = session_cookie(context)
    assert logged_in is not None

    page.reload()
    expect(page.get_by_text("Logged in as Homer")).to_be_visible()
    assert session_cookie(context) == logged_in

    page.get_by_role("link", name="Log out").click()
    expect(page.get_by_text("You are not logged in")).to_be_visible()
    assert session_cookie(context) is None

    # The old cookie, replayed, finds nothing: logging out ended the session on the server.
    context.add_cookies([{"name": "session", "value": logged_in, "url": url}])
    page.reload()
    expect(page.get_by_text("You are not logged in")).to_be_visible()


def test_a_long_name_wraps_on_a_narrow_screen(page: Page, serve_lab: Callable[..., str]) -> None:
    url = serve_lab(login.create_app)
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(url + "/login")
    page.get_by_label("Name").fill("W" * login.MAX_NAME_LENGTH)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
