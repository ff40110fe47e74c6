"""The cookies lab on every session store: set, read, delete a cookie; last visit; logout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lab_servers import Curl
from sessionlab.cookies import COOKIE_NAME, LAST_VISIT, create_app


@pytest.fixture
def app(build_lab: Callable[..., Flask]) -> Flask:
    return build_lab(create_app)


def test_set_read_and_delete_the_cookie(client: FlaskClient) -> None:
    assert "There is no cookie named flask_tutorial" in client.get("/read_cookie").text
    answer = client.get("/set_cookie")
    assert answer.status_code == 200
    header = answer.headers["Set-Cookie"]
    assert header.startswith('flask_tutorial="Hello World"')
    assert "HttpOnly" in header and "SameSite=Lax" in header
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None and cookie.decoded_value == "Hello World"
    assert (
        "The value of the cookie flask_tutorial is: Hello World" in client.get("/read_cookie").text
    )
    assert client.get("/delete_cookie").status_code == 200
    assert client.get_cookie(COOKIE_NAME) is None
    assert "There is no cookie named flask_tutorial" in client.get("/read_cookie").text


def test_cookie_values_are_escaped(client: FlaskClient) -> None:
    client.set_cookie(COOKIE_NAME, "<img src=x onerror=alert(1)>")
    page = client.get("/read_cookie").text
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_last_visit_is_remembered(client: FlaskClient) -> None:
    first = client.get("/")
    assert "This is your first visit" in first.text
    cookie = client.get_cookie(LAST_VISIT)
    assert cookie is not None
    when = datetime.fromisoformat(cookie.value)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 60
    client.set_cookie(LAST_VISIT, "2024-02-29T13:14:15+00:00")
    assert "Your last visit was 2024-02-29 13:14:15 UTC" in client.get("/").text


def test_unreadable_last_visit_counts_as_a_first_visit(client: FlaskClient) -> None:
    for value in ("yesterday", "", "2024-02-30T00:00:00", "<b>", "2024-01-01"):
        client.set_cookie(LAST_VISIT, value)
        page = client.get("/")
        assert page.status_code == 200
        assert "This is your first visit" in page.text, value


def test_logout_deletes_the_last_visit(client: FlaskClient) -> None:
    client.get("/")
    answer = client.get("/logout")
    assert "Successfully logged out" in answer.text
    assert client.get_cookie(LAST_VISIT) is None
    assert "This is your first visit" in client.get("/").text


def test_pages_touch_no_session(client: FlaskClient) -> None:
    for path in ("/", "/set_cookie", "/read_cookie", "/delete_cookie", "/logout"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert "Cookie" not in answer.vary
    assert client.get_cookie("session") is None


def test_unknown_page_is_a_clean_404(client: FlaskClient) -> None:
    answer = client.get("/nope")
    assert answer.status_code == 404
    assert "404 Not Found" in answer.text


def test_the_labs_curl_flow(app: Flask, run_on_socket: Callable[[Flask], str], curl: Curl) -> None:
    url = run_on_socket(app)
    assert "first visit" in curl(f"{url}/").text
    assert "Welcome back" in curl(f"{url}/").text
    curl(f"{url}/set_cookie")
    assert curl.cookie(COOKIE_NAME) == '"Hello World"'
    assert "is: Hello World" in curl(f"{url}/read_cookie").text
    curl(f"{url}/delete_cookie")
    assert "There is no cookie" in curl(f"{url}/read_cookie").text
    assert "Successfully logged out" in curl(f"{url}/logout").text
    assert "first visit" in curl(f"{url}/").text
