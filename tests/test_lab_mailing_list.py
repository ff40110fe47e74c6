"""The mailing list lab on every session store: sign up, unregister, the admin page, cURL flow."""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash, generate_password_hash

import sessionlab.mailing_list.admin
from conftest import FakeClock
from lab_servers import Curl, close_lab
from sessionkeeper import MemoryStore, SessionKeeper, Store
from sessionlab import csrf
from sessionlab.mailing_list import create_app
from sessionlab.mailing_list.admin import LIMITER_KEY
from sessionlab.mailing_list.limits import LoginLimiter
from sessionlab.mailing_list.models import normalize_email

PASSWORD = "correct horse battery staple"
#: A cheap hash keeps the tests fast; the app's own hashing is tested once below.
PASSWORD_HASH = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")


@pytest.fixture
def app(build_lab: Callable[..., Flask]) -> Flask:
    return build_lab(create_app, ADMIN_PASSWORD_HASH=PASSWORD_HASH)


def token(client: FlaskClient, path: str = "/") -> str:
    page = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def sign_up(client: FlaskClient, email: str) -> Any:
    return client.post("/signup", data={"email": email, "csrf_token": token(client)})


def unregister(client: FlaskClient) -> Any:
    return client.post("/unregister", data={"csrf_token": token(client)})


def admin_login(client: FlaskClient, password: str = PASSWORD) -> Any:
    return client.post(
        "/admin/login", data={"password": password, "csrf_token": token(client, "/admin/")}
    )


def listed(client: FlaskClient) -> list[str]:
    return re.findall(r"<li>([^<]+)</li>", client.get("/emails").text)


def test_home_shows_the_sign_up_form(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'name="csrf_token"' in page.text


def test_sign_up_stores_the_address_and_remembers_this_browser(client: FlaskClient) -> None:
    answer = sign_up(client, "Homer@Springfield.EXAMPLE")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    page = client.get("/").text
    assert "Thank you for signing up, Homer@springfield.example!" in page
    assert "Unregister" in page and 'name="email"' not in page
    assert listed(client) == ["Homer@springfield.example"]
    assert listed(client.application.test_client()) == ["Homer@springfield.example"]


def test_signing_up_twice_lists_the_address_once(client: FlaskClient) -> None:
    sign_up(client, "marge@example.com")
    sign_up(client.application.test_client(), "marge@example.com")
    assert listed(client) == ["marge@example.com"]


INVALID = [
    "",
    "homer",
    "a@b",
    "a@@b.com",
    "a b@c.com",
    "<x>@y.com",
    ".a@b.com",
    "a..b@c.com",
    "x" * 65 + "@a.com",
    "a@" + "b" * 250 + ".com",
    "a@-b.com",
]


@pytest.mark.parametrize("email", INVALID)
def test_address_check_rejects(email: str) -> None:
    assert normalize_email(email) is None


def test_invalid_address_answers_400_with_the_form(client: FlaskClient) -> None:
    for email in ("<x>@y.com", "homer", ""):
        answer = sign_up(client, email)
        assert answer.status_code == 400
        assert "Please enter a valid email address" in answer.text
        assert 'name="email"' in answer.text
        assert "<x>" not in answer.text
    assert listed(client) == []


def test_missing_field_or_token_is_refused(client: FlaskClient) -> None:
    assert client.post("/signup", data={"csrf_token": token(client)}).status_code == 400
    assert client.post("/signup", data={"email": "a@b.com"}).status_code == 400
    assert client.post("/unregister").status_code == 400
    assert listed(client) == []


def test_unregister_without_signing_up(client: FlaskClient) -> None:
    answer = unregister(client)
    assert answer.status_code == 400
    assert "You haven&#39;t submitted an email!" in answer.text


def test_unregister_is_post_only(client: FlaskClient) -> None:
    answer = client.get("/unregister")
    assert answer.status_code == 405
    assert "405 Method Not Allowed" in answer.text


def test_unregister_removes_the_address(client: FlaskClient) -> None:
    sign_up(client, "bart@example.com")
    answer = unregister(client)
    assert answer.status_code == 200
    assert "We have removed bart@example.com from the list!" in answer.text
    assert listed(client) == []
    assert 'name="email"' in client.get("/").text


def delete_as_admin(client: FlaskClient, email: str) -> Any:
    admin = client.application.test_client()
    admin_login(admin)
    return admin.post("/admin/delete", data={"email": email, "csrf_token": token(admin)})


def test_an_address_the_admin_deleted_is_no_longer_thanked(client: FlaskClient) -> None:
    sign_up(client, "lisa@example.com")
    delete_as_admin(client, "lisa@example.com")
    page = client.get("/").text
    assert "Thank you for signing up" not in page and "Unregister" not in page
    assert "lisa@example.com is no longer on the list." in page and 'name="email"' in page
    assert sign_up(client, "lisa@example.com").status_code == 303  # and may sign up again
    assert listed(client) == ["lisa@example.com"]


def test_unregister_of_an_address_no_longer_listed(client: FlaskClient) -> None:
    sign_up(client, "lisa@example.com")
    csrf_token = token(client)  # the page is open before the admin deletes the address
    delete_as_admin(client, "lisa@example.com")
    answer = client.post("/unregister", data={"csrf_token": csrf_token})
    assert answer.status_code == 404
    assert "That address isn&#39;t on our list" in answer.text


def test_a_second_sign_up_is_refused_until_the_first_is_unregistered(
    client: FlaskClient,
) -> None:
    sign_up(client, "maggie@example.com")
    answer = sign_up(client, "other@example.com")
    assert answer.status_code == 409
    assert "You signed up as maggie@example.com: unregister it first" in answer.text
    assert listed(client) == ["maggie@example.com"]
    assert unregister(client).status_code == 200
    assert sign_up(client, "other@example.com").status_code == 303
    assert listed(client) == ["other@example.com"]


def test_addresses_differing_only_in_case_are_one_entry(client: FlaskClient) -> None:
    sign_up(client, "Marge@Example.com")
    other = client.application.test_client()
    assert sign_up(other, "MARGE@example.COM").status_code == 303
    assert listed(client) == ["Marge@example.com"]
    assert "Thank you for signing up, Marge@example.com!" in other.get("/").text
    assert sign_up(client, "marge@EXAMPLE.com").status_code == 303  # the same address again
    delete_as_admin(client, "marge@example.com")
    assert listed(client) == []


def test_deleting_without_an_address_says_so(app: Flask, client: FlaskClient) -> None:
    admin_login(client)
    client.post("/admin/delete", data={"email": "", "csrf_token": token(client)})
    page = client.get("/admin/").text
    assert "Give the address to delete." in page and " is not on the list." not in page


def test_the_admin_pages_lead_back_to_the_list(app: Flask, client: FlaskClient) -> None:
    assert 'href="/">Back to the mailing list</a>' in client.get("/admin/").text
    admin_login(client)
    page = client.get("/admin/").text
    assert 'href="/">Back to the mailing list</a>' in page
    assert "margin: 1rem 0" in page  # the log-out form keeps its distance from the table


def test_the_password_may_come_from_admin_password_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", PASSWORD)
    app = create_app({"SESSION_STORE": "cookie"}, instance_path=tmp_path)
    close_lab(app)
    assert check_password_hash(app.config["ADMIN_PASSWORD_HASH"], PASSWORD)


def test_the_disabled_admin_page_names_the_variables_that_work(
    build_lab: Callable[..., Flask],
) -> None:
    page = build_lab(create_app).test_client().get("/admin/").text
    assert "ADMIN_PASSWORD (or FLASK_ADMIN_PASSWORD)" in page


def test_only_a_hash_of_the_admin_password_is_kept(tmp_path: Path) -> None:
    app = create_app({"ADMIN_PASSWORD": PASSWORD}, instance_path=tmp_path)
    close_lab(app)
    assert "ADMIN_PASSWORD" not in app.config
    assert PASSWORD not in repr(dict(app.config))
    assert check_password_hash(app.config["ADMIN_PASSWORD_HASH"], PASSWORD)


def test_admin_page_is_disabled_without_a_password(build_lab: Callable[..., Flask]) -> None:
    client = build_lab(create_app).test_client()
    assert client.get("/admin/").status_code == 403
    assert client.post("/admin/login", data={"csrf_token": token(client)}).status_code == 403


def test_admin_logs_in_lists_and_deletes(app: Flask, client: FlaskClient) -> None:
    for email in ("a@example.com", "b@example.com"):
        sign_up(app.test_client(), email)
    assert 'name="password"' in client.get("/admin/").text
    before = client.get_cookie("session")
    answer = admin_login(client, "wrong")
    assert answer.status_code == 403 and "Wrong password." in answer.text
    answer = admin_login(client)
    assert answer.status_code == 303
    after = client.get_cookie("session")
    assert before is None and after is not None  # the log-in form started no session
    page = client.get("/admin/").text
    assert "a@example.com" in page and "b@example.com" in page
    answer = client.post(
        "/admin/delete", data={"email": "a@example.com", "csrf_token": token(client)}
    )
    assert answer.status_code == 303
    assert "Removed a@example.com." in client.get("/admin/").text
    assert listed(client) == ["b@example.com"]
    client.post("/admin/delete", data={"email": "zz@example.com", "csrf_token": token(client)})
    assert "zz@example.com is not on the list." in client.get("/admin/").text
    assert client.post("/admin/logout", data={"csrf_token": token(client)}).status_code == 303
    assert 'name="password"' in client.get("/admin/").text


def test_deleting_needs_the_admin(client: FlaskClient) -> None:
    sign_up(client, "c@example.com")
    answer = client.post(
        "/admin/delete", data={"email": "c@example.com", "csrf_token": token(client)}
    )
    assert answer.status_code == 403
    assert listed(client) == ["c@example.com"]


def test_admin_log_ins_are_rate_limited(app: Flask, client: FlaskClient) -> None:
    now = [1000.0]
    app.extensions[LIMITER_KEY].clock = lambda: now[0]
    for _ in range(5):
        assert admin_login(client, "guess").status_code == 403
    blocked = admin_login(client)
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "301"
    now[0] += 301
    assert admin_login(client).status_code == 303


LIMIT_PREFIX = "session-admin-login:"


def browser(app: Flask) -> tuple[str, str]:
    """A new browser that opened the admin log-in form: its cookie header and form token."""
    client = app.test_client()
    form_token = token(client, "/admin/")
    nonce = client.get_cookie(csrf.cookie_name(app))
    assert nonce is not None
    return f"{nonce.key}={nonce.value}", form_token


def guess_together(url: str, browsers: list[tuple[str, str]], password: str) -> list[int]:
    """POST one log-in per browser to ``url`` at once, each on its own connection."""
    start = threading.Barrier(len(browsers))
    host, port = urllib.parse.urlsplit(url).netloc.split(":")

    def attempt(who: tuple[str, str]) -> int:
        cookie, form_token = who
        body = urllib.parse.urlencode({"password": password, "csrf_token": form_token})
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            start.wait(30)
            connection.request("POST", "/admin/login", body, headers)
            answer = connection.getresponse()
            answer.read()
            return answer.status
        finally:
            connection.close()

    with ThreadPoolExecutor(len(browsers)) as pool:
        return list(pool.map(attempt, browsers))


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every password the admin log-in checks, each taking as long as a real hash."""
    checked: list[str] = []
    real = sessionlab.mailing_list.admin.check_password_hash

    def counting(hashed: str, password: str) -> bool:
        checked.append(password)
        time.sleep(0.05)  # the cost of a real password hash, which the test's cheap one lacks
        return real(hashed, password)

    monkeypatch.setattr(sessionlab.mailing_list.admin, "check_password_hash", counting)
    return checked


def test_concurrent_guesses_of_one_browser_check_the_password_at_most_the_limit(
    app: Flask, run_on_socket: Callable[[Flask], str], password_checks: list[str]
) -> None:
    statuses = guess_together(run_on_socket(app), [browser(app)] * 40, "guess")
    assert 1 <= len(password_checks) <= 5
    assert statuses.count(403) == len(password_checks)
    assert statuses.count(429) == 40 - len(password_checks)


def test_concurrent_guesses_of_many_browsers_stop_at_the_address_ceiling(
    build_lab: Callable[..., Flask],
    run_on_socket: Callable[[Flask], str],
    password_checks: list[str],
) -> None:
    app = build_lab(create_app, ADMIN_PASSWORD_HASH=PASSWORD_HASH, ADMIN_LOGIN_ADDRESS_ATTEMPTS=8)
    browsers = [browser(app) for _ in range(40)]
    statuses = guess_together(run_on_socket(app), browsers, "guess")
    assert 1 <= len(password_checks) <= 8
    assert statuses.count(429) == 40 - len(password_checks)


def test_a_browser_that_guessed_wrong_does_not_lock_out_another(app: Flask) -> None:
    guesser, admin = app.test_client(), app.test_client()
    for _ in range(5):
        assert admin_login(guesser, "guess").status_code == 403
    assert admin_login(guesser).status_code == 429  # the right password, too late
    assert admin_login(admin).status_code == 303  # same address, another browser


def test_fresh_browsers_from_one_address_stop_at_its_ceiling(
    build_lab: Callable[..., Flask],
) -> None:
    app = build_lab(create_app, ADMIN_PASSWORD_HASH=PASSWORD_HASH, ADMIN_LOGIN_ADDRESS_ATTEMPTS=8)
    for _ in range(8):
        assert admin_login(app.test_client(), "guess").status_code == 403
    assert admin_login(app.test_client()).status_code == 429


def test_a_successful_log_in_gives_its_slots_back(app: Flask, client: FlaskClient) -> None:
    for _ in range(8):
        assert admin_login(client).status_code == 303
        assert client.post("/admin/logout", data={"csrf_token": token(client)}).status_code == 303


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_two_app_instances_on_one_store_share_the_count(tmp_path: Path, kind: str) -> None:
    shared: Store | str = (
        MemoryStore() if kind == "memory" else f"sqlite:///{tmp_path / 'shared.db'}"
    )
    config = {
        "SESSION_STORE": shared,
        "SECRET_KEY": "one key",
        "ADMIN_PASSWORD_HASH": PASSWORD_HASH,
    }
    apps = [create_app(config, instance_path=tmp_path / name) for name in ("a", "b")]
    try:
        clients = [app.test_client() for app in apps]
        cookie, form_token = browser(apps[0])
        name, _, value = cookie.partition("=")
        for client in clients:
            client.set_cookie(name, value)

        def attempt(client: FlaskClient, password: str) -> int:
            form = {"password": password, "csrf_token": form_token}
            return client.post("/admin/login", data=form).status_code

        assert [attempt(clients[n % 2], "guess") for n in range(5)] == [403] * 5
        assert attempt(clients[0], PASSWORD) == 429
        assert attempt(clients[1], PASSWORD) == 429
    finally:
        for app in apps:
            close_lab(app)


@pytest.fixture
def lab_on(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[Any], Flask]:
    """Build the lab on the given ``SESSION_STORE``."""

    def build(store: Any) -> Flask:
        config = {"SESSION_STORE": store, "ADMIN_PASSWORD_HASH": PASSWORD_HASH}
        app = create_app(config, instance_path=tmp_path / "instance")
        request.addfinalizer(lambda: close_lab(app))
        return app

    return build


def test_counters_expire_with_their_window_in_the_store(
    lab_on: Callable[[Any], Flask], clock: FakeClock
) -> None:
    store = MemoryStore(clock=clock)
    app = lab_on(store)
    app.extensions[LIMITER_KEY].clock = clock
    for _ in range(3):
        assert admin_login(app.test_client(), "guess").status_code == 403
    keys, _ = store.scan(LIMIT_PREFIX)
    assert len(keys) == 4  # one per browser, one for the address
    admin = SessionKeeper.state(app).admin
    assert admin is not None and admin.ids() == ([], None)  # not listed as sessions
    clock.advance(300)
    assert store.scan(LIMIT_PREFIX) == ([], None)


def test_in_cookie_mode_the_counters_are_a_bounded_table(
    lab_on: Callable[[Any], Flask], clock: FakeClock
) -> None:
    assert isinstance(lab_on("cookie").extensions[LIMITER_KEY].store, MemoryStore)
    limiter = LoginLimiter(
        None,
        prefix=LIMIT_PREFIX,
        attempts=5,
        address_attempts=25,
        window=300,
        clock=clock,
        max_entries=100,
    )
    for n in range(10_000):
        assert limiter.reserve(limiter.slots(f"10.0.{n // 256}.{n % 256}", f"b{n}")) == 0
    assert len(limiter.store.scan(limit=1000)[0]) <= 100
    clock.advance(300)
    assert limiter.store.scan() == ([], None)


def test_address_check() -> None:
    assert normalize_email("  Ann.Lee+news@Mail.Example.ORG ") == "Ann.Lee+news@mail.example.org"
    assert normalize_email("no-at-sign") is None


def test_the_labs_curl_flow(app: Flask, run_on_socket: Callable[[Flask], str], curl: Curl) -> None:
    url = run_on_socket(app)
    home = curl(f"{url}/")
    csrf = f"csrf_token={home.csrf_token()}"
    bad = curl(f"{url}/signup", "-d", "email=not-an-address", "-d", csrf)
    assert bad.status == 400
    page = curl(f"{url}/signup", "-L", "-d", "email=ned@example.com", "-d", csrf)
    assert "Thank you for signing up, ned@example.com!" in page.text
    assert "<li>ned@example.com</li>" in curl(f"{url}/emails").text
    assert curl(f"{url}/unregister").status == 405
    gone = curl(f"{url}/unregister", "-d", csrf)
    assert "We have removed ned@example.com from the list!" in gone.text
    assert "<li>" not in curl(f"{url}/emails").text
