"""The login lab on every session store: log in, escaping, new id at login, logout, cURL flow."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lab_servers import Curl, server_side
from sessionlab import csrf
from sessionlab.login import CONTROL_MESSAGE, MAX_NAME_LENGTH, create_app


@pytest.fixture
def app(build_lab: Callable[..., Flask]) -> Flask:
    return build_lab(create_app)


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie is not None else None


def test_anonymous_visitor_is_offered_to_log_in(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "You are not logged in" in page.text
    assert 'href="/login"' in page.text
    assert session_cookie(client) is None  # a visit that writes nothing creates no session


def test_login_form_has_a_username_field_and_a_csrf_token(client: FlaskClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert 'name="csrf_token"' in page.text


def test_login_redirects_home_and_says_who_is_logged_in(client: FlaskClient) -> None:
    answer = client.post("/login", data={"username": "Homer"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"
    page = client.get("/")
    assert "Logged in as Homer" in page.text
    assert 'href="/logout"' in page.text


def test_names_are_html_escaped(client: FlaskClient) -> None:
    client.post("/login", data={"username": "<script>alert(1)</script>"})
    page = client.get("/")
    assert "<script>alert(1)</script>" not in page.text
    assert "Logged in as &lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.parametrize(
    "form", [{}, {"username": ""}, {"username": "   "}, {"username": "x" * 65}]
)
def test_empty_missing_or_overlong_name_answers_400_with_the_form(
    client: FlaskClient, form: dict[str, str]
) -> None:
    answer = client.post("/login", data=form)
    assert answer.status_code == 400
    assert 'name="username"' in answer.text
    assert "You are not logged in" in client.get("/").text


def test_the_form_starts_no_session(app: Flask, client: FlaskClient) -> None:
    client.get("/login")
    assert session_cookie(client) is None  # its CSRF nonce has a cookie of its own
    assert client.get_cookie(csrf.cookie_name(app)) is not None


BAD_NAMES = [
    "Ho\x00mer",
    "Homer\r\nSet-Cookie: admin=1",
    "Homer\n",
    "\tHomer",
    "Ho\x7fmer",
    "Ho\x85mer",
    "Ho\u2028mer",
    "\u202eremoH",
    "Ho\u202amer",
    "Ho\u202dmer",
    "Ho\u2066mer",
    "Ho\u2069mer",
    "Ho\u200emer",
    "Ho\u200fmer",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=ascii)
def test_names_with_control_characters_are_refused(client: FlaskClient, name: str) -> None:
    answer = client.post("/login", data={"username": name})
    assert answer.status_code == 400
    assert CONTROL_MESSAGE in answer.text
    assert 'name="username"' in answer.text
    for char in set(name) - set(string.printable):
        assert char not in answer.text  # nor echoed back into the form
    with client.session_transaction() as session:
        assert "username" not in session
    assert "You are not logged in" in client.get("/").text


def wrapping_classes(page: str) -> set[str]:
    """The class selectors the page's stylesheet lets break anywhere."""
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", page)
    found = [sel for sel, body in rules if re.search(r"overflow-wrap:\s*anywhere", body)]
    return {name for selector in found for name in re.findall(r"\.([\w-]+)", selector)}


@pytest.mark.parametrize("length", [MAX_NAME_LENGTH, 300])
def test_a_long_name_is_shown_in_an_element_that_wraps(client: FlaskClient, length: int) -> None:
    name = "W" * length
    if length <= MAX_NAME_LENGTH:
        assert client.post("/login", data={"username": name}).status_code == 303
    else:  # longer than the form allows: a session written before the limit, say
        with client.session_transaction() as session:
            session["username"] = name
    page = client.get("/").text
    shown = re.search(rf'<p class="([^"]+)">Logged in as {name}</p>', page)
    assert shown is not None
    assert set(shown.group(1).split()) & wrapping_classes(page)


def test_login_moves_the_session_to_a_new_id(app: Flask, client: FlaskClient) -> None:
    client.post("/login", data={"username": "Homer"})
    before = session_cookie(client)
    assert before is not None
    client.post("/login", data={"username": "Marge"})
    after = session_cookie(client)
    assert after is not None and after != before
    if server_side(app):
        client.set_cookie("session", before)
        assert "You are not logged in" in client.get("/").text


def test_login_renews_the_csrf_nonce(app: Flask, client: FlaskClient) -> None:
    client.get("/login")
    before = client.get_cookie(csrf.cookie_name(app))
    client.post("/login", data={"username": "Homer"})
    after = client.get_cookie(csrf.cookie_name(app))
    assert before is not None and after is not None and after.value != before.value


def test_logout_destroys_the_session(app: Flask, client: FlaskClient) -> None:
    client.post("/login", data={"username": "Homer"})
    logged_in = session_cookie(client)
    assert logged_in is not None
    answer = client.get("/logout")
    assert answer.status_code == 302
    assert session_cookie(client) is None
    assert "You are not logged in" in client.get("/").text
    if server_side(app):  # replaying the old cookie finds nothing on the server
        client.set_cookie("session", logged_in)
        assert "You are not logged in" in client.get("/").text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost"},
    ],
)
def test_cross_site_login_is_refused(client: FlaskClient, headers: dict[str, str]) -> None:
    answer = client.post("/login", data={"username": "Mallory"}, headers=headers)
    assert answer.status_code == 400
    assert "You are not logged in" in client.get("/").text


def test_same_origin_browser_login_is_accepted(client: FlaskClient) -> None:
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/login", data={"username": "Marge"}, headers=headers).status_code == 303
    assert "Logged in as Marge" in client.get("/").text


def test_wrong_requests_get_clean_error_pages(client: FlaskClient) -> None:
    for method, path, status in [("POST", "/", 405), ("POST", "/logout", 405), ("GET", "/x", 404)]:
        answer = client.open(path, method=method)
        assert answer.status_code == status
        assert answer.mimetype == "text/html"
        assert "Traceback" not in answer.text


def test_the_labs_curl_flow(app: Flask, run_on_socket: Callable[[Flask], str], curl: Curl) -> None:
    url = run_on_socket(app)
    jar = str(curl.jar)
    # curl -L -d username=Homer -c jar .../login
    first = curl.raw("-L", "-d", "username=Homer", "-c", jar, f"{url}/login")
    assert first.status == 200
    assert "Logged in as Homer" in first.text
    # curl -b jar .../
    assert "Logged in as Homer" in curl.raw("-b", jar, f"{url}/").text
    old = curl.cookie("session")
    curl(f"{url}/logout")
    assert "You are not logged in" in curl(f"{url}/").text
    if server_side(app):
        replay = curl.raw("-b", f"session={old}", f"{url}/")
        assert "You are not logged in" in replay.text
