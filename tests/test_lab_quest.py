"""The quest lab on every session store: new game, moves, every bad input, winning and losing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lab_servers import Curl
from sessionlab.quest import create_app
from sessionlab.quest.world import Game


@pytest.fixture
def app(build_lab: Callable[..., Flask]) -> Flask:
    return build_lab(create_app)


def token(client: FlaskClient) -> str:
    page = client.get("/new/").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def new_game(client: FlaskClient) -> None:
    answer = client.post("/new/", data={"neworcontinue": "newgame", "csrf_token": token(client)})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/status/"


def move(client: FlaskClient, command: str) -> Any:
    return client.post("/status/", data={"playermove": command, "csrf_token": token(client)})


def status(client: FlaskClient) -> str:
    page = client.get("/status/")
    assert page.status_code == 200
    return page.text


def row(page: str, name: str) -> str:
    found = re.search(rf"<th>{name}</th><td>([^<]*)</td>", page)
    assert found is not None, page
    return found.group(1)


@pytest.mark.parametrize("path", ["/", "/new/"])
def test_start_page_offers_a_new_game(client: FlaskClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert 'value="newgame"' in page.text
    assert 'value="continuegame"' not in page.text  # nothing to continue yet


def test_new_game_starts_in_the_hall(client: FlaskClient) -> None:
    new_game(client)
    page = status(client)
    assert row(page, "Room") == "Hall"
    assert row(page, "Item here") == "skeleton key"
    assert row(page, "Inventory") == "empty"
    assert row(page, "Moves") == "0"
    assert 'value="continuegame"' in client.get("/").text


def test_continue_resumes_a_game_or_says_there_is_none(client: FlaskClient) -> None:
    answer = client.post("/", data={"neworcontinue": "continuegame", "csrf_token": token(client)})
    assert answer.status_code == 200
    assert "There is no game to continue" in answer.text
    new_game(client)
    move(client, "go east")
    answer = client.post("/", data={"neworcontinue": "continuegame", "csrf_token": token(client)})
    assert answer.status_code == 303
    assert row(status(client), "Room") == "Dining Room"


@pytest.mark.parametrize("form", [{}, {"neworcontinue": "cheat"}])
def test_bad_choice_answers_400_with_the_form(client: FlaskClient, form: dict[str, str]) -> None:
    answer = client.post("/new/", data={**form, "csrf_token": token(client)})
    assert answer.status_code == 400
    assert 'value="newgame"' in answer.text


def test_posts_without_the_csrf_token_are_refused(client: FlaskClient) -> None:
    assert client.post("/new/", data={"neworcontinue": "newgame"}).status_code == 400
    new_game(client)
    assert client.post("/status/", data={"playermove": "go east"}).status_code == 400
    assert row(status(client), "Room") == "Hall"


def test_status_without_a_game_redirects_to_a_new_one(client: FlaskClient) -> None:
    answer = client.get("/status/")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/new/"
    answer = client.post("/status/", data={"playermove": "go east", "csrf_token": token(client)})
    assert answer.status_code == 303


BAD_MOVES = [
    ("go north", "You can&#39;t go north from the Hall."),
    ("go west", "You can&#39;t go west from the Hall."),
    ("go", "Go where?"),
    ("go up", "&#39;up&#39; is not a direction"),
    ("get", "Get what?"),
    ("get sword", "There is no sword here."),
    ("get ey", "There is no ey here."),
    ("dance wildly", "I don&#39;t understand &#39;dance wildly&#39;"),
    ("help", "Commands:"),
    ("", "Type a command"),
    ("go " + "x" * 200, "That command is too long."),
    ("<script>", "I don&#39;t understand &#39;&lt;script&gt;&#39;"),
]


def test_bad_moves_answer_a_message(client: FlaskClient) -> None:
    new_game(client)
    for command, message in BAD_MOVES:
        answer = move(client, command)
        assert answer.status_code == 303
        page = status(client)
        assert message in page, command
        assert row(page, "Room") == "Hall"


def test_missing_move_field_is_a_message(client: FlaskClient) -> None:
    new_game(client)
    assert client.post("/status/", data={"csrf_token": token(client)}).status_code == 303
    assert "Type a command" in status(client)


def test_items_are_picked_up_by_name_once(client: FlaskClient) -> None:
    new_game(client)
    move(client, "get key")
    page = status(client)
    assert "You picked up the skeleton key." in page
    assert row(page, "Inventory") == "skeleton key"
    assert row(page, "Item here") == "nothing"
    move(client, "get skeleton key")
    page = status(client)
    assert "There is no skeleton key here." in page
    assert row(page, "Moves") == "2"


def test_the_kitchen_monster_ends_the_game(client: FlaskClient) -> None:
    new_game(client)
    answer = move(client, "go south")
    assert answer.status_code == 200
    assert "Game over" in answer.text
    assert "You won" not in answer.text
    assert client.get("/status/").status_code == 303  # the session ended with the game
    assert 'value="continuegame"' not in client.get("/").text


def test_the_garden_is_locked_without_both_items(client: FlaskClient) -> None:
    new_game(client)
    move(client, "go east")
    move(client, "go south")
    page = status(client)
    assert row(page, "Room") == "Garden"
    assert "you need the skeleton key and the potion" in page


def test_escaping_with_the_key_and_the_potion_wins(client: FlaskClient) -> None:
    new_game(client)
    for command in ("get skeleton key", "go east", "get potion"):
        assert move(client, command).status_code == 303
    page = status(client)
    assert row(page, "Inventory") == "skeleton key, potion"
    answer = move(client, "go south")
    assert answer.status_code == 200
    assert "You won" in answer.text
    assert "Game over" not in answer.text
    assert "Moves: 4" in answer.text
    assert client.get("/status/").status_code == 303


def test_only_the_players_state_is_kept(app: Flask, client: FlaskClient) -> None:
    new_game(client)
    with client.session_transaction() as session:
        assert set(session) == {"quest"}  # the CSRF token is not kept in it
        assert set(session["quest"]) == {"room", "inventory", "moves", "last"}


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"room": "Attic", "inventory": [], "moves": 0, "last": ""},
        {"room": "Hall", "inventory": ["sword"], "moves": 0, "last": ""},
        {"room": "Hall", "inventory": "key", "moves": 0, "last": ""},
        {"room": ["Hall"], "inventory": [], "moves": 0, "last": ""},
        {"room": "Hall", "inventory": [], "moves": "0", "last": ""},
    ],
)
def test_nonsense_state_is_no_game(data: object) -> None:
    assert Game.from_dict(data) is None


def test_the_labs_curl_flow(app: Flask, run_on_socket: Callable[[Flask], str], curl: Curl) -> None:
    url = run_on_socket(app)
    start = curl(f"{url}/new/")
    assert start.status == 200
    csrf = f"csrf_token={start.csrf_token()}"
    page = curl(f"{url}/new/", "-L", "-d", "neworcontinue=newgame", "-d", csrf)
    assert "<th>Room</th><td>Hall</td>" in page.text
    for command in ("get skeleton key", "go north", "go east", "get potion"):
        page = curl(f"{url}/status/", "-L", "-d", f"playermove={command}", "-d", csrf)
        assert page.status == 200
    assert "<th>Inventory</th><td>skeleton key, potion</td>" in page.text
    won = curl(f"{url}/status/", "-d", "playermove=go south", "-d", csrf)
    assert "You won" in won.text
    assert curl(f"{url}/status/").status == 303
