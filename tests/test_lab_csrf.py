"""CSRF protection of the labs: stateless tokens, no record per visitor, proxies, the 400's help."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

import sessionlab.login
import sessionlab.mailing_list
import sessionlab.quest
from lab_servers import CSRF_INPUT, Curl, close_lab
from sessionkeeper import MemoryStore, SessionKeeper, Store
from sessionlab import csrf
from sessionlab.demo.site import _live_sessions

HOW_TO = "GET the form first and send its csrf_token field and the cookie back"
PASSWORD = "open sesame"
#: Every page with a form an anonymous visitor can see: (lab, form page, where it posts, form).
FORMS: list[tuple[ModuleType, str, str, dict[str, str]]] = [
    (sessionlab.login, "/login", "/login", {"username": "Homer"}),
    (sessionlab.mailing_list, "/", "/signup", {"email": "ann@example.com"}),
    (sessionlab.mailing_list, "/admin/", "/admin/login", {"password": PASSWORD}),
    (sessionlab.quest, "/", "/new/", {"neworcontinue": "newgame"}),
    (sessionlab.quest, "/new/", "/new/", {"neworcontinue": "newgame"}),
]
FORM_IDS = [f"{lab.__name__.split('.')[-1]}{page}" for lab, page, _, _ in FORMS]
#: The forms whose POST needs the token (the login lab's cURL flow posts without one).
GUARDED = [form for form in FORMS if form[0] is not sessionlab.login]
GUARDED_IDS = [name for name, form in zip(FORM_IDS, FORMS, strict=True) if form in GUARDED]


def build(
    lab: ModuleType, tmp_path: Path, store: Store | str | None = None, **config: Any
) -> Flask:
    settings = {
        "SESSION_STORE": store if store is not None else MemoryStore(),
        "ADMIN_PASSWORD_HASH": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
        **config,
    }
    app: Flask = lab.create_app(settings, instance_path=tmp_path / "instance")
    return app


@pytest.fixture
def built(tmp_path: Path) -> Any:
    apps: list[Flask] = []

    def make(lab: ModuleType, store: Store | str | None = None, **config: Any) -> Flask:
        app = build(lab, tmp_path, store, **config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_lab(app)


def records(app: Flask) -> list[str]:
    store = SessionKeeper.state(app).store
    assert store is not None
    keys, _ = store.scan("", limit=1000)
    return keys


def form_token(client: FlaskClient, path: str) -> str:
    found = CSRF_INPUT.search(client.get(path).text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("store", ["memory", "sqlite:///sessions.db"])
@pytest.mark.parametrize(("lab", "page", "action", "form"), FORMS, ids=FORM_IDS)
def test_cookieless_visits_of_a_form_leave_no_session_record(
    built: Callable[..., Flask], store: str, lab: ModuleType, page: str, action: str, form: Any
) -> None:
    app = built(lab, MemoryStore() if store == "memory" else store)
    for _ in range(50):
        answer = app.test_client().get(page)
        assert answer.status_code == 200
        assert CSRF_INPUT.search(answer.text) is not None
        cookies = answer.headers.getlist("Set-Cookie")
        assert [c.split("=")[0] for c in cookies] == [csrf.cookie_name(app)]
    assert records(app) == []


@pytest.mark.parametrize(("lab", "page", "action", "form"), FORMS, ids=FORM_IDS)
def test_a_browser_posts_the_form_with_the_cookie_its_get_set(
    built: Callable[..., Flask], lab: ModuleType, page: str, action: str, form: dict[str, str]
) -> None:
    client = built(lab).test_client()
    token = form_token(client, page)
    answer = client.post(action, data={**form, "csrf_token": token})
    assert answer.status_code == 303, answer.text


@pytest.mark.parametrize(("lab", "page", "action", "form"), GUARDED, ids=GUARDED_IDS)
def test_a_post_without_the_token_or_its_cookie_is_refused_with_help(
    built: Callable[..., Flask], lab: ModuleType, page: str, action: str, form: dict[str, str]
) -> None:
    app = built(lab)
    browser = app.test_client()
    token = form_token(browser, page)
    without_token = browser.post(action, data=form)
    without_cookie = app.test_client().post(action, data={**form, "csrf_token": token})
    other = app.test_client()
    form_token(other, page)  # a nonce cookie of its own, which the token does not match
    wrong_cookie = other.post(action, data={**form, "csrf_token": token})
    for answer in (without_token, without_cookie, wrong_cookie):
        assert answer.status_code == 400
        assert HOW_TO in answer.text
    assert records(app) == []
    as_json = browser.post(action, data=form, headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and HOW_TO in as_json.json["message"]


def test_the_nonce_cookie_is_httponly_lax_and_secure_over_https(
    built: Callable[..., Flask],
) -> None:
    app = built(sessionlab.quest)
    plain = app.test_client().get("/").headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Path=/" in plain
    assert "Secure" not in plain
    secure = app.test_client().get("/", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure


def test_a_page_that_renders_a_token_varies_on_cookie(built: Callable[..., Flask]) -> None:
    client = built(sessionlab.quest).test_client()
    assert "Cookie" in client.get("/").headers["Vary"]
    assert "Cookie" in client.get("/").headers["Vary"]  # the cookie is reused, not re-sent
    assert "Set-Cookie" not in client.get("/").headers


def test_real_data_makes_the_one_record(built: Callable[..., Flask]) -> None:
    app = built(sessionlab.quest)
    client = app.test_client()
    client.post("/new/", data={"neworcontinue": "newgame", "csrf_token": form_token(client, "/")})
    assert len(records(app)) == 1
    with client.session_transaction() as session:
        assert csrf.SESSION_KEY not in session


def test_admin_login_renews_the_token(built: Callable[..., Flask]) -> None:
    client = built(sessionlab.mailing_list).test_client()
    before = form_token(client, "/admin/")
    assert (
        client.post("/admin/login", data={"password": PASSWORD, "csrf_token": before}).status_code
        == 303
    )
    after = form_token(client, "/admin/")
    assert after != before
    stale = client.post("/admin/logout", data={"csrf_token": before})
    assert stale.status_code == 400
    assert client.post("/admin/logout", data={"csrf_token": after}).status_code == 303


def test_the_live_sessions_page_skips_sessions_without_real_data(
    built: Callable[..., Flask],
) -> None:
    app = built(sessionlab.login)
    with app.test_client().session_transaction() as session:
        session[csrf.SESSION_KEY] = "a token an older version kept"
    app.test_client().post("/login", data={"username": "Homer"})
    listed = [shown for _, shown in _live_sessions(app)]
    assert listed == ['{"username": "Homer"}']


def test_curl_without_the_cookie_is_told_how(
    built: Callable[..., Flask], run_on_socket: Callable[[Flask], str], curl: Curl
) -> None:
    url = run_on_socket(built(sessionlab.mailing_list))
    token = curl.raw(f"{url}/").csrf_token()  # no cookie jar: the cookie is lost
    refused = curl.raw("-d", f"email=ann@example.com&csrf_token={token}", f"{url}/signup")
    assert refused.status == 400
    assert HOW_TO in refused.text
    page = curl(f"{url}/")
    done = curl(
        f"{url}/signup", "-L", "-d", f"email=ann@example.com&csrf_token={page.csrf_token()}"
    )
    assert "Thank you for signing up, ann@example.com!" in done.text


# --- behind a proxy that terminates TLS ------------------------------------------------

PROXIED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "labs.example",
    "Origin": "https://labs.example",
    "Sec-Fetch-Site": "same-origin",
}


def proxied_post(app: Flask, lab: ModuleType) -> Any:
    client = app.test_client()
    if lab is sessionlab.login:
        return client.post("/login", data={"username": "Homer"}, headers=PROXIED)
    page = client.get("/", headers=PROXIED)
    assert "Secure" in page.headers["Set-Cookie"] or not app.config.get("SESSIONLAB_PROXY_FIX")
    token = CSRF_INPUT.search(page.text)
    assert token is not None
    form = {"email": "ann@example.com", "csrf_token": token.group(1)}
    return client.post("/signup", data=form, headers=PROXIED)


def session_cookie(answer: Any, app: Flask) -> str:
    name = app.session_interface.get_cookie_name(app)
    found = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert len(found) == 1, answer.headers
    return str(found[0])


LABS = [sessionlab.login, sessionlab.mailing_list]


@pytest.mark.parametrize("lab", LABS, ids=["login", "mailing_list"])
def test_behind_a_tls_proxy_posts_are_refused_without_proxy_fix(
    built: Callable[..., Flask], lab: ModuleType
) -> None:
    answer = proxied_post(built(lab), lab)
    assert answer.status_code == 400
    assert "Cross-site requests are refused." in answer.text


@pytest.mark.parametrize("lab", LABS, ids=["login", "mailing_list"])
def test_with_proxy_fix_posts_are_accepted_and_the_session_cookie_is_secure(
    built: Callable[..., Flask], lab: ModuleType
) -> None:
    app = built(lab, SESSIONLAB_PROXY_FIX=1)
    answer = proxied_post(app, lab)
    assert answer.status_code == 303
    assert re.search(r";\s*Secure", session_cookie(answer, app))


def test_proxy_fix_from_the_environment(
    built: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_SESSIONLAB_PROXY_FIX", "1")
    assert proxied_post(built(sessionlab.login), sessionlab.login).status_code == 303


@pytest.mark.parametrize(
    "origins", [["https://labs.example"], "https://other.example, https://labs.example/"]
)
@pytest.mark.parametrize("lab", LABS, ids=["login", "mailing_list"])
def test_a_trusted_origin_is_accepted_without_proxy_fix(
    built: Callable[..., Flask], lab: ModuleType, origins: object
) -> None:
    app = built(lab, SESSIONLAB_TRUSTED_ORIGINS=origins)
    assert proxied_post(app, lab).status_code == 303
    evil = {**PROXIED, "Origin": "https://evil.example"}
    action = "/login" if lab is sessionlab.login else "/signup"
    assert app.test_client().post(action, data={}, headers=evil).status_code == 400
