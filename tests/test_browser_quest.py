"""The quest lab in Chromium: win with the key, the potion and the garden path; meet the monster."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from browser_fixtures import playwright_api
from sessionlab import quest

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect = playwright_api().expect
pytestmark = pytest.mark.browser


@pytest.fixture
def game(page: Page, serve_lab: Callable[..., str]) -> Page:
    """A page on a new game, in the Hall."""
    page.goto(serve_lab(quest.create_app) + "/")
    assert [cookie["name"] for cookie in page.context.cookies()] == ["session_csrf"]  # no session
    page.get_by_role("button", name="New game").click()
    expect(room(page)).to_have_text("Hall")
    return page


def status(page: Page, heading: str) -> Locator:
    """The value in the status table's row named ``heading``."""
    return page.locator(f"tr:has(th:text-is('{heading}')) td")


def room(page: Page) -> Locator:
    """The cell that names the current room."""
    return status(page, "Room")


def play(page: Page, move: str) -> None:
    """Type a move and submit it, as a player would."""
    page.get_by_label("Your move").fill(move)
    page.get_by_role("button", name="Go").click()


def assert_game_over_for_good(page: Page) -> None:
    """Play again: only a new game is offered, the ended one is gone from the session."""
    page.get_by_role("link", name="Play again").click()
    expect(page.get_by_role("button", name="New game")).to_be_visible()
    expect(page.get_by_role("button", name="Continue")).to_have_count(0)


def test_win_with_the_key_the_potion_and_the_garden_path(game: Page) -> None:
    play(game, "get key")
    expect(game.locator(".message")).to_have_text("You picked up the skeleton key.")
    play(game, "go east")
    expect(room(game)).to_have_text("Dining Room")
    play(game, "get potion")
    expect(status(game, "Inventory")).to_have_text("skeleton key, potion")
    play(game, "go south")

    expect(game.get_by_role("heading", level=1)).to_have_text("You won!")
    expect(game.locator(".message")).to_contain_text("You escaped through the Garden")
    expect(game.get_by_text("Moves: 4.")).to_be_visible()

    assert_game_over_for_good(game)


def test_the_monster_in_the_kitchen_ends_the_game(game: Page) -> None:
    play(game, "go south")

    expect(game.get_by_role("heading", level=1)).to_have_text("Game over")
    expect(game.locator(".message")).to_contain_text("A monster was waiting in the Kitchen")
    assert_game_over_for_good(game)
