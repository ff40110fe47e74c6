"""The session inspector of the labs' pages, and the labs' 503 page when the store fails."""

from __future__ import annotations

import base64
import html
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lab_servers import close_lab
from sessionkeeper import MemoryStore, StoreUnavailable
from sessionkeeper.stores.base import Absent, Version
from sessionlab import counter, login, quest
from sessionlab.inspector.facts import decode_signed, shown_value

Factory = Callable[..., Flask]


@pytest.fixture
def make(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., Flask]:
    """Build a lab on ``store`` in the test's instance folder, closed when the test ends."""

    def build(factory: Factory, store: Any = "sqlite:///sessions.db", **config: Any) -> Flask:
        app = factory({"SESSION_STORE": store, **config}, instance_path=tmp_path / "instance")
        request.addfinalizer(lambda: close_lab(app))
        return app

    return build


def panel(page: str) -> str:
    """The inspector panel of a page, with the tags stripped and entities decoded."""
    found = re.search(r"<details class=\"inspector\".*?</details>", page, re.DOTALL)
    assert found is not None, page[-2000:]
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", found.group(0), flags=re.DOTALL)
    return html.unescape(" ".join(text.split()))


def field(page: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">(.*?)</dd>', page, re.DOTALL)
    assert found is not None, name
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()))


def log_in(client: FlaskClient, name: str) -> None:
    assert client.post("/login", data={"username": name}).status_code == 303


def test_decode_signed_reads_plain_and_compressed_payloads() -> None:
    plain = base64.urlsafe_b64encode(b'{"count":3}').rstrip(b"=").decode()
    assert decode_signed(f"{plain}.stamp.signature") == '{"count":3}'
    data = json.dumps({"words": "session " * 50}).encode()
    packed = base64.urlsafe_b64encode(zlib.compress(data)).rstrip(b"=").decode()
    assert decode_signed(f".{packed}.stamp.signature") == data.decode()
    assert decode_signed("not base64!.x.y") is None
    bomb = base64.urlsafe_b64encode(zlib.compress(b"0" * 100_000)).decode()
    assert decode_signed(f".{bomb}.x.y") is None  # inflated only up to a bound


def test_no_cookie_value_is_printed_whole() -> None:
    assert shown_value("signed", "payload.stamp.sig") == "payload.stamp.[signature hidden]"
    long_id = "A" * 86
    assert shown_value("server", long_id) == "AAAAAAAA…[78 more characters hidden]"


def test_a_signed_cookie_is_decoded_without_the_key(make: Callable[..., Flask]) -> None:
    client = make(counter.create_app, "cookie").test_client()
    first = client.get("/")
    assert "data-inspector" in first.text and "<details" in first.text
    assert '<details class="inspector" data-inspector open' not in first.text  # collapsed
    assert field(first.text, "mode").startswith("signed cookie")
    assert field(first.text, "cookie") == "none: the browser sent no session cookie"
    assert field(first.text, "payload").startswith('{"count":1}')
    second = client.get("/")
    assert field(second.text, "payload").startswith('{"count":2}')
    value = client.get_cookie("session")
    assert value is not None
    signature = value.value.rsplit(".", 1)[1]
    assert signature not in second.text  # the page never carries the HttpOnly cookie whole
    assert "[signature hidden]" in field(second.text, "set-cookie")
    assert int(first.headers["Content-Length"]) == len(first.data)
    assert first.headers["Cache-Control"] == "private, no-store"


def test_an_encrypted_cookie_cannot_be_read(make: Callable[..., Flask]) -> None:
    client = make(counter.create_app, "cookie", SESSION_COOKIE_ENCRYPT=True).test_client()
    page = client.get("/").text
    assert field(page, "mode").startswith("encrypted cookie")
    assert field(page, "payload") == "cannot be read without the key: it is encrypted."
    assert "count" not in panel(page).replace("Count", "")


def test_server_mode_shows_the_record_and_the_store_operations(
    make: Callable[..., Flask],
) -> None:
    client = make(counter.create_app).test_client()
    first = client.get("/")
    assert field(first.text, "mode").startswith("server store (SqliteStore)")
    assert field(first.text, "operations").endswith("set session")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.value not in first.text
    assert field(first.text, "set-cookie").startswith(f"session={cookie.value[:8]}…")
    second = client.get("/")
    assert "get session" in field(second.text, "operations")
    assert "set session" in field(second.text, "operations")
    assert field(second.text, "cookie").startswith(f"session={cookie.value[:8]}…")
    assert field(second.text, "set-cookie").startswith("none sent: the data changed on the server")
    record = field(second.text, "record")
    assert re.search(r"key \(a hash of the id; no use as a cookie\): [0-9a-f]{64}", record)
    assert re.search(r"idle expiry: 29 min 5\d s", record)
    assert "absolute expiry: 11 h 59 min" in record and re.search(r"size: \d+ bytes", record)


def test_a_read_only_request_sends_no_cookie_and_says_why(make: Callable[..., Flask]) -> None:
    client = make(login.create_app).test_client()
    log_in(client, "Homer")
    page = client.get("/").text
    assert "Logged in as Homer" in page
    assert field(page, "operations") == "get session"
    assert field(page, "set-cookie") == "none sent: nothing changed"
    logged_out = client.get("/logout", follow_redirects=False)
    assert logged_out.status_code == 302  # a redirect, not a page: no panel to fill
    anonymous = make(login.create_app).test_client().get("/login").text
    assert field(anonymous, "set-cookie").startswith("none sent: no session")
    assert field(anonymous, "record") == "none: nothing is stored for this visitor"


@pytest.mark.parametrize("store", ["cookie", "sqlite:///sessions.db"])
def test_a_deleted_cookie_says_logged_out(make: Callable[..., Flask], store: str) -> None:
    app = make(quest.create_app, store)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert token is not None
    form = {"csrf_token": token.group(1)}
    client.post("/new/", data={**form, "neworcontinue": "newgame"})
    lost = client.post("/status/", data={**form, "playermove": "go south"})  # the kitchen
    assert "Game over" in lost.text
    assert "logged out: the cookie is deleted" in field(lost.text, "set-cookie")


def test_each_visitor_sees_only_their_own_session(make: Callable[..., Flask]) -> None:
    app = make(login.create_app)
    homer, marge = app.test_client(), app.test_client()
    log_in(homer, "Homer")
    log_in(marge, "Marge")
    homer_page, marge_page = homer.get("/").text, marge.get("/").text
    homer_key = re.search(r'data-field="id-hash">([0-9a-f]+)<', homer_page)
    marge_key = re.search(r'data-field="id-hash">([0-9a-f]+)<', marge_page)
    assert homer_key and marge_key and homer_key.group(1) != marge_key.group(1)
    assert homer_key.group(1) not in marge_page and "Homer" not in marge_page


def test_everything_shown_is_escaped(make: Callable[..., Flask]) -> None:
    client = make(login.create_app, "cookie").test_client()
    log_in(client, "<b>Bart</b>")
    page = client.get("/").text
    assert "<b>Bart</b>" not in page
    assert '"username":"<b>Bart</b>"' in field(page, "payload")


def test_answers_that_are_not_pages_pass_untouched(make: Callable[..., Flask]) -> None:
    client = make(login.create_app).test_client()
    answer = client.get("/healthz")
    assert answer.json == {"status": "ok"} and "Cache-Control" not in answer.headers


def test_a_head_request_keeps_the_length_of_the_page(make: Callable[..., Flask]) -> None:
    client = make(login.create_app, "cookie").test_client()
    head = client.head("/")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 1000


def test_the_inspector_can_be_left_out(make: Callable[..., Flask]) -> None:
    page = make(counter.create_app, "cookie", SESSIONLAB_INSPECTOR=False).test_client().get("/")
    assert "inspector" not in page.text


class FailingStore(MemoryStore):
    """A store that fails its reads (``reads``) or its writes."""

    def __init__(self, *, reads: bool) -> None:
        super().__init__()
        self.reads = reads

    def get(self, key: str) -> Any:
        if self.reads:
            raise StoreUnavailable("connection refused by 10.0.0.7:6379")
        return super().get(key)

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        raise StoreUnavailable("connection refused by 10.0.0.7:6379")


@pytest.mark.parametrize("reads", [True, False], ids=["store down", "save failed"])
def test_a_failing_store_answers_the_labs_503_page(make: Callable[..., Flask], reads: bool) -> None:
    client = make(login.create_app, FailingStore(reads=reads)).test_client()
    if reads:
        client.set_cookie("session", "x" * 40)  # a visitor with a session to read
    answer = client.post("/login", data={"username": "Homer"}, headers={"Accept": "text/html"})
    assert answer.status_code == 503 and answer.mimetype == "text/html"
    assert answer.headers["Retry-After"] == "1"
    assert '<p class="message error">The session ' in answer.text
    assert "The sessions live in a FailingStore" in answer.text
    assert "10.0.0.7" not in answer.text and "<h1>503 Service Unavailable</h1>" in answer.text
    assert "Location" not in answer.headers
    assert int(answer.headers["Content-Length"]) == len(answer.data)
    api = client.post("/login", data={"username": "Homer"}, headers={"Accept": "application/json"})
    assert api.status_code == 503 and api.is_json


def test_the_503_page_of_the_kv_service_says_how_to_start_it(
    make: Callable[..., Flask],
) -> None:
    client = make(counter.create_app, "http://127.0.0.1:9", SESSION_STORE_TIMEOUT=2).test_client()
    client.set_cookie("session", "x" * 40)
    answer = client.get("/", headers={"Accept": "text/html"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert "<code>sessionkeeper kv serve</code>" in answer.text
    assert "127.0.0.1:9" not in answer.text
