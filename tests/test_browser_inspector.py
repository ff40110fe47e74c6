"""The session inspector of a lab running alone, in Chromium: a signed cookie, decoded."""

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


def test_the_login_labs_signed_cookie_is_decoded(
    page: Page, context: BrowserContext, serve_lab: Callable[..., str]
) -> None:
    url = serve_lab(login.create_app, store="cookie")
    page.goto(url + "/")
    expect(page.get_by_role("link", name="← All labs")).to_have_count(0)  # alone: no demo
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Name").fill("Homer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as Homer")).to_be_visible()

    page.locator("details[data-inspector] summary").click()
    payload = page.locator('[data-field="payload"]')
    expect(payload).to_contain_text('"username":"Homer"')
    expect(payload).to_contain_text("Signed is not secret")
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "session")
    signature = cookie.rsplit(".", 1)[1]
    assert signature not in page.content()  # the page never holds the HttpOnly cookie whole
    expect(page.locator('[data-field="mode"]')).to_contain_text("signed cookie")
