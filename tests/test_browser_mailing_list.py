"""The mailing list lab in Chromium: sign up and unregister; the admin deletes an address."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from browser_fixtures import playwright_api
from sessionlab import mailing_list

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = playwright_api().expect
pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def lab_url(serve_lab: Callable[..., str]) -> str:
    return serve_lab(mailing_list.create_app, ADMIN_PASSWORD=ADMIN_PASSWORD)


def sign_up(page: Page, url: str, email: str) -> None:
    """Fill in the sign-up form and see the thank-you."""
    page.goto(url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text(f"Thank you for signing up, {email}!")).to_be_visible()


def test_sign_up_see_the_thank_you_and_unregister(page: Page, lab_url: str) -> None:
    sign_up(page, lab_url, "ada@example.com")
    page.reload()  # the session remembers the sign-up
    expect(page.get_by_text("Thank you for signing up, ada@example.com!")).to_be_visible()

    page.get_by_role("button", name="Unregister").click()
    expect(page.get_by_text("We have removed ada@example.com from the list!")).to_be_visible()

    page.get_by_role("link", name="Back").click()
    expect(page.get_by_role("button", name="Sign up")).to_be_visible()
    page.get_by_role("link", name="Who is on the list").click()
    expect(page.get_by_text("Nobody yet.")).to_be_visible()


def test_the_admin_logs_in_and_deletes_an_address(
    page: Page, new_context: Callable[[], BrowserContext], lab_url: str
) -> None:
    sign_up(page, lab_url, "grace@example.com")
    sign_up(new_context().new_page(), lab_url, "linus@example.com")

    admin = new_context().new_page()
    admin.goto(lab_url + "/")
    admin.get_by_role("link", name="Admin").click()
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()

    rows = admin.get_by_role("row")
    expect(rows).to_have_text(["grace@example.com Delete", "linus@example.com Delete"])
    rows.filter(has_text="grace@example.com").get_by_role("button", name="Delete").click()
    expect(admin.get_by_text("Removed grace@example.com.")).to_be_visible()
    expect(rows).to_have_text(["linus@example.com Delete"])

    page.goto(lab_url + "/emails")
    expect(page.get_by_role("listitem")).to_have_text(["linus@example.com"])


def test_the_form_opens_no_session_until_the_sign_up(page: Page, lab_url: str) -> None:
    page.goto(lab_url + "/")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert set(cookies) == {"session_csrf"}  # the token's nonce; no session yet
    assert cookies["session_csrf"]["httpOnly"] and cookies["session_csrf"]["sameSite"] == "Lax"
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Thank you for signing up, ada@example.com!")).to_be_visible()
    assert "session" in {cookie["name"] for cookie in page.context.cookies()}
