"""The cookies lab in Chromium: set, read and delete a cookie; the time of the last visit."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from browser_fixtures import playwright_api
from sessionlab import cookies

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect
pytestmark = pytest.mark.browser


def cookie_jar(context: BrowserContext) -> dict[str, str]:
    """Every cookie the browser keeps, by name."""
    return {cookie["name"]: cookie["value"] for cookie in context.cookies()}


def see(page: Page, title: str, message: str | re.Pattern[str]) -> None:
    """See a page of the lab by its heading and message."""
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".message")).to_have_text(message)


def test_set_read_and_delete_the_cookie(
    page: Page, context: BrowserContext, serve_lab: Callable[..., str]
) -> None:
    page.goto(serve_lab(cookies.create_app) + "/read_cookie")
    see(page, "No cookie", "There is no cookie named flask_tutorial: visit /set_cookie.")

    page.get_by_role("link", name="Set the cookie").click()
    see(page, "Cookie set", "The cookie flask_tutorial is set to: Hello World")
    # Werkzeug quotes a value with a space; reading it back unquotes it.
    assert cookie_jar(context)["flask_tutorial"] == '"Hello World"'

    page.get_by_role("link", name="Read the cookie").click()
    see(page, "Cookie value", "The value of the cookie flask_tutorial is: Hello World")

    page.get_by_role("link", name="Delete the cookie").click()
    see(page, "Cookie deleted", "The cookie flask_tutorial is deleted.")
    assert "flask_tutorial" not in cookie_jar(context)

    page.get_by_role("link", name="Read the cookie").click()
    see(page, "No cookie", "There is no cookie named flask_tutorial: visit /set_cookie.")


def test_the_last_visit_is_remembered_until_logout(
    page: Page, context: BrowserContext, serve_lab: Callable[..., str]
) -> None:
    page.goto(serve_lab(cookies.create_app) + "/")
    see(page, "Cookies lab", "Welcome! This is your first visit.")
    remembered = cookie_jar(context)["last_visit"]

    page.get_by_role("link", name="Last visit").click()
    when = re.escape(remembered.replace("T", " ").removesuffix("+00:00"))
    see(page, "Cookies lab", re.compile(rf"^Welcome back! Your last visit was {when} UTC\.$"))

    page.get_by_role("link", name="Log out").click()
    see(page, "Logged out", "Successfully logged out")
    assert "last_visit" not in cookie_jar(context)
    page.get_by_role("link", name="Last visit").click()
    see(page, "Cookies lab", "Welcome! This is your first visit.")
