"""No input to any lab gives a 500: odd methods, paths, forms, cookies and bodies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask

import sessionlab.cookies
import sessionlab.counter
import sessionlab.login
import sessionlab.mailing_list
import sessionlab.paywall
import sessionlab.quest
from lab_servers import close_lab

LABS: dict[str, tuple[ModuleType, list[str]]] = {
    "paywall": (
        sessionlab.paywall,
        ["/articles", "/articles/1", "/articles/0", "/articles/99999999999999999999", "/clear"],
    ),
    "login": (sessionlab.login, ["/login", "/logout"]),
    "quest": (sessionlab.quest, ["/new/", "/status/", "/status"]),
    "mailing_list": (
        sessionlab.mailing_list,
        ["/signup", "/unregister", "/emails", "/admin/", "/admin/login", "/admin/delete"],
    ),
    "counter": (sessionlab.counter, ["/reset"]),
    "cookies": (sessionlab.cookies, ["/set_cookie", "/read_cookie", "/delete_cookie", "/logout"]),
}
ODD_PATHS = ["/", "/%00", "/..%2f..%2fetc/passwd", "/" + "a" * 3000]
FORM = "application/x-www-form-urlencoded"
FORMS: list[dict[str, str]] = [
    {},
    {"username": "\x00", "email": "\x00", "playermove": "go \x00", "password": "\x00"},
    {"csrf_token": "x" * 5000, "neworcontinue": "newgame", "email": "a@b.co"},
    {"username": "x" * 100_000},
]
BODIES = [
    (b"\xff\xfe{", "application/json"),
    (b"%zz=%", "text/plain"),
    (b"username=%ff%fe&email=%c3&playermove=go+%ed%a0%80&neworcontinue=%00", FORM),
]
COOKIES = {
    "session": "garbage.garbage.garbage",
    "last_visit": "\x7f" * 10,
    "flask_tutorial": "%ff%fe",
}


@pytest.fixture(params=list(LABS))
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, list[str]]]:
    module, paths = LABS[request.param]
    config = {
        "SESSION_STORE": "sqlite:///sessions.db",
        "ADMIN_PASSWORD_HASH": "pbkdf2:sha256:1$salt$00",
        "PAYWALL_CLIENT_DIR": str(tmp_path / "no-client"),
    }
    app = module.create_app(config, instance_path=tmp_path)
    if request.param == "paywall":
        module.prepare_database(app, random_seed=1)
    yield app, ODD_PATHS + paths
    close_lab(app)


def test_no_input_gives_a_500(lab: tuple[Flask, list[str]]) -> None:
    app, paths = lab
    client = app.test_client()
    for name, value in COOKIES.items():
        client.set_cookie(name, value)
    for path in paths:
        for method in ("GET", "POST", "PUT", "HEAD"):
            answer = client.open(path, method=method)
            assert answer.status_code < 500, (method, path, answer.status_code)
        for form in FORMS:
            answer = client.post(path, data=form)
            assert answer.status_code < 500, (path, form.keys(), answer.status_code)
        for body, kind in BODIES:
            answer = client.post(path, data=body, content_type=kind)
            assert answer.status_code < 500, (path, kind, answer.status_code)
    big = client.post("/", data={"x": "y" * (2 << 20)})
    assert big.status_code in (405, 413)
